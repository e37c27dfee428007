//! Whisper's failure mode when its encoder sees too little context (or too little audio): the
//! decoder repeats itself ("by the door by the door by the door …") or emits far more words
//! than anyone can say in the time. Such a transcript is detected here so the caller can retry
//! with the full 30 s context, which is slower but does not loop on short clips. A false alarm
//! ("go on, go on, go on!") costs only that retry: the full window's words are kept either way.

use crate::wer::normalise;

/// Faster than anyone speaks for long: conversational English runs 2.5–3.5 words per second,
/// fast speech and auctioneers about 5.
const MAX_WORDS_PER_S: f64 = 6.0;
/// Below this many words a rate says nothing (one word in a 0.2 s clip).
const MIN_WORDS_FOR_RATE: usize = 8;

/// True when `text`, transcribed from `duration_s` seconds of audio, looks like a decoder loop:
/// a word repeated 4 times in a row, a 2–3 word phrase 3 times in a row, a phrase of 4 words or
/// more twice in a row (the typical failure: the whole sentence again), or more words than
/// [`MAX_WORDS_PER_S`] allows.
pub fn looks_looped(text: &str, duration_s: f64) -> bool {
    let w = normalise(text);
    if w.len() >= MIN_WORDS_FOR_RATE && w.len() as f64 > MAX_WORDS_PER_S * duration_s.max(0.1) {
        return true;
    }
    (1..=w.len() / 2).any(|n| {
        let needed = match n {
            1 => 4,
            2 | 3 => 3,
            _ => 2,
        };
        w.len() >= n * needed
            && (0..=w.len() - n * needed).any(|start| {
                let first = &w[start..start + n];
                (1..needed).all(|k| &w[start + k * n..start + (k + 1) * n] == first)
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_sentences_are_not_loops() {
        for (text, s) in [
            ("Kids are talking by the door.", 1.8),
            ("Dogs are sitting by the door.", 1.7),
            ("No, no, no!", 1.0),
            ("I really, really like it.", 1.5),
            ("Thank you, thank you.", 1.5),
            ("The quick brown fox jumps over the lazy dog.", 2.6),
            ("Ha ha ha.", 1.2),
            ("", 1.0),
            ("Yes.", 0.05),
        ] {
            assert!(!looks_looped(text, s), "{text:?}");
        }
    }

    #[test]
    fn repetition_loops_and_impossible_rates_are() {
        for (text, s) in [
            ("Kids are talking by the door, by the door, by the door, by the door.", 3.0),
            ("the the the the", 2.0),
            ("I don't know. I don't know. I don't know.", 5.0),
            // Seen with no margin (tiny.en): the sentence, then the sentence again.
            (
                "Music can change the way we feel about the world. Music can change the way we feel about the world.",
                4.0,
            ),
            (
                "one two three four five six seven eight nine ten eleven twelve",
                1.5,
            ),
        ] {
            assert!(looks_looped(text, s), "{text:?}");
        }
    }
}
