//! How `sentio eval` turns the model's 8 probabilities into one of a manifest's classes.
//!
//! A corpus scored on fewer classes than the model's is the cross-corpus case: the decision is
//! restricted to the manifest's classes. RAVDESS alone separates "calm" from "neutral"; every
//! other corpus files calm-sounding speech under neutral, so when a manifest has neutral but no
//! calm, calm's probability counts as neutral's (the two RAVDESS classes are one class there).
//! Other absent classes are dropped: no corpus merges them into a present one.

use crate::emotion::{class_index, N_CLASSES};

/// The classes a file may be decided as, and whether calm counts as neutral.
pub struct Decision {
    pub classes: Vec<usize>,
    calm_as_neutral: Option<(usize, usize)>,
}

impl Decision {
    /// `present`: which classes the manifest uses. `all`: decide among all 8 (no restriction);
    /// `fold`: calm counts as neutral when the manifest has neutral but no calm.
    pub fn new(present: &[bool; N_CLASSES], all: bool, fold: bool) -> Self {
        let classes = (0..N_CLASSES).filter(|&c| all || present[c]).collect();
        let (neutral, calm) = (class_index("neutral"), class_index("calm"));
        let calm_as_neutral = match (neutral, calm) {
            (Some(n), Some(c)) if fold && !all && present[n] && !present[c] => Some((c, n)),
            _ => None,
        };
        Decision {
            classes,
            calm_as_neutral,
        }
    }

    /// How files were decided, for the report: `all_classes`, `calm_as_neutral` (calm folded
    /// into neutral) or `manifest_classes` (restricted, nothing folded).
    pub fn label(&self) -> &'static str {
        if self.classes.len() == N_CLASSES {
            "all_classes"
        } else if self.calm_as_neutral.is_some() {
            "calm_as_neutral"
        } else {
            "manifest_classes"
        }
    }

    /// The manifest class with the highest probability (calm's added to neutral's when folded).
    pub fn decide(&self, probs: &[f32; N_CLASSES]) -> usize {
        let score = |c: usize| match self.calm_as_neutral {
            Some((calm, neutral)) if c == neutral => probs[c] + probs[calm],
            _ => probs[c],
        };
        self.classes
            .iter()
            .copied()
            .max_by(|&a, &b| score(a).total_cmp(&score(b)))
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn present(names: &[&str]) -> [bool; N_CLASSES] {
        let mut p = [false; N_CLASSES];
        for n in names {
            p[class_index(n).unwrap()] = true;
        }
        p
    }

    fn probs(pairs: &[(&str, f32)]) -> [f32; N_CLASSES] {
        let mut p = [0.0; N_CLASSES];
        for (n, v) in pairs {
            p[class_index(n).unwrap()] = *v;
        }
        p
    }

    /// Sad leads, but calm and neutral together outweigh it.
    fn calm_close_behind_sad() -> [f32; N_CLASSES] {
        probs(&[
            ("neutral", 0.2),
            ("calm", 0.25),
            ("sad", 0.35),
            ("happy", 0.2),
        ])
    }

    #[test]
    fn calm_counts_as_neutral_when_the_manifest_has_no_calm() {
        let (p, idx) = (calm_close_behind_sad(), |n| class_index(n).unwrap());
        let folded = Decision::new(&present(&["neutral", "sad", "happy"]), false, true);
        assert_eq!(
            folded.classes,
            vec![idx("neutral"), idx("happy"), idx("sad")]
        );
        assert_eq!(folded.decide(&p), idx("neutral"));
        assert_eq!(folded.label(), "calm_as_neutral");
        // Dropped instead of folded, calm's mass goes nowhere and sad wins.
        let dropped = Decision::new(&present(&["neutral", "sad", "happy"]), false, false);
        assert_eq!(dropped.decide(&p), idx("sad"));
        assert_eq!(dropped.label(), "manifest_classes");
    }

    #[test]
    fn no_folding_when_calm_is_a_class_or_neutral_is_not() {
        let (p, idx) = (calm_close_behind_sad(), |n| class_index(n).unwrap());
        // RAVDESS: calm is its own class.
        let eight = Decision::new(&present(&["neutral", "calm", "sad"]), false, true);
        assert_eq!(eight.decide(&p), idx("sad"));
        // No neutral: calm has nowhere to go.
        let no_neutral = Decision::new(&present(&["sad", "happy"]), false, true);
        assert_eq!(no_neutral.decide(&p), idx("sad"));
        // --all-classes: calm itself can win.
        let all = Decision::new(&present(&["neutral", "sad"]), true, true);
        assert_eq!(all.classes.len(), N_CLASSES);
        assert_eq!(all.label(), "all_classes");
        let p = probs(&[("neutral", 0.2), ("calm", 0.45), ("sad", 0.35)]);
        assert_eq!(all.decide(&p), idx("calm"));
    }
}
