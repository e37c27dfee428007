//! The words: voice activity (Silero VAD) cuts the 16 kHz stream into utterances, Whisper
//! transcribes them, and the text-emotion model (fine-tuned MiniLM) turns each transcript into
//! Ekman-7 probabilities that [`crate::emotion::fusion`] blends with the voice.
//!
//! Everything here runs on the speech worker's own threads ([`worker`]); the audio thread never
//! sees any of it, and the analysis worker only hands PCM over without waiting.

pub mod models;
pub mod utterance;
pub mod vad;
pub mod words;
pub mod worker;

use crate::transcript::TextProbs;

/// The speech path's sample rate (the front end's, and the one Whisper and Silero expect).
pub const SAMPLE_RATE: usize = crate::dsp::ANALYSIS_RATE as usize;

/// Speech to text.
pub trait Transcribe: Send {
    fn transcribe(&mut self, pcm_16k: &[f32]) -> Result<String, String>;
}

/// Text to emotion probabilities.
pub trait ClassifyText: Send {
    fn classify(&mut self, text: &str) -> Result<TextProbs, String>;
}

/// Whisper and the text path as loaded, with a label saying what runs where.
pub type LoadedTranscription = (Box<dyn Transcribe>, Box<dyn ClassifyText>, String);
