//! Emotion: the model seam, the ONNX acoustic model, and what turns its probabilities into outputs
//! (smoothing, dominant class, valence and arousal).
//!
//! A model sees every feature frame on the analysis worker (never the audio thread), keeps its own
//! sliding window and hop, and may block while it infers (ONNX Runtime on CPU or CUDA).

pub mod adaptation;
pub mod circumplex;
pub mod fusion;
pub mod normalize;
pub mod onnx_model;
pub mod runtime;
pub mod sidecar;
pub mod smoothing;
pub mod speaker_embedding;

use crate::dsp::FeatureFrame;
use adaptation::Adaptation;
use normalize::Calibration;

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
pub const N_CLASSES: usize = CLASSES.len();

/// Other names emotional-speech corpora give the classes (EmoDB, EMOVO, SAVEE, CREMA-D, IEMOCAP,
/// TESS's "pleasant surprise"), so a researcher's manifest or class folders need no renaming.
const CLASS_SYNONYMS: [(&str, usize); 14] = [
    ("neu", 0),
    ("happiness", 2),
    ("joy", 2),
    ("hap", 2),
    ("sadness", 3),
    ("anger", 4),
    ("ang", 4),
    ("fear", 5),
    ("disgusted", 6),
    ("surprise", 7),
    ("pleasant surprise", 7),
    ("pleasant_surprise", 7),
    ("pleasant_surprised", 7),
    ("ps", 7),
];

/// The class a label names: one of `CLASSES` or a common synonym, ignoring case and surrounding
/// space. Labels the model has no class for (e.g. EmoDB's "boredom") give `None`.
pub fn class_index(label: &str) -> Option<usize> {
    let label = label.trim();
    CLASSES
        .iter()
        .position(|c| c.eq_ignore_ascii_case(label))
        .or_else(|| {
            CLASS_SYNONYMS
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(label))
                .map(|&(_, class)| class)
        })
}

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
    pub probs: [f32; N_CLASSES],
}

pub trait EmotionModel: Send {
    fn name(&self) -> &str;
    fn backend(&self) -> ExecutionBackend;
    /// Anything the user should know about how it runs (e.g. a CUDA request that fell back).
    fn note(&self) -> &str {
        ""
    }
    /// Feed one frame (and whether the analysis judged it voiced); returns a new estimate when the
    /// model's hop completes.
    fn push(
        &mut self,
        frame: &FeatureFrame,
        voiced: bool,
    ) -> Result<Option<EmotionEstimate>, String>;
    /// Start (`on`) or finish recording a "calibrate to my voice" take; finishing returns the
    /// calibration (already in use) or why it failed.
    fn record_calibration(&mut self, _on: bool) -> Option<Result<Calibration, String>> {
        None
    }
    fn set_calibration(&mut self, _c: Option<Calibration>) -> Result<(), String> {
        Ok(())
    }
    /// Seconds of speech recorded so far by a running "calibrate to my voice" take.
    fn calibration_seconds(&self) -> Option<f32> {
        None
    }
    /// "Learn my voice": the class the speech now heard is an example of (`None`: no take).
    /// The end of a take refits the correction on every take since the model loaded and
    /// returns it (already in use), or says why it could not.
    fn teach(&mut self, _class: Option<usize>) -> Option<Result<Adaptation, String>> {
        None
    }
    /// Drops the learnt correction and the takes.
    fn forget_adaptation(&mut self) {}
    /// Forget buffered frames (a new stream starts).
    fn reset(&mut self);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_classes_by_their_names_and_corpus_synonyms() {
        for (i, c) in CLASSES.iter().enumerate() {
            assert_eq!(class_index(c), Some(i));
            assert_eq!(class_index(&format!(" {} ", c.to_uppercase())), Some(i));
        }
        let named = |s| class_index(s).map(|i| CLASSES[i]);
        assert_eq!(named("Fear"), Some("fearful"));
        assert_eq!(named("surprise"), Some("surprised"));
        assert_eq!(named("ps"), Some("surprised"));
        assert_eq!(named("Happiness"), Some("happy"));
        assert_eq!(named("joy"), Some("happy"));
        assert_eq!(named("sadness"), Some("sad"));
        assert_eq!(named("anger"), Some("angry"));
        assert_eq!(named("disgusted"), Some("disgust"));
        // A class the model does not have is not quietly mapped to one it has.
        assert_eq!(named("boredom"), None);
        assert_eq!(named("contempt"), None);
        assert_eq!(named(""), None);
    }
}
