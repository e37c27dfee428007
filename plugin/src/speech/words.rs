//! What counts as words in a Whisper transcript.
//!
//! Whisper fills silence and noise with annotations ("[BLANK_AUDIO]", "(music)", "*laughs*"),
//! punctuation alone, or hesitations ("uh", "um"). None of that says anything about emotion, and
//! the text head would still return a confident-looking distribution for it, so such a
//! transcript must contribute nothing.

/// Hesitations and backchannel noises that carry no emotion words.
const FILLERS: [&str; 16] = [
    "uh", "um", "uhm", "umm", "uh-huh", "hmm", "hm", "mm", "mmm", "mhm", "er", "erm", "ah", "eh",
    "huh", "oh",
];

/// Removes annotations in brackets, parentheses, braces, asterisks or music notes.
fn strip_annotations(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut closing: Option<char> = None;
    for c in text.chars() {
        match closing {
            Some(end) if c == end => closing = None,
            Some(_) => {}
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

/// The transcript as the user should see it (annotations removed, whitespace collapsed), or
/// `None` when no real word is left: only annotations, punctuation or fillers.
pub fn meaningful(text: &str) -> Option<String> {
    let cleaned = strip_annotations(text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let has_word = cleaned.split_whitespace().any(|token| {
        let word: String = token
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        !word.is_empty()
            && word.chars().any(char::is_alphanumeric)
            && !FILLERS.contains(&word.as_str())
    });
    has_word.then_some(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_punctuation_and_fillers_are_not_words() {
        for garbage in [
            "",
            "   ",
            "[BLANK_AUDIO]",
            "(music)",
            " [Music] (upbeat music) ",
            "*laughs*",
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
    }
}
