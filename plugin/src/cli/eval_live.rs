//! `sentio eval --live`: what a listener sees, rather than one decision per file.
//!
//! Each speaker's files (or, with `--normalize session`, the whole manifest) are played back to
//! back as one stream, in a fixed shuffled order so emotions change from file to file, through the
//! plugin's emotion path frame by frame: voice activity, the model's sliding window and running
//! speaker estimate from a cold start, and the output smoothing. The class on display (the
//! highest smoothed probability among the manifest's classes, decided as a file is: see
//! `decision`) is compared, 10 ms by 10 ms, with the label of the file being spoken: from a
//! file's first voiced frame to the next file's.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::decision::Decision;
use super::features::extract;
use crate::analysis::Analyzer;
use crate::dsp::{FeatureFrame, FrontEnd, FRAMES_PER_SECOND};
use crate::emotion::onnx_model::OnnxEmotionModel;
use crate::emotion::smoothing::Smoother;
use crate::emotion::{EmotionModel, CLASSES, N_CLASSES};
use crate::worker::VOICED;

/// One file of a stream: its label and the stream frame it starts speaking at (its first frame
/// when it has no voiced one).
struct Segment {
    label: usize,
    onset: usize,
}

/// What a listener sees over the streams.
#[derive(Debug, Serialize, PartialEq)]
pub struct LiveMetrics {
    pub streams: usize,
    pub files: usize,
    /// Seconds of speech spans scored (each file's first voiced frame to the next file's).
    pub seconds: f64,
    /// Unweighted mean over classes of the share of their spans' time the right class shows.
    pub ua: f64,
    /// The same share over all spans' time.
    pub wa: f64,
    pub recall: BTreeMap<&'static str, f64>,
    /// Seconds from a file's first voiced frame to the first time its class shows (files whose
    /// class shows at all): median and 90th percentile.
    pub reaction_p50_s: f64,
    pub reaction_p90_s: f64,
    /// Share of files whose class never shows while they are spoken.
    pub never_shown: f64,
    /// How often the class on display changes, per minute of the streams (what a light
    /// following the dominant class does).
    pub changes_per_minute: f64,
}

/// A deterministic shuffle key (FNV-1a of the path), so every run plays the same order.
fn order_key(path: &Path) -> u64 {
    path.to_string_lossy()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        })
}

/// The front end's frames of `seconds` of digital silence (the pause played after each file).
fn silence(seconds: f32) -> Vec<FeatureFrame> {
    let mut frames = Vec::new();
    let samples = vec![0.0f32; (seconds * 16_000.0) as usize];
    FrontEnd::new().push(&samples, |f| frames.push(*f));
    frames
}

/// Plays `files` (path, label) as one stream, each followed by `gap` (frames of a pause);
/// returns each frame's displayed class (`None` before the first estimate) and the files'
/// segments.
fn play(
    model: &mut OnnxEmotionModel,
    files: &[(&Path, usize)],
    gap: &[FeatureFrame],
    decision: &Decision,
    smoothing_s: f32,
) -> Result<(Vec<Option<usize>>, Vec<Segment>)> {
    let mut ordered: Vec<_> = files.to_vec();
    ordered.sort_by_key(|(p, _)| order_key(p));
    model.reset();
    let mut analyzer = Analyzer::new();
    let mut smoother = Smoother::default();
    let mut last_estimate: Option<u64> = None;
    let mut shown: Option<usize> = None;
    let mut display = Vec::new();
    let mut segments = Vec::new();
    for (path, label) in ordered {
        let frames = extract(path).with_context(|| format!("{}", path.display()))?;
        let start = display.len();
        let mut onset = None;
        for f in frames.iter().chain(gap) {
            // One continuous stream: frame numbers run on across files.
            let frame = FeatureFrame {
                index: display.len() as u64,
                ..*f
            };
            let voiced = analyzer.push(&frame).voice > VOICED;
            if voiced && onset.is_none() {
                onset = Some(display.len());
            }
            let estimate = model
                .push(&frame, voiced)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("{}", path.display()))?;
            if let Some(est) = estimate {
                let dt = last_estimate.map_or(0.0, |prev| {
                    est.frame_index.saturating_sub(prev) as f32 / FRAMES_PER_SECOND as f32
                });
                last_estimate = Some(est.frame_index);
                let probs = smoother.update(&est.probs, dt, smoothing_s);
                shown = Some(decision.decide(&probs));
            }
            display.push(shown);
        }
        segments.push(Segment {
            label,
            onset: onset.unwrap_or(start),
        });
    }
    Ok((display, segments))
}

/// Scores streams: `(displayed class per frame, segments)` each.
fn score(streams: &[(Vec<Option<usize>>, Vec<Segment>)], classes: &[usize]) -> LiveMetrics {
    let mut right = [0usize; N_CLASSES];
    let mut total = [0usize; N_CLASSES];
    let mut reactions = Vec::new();
    let (mut files, mut never) = (0, 0);
    let (mut changes, mut frames) = (0usize, 0usize);
    for (display, segments) in streams {
        frames += display.len();
        changes += display
            .windows(2)
            .filter(|w| w[0].is_some() && w[0] != w[1])
            .count();
        for (i, seg) in segments.iter().enumerate() {
            let end = segments.get(i + 1).map_or(display.len(), |n| n.onset);
            let span = &display[seg.onset.min(end)..end];
            files += 1;
            total[seg.label] += span.len();
            right[seg.label] += span.iter().filter(|d| **d == Some(seg.label)).count();
            match span.iter().position(|d| *d == Some(seg.label)) {
                Some(k) => reactions.push(k as f64 / FRAMES_PER_SECOND),
                None => never += 1,
            }
        }
    }
    let mut recall = BTreeMap::new();
    for &c in classes {
        if total[c] > 0 {
            recall.insert(CLASSES[c], right[c] as f64 / total[c] as f64);
        }
    }
    let all: usize = total.iter().sum();
    reactions.sort_by(f64::total_cmp);
    let quantile = |q: f64| {
        if reactions.is_empty() {
            f64::NAN
        } else {
            reactions[((reactions.len() - 1) as f64 * q).round() as usize]
        }
    };
    LiveMetrics {
        streams: streams.len(),
        files,
        seconds: all as f64 / FRAMES_PER_SECOND,
        ua: if recall.is_empty() {
            0.0
        } else {
            recall.values().sum::<f64>() / recall.len() as f64
        },
        wa: if all > 0 {
            right.iter().sum::<usize>() as f64 / all as f64
        } else {
            0.0
        },
        recall,
        reaction_p50_s: quantile(0.5),
        reaction_p90_s: quantile(0.9),
        never_shown: if files > 0 {
            never as f64 / files as f64
        } else {
            0.0
        },
        changes_per_minute: if frames > 0 {
            changes as f64 * 60.0 * FRAMES_PER_SECOND / frames as f64
        } else {
            0.0
        },
    }
}

/// Plays every group (`group name → files`) as a stream from a cold start, with a pause of
/// `gap_s` after each file, and scores them.
pub fn run(
    model: &mut OnnxEmotionModel,
    groups: &BTreeMap<String, Vec<(&Path, usize)>>,
    gap_s: f32,
    decision: &Decision,
    smoothing_s: f32,
) -> Result<LiveMetrics> {
    if groups.is_empty() {
        bail!("no files to play");
    }
    let gap = silence(gap_s);
    let mut streams = Vec::with_capacity(groups.len());
    for files in groups.values() {
        streams.push(play(model, files, &gap, decision, smoothing_s)?);
    }
    Ok(score(&streams, &decision.classes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(label: usize, onset: usize) -> Segment {
        Segment { label, onset }
    }

    #[test]
    fn spans_run_from_one_files_speech_to_the_next() {
        // Happy (2) speaks from frame 10, sad (3) from frame 60 to the end at 100. The display
        // shows nothing until 20, happy until 70, then sad.
        let display: Vec<Option<usize>> = (0..100)
            .map(|i| match i {
                0..20 => None,
                20..70 => Some(2),
                _ => Some(3),
            })
            .collect();
        let m = score(&[(display, vec![seg(2, 10), seg(3, 60)])], &[2, 3]);
        assert_eq!((m.streams, m.files), (1, 2));
        assert!((m.seconds - 0.9).abs() < 1e-12);
        // Happy: frames 10..60, right from 20: 40 of 50. Sad: 60..100, right from 70: 30 of 40.
        assert!((m.recall["happy"] - 0.8).abs() < 1e-12);
        assert!((m.recall["sad"] - 0.75).abs() < 1e-12);
        assert!((m.ua - 0.775).abs() < 1e-12);
        assert!((m.wa - 70.0 / 90.0).abs() < 1e-12);
        // Both shown 0.1 s after their onsets.
        assert!((m.reaction_p50_s - 0.1).abs() < 1e-12);
        assert_eq!(m.never_shown, 0.0);
        // One change (happy → sad; the first display is not a change) in 1 s of stream.
        assert!((m.changes_per_minute - 60.0).abs() < 1e-9);
    }

    #[test]
    fn a_class_that_never_shows_counts_against_it() {
        let display = vec![Some(2); 100];
        let m = score(&[(display, vec![seg(2, 0), seg(3, 50)])], &[2, 3]);
        assert_eq!(m.recall["sad"], 0.0);
        assert!((m.ua - 0.5).abs() < 1e-12);
        assert!((m.never_shown - 0.5).abs() < 1e-12);
        assert_eq!(m.reaction_p50_s, 0.0);
    }

    #[test]
    fn the_order_is_fixed_and_not_the_manifests() {
        let a = order_key(Path::new("a/03-01-05.wav"));
        assert_eq!(a, order_key(Path::new("a/03-01-05.wav")));
        assert_ne!(a, order_key(Path::new("a/03-01-06.wav")));
    }
}
