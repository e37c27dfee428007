//! The shipped acoustic model through ONNX Runtime: a sliding window of normalised frames,
//! classified every hop.

use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::value::TensorRef;

use super::normalize::{Calibration, SpeakerNormalizer};
use super::runtime::{find_model, session_builder, Device};
use super::sidecar::Sidecar;
use super::{EmotionEstimate, EmotionModel, ExecutionBackend, N_CLASSES};
use crate::dsp::FeatureFrame;

/// Windows with less voiced speech than this share are not classified (the outputs hold).
const MIN_VOICED_SHARE: f32 = 0.2;

#[derive(Debug, Clone)]
pub struct ModelOptions {
    pub device: Device,
    /// Frames between inferences (10 ms each).
    pub hop_frames: usize,
    pub calibration: Option<Calibration>,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            device: Device::Auto,
            hop_frames: 25,
            calibration: None,
        }
    }
}

pub struct OnnxEmotionModel {
    session: Session,
    sidecar: Sidecar,
    normalizer: SpeakerNormalizer,
    /// Raw (unnormalised) selected columns of the last `window_frames` frames, oldest first once
    /// `filled == window_frames` (rotated on read).
    ring: Vec<f32>,
    voiced: Vec<bool>,
    next: usize,
    filled: usize,
    since_hop: usize,
    hop_frames: usize,
    input: Vec<f32>,
    backend: ExecutionBackend,
    /// Voiced rows collected while the user records a calibration.
    recording: Option<Vec<Vec<f32>>>,
    note: String,
    name: String,
}

fn session(path: &Path, device: Device) -> Result<(Session, ExecutionBackend, String), String> {
    let (mut builder, backend, note) = session_builder(device)?;
    let session = builder
        .commit_from_file(path)
        .map_err(|e| format!("cannot load the emotion model {}: {e}", path.display()))?;
    Ok((session, backend, note))
}

impl OnnxEmotionModel {
    /// The installed model (see [`super::runtime`] for where it is looked for).
    pub fn load(options: &ModelOptions) -> Result<Self, String> {
        Self::load_from(&find_model()?, options)
    }

    pub fn load_from(path: &Path, options: &ModelOptions) -> Result<Self, String> {
        let sidecar = Sidecar::load(&sidecar_path(path))?;
        let (session, backend, note) = session(path, options.device)?;
        let width = sidecar.width();
        let mut normalizer = SpeakerNormalizer::new(
            sidecar.normalization.global_mean.clone(),
            sidecar.normalization.global_std.clone(),
            sidecar.normalization.mode == "speaker",
        );
        normalizer.set_calibration(options.calibration.clone())?;
        Ok(Self {
            ring: vec![0.0; sidecar.window_frames * width],
            voiced: vec![false; sidecar.window_frames],
            input: Vec::with_capacity(sidecar.window_frames * width),
            next: 0,
            filled: 0,
            since_hop: 0,
            hop_frames: options.hop_frames.max(1),
            name: path
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default(),
            session,
            sidecar,
            normalizer,
            backend,
            note,
            recording: None,
        })
    }

    pub fn sidecar(&self) -> &Sidecar {
        &self.sidecar
    }

    /// Probabilities for already-normalised rows (`frames × width`, row-major).
    pub fn infer(&mut self, rows: &[f32]) -> Result<[f32; N_CLASSES], String> {
        let width = self.sidecar.width();
        let frames = rows.len() / width;
        let tensor = TensorRef::from_array_view(([1usize, frames, width], rows))
            .map_err(|e| format!("model input: {e}"))?;
        let outputs = self
            .session
            .run(ort::inputs![self.sidecar.input.as_str() => tensor])
            .map_err(|e| format!("model inference: {e}"))?;
        let (_, probs) = outputs[self.sidecar.output.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(|e| format!("model output: {e}"))?;
        if probs.len() != N_CLASSES || probs.iter().any(|p| !p.is_finite()) {
            return Err(format!(
                "model output is not {N_CLASSES} finite probabilities"
            ));
        }
        Ok(std::array::from_fn(|i| probs[i]))
    }

    /// The model's columns of one frame.
    pub fn columns(&self, frame: &FeatureFrame) -> Vec<f32> {
        let [start, end] = self.sidecar.columns;
        frame.columns().skip(start).take(end - start).collect()
    }

    /// File-level decision: windows of `window_frames` every `hop` frames over the clip, each
    /// normalised with `stats` (the speaker's statistics; `None`: the shipped global ones) and
    /// classified when at least 20 % of it is voiced, as live; the clip's probabilities are the
    /// mean over those windows. A clip with no such window is classified whole.
    pub fn classify_clip(
        &mut self,
        rows: &[Vec<f32>],
        voiced: &[bool],
        stats: Option<&Calibration>,
    ) -> Result<[f32; N_CLASSES], String> {
        if rows.is_empty() {
            return Err("no frames (shorter than 25 ms)".into());
        }
        let width = self.sidecar.width();
        let (mean, std) = match stats {
            Some(c) => (c.mean.clone(), c.std.clone()),
            None => (
                self.sidecar.normalization.global_mean.clone(),
                self.sidecar.normalization.global_std.clone(),
            ),
        };
        let normalised: Vec<f32> = rows
            .iter()
            .flat_map(|r| r.iter().zip(&mean).zip(&std).map(|((x, m), s)| (x - m) / s))
            .collect();
        let win = self.sidecar.window_frames.min(rows.len());
        let hop = self.hop_frames;
        let mut sum = [0.0f32; N_CLASSES];
        let mut windows = 0;
        let mut start = 0;
        loop {
            let end = start + win;
            let voiced_share =
                voiced[start..end].iter().filter(|v| **v).count() as f32 / win as f32;
            if voiced_share >= MIN_VOICED_SHARE {
                let p = self.infer(&normalised[start * width..end * width])?;
                for (s, p) in sum.iter_mut().zip(p) {
                    *s += p;
                }
                windows += 1;
            }
            if end >= rows.len() {
                break;
            }
            start = (start + hop).min(rows.len() - win);
        }
        if windows == 0 {
            return self.infer(&normalised);
        }
        Ok(sum.map(|s| s / windows as f32))
    }

    fn window_rows(&mut self) -> usize {
        let width = self.sidecar.width();
        let cap = self.sidecar.window_frames;
        self.input.clear();
        let start = if self.filled < cap { 0 } else { self.next };
        for k in 0..self.filled {
            let i = (start + k) % cap;
            let from = self.input.len();
            self.input
                .extend_from_slice(&self.ring[i * width..(i + 1) * width]);
            self.normalizer.apply(&mut self.input[from..]);
        }
        self.filled
    }
}

fn sidecar_path(model: &Path) -> PathBuf {
    model.with_extension("json")
}

impl EmotionModel for OnnxEmotionModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn backend(&self) -> ExecutionBackend {
        self.backend
    }

    fn note(&self) -> &str {
        &self.note
    }

    fn push(
        &mut self,
        frame: &FeatureFrame,
        voiced: bool,
    ) -> Result<Option<EmotionEstimate>, String> {
        let width = self.sidecar.width();
        let row = self.columns(frame);
        let row = &row[..];
        self.normalizer.observe(row, voiced);
        if let (Some(rec), true) = (self.recording.as_mut(), voiced) {
            rec.push(row.to_vec());
        }
        self.ring[self.next * width..(self.next + 1) * width].copy_from_slice(row);
        self.voiced[self.next] = voiced;
        self.next = (self.next + 1) % self.sidecar.window_frames;
        self.filled = (self.filled + 1).min(self.sidecar.window_frames);
        self.since_hop += 1;
        if self.since_hop < self.hop_frames || self.filled < self.sidecar.min_frames {
            return Ok(None);
        }
        self.since_hop = 0;
        let voiced_share =
            self.voiced[..self.filled].iter().filter(|v| **v).count() as f32 / self.filled as f32;
        if voiced_share < MIN_VOICED_SHARE {
            return Ok(None);
        }
        self.window_rows();
        let rows = std::mem::take(&mut self.input);
        let result = self.infer(&rows);
        self.input = rows;
        Ok(Some(EmotionEstimate {
            frame_index: frame.index,
            probs: result?,
        }))
    }

    fn record_calibration(&mut self, on: bool) -> Option<Result<Calibration, String>> {
        match (on, self.recording.is_some()) {
            (true, false) => {
                self.recording = Some(Vec::new());
                None
            }
            (false, true) => {
                let rows = self.recording.take().unwrap_or_default();
                let result = Calibration::from_rows(&rows);
                if let Ok(c) = &result {
                    // Cannot fail: the rows have the model's width.
                    let _ = self.normalizer.set_calibration(Some(c.clone()));
                }
                Some(result)
            }
            _ => None,
        }
    }

    fn set_calibration(&mut self, c: Option<Calibration>) -> Result<(), String> {
        self.normalizer.set_calibration(c)
    }

    fn calibration_seconds(&self) -> Option<f32> {
        // One row per voiced 10 ms frame.
        self.recording.as_ref().map(|r| r.len() as f32 / 100.0)
    }

    fn reset(&mut self) {
        self.filled = 0;
        self.next = 0;
        self.since_hop = 0;
        self.normalizer.reset();
    }
}
