//! Word error rate: word-level Levenshtein distance over normalised text.

/// Lowercase words with punctuation removed; hyphens and slashes split words, apostrophes
/// are dropped (`don't` → `dont`) so both spellings compare equal.
pub fn normalise(text: &str) -> Vec<String> {
    text.to_lowercase()
        .chars()
        .filter(|c| *c != '\'' && *c != '’')
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Minimum substitutions + deletions + insertions turning `reference` into `hypothesis`.
pub fn edit_distance(reference: &[String], hypothesis: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut cur = vec![i + 1; hypothesis.len() + 1];
        for (j, h) in hypothesis.iter().enumerate() {
            let substitution = prev[j] + usize::from(r != h);
            cur[j + 1] = substitution.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[hypothesis.len()]
}

/// (errors, reference word count) for one utterance; sum both over a corpus for its WER.
pub fn errors(reference: &str, hypothesis: &str) -> (usize, usize) {
    let (r, h) = (normalise(reference), normalise(hypothesis));
    (edit_distance(&r, &h), r.len())
}

pub fn wer(reference: &str, hypothesis: &str) -> f64 {
    let (e, n) = errors(reference, hypothesis);
    e as f64 / n.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_substitutions_insertions_deletions() {
        assert_eq!(wer("the cat sat", "The cat sat."), 0.0);
        assert_eq!(errors("the cat sat", "the bat sat"), (1, 3));
        assert_eq!(errors("the cat sat", "the cat"), (1, 3));
        assert_eq!(errors("the cat sat", "oh the cat sat down"), (2, 3));
        assert_eq!(errors("don't stop", "Dont-stop"), (0, 2));
        assert_eq!(errors("well-known", "well known"), (0, 2));
    }
}
