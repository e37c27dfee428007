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
}

#[derive(Debug, Clone, Deserialize)]
pub struct Normalization {
    /// "speaker": per-speaker z-normalisation (running at run time), "global": fixed statistics.
    pub mode: String,
    pub global_mean: Vec<f32>,
    pub global_std: Vec<f32>,
}

impl Sidecar {
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
        if self.window_frames == 0 || self.min_frames == 0 || self.min_frames > self.window_frames {
            return Err(
                "window_frames and min_frames must satisfy 0 < min_frames <= window_frames".into(),
            );
        }
        Ok(())
    }
}
