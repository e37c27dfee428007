//! The seam where an emotion model plugs into the analysis worker.
//!
//! A model sees every feature frame on the worker thread (never the audio thread), keeps its own
//! sliding window and hop, and may block while it infers (ONNX on CPU, or a GPU session).
//! Whatever it returns reaches the shared state, OSC and MIDI through the worker.

use crate::dsp::FeatureFrame;

/// Output classes, in the order every output (OSC, MIDI, JSON) uses.
pub const CLASSES: [&str; 8] = [
    "neutral",
    "calm",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgust",
    "surprised",
];

/// Where a model runs; reported in the status so users see when a GPU request fell back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionBackend {
    Cpu,
    Cuda,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmotionEstimate {
    /// Index of the last frame the estimate has seen.
    pub frame_index: u64,
    /// Class probabilities in `CLASSES` order, summing to 1.
    pub probs: [f32; 8],
}

pub trait EmotionModel: Send {
    fn name(&self) -> &str;
    fn backend(&self) -> ExecutionBackend;
    /// Feed one frame; returns a new estimate when the model's hop completes.
    fn push(&mut self, frame: &FeatureFrame) -> Result<Option<EmotionEstimate>, String>;
    /// Forget buffered frames (a new stream starts).
    fn reset(&mut self);
}
