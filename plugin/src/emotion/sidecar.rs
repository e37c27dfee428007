//! The JSON file shipped next to the ONNX model: what the model reads and how to prepare it.

use std::path::Path;

use serde::Deserialize;

use super::CLASSES;
use crate::cli::features::FEATURE_COLUMNS;

#[derive(Debug, Clone, Deserialize)]
pub struct Sidecar {
    pub classes: Vec<String>,
    pub input: String,
    pub output: String,
    /// `[start, end)` of the feature columns (64 log-mel | 40 MFCC | energy) the model reads.
    pub columns: [usize; 2],
    pub window_frames: usize,
    pub min_frames: usize,
    pub normalization: Normalization,
    #[serde(default)]
    pub parameters: Option<u64>,
    /// What the model is (free text, from the export).
    #[serde(default)]
    pub model: Option<String>,
    /// Whose encoder blocks the graph is built on (`tiny.en`, `base`), from the export.
    #[serde(default)]
    pub whisper: Option<String>,
    /// Per-speaker normalisation of the model's pooled embedding, inside the graph (absent: none).
    #[serde(default)]
    pub embedding: Option<EmbeddingNormalization>,
}

/// The graph takes the speaker's embedding statistics as two extra inputs and returns the
/// embedding they apply to, so the runtime can estimate them from the speaker's own windows.
#[derive(Debug, Clone, Deserialize)]
pub struct EmbeddingNormalization {
    /// Graph inputs: the speaker's embedding mean and standard deviation, `[dims]` each.
    pub mean_input: String,
    pub std_input: String,
    /// Graph output: the window's pooled embedding, `[1, dims]`.
    pub output: String,
    /// Statistics over all training windows: the cold start, before a speaker has been heard.
    pub global_mean: Vec<f32>,
    pub global_std: Vec<f32>,
    /// Graph input (`[1]`) of models with a speaker head and a cold-start head: how much of the
    /// statistics is the speaker's, `s / (s + prior_seconds)` after `s` seconds of their speech
    /// (0 before a speaker is heard, 1 with all of a speaker's statistics). The graph blends the
    /// two heads' logits by it. Absent: one head reads both.
    #[serde(default)]
    pub weight_input: Option<String>,
    /// The ceiling of that weight: with a speaker's statistics complete, the cold-start head still
    /// holds `1 - max_speaker_weight` of the blend. The two heads read the window two ways (the
    /// speaker's statistics and the speech frames; the global ones and the whole window) and their
    /// blend beats the speaker head alone on the corpora the model never heard (model card, item
    /// 16). Absent: 1 (the speaker head alone, as before).
    #[serde(default = "one")]
    pub max_speaker_weight: f32,
    /// The floor of that weight: before the speaker is known (a cold start, the global statistics
    /// in place of theirs) the speaker head still holds `min_speaker_weight` of the blend, reading
    /// the window with the global statistics, a third view beside the two above (model card, item
    /// 17). It binds for the first `prior_seconds · min / (1 - min)` seconds of a speaker and at
    /// every cold start. Absent: 0 (the cold-start head alone, as before).
    #[serde(default)]
    pub min_speaker_weight: f32,
    /// Seconds of the global statistics blended into a speaker's estimate (shrinkage).
    pub prior_seconds: f32,
    /// Seconds of speech the running estimate remembers.
    pub memory_seconds: f32,
    /// The training set's statistics of the speaker-normalised embedding, which standardise it
    /// for the linear layer (inside the graph); `sentio adapt` fine-tunes that layer on them.
    #[serde(default)]
    pub head_mean: Vec<f32>,
    #[serde(default)]
    pub head_std: Vec<f32>,
}

fn one() -> f32 {
    1.0
}

impl EmbeddingNormalization {
    /// What the graph's linear layer reads for `embedding` normalised with the speaker's
    /// `(mean, std)`, written to `out` (no allocation once `out` has the capacity).
    pub fn head_input(&self, embedding: &[f32], mean: &[f32], std: &[f32], out: &mut Vec<f32>) {
        out.clear();
        out.extend(
            embedding
                .iter()
                .zip(mean.iter().zip(std))
                .zip(self.head_mean.iter().zip(&self.head_std))
                .map(|((e, (m, s)), (hm, hs))| ((e - m) / s - hm) / hs),
        );
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Normalization {
    /// "speaker": per-speaker z-normalisation (running at run time), "global": fixed statistics.
    pub mode: String,
    pub global_mean: Vec<f32>,
    pub global_std: Vec<f32>,
}

impl Sidecar {
    /// Names this trained model (description, size and a checksum of its statistics): a
    /// per-user adaptation is only valid for the model it was fitted on.
    pub fn fingerprint(&self) -> String {
        let stats: f64 = match &self.embedding {
            Some(e) => e.global_mean.iter().map(|&v| v as f64).sum(),
            None => self
                .normalization
                .global_mean
                .iter()
                .map(|&v| v as f64)
                .sum(),
        };
        // A ceiling below 1 changes what the model outputs once it knows the speaker, and a floor
        // above 0 what it outputs before, so each names a different model (older sidecars,
        // without them, keep their fingerprint).
        let mut weights = String::new();
        if let Some(e) = &self.embedding {
            if e.min_speaker_weight > 0.0 {
                weights.push_str(&format!(" | speaker weight ≥ {}", e.min_speaker_weight));
            }
            if e.max_speaker_weight < 1.0 {
                weights.push_str(&format!(" | speaker weight ≤ {}", e.max_speaker_weight));
            }
        }
        format!(
            "{} | {} parameters | {stats:.6}{weights}",
            self.model.as_deref().unwrap_or("unnamed model"),
            self.parameters.unwrap_or(0)
        )
    }

    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read model description {}: {e}", path.display()))?;
        let s: Sidecar = serde_json::from_str(&text)
            .map_err(|e| format!("invalid model description {}: {e}", path.display()))?;
        s.validate()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(s)
    }

    pub fn width(&self) -> usize {
        self.columns[1] - self.columns[0]
    }

    fn validate(&self) -> Result<(), String> {
        if self.classes.iter().map(String::as_str).ne(CLASSES) {
            return Err(format!(
                "classes {:?} differ from {CLASSES:?}",
                self.classes
            ));
        }
        let [start, end] = self.columns;
        if start >= end || end > FEATURE_COLUMNS {
            return Err(format!(
                "columns {start}..{end} outside 0..{FEATURE_COLUMNS}"
            ));
        }
        let n = self.width();
        if self.normalization.global_mean.len() != n || self.normalization.global_std.len() != n {
            return Err(format!("normalisation statistics must have {n} values"));
        }
        if self
            .normalization
            .global_std
            .iter()
            .any(|s| !s.is_finite() || *s <= 0.0)
        {
            return Err("normalisation standard deviations must be positive".into());
        }
        if !matches!(self.normalization.mode.as_str(), "speaker" | "global") {
            return Err(format!(
                "unknown normalisation mode {:?}",
                self.normalization.mode
            ));
        }
        if let Some(e) = &self.embedding {
            if e.global_mean.is_empty() || e.global_mean.len() != e.global_std.len() {
                return Err("embedding statistics must have the same, non-zero length".into());
            }
            if e.global_std.iter().any(|s| !s.is_finite() || *s <= 0.0)
                || e.global_mean.iter().any(|m| !m.is_finite())
            {
                return Err("embedding statistics must be finite, deviations positive".into());
            }
            if !(e.prior_seconds >= 0.0 && e.memory_seconds > 0.0) {
                return Err("embedding prior_seconds must be >= 0 and memory_seconds > 0".into());
            }
            if !(0.0..=1.0).contains(&e.max_speaker_weight) {
                return Err("embedding max_speaker_weight must be between 0 and 1".into());
            }
            if !(0.0..=e.max_speaker_weight).contains(&e.min_speaker_weight) {
                return Err(
                    "embedding min_speaker_weight must be between 0 and max_speaker_weight".into(),
                );
            }
            if !e.head_mean.is_empty()
                && (e.head_mean.len() != e.global_mean.len()
                    || e.head_std.len() != e.global_mean.len()
                    || e.head_std.iter().any(|s| !s.is_finite() || *s <= 0.0))
            {
                return Err(
                    "embedding head statistics must match the embedding, deviations positive"
                        .into(),
                );
            }
        }
        if self.window_frames == 0 || self.min_frames == 0 || self.min_frames > self.window_frames {
            return Err(
                "window_frames and min_frames must satisfy 0 < min_frames <= window_frames".into(),
            );
        }
        Ok(())
    }
}
