//! What counts as words in a Whisper transcript, and what the words (and laughter) say.
//!
//! Whisper fills silence and noise with annotations ("[BLANK_AUDIO]", "(music)", "*coughs*"),
//! punctuation alone, or hesitations ("uh", "um"). None of that says anything about emotion, and
//! the text head would still return a confident-looking distribution for it, so such a
//! transcript must contribute nothing.
//!
//! Two exceptions matter for people who stream:
//! - **Laughter** ("[laughs]", "(laughing)", "*chuckles*", "haha") is not thrown away: it is
//!   happy evidence of its own ([`LAUGHTER`], mixed with the words' at [`LAUGH_WEIGHT`]), and it
//!   stays visible in the transcript as "(laughs)".
//! - **One word** ("no!", "wow") is too little for a sentence encoder trained on sentences: it
//!   gets a text probability only when the model is confident ([`ONE_WORD_MIN_P`]).

use crate::transcript::TextProbs;

/// Hesitations and backchannel noises that carry no emotion words.
const FILLERS: [&str; 16] = [
    "uh", "um", "uhm", "umm", "uh-huh", "hmm", "hm", "mm", "mmm", "mhm", "er", "erm", "ah", "eh",
    "huh", "oh",
];

/// The text evidence laughter alone gives (in `TEXT_CLASSES` order: joy 0.7, the rest 0.05).
/// Its fusion confidence (1 − normalised entropy) is 0.41: it colours the voice, it does not
/// override it, because people also laugh nervously or bitterly.
pub const LAUGHTER: TextProbs = [0.05, 0.05, 0.05, 0.7, 0.05, 0.05, 0.05];
/// Laughter's share when the utterance also has words: `(1 − w)·words + w·LAUGHTER`.
pub const LAUGH_WEIGHT: f32 = 0.5;
/// A one-word utterance counts only when the text model gives its top class at least this.
pub const ONE_WORD_MIN_P: f32 = 0.6;

/// A transcript read for what it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Words {
    /// What the user sees: annotations removed except laughter, shown as "(laughs)".
    pub display: String,
    /// The words alone, what the text model reads (empty when there was only laughter).
    pub text: String,
    /// Real words (not fillers, not laughter).
    pub words: usize,
    /// Laughter annotations and "haha"-like tokens.
    pub laughs: usize,
}

fn is_laughter_annotation(inner: &str) -> bool {
    let s = inner.to_lowercase();
    ["laugh", "chuckl", "giggl"].iter().any(|k| s.contains(k))
}

/// "ha", "haha", "hahaha", "heh", "hehe", "ha-ha" (letters only, case-insensitive).
fn is_laughter_token(word: &str) -> bool {
    let w: String = word.chars().filter(|c| c.is_alphabetic()).collect();
    let w = w.to_lowercase();
    // Not "he" (a pronoun); "hehe" is laughter.
    matches!(w.as_str(), "ha" | "hah" | "heh" | "lol")
        || (w.len() >= 4 && {
            let syllables = w.trim_end_matches('h').as_bytes();
            !syllables.is_empty() && syllables.chunks(2).all(|c| c == b"ha" || c == b"he")
        })
}

/// Splits `text` into plain text and annotations (brackets, parentheses, braces, angle
/// brackets, asterisks, music notes); laughter annotations become the marker `\u{0}`.
fn strip_annotations(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut closing: Option<char> = None;
    let mut inner = String::new();
    for c in text.chars() {
        match closing {
            Some(end) if c == end => {
                closing = None;
                if is_laughter_annotation(&inner) {
                    out.push_str(" \u{0} ");
                }
                inner.clear();
            }
            Some(_) => inner.push(c),
            None => match c {
                '[' => closing = Some(']'),
                '(' => closing = Some(')'),
                '{' => closing = Some('}'),
                '<' => closing = Some('>'),
                '*' => closing = Some('*'),
                '♪' | '♫' => closing = Some(c),
                _ => out.push(c),
            },
        }
    }
    out
}

/// Reads a transcript; `None` when it carries nothing: only annotations other than laughter,
/// punctuation or fillers.
pub fn read(raw: &str) -> Option<Words> {
    let stripped = strip_annotations(raw);
    let (mut display, mut text) = (Vec::new(), Vec::new());
    let (mut words, mut laughs) = (0, 0);
    for token in stripped.split_whitespace() {
        if token == "\u{0}" {
            laughs += 1;
            display.push("(laughs)");
            continue;
        }
        let word: String = token
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        display.push(token);
        if is_laughter_token(&word) {
            laughs += 1;
        } else {
            text.push(token);
            if !word.is_empty() && !FILLERS.contains(&word.as_str()) {
                words += 1;
            }
        }
    }
    (words > 0 || laughs > 0).then(|| Words {
        display: display.join(" "),
        text: if words > 0 {
            text.join(" ")
        } else {
            String::new()
        },
        words,
        laughs,
    })
}

/// The transcript as the user should see it, or `None` when it carries nothing (see [`read`]).
pub fn meaningful(raw: &str) -> Option<String> {
    read(raw).map(|w| w.display)
}

/// The text evidence of `words`: the text model's probabilities for the words (a single word
/// only when the model is confident), mixed with [`LAUGHTER`] when there was laughter; `None`
/// when there is no evidence.
pub fn evidence(
    words: &Words,
    classify: impl FnOnce(&str) -> Result<TextProbs, String>,
) -> Result<Option<TextProbs>, String> {
    let said = if words.words > 0 {
        let p = classify(&words.text)?;
        let top = p.iter().copied().fold(0.0f32, f32::max);
        (words.words > 1 || top >= ONE_WORD_MIN_P).then_some(p)
    } else {
        None
    };
    Ok(match (said, words.laughs > 0) {
        (Some(p), false) => Some(p),
        (Some(p), true) => Some(std::array::from_fn(|i| {
            (1.0 - LAUGH_WEIGHT) * p[i] + LAUGH_WEIGHT * LAUGHTER[i]
        })),
        (None, true) => Some(LAUGHTER),
        (None, false) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::TEXT_CLASSES;

    const JOY: usize = 3;

    #[test]
    fn annotations_punctuation_and_fillers_are_not_words() {
        for garbage in [
            "",
            "   ",
            "[BLANK_AUDIO]",
            "(music)",
            " [Music] (upbeat music) ",
            "*coughs*",
            "(sighs)",
            "♪ la la ♪",
            "...",
            "?!",
            "Uh.",
            "Um, uh... hmm?",
            "[BLANK_AUDIO] uh",
            "- -",
        ] {
            assert_eq!(meaningful(garbage), None, "{garbage:?}");
        }
    }

    #[test]
    fn real_words_are_kept_without_annotations() {
        assert_eq!(
            meaningful(" I just lost my job. ").as_deref(),
            Some("I just lost my job.")
        );
        assert_eq!(
            meaningful("[BLANK_AUDIO] Um, I'm   fine (coughs) thanks").as_deref(),
            Some("Um, I'm fine thanks")
        );
        assert_eq!(meaningful("No.").as_deref(), Some("No."));
        assert_eq!(meaningful("42").as_deref(), Some("42"));
        // A pronoun is a word, not laughter.
        let w = read("He did it").unwrap();
        assert_eq!((w.words, w.laughs), (3, 0));
    }

    #[test]
    fn laughter_annotations_and_tokens_are_kept_as_laughter() {
        for (raw, display, text, words, laughs) in [
            ("[laughs]", "(laughs)", "", 0, 1),
            ("(laughing)", "(laughs)", "", 0, 1),
            ("*chuckles*", "(laughs)", "", 0, 1),
            ("[LAUGHTER]", "(laughs)", "", 0, 1),
            ("(giggles) [BLANK_AUDIO]", "(laughs)", "", 0, 1),
            ("Hahaha!", "Hahaha!", "", 0, 1),
            ("Ha ha.", "Ha ha.", "", 0, 2),
            ("hehe", "hehe", "", 0, 1),
            (
                "That is so funny (laughs) really",
                "That is so funny (laughs) really",
                "That is so funny really",
                5,
                1,
            ),
            (
                "Oh, haha, no way.",
                "Oh, haha, no way.",
                "Oh, no way.",
                2,
                1,
            ),
        ] {
            let w = read(raw).unwrap_or_else(|| panic!("{raw:?} read as nothing"));
            assert_eq!(
                (w.display.as_str(), w.text.as_str(), w.words, w.laughs),
                (display, text, words, laughs),
                "{raw:?}"
            );
        }
    }

    fn fixed(p: TextProbs) -> impl FnOnce(&str) -> Result<TextProbs, String> {
        move |_| Ok(p)
    }

    fn unsure() -> TextProbs {
        // Top class 0.4: below the one-word bar.
        [0.1, 0.1, 0.1, 0.1, 0.4, 0.1, 0.1]
    }

    #[test]
    fn laughter_alone_is_happy_evidence_and_colours_words() {
        let only = read("[laughs]").unwrap();
        let p = evidence(&only, |_| panic!("no words to classify"))
            .unwrap()
            .unwrap();
        assert_eq!(p, LAUGHTER);
        assert_eq!(TEXT_CLASSES[JOY], "joy");
        let best = (0..7).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
        assert_eq!(best, JOY);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        // It is evidence, not certainty: the fusion gives it a middling confidence.
        let c = crate::emotion::fusion::confidence(&p);
        assert!(c > 0.3 && c < 0.5, "{c}");

        // Sad words with a laugh: the laugh pulls joy up by the laughter weight.
        let sad = [0.0, 0.0, 0.0, 0.0, 0.1, 0.9, 0.0];
        let w = read("I failed the exam (laughs)").unwrap();
        let p = evidence(&w, fixed(sad)).unwrap().unwrap();
        let expect_joy = (1.0 - LAUGH_WEIGHT) * sad[JOY] + LAUGH_WEIGHT * LAUGHTER[JOY];
        assert!((p[JOY] - expect_joy).abs() < 1e-6, "{p:?}");
        assert!(p[JOY] > 0.3 && p[5] > 0.4, "{p:?}");
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn one_word_counts_only_when_the_text_model_is_confident() {
        let confident = [0.85, 0.05, 0.0, 0.0, 0.1, 0.0, 0.0];
        let no = read("No!").unwrap();
        assert_eq!(no.words, 1);
        assert_eq!(evidence(&no, fixed(confident)).unwrap(), Some(confident));
        assert_eq!(evidence(&no, fixed(unsure())).unwrap(), None);
        // Two words are a sentence: the model's answer stands, however unsure.
        let two = read("Oh no, really?").unwrap();
        assert_eq!(two.words, 2);
        assert_eq!(evidence(&two, fixed(unsure())).unwrap(), Some(unsure()));
        // An unsure single word with laughter: the laughter is the evidence.
        let wow = read("Wow (laughs)").unwrap();
        assert_eq!(evidence(&wow, fixed(unsure())).unwrap(), Some(LAUGHTER));
        // A text model failure is an error, not silence.
        assert!(evidence(&no, |_| Err("boom".into())).is_err());
    }
}
