//! What the speech path publishes, as data: the words of an utterance still being spoken, the
//! finished transcript and its text-emotion probabilities. It sits below the shared state, the
//! speech worker and the outputs, which all read or write it, so none of them has to import
//! another for its types.

use crate::text::TEXT_CLASSES;

/// Text-emotion probabilities in [`TEXT_CLASSES`] order.
pub type TextProbs = [f32; TEXT_CLASSES.len()];

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
    /// evidence (a single word the text model is unsure of, see [`crate::speech::words::evidence`]).
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
