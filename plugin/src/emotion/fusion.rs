//! Late fusion of the acoustic probabilities with the text-emotion probabilities of the latest
//! transcript.
//!
//! - **Class mapping.** The text head speaks Ekman-7 (anger, disgust, fear, joy, neutral, sadness,
//!   surprise); the outputs are the eight RAVDESS classes. anger → angry, disgust → disgust,
//!   fear → fearful, joy → happy, sadness → sad, surprise → surprised. Words cannot tell *calm*
//!   from *neutral* (both are "no strong emotion"; the difference is in the voice), so the text's
//!   neutral mass is split between neutral and calm in the ratio the acoustic model gives those
//!   two (half and half when it gives neither any weight).
//! - **Confidence.** Each side's confidence is 1 − its normalised entropy (1 for a one-hot
//!   distribution, 0 for a uniform one), so a side that does not know does not dilute one that
//!   does.
//! - **Weight.** With the user's text weight `w` (0 = voice only, 1 = words only when they carry
//!   any information) and the text's age decay `d`, the text's share is
//!   `α = w·c_text·d / (w·c_text·d + (1 − w)·c_voice)` and the output is
//!   `(1 − α)·voice + α·text`.
//! - **Decay.** The words belong to the utterance they came from: the contribution counts from the
//!   end of that utterance and decays as `exp(−age / TEXT_DECAY_S)`. A transcript that arrives
//!   late (slow transcription) therefore weighs less, and old words stop colouring new speech.

use super::N_CLASSES;
use crate::text::TEXT_CLASSES;

/// Time constant of the text contribution's decay after its utterance ended, seconds.
pub const TEXT_DECAY_S: f32 = 5.0;
/// Below this decayed share the text no longer counts (the worker stops refreshing for it).
pub const NEGLIGIBLE: f32 = 1e-3;

pub const N_TEXT: usize = TEXT_CLASSES.len();

/// Output index of each text class (neutral is split, see the module doc).
const TEXT_TO_OUTPUT: [usize; N_TEXT] = [4, 6, 5, 2, 0, 3, 7];
const TEXT_NEUTRAL: usize = 4;
const OUT_NEUTRAL: usize = 0;
const OUT_CALM: usize = 1;

/// 1 − entropy / ln(N): 1 for a certain distribution, 0 for a uniform one. Not a distribution
/// (negative, non-finite or all-zero values) gives 0.
pub fn confidence<const N: usize>(p: &[f32; N]) -> f32 {
    if N < 2 || p.iter().any(|x| !x.is_finite() || *x < 0.0) {
        return 0.0;
    }
    let sum: f32 = p.iter().sum();
    if sum <= 0.0 {
        return 0.0;
    }
    let h: f32 = p
        .iter()
        .map(|x| x / sum)
        .filter(|x| *x > 0.0)
        .map(|x| -x * x.ln())
        .sum();
    (1.0 - h / (N as f32).ln()).clamp(0.0, 1.0)
}

/// The text's Ekman-7 probabilities as the eight output classes (see the module doc for calm).
pub fn text_to_outputs(text: &[f32; N_TEXT], acoustic: &[f32; N_CLASSES]) -> [f32; N_CLASSES] {
    let mut out = [0.0; N_CLASSES];
    for (i, p) in text.iter().enumerate() {
        if i != TEXT_NEUTRAL {
            out[TEXT_TO_OUTPUT[i]] += p;
        }
    }
    let (n, c) = (acoustic[OUT_NEUTRAL].max(0.0), acoustic[OUT_CALM].max(0.0));
    let calm_share = if n + c > 1e-6 { c / (n + c) } else { 0.5 };
    out[OUT_CALM] += text[TEXT_NEUTRAL] * calm_share;
    out[OUT_NEUTRAL] += text[TEXT_NEUTRAL] * (1.0 - calm_share);
    out
}

/// The text evidence of one transcript.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextEvidence {
    pub probs: [f32; N_TEXT],
    /// Seconds since the end of the utterance it came from.
    pub age_s: f32,
}

/// The text's share α of the fused output (see the module doc).
pub fn text_share(acoustic: &[f32; N_CLASSES], text: &TextEvidence, text_weight: f32) -> f32 {
    let w = if text_weight.is_finite() {
        text_weight.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let decay = (-text.age_s.max(0.0) / TEXT_DECAY_S).exp();
    let t = w * confidence(&text.probs) * decay;
    let a = (1.0 - w) * confidence(acoustic);
    if t + a <= 1e-9 || !t.is_finite() {
        0.0
    } else {
        t / (t + a)
    }
}

/// Fused probabilities (summing to 1) and the text's share of them.
pub fn fuse(
    acoustic: &[f32; N_CLASSES],
    text: Option<&TextEvidence>,
    text_weight: f32,
) -> ([f32; N_CLASSES], f32) {
    let Some(text) = text.filter(|t| t.probs.iter().all(|p| p.is_finite() && *p >= 0.0)) else {
        return (*acoustic, 0.0);
    };
    let alpha = text_share(acoustic, text, text_weight);
    if alpha <= 0.0 {
        return (*acoustic, 0.0);
    }
    let mapped = text_to_outputs(&text.probs, acoustic);
    let mapped_sum: f32 = mapped.iter().sum();
    let mut out: [f32; N_CLASSES] = std::array::from_fn(|i| {
        (1.0 - alpha) * acoustic[i] + alpha * mapped[i] / mapped_sum.max(1e-12)
    });
    let sum: f32 = out.iter().sum();
    if sum > 0.0 {
        out.iter_mut().for_each(|p| *p /= sum);
    }
    (out, alpha)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5)
    }

    const UNIFORM8: [f32; 8] = [0.125; 8];

    #[test]
    fn confidence_is_one_minus_normalised_entropy() {
        assert_eq!(confidence(&[0.0, 1.0, 0.0]), 1.0);
        assert!(confidence(&UNIFORM8) < 1e-6);
        // Two equal classes out of four: H = ln 2, so 1 − ln2/ln4 = 0.5.
        assert!((confidence(&[0.5, 0.5, 0.0, 0.0]) - 0.5).abs() < 1e-6);
        assert_eq!(confidence(&[f32::NAN, 1.0]), 0.0);
        assert_eq!(confidence(&[0.0, 0.0]), 0.0);
    }

    #[test]
    fn text_classes_map_onto_outputs_and_neutral_splits_like_the_voice() {
        // anger, disgust, fear, joy, neutral, sadness, surprise
        let text = [0.1, 0.05, 0.05, 0.2, 0.4, 0.15, 0.05];
        let mut acoustic = [0.0; 8];
        acoustic[0] = 0.3; // neutral
        acoustic[1] = 0.1; // calm: 1/4 of the neutral+calm mass
        acoustic[2] = 0.6;
        let m = text_to_outputs(&text, &acoustic);
        // neutral, calm, happy, sad, angry, fearful, disgust, surprised
        assert!(
            close(&m, &[0.3, 0.1, 0.2, 0.15, 0.1, 0.05, 0.05, 0.05]),
            "{m:?}"
        );
        assert!((m.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        // No neutral/calm mass on the acoustic side: half and half.
        let m = text_to_outputs(&text, &[0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        assert!((m[0] - 0.2).abs() < 1e-6 && (m[1] - 0.2).abs() < 1e-6);
    }

    #[test]
    fn weight_zero_is_voice_only_and_weight_one_is_words_only() {
        let acoustic = [0.05, 0.05, 0.05, 0.05, 0.65, 0.05, 0.05, 0.05];
        let joy = TextEvidence {
            probs: [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
            age_s: 0.0,
        };
        let (out, alpha) = fuse(&acoustic, Some(&joy), 0.0);
        assert_eq!((out, alpha), (acoustic, 0.0));
        let (out, alpha) = fuse(&acoustic, Some(&joy), 1.0);
        assert!((alpha - 1.0).abs() < 1e-6);
        assert!(
            close(&out, &[0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
            "{out:?}"
        );
        assert_eq!(fuse(&acoustic, None, 1.0), (acoustic, 0.0));
    }

    #[test]
    fn equal_weight_blends_by_confidence() {
        // A certain text (c = 1) and an acoustic side with confidence c_a: α = 1 / (1 + c_a).
        let acoustic = [0.0, 0.0, 0.0, 0.0, 0.5, 0.5, 0.0, 0.0];
        let c_a = confidence(&acoustic);
        assert!((c_a - (1.0 - 2f32.ln() / 8f32.ln())).abs() < 1e-6);
        let sad = TextEvidence {
            probs: [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            age_s: 0.0,
        };
        let (out, alpha) = fuse(&acoustic, Some(&sad), 0.5);
        let want = 1.0 / (1.0 + c_a);
        assert!((alpha - want).abs() < 1e-6, "{alpha} vs {want}");
        assert!((out[3] - want).abs() < 1e-5);
        assert!((out[4] - 0.5 * (1.0 - want)).abs() < 1e-5);
        assert!((out.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        // An uncertain acoustic side leaves everything to a confident text.
        let (_, alpha) = fuse(&UNIFORM8, Some(&sad), 0.5);
        assert!((alpha - 1.0).abs() < 1e-6);
        // A text that knows nothing contributes nothing.
        let shrug = TextEvidence {
            probs: [1.0 / 7.0; 7],
            age_s: 0.0,
        };
        assert!(fuse(&acoustic, Some(&shrug), 0.9).1 < 1e-5);
    }

    #[test]
    fn the_text_share_decays_with_the_age_of_its_utterance() {
        let acoustic = [0.0, 0.0, 0.0, 0.0, 0.5, 0.5, 0.0, 0.0];
        let c_a = confidence(&acoustic);
        let share = |age_s| {
            let t = TextEvidence {
                probs: [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
                age_s,
            };
            text_share(&acoustic, &t, 0.5)
        };
        let d = (-1.0f32).exp();
        assert!((share(TEXT_DECAY_S) - d / (d + c_a)).abs() < 1e-6);
        assert!(share(0.0) > share(2.0) && share(2.0) > share(10.0));
        assert!(share(60.0) < NEGLIGIBLE);
        assert_eq!(
            share(-3.0),
            share(0.0),
            "no bonus for a clock that runs backwards"
        );
    }

    #[test]
    fn bad_numbers_never_leak_into_the_outputs() {
        let acoustic = [0.2, 0.1, 0.1, 0.1, 0.2, 0.1, 0.1, 0.1];
        let bad = TextEvidence {
            probs: [f32::NAN, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
            age_s: 0.0,
        };
        assert_eq!(fuse(&acoustic, Some(&bad), 0.5), (acoustic, 0.0));
        let ok = TextEvidence {
            probs: [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
            age_s: 0.0,
        };
        assert_eq!(fuse(&acoustic, Some(&ok), f32::NAN), (acoustic, 0.0));
    }
}
