//! What the workers publish and everyone else reads: plain atomics, so the audio thread, the
//! OSC sender and the editor can read without locks.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use atomic_float::AtomicF32;

use crate::analysis::Prosody;
use crate::emotion::circumplex::{dominant, valence_arousal};
use crate::emotion::N_CLASSES;
use crate::transcript::{Partial, TextProbs, Transcript};

/// Transcripts kept for readers that poll (the OSC sender sends each once).
const TRANSCRIPTS_KEPT: usize = 16;

/// A worker whose heartbeat is older than this is reported dead.
const WORKER_TIMEOUT_MS: u64 = 1000;

#[derive(Default)]
pub struct SharedState {
    pub voice: AtomicF32,
    pub level_db: AtomicF32,
    pub pitch_hz: AtomicF32,
    /// Smoothed class probabilities, in `CLASSES` order.
    pub probs: [AtomicF32; N_CLASSES],
    pub valence: AtomicF32,
    pub arousal: AtomicF32,
    pub dominant: AtomicU32,
    /// True while an emotion model is loaded and running.
    pub model_active: AtomicBool,
    /// Emotion updates published so far.
    pub emotion_updates: AtomicU64,
    /// Index of the last frame the latest emotion update has seen.
    pub emotion_frame: AtomicU64,
    /// Human-readable state of the emotion model.
    pub model_state: Mutex<String>,
    /// Frames the worker has analysed.
    pub frames_processed: AtomicU64,
    /// Frames the audio thread dropped because the worker's queue was full.
    pub frames_dropped: AtomicU64,
    /// Milliseconds since [`clock_ms`]'s epoch, plus one, at the worker's last tick (0: never).
    pub worker_heartbeat: AtomicU64,
    pub osc_sent: AtomicU64,
    pub osc_errors: AtomicU64,
    /// Human-readable state of the OSC output (never touched by the audio thread).
    pub osc_state: Mutex<String>,

    /// Text-emotion probabilities of the latest transcript (valid once `text_updates` > 0).
    pub text_probs: [AtomicF32; 7],
    /// Analysis frame index at the end of the utterance the latest text came from.
    pub text_end_frame: AtomicU64,
    pub text_updates: AtomicU64,
    /// The `text_updates` count the published emotion outputs have taken into account.
    pub fused_text_updates: AtomicU64,
    /// The text's share of the published emotion probabilities (0: voice only).
    pub text_share: AtomicF32,
    /// The latest transcripts, oldest first (worker threads only: never read by `process()`).
    pub transcripts: Mutex<VecDeque<Transcript>>,
    /// The words so far of the utterance being spoken, until its transcript replaces them.
    pub partial: Mutex<Option<Partial>>,
    /// Partial transcripts published so far.
    pub speech_partials: AtomicU64,
    /// True while Whisper and the text path are loaded.
    pub speech_active: AtomicBool,
    /// Utterances cut, finished (transcribed, without words, or failed), dropped because
    /// transcription was behind, and found without words.
    pub speech_utterances: AtomicU64,
    pub speech_finished: AtomicU64,
    pub speech_dropped: AtomicU64,
    pub speech_empty: AtomicU64,
    /// 10 ms hops the speech worker could not take (its input queue was full).
    pub speech_pcm_dropped: AtomicU64,
    pub speech_state: Mutex<String>,
    pub vad_state: Mutex<String>,
    pub speech_error: Mutex<String>,
    /// Human-readable state of the overlay server and the OSCQuery server (their own threads).
    pub overlay_state: Mutex<String>,
    pub oscquery_state: Mutex<String>,
    /// True while either of them reports a problem (port in use, listening beyond loopback).
    pub overlay_problem: AtomicBool,
    pub oscquery_problem: AtomicBool,
    /// Seconds of speech a running "calibrate to my voice" take has collected; negative when
    /// none runs.
    pub calibration_s: AtomicF32,
    /// Wakes the editor (set once by the plugin; an atomic flag behind it, so lock-free).
    repaint: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

/// The outputs as one consistent-enough snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Outputs {
    pub voice: f32,
    pub level_db: f32,
    pub pitch_hz: f32,
    /// Present once a model is running.
    pub emotion: Option<Emotion>,
    /// Text-emotion probabilities of the latest transcript, once there is one.
    pub text: Option<TextProbs>,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Emotion {
    pub probs: [f32; N_CLASSES],
    pub dominant: usize,
    pub valence: f32,
    pub arousal: f32,
}

#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Status {
    pub frames_processed: u64,
    pub frames_dropped: u64,
    pub worker_alive: bool,
    pub osc_sent: u64,
    pub osc_errors: u64,
    pub osc_state: String,
    pub model_active: bool,
    pub model_state: String,
    pub emotion_updates: u64,
    /// What the speech path runs (or why it does not); empty when it is off.
    pub speech_state: String,
    pub speech_active: bool,
    pub speech_utterances: u64,
    pub speech_transcripts: u64,
    pub speech_dropped: u64,
    pub speech_empty: u64,
    pub speech_pcm_dropped: u64,
    /// The overlay and OSCQuery servers (empty when not running).
    pub overlay_state: String,
    pub oscquery_state: String,
    #[serde(skip)]
    pub overlay_problem: bool,
    #[serde(skip)]
    pub oscquery_problem: bool,
}

impl Status {
    /// What the user should fix, each naming what to do; empty when everything runs.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !self.worker_alive {
            p.push("analysis not running (is the track playing?)".to_string());
        }
        if !self.model_active && self.model_state != "off" {
            p.push(format!("emotion model {}", self.model_state));
        }
        if self.frames_dropped > 0 {
            p.push(format!(
                "{} analysis frames dropped (the machine is overloaded)",
                self.frames_dropped
            ));
        }
        if !self.speech_state.is_empty() && !self.speech_active {
            p.push(format!("speech {}", self.speech_state));
        }
        if self.osc_state.contains("OSC send")
            || self.osc_state.contains("cannot")
            || self.osc_state.contains("invalid")
        {
            p.push(format!("OSC: {}", self.osc_state));
        }
        if self.overlay_problem {
            p.push(format!("overlay: {}", self.overlay_state));
        }
        if self.oscquery_problem {
            p.push(format!("OSCQuery: {}", self.oscquery_state));
        }
        p
    }
}

/// A copy of a status text (empty if a writer panicked while holding it).
fn read(m: &Mutex<String>) -> String {
    m.lock().map(|s| s.clone()).unwrap_or_default()
}

/// Monotonic milliseconds since the first call in this process.
pub fn clock_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

impl SharedState {
    pub fn new() -> Self {
        let s = Self::default();
        s.level_db.store(-100.0, Relaxed);
        s.calibration_s.store(-1.0, Relaxed);
        s
    }

    /// Who to wake when something new is published (the editor's repaint request). Only the
    /// first call counts.
    pub fn set_repaint(&self, f: impl Fn() + Send + Sync + 'static) {
        let _ = self.repaint.set(Box::new(f));
    }

    fn request_repaint(&self) {
        if let Some(f) = self.repaint.get() {
            f();
        }
    }

    pub fn publish(&self, p: &Prosody) {
        self.voice.store(p.voice, Relaxed);
        self.level_db.store(p.level_db, Relaxed);
        self.pitch_hz.store(p.pitch_hz, Relaxed);
        // Frames come at 100 Hz; a repaint every third keeps the editor's timeline moving at
        // ~33 fps without asking for more.
        if self
            .frames_processed
            .fetch_add(1, Relaxed)
            .is_multiple_of(3)
        {
            self.request_repaint();
        }
    }

    pub fn publish_emotion(&self, probs: &[f32; N_CLASSES], frame_index: u64) {
        for (dst, p) in self.probs.iter().zip(probs) {
            dst.store(*p, Relaxed);
        }
        let (v, a) = valence_arousal(probs);
        self.valence.store(v, Relaxed);
        self.arousal.store(a, Relaxed);
        self.dominant.store(dominant(probs) as u32, Relaxed);
        self.emotion_frame.store(frame_index, Relaxed);
        self.emotion_updates.fetch_add(1, Relaxed);
        self.request_repaint();
    }

    pub fn heartbeat(&self) {
        self.worker_heartbeat.store(clock_ms() + 1, Relaxed);
    }

    pub fn outputs(&self) -> Outputs {
        Outputs {
            voice: self.voice.load(Relaxed),
            level_db: self.level_db.load(Relaxed),
            pitch_hz: self.pitch_hz.load(Relaxed),
            emotion: self.model_active.load(Relaxed).then(|| Emotion {
                probs: std::array::from_fn(|i| self.probs[i].load(Relaxed)),
                dominant: self.dominant.load(Relaxed) as usize % N_CLASSES,
                valence: self.valence.load(Relaxed),
                arousal: self.arousal.load(Relaxed),
            }),
            text: (self.text_updates.load(Relaxed) > 0)
                .then(|| std::array::from_fn(|i| self.text_probs[i].load(Relaxed))),
        }
    }

    /// Publishes a transcript and its text probabilities (numbering it).
    pub fn publish_transcript(&self, mut t: Transcript) {
        // A transcript without evidence leaves the previous text evidence to decay as it was.
        if let Some(probs) = t.probs {
            for (dst, p) in self.text_probs.iter().zip(probs) {
                dst.store(p, Relaxed);
            }
            let end_sample = (t.end_s * crate::dsp::ANALYSIS_RATE as f64) as u64;
            let (hop, win) = (crate::dsp::HOP_LENGTH as u64, crate::dsp::WIN_LENGTH as u64);
            self.text_end_frame
                .store(end_sample.saturating_sub(win) / hop, Relaxed);
        }
        if let Ok(mut list) = self.transcripts.lock() {
            t.seq = list.back().map_or(1, |last| last.seq + 1);
            if list.len() == TRANSCRIPTS_KEPT {
                list.pop_front();
            }
            list.push_back(t);
        }
        self.text_updates.fetch_add(1, Relaxed);
        self.request_repaint();
    }

    /// Publishes the words so far of utterance `utterance` (see [`Partial`]).
    pub fn publish_partial(&self, utterance: u64, start_s: f64, text: String) {
        let seq = self.speech_partials.fetch_add(1, Relaxed) + 1;
        if let Ok(mut p) = self.partial.lock() {
            *p = Some(Partial {
                seq,
                utterance,
                start_s,
                text,
            });
        }
        self.request_repaint();
    }

    /// Removes the partial of utterance `utterance` or an earlier one: its final result (a
    /// transcript, or none) is out.
    pub fn clear_partial(&self, utterance: u64) {
        if let Ok(mut p) = self.partial.lock() {
            if p.as_ref().is_some_and(|p| p.utterance <= utterance) {
                *p = None;
                self.request_repaint();
            }
        }
    }

    /// The partial transcript of the utterance being spoken, if any.
    pub fn partial(&self) -> Option<Partial> {
        self.partial.lock().ok().and_then(|p| p.clone())
    }

    /// The partial, if it is numbered above `seq` (a reader that sends each once).
    pub fn partial_since(&self, seq: u64) -> Option<Partial> {
        self.partial().filter(|p| p.seq > seq)
    }

    /// The newest transcript, if any.
    pub fn latest_transcript(&self) -> Option<Transcript> {
        self.transcripts.lock().ok().and_then(|l| l.back().cloned())
    }

    pub fn set_overlay_state(&self, text: impl Into<String>, problem: bool) {
        if let Ok(mut s) = self.overlay_state.lock() {
            *s = text.into();
        }
        self.overlay_problem.store(problem, Relaxed);
    }

    pub fn set_oscquery_state(&self, text: impl Into<String>, problem: bool) {
        if let Ok(mut s) = self.oscquery_state.lock() {
            *s = text.into();
        }
        self.oscquery_problem.store(problem, Relaxed);
    }

    /// Transcripts numbered above `seq` that are still kept, oldest first.
    pub fn transcripts_since(&self, seq: u64) -> Vec<Transcript> {
        self.transcripts
            .lock()
            .map(|l| l.iter().filter(|t| t.seq > seq).cloned().collect())
            .unwrap_or_default()
    }

    pub fn set_speech_state(&self, text: impl Into<String>) {
        if let Ok(mut s) = self.speech_state.lock() {
            *s = text.into();
        }
    }

    pub fn set_vad_state(&self, text: impl Into<String>) {
        if let Ok(mut s) = self.vad_state.lock() {
            *s = text.into();
        }
    }

    pub fn set_speech_error(&self, text: impl Into<String>) {
        if let Ok(mut s) = self.speech_error.lock() {
            *s = text.into();
        }
    }

    fn speech_summary(&self) -> String {
        let parts: Vec<String> = [
            read(&self.speech_state),
            read(&self.vad_state),
            read(&self.speech_error),
        ]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
        parts.join("; ")
    }

    pub fn worker_alive(&self) -> bool {
        let beat = self.worker_heartbeat.load(Relaxed);
        beat != 0 && clock_ms() + 1 - beat < WORKER_TIMEOUT_MS
    }

    pub fn set_osc_state(&self, text: impl Into<String>) {
        if let Ok(mut s) = self.osc_state.lock() {
            *s = text.into();
        }
    }

    pub fn set_model_state(&self, text: impl Into<String>) {
        if let Ok(mut s) = self.model_state.lock() {
            *s = text.into();
        }
    }

    pub fn status(&self) -> Status {
        Status {
            frames_processed: self.frames_processed.load(Relaxed),
            frames_dropped: self.frames_dropped.load(Relaxed),
            worker_alive: self.worker_alive(),
            osc_sent: self.osc_sent.load(Relaxed),
            osc_errors: self.osc_errors.load(Relaxed),
            osc_state: read(&self.osc_state),
            model_active: self.model_active.load(Relaxed),
            model_state: read(&self.model_state),
            emotion_updates: self.emotion_updates.load(Relaxed),
            speech_state: self.speech_summary(),
            speech_active: self.speech_active.load(Relaxed),
            speech_utterances: self.speech_utterances.load(Relaxed),
            speech_transcripts: self.text_updates.load(Relaxed),
            speech_dropped: self.speech_dropped.load(Relaxed),
            speech_empty: self.speech_empty.load(Relaxed),
            speech_pcm_dropped: self.speech_pcm_dropped.load(Relaxed),
            overlay_state: read(&self.overlay_state),
            oscquery_state: read(&self.oscquery_state),
            overlay_problem: self.overlay_problem.load(Relaxed),
            oscquery_problem: self.oscquery_problem.load(Relaxed),
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "frames processed {}, dropped {}, worker {}, OSC sent {} errors {} ({}), emotion model: {}",
            self.frames_processed,
            self.frames_dropped,
            if self.worker_alive {
                "alive"
            } else {
                "not running"
            },
            self.osc_sent,
            self.osc_errors,
            if self.osc_state.is_empty() {
                "off"
            } else {
                &self.osc_state
            },
            if self.model_state.is_empty() {
                "none"
            } else {
                &self.model_state
            },
        )?;
        if !self.speech_state.is_empty() {
            write!(
                f,
                ", speech: {} ({} utterances, {} transcribed, {} without words, {} dropped)",
                self.speech_state,
                self.speech_utterances,
                self.speech_transcripts,
                self.speech_empty,
                self.speech_dropped,
            )?;
            if self.speech_pcm_dropped > 0 {
                write!(f, ", speech input dropped {} hops", self.speech_pcm_dropped)?;
            }
        }
        if !self.overlay_state.is_empty() {
            write!(f, ", overlay: {}", self.overlay_state)?;
        }
        if !self.oscquery_state.is_empty() {
            write!(f, ", OSCQuery: {}", self.oscquery_state)?;
        }
        Ok(())
    }
}
