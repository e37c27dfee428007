//! The outputs as one JSON document: what the overlay's event stream pushes, what
//! `GET /api/state` answers, and a stable shape for anyone scripting against Sentio.

use std::collections::BTreeMap;

use serde::Serialize;

use super::finite;
use crate::emotion::CLASSES;
use crate::state::{clock_ms, SharedState, Status};
use crate::text::TEXT_CLASSES;
use crate::transcript::{Partial, TextProbs, Transcript};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// Seconds since the process started (a client can tell a stale snapshot from a new one).
    pub t: f64,
    /// Class names in class order (the keys of `probs`).
    pub classes: [&'static str; 8],
    /// Class → probability (voice fused with words); `null` until a model runs.
    pub probs: Option<BTreeMap<&'static str, f32>>,
    pub dominant: Option<&'static str>,
    /// The dominant class's probability.
    pub confidence: Option<f32>,
    pub valence: Option<f32>,
    pub arousal: Option<f32>,
    /// Voice activity 0..1.
    pub voice: f32,
    /// dBFS of the last 100 ms.
    pub level: f32,
    /// Hz, 0 when unvoiced.
    pub pitch: f32,
    /// The latest finished transcript, when speech recognition has produced one.
    pub transcript: Option<TranscriptJson>,
    /// The words so far of the utterance being spoken (`seq`, `start_s`, `text`); `null` when
    /// none is in progress or its transcript has replaced it.
    pub partial: Option<Partial>,
    pub status: StatusJson,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TranscriptJson {
    /// 1, 2, … in publication order: a client shows each once.
    pub seq: u64,
    pub text: String,
    pub start: f64,
    pub end: f64,
    /// `null` when the words carried no evidence (an unsure single word).
    pub text_probs: Option<BTreeMap<&'static str, f32>>,
    pub text_dominant: Option<&'static str>,
    /// When it was published, on the clock of [`Snapshot::t`] (captions show recent ones).
    pub published: f64,
}

impl From<&Transcript> for TranscriptJson {
    fn from(t: &Transcript) -> Self {
        let best = |p: &TextProbs| {
            (0..TEXT_CLASSES.len())
                .max_by(|&a, &b| p[a].total_cmp(&p[b]))
                .unwrap_or(0)
        };
        Self {
            seq: t.seq,
            text: t.text.clone(),
            start: t.start_s,
            end: t.end_s,
            text_probs: t.probs.map(|probs| {
                TEXT_CLASSES
                    .iter()
                    .copied()
                    .zip(probs.iter().map(|&p| finite(p, 0.0)))
                    .collect()
            }),
            text_dominant: t.probs.map(|p| TEXT_CLASSES[best(&p)]),
            published: t.published_ms as f64 / 1000.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusJson {
    /// False when something the user should fix is wrong (see `problems`).
    pub ok: bool,
    /// The one status line the log and the CLI show.
    pub text: String,
    /// What is missing or failing, each with what to do about it.
    pub problems: Vec<String>,
    pub model_active: bool,
    pub speech_active: bool,
    pub worker_alive: bool,
    pub frames_dropped: u64,
    pub osc_errors: u64,
}

impl From<&Status> for StatusJson {
    fn from(s: &Status) -> Self {
        let problems = s.problems();
        Self {
            ok: problems.is_empty(),
            text: s.to_string(),
            problems,
            model_active: s.model_active,
            speech_active: s.speech_active,
            worker_alive: s.worker_alive,
            frames_dropped: s.frames_dropped,
            osc_errors: s.osc_errors,
        }
    }
}

impl Snapshot {
    pub fn read(shared: &SharedState) -> Self {
        let out = shared.outputs();
        let emotion = out.emotion.filter(|_| {
            shared
                .emotion_updates
                .load(std::sync::atomic::Ordering::Relaxed)
                > 0
        });
        let transcript = shared.latest_transcript();
        Self {
            t: clock_ms() as f64 / 1000.0,
            classes: CLASSES,
            probs: emotion.map(|e| {
                CLASSES
                    .iter()
                    .copied()
                    .zip(e.probs.iter().map(|&p| finite(p, 0.0)))
                    .collect()
            }),
            dominant: emotion.map(|e| CLASSES[e.dominant]),
            confidence: emotion.map(|e| finite(e.probs[e.dominant], 0.0)),
            valence: emotion.map(|e| finite(e.valence, 0.0)),
            arousal: emotion.map(|e| finite(e.arousal, 0.0)),
            voice: finite(out.voice, 0.0),
            level: finite(out.level_db, -100.0),
            pitch: finite(out.pitch_hz, 0.0),
            transcript: transcript.as_ref().map(TranscriptJson::from),
            partial: shared.partial(),
            status: StatusJson::from(&shared.status()),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_has_every_documented_key_and_nulls_before_a_model() {
        let shared = SharedState::new();
        let v: serde_json::Value =
            serde_json::from_str(&Snapshot::read(&shared).to_json()).unwrap();
        for key in [
            "probs",
            "dominant",
            "confidence",
            "valence",
            "arousal",
            "voice",
            "level",
            "pitch",
            "transcript",
            "status",
        ] {
            assert!(v.get(key).is_some(), "{key} missing: {v}");
        }
        assert!(v["probs"].is_null() && v["dominant"].is_null());
        assert_eq!(v["level"], -100.0);

        shared
            .model_active
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let mut probs = [0.0; 8];
        probs[4] = 0.8;
        probs[0] = 0.2;
        shared.publish_emotion(&probs, 10);
        shared.publish_transcript(Transcript {
            seq: 0,
            start_s: 1.0,
            end_s: 2.0,
            text: "Stop it!".into(),
            probs: Some([0.9, 0.0, 0.0, 0.0, 0.1, 0.0, 0.0]),
            compute_ms: 5,
            cut_ms: 0,
            published_ms: 0,
        });
        let v: serde_json::Value =
            serde_json::from_str(&Snapshot::read(&shared).to_json()).unwrap();
        assert_eq!(v["dominant"], "angry");
        assert!((v["confidence"].as_f64().unwrap() - 0.8).abs() < 1e-6);
        assert!((v["probs"]["angry"].as_f64().unwrap() - 0.8).abs() < 1e-6);
        assert_eq!(v["transcript"]["text"], "Stop it!");
        assert_eq!(v["transcript"]["seq"], 1);
        assert_eq!(v["transcript"]["text_dominant"], "anger");
        assert!(v["partial"].is_null());
        shared.publish_partial(2, 3.0, "And then".into());
        let v: serde_json::Value =
            serde_json::from_str(&Snapshot::read(&shared).to_json()).unwrap();
        assert_eq!(v["partial"]["text"], "And then");
        assert_eq!(v["partial"]["seq"], 1);
        assert_eq!(v["partial"]["start_s"], 3.0);
        shared.clear_partial(2);
        let v: serde_json::Value =
            serde_json::from_str(&Snapshot::read(&shared).to_json()).unwrap();
        assert!(v["partial"].is_null());
        assert!(v["status"]["text"]
            .as_str()
            .unwrap()
            .contains("frames processed"));
    }
}
