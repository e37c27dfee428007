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

use crate::text::TEXT_CLASSES;

/// The speech path's sample rate (the front end's, and the one Whisper and Silero expect).
pub const SAMPLE_RATE: usize = 16_000;

/// Text-emotion probabilities in [`TEXT_CLASSES`] order.
pub type TextProbs = [f32; TEXT_CLASSES.len()];

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

/// The words so far of an utterance still being spoken; the finished [`Transcript`] of the same
/// utterance replaces it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Partial {
    /// 1, 2, … in publication order (each partial is sent once).
    pub seq: u64,
    /// The cutter's id of the utterance it belongs to.
    #[serde(skip)]
    pub utterance: u64,
    /// Stream time of the utterance's start, seconds.
    pub start_s: f64,
    pub text: String,
}

/// One finished utterance as the outputs see it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Transcript {
    /// 1, 2, … in publication order.
    pub seq: u64,
    /// Stream time of the utterance, seconds (16 kHz samples since the stream started / 16000).
    pub start_s: f64,
    pub end_s: f64,
    /// The words (annotations such as "[BLANK_AUDIO]" removed, laughter as "(laughs)").
    pub text: String,
    /// Text-emotion probabilities, in `TEXT_CLASSES` order; `None` when the words carry no
    /// evidence (a single word the text model is unsure of, see [`words::evidence`]).
    pub probs: Option<TextProbs>,
    /// How long Whisper and the text path took, milliseconds.
    pub compute_ms: u64,
    /// [`crate::state::clock_ms`] when the cutter closed the utterance and when its results were
    /// published.
    #[serde(skip)]
    pub cut_ms: u64,
    #[serde(skip)]
    pub published_ms: u64,
}
