//! The last seconds of the analysis, sampled by the editor from the shared state: what the
//! valence/arousal trail and the 30 s timeline draw. Fixed capacity, so an editor left open for
//! hours uses the same memory as one opened a second ago.

use std::collections::VecDeque;

use crate::emotion::N_CLASSES;
use crate::state::Outputs;

/// How far back the timeline reaches.
pub const SPAN_S: f64 = 30.0;
/// Samples per second (the editor repaints at up to ~33 fps; more would not show).
const RATE_HZ: f64 = 10.0;
const CAPACITY: usize = (SPAN_S * RATE_HZ) as usize + 2;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Seconds on the editor's clock.
    pub t: f64,
    pub voice: f32,
    /// `None` while no model runs.
    pub probs: Option<[f32; N_CLASSES]>,
    pub valence: f32,
    pub arousal: f32,
}

#[derive(Debug, Default)]
pub struct History {
    samples: VecDeque<Sample>,
}

impl History {
    /// Record `out` at time `t` unless the last sample is younger than the sampling period.
    pub fn record(&mut self, t: f64, out: &Outputs) {
        if self
            .samples
            .back()
            // A millisecond of slack: frames at exactly the period are not skipped for rounding.
            .is_some_and(|last| t - last.t < 1.0 / RATE_HZ - 1e-3 && t >= last.t)
        {
            return;
        }
        let finite = |x: f32| if x.is_finite() { x } else { 0.0 };
        let sample = Sample {
            t,
            voice: finite(out.voice).clamp(0.0, 1.0),
            probs: out
                .emotion
                .map(|e| e.probs.map(|p| finite(p).clamp(0.0, 1.0))),
            valence: out
                .emotion
                .map_or(0.0, |e| finite(e.valence).clamp(-1.0, 1.0)),
            arousal: out
                .emotion
                .map_or(0.0, |e| finite(e.arousal).clamp(-1.0, 1.0)),
        };
        if self.samples.len() == CAPACITY {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
        while self.samples.front().is_some_and(|s| t - s.t > SPAN_S) {
            self.samples.pop_front();
        }
    }

    /// Samples from `now - seconds` on, oldest first.
    pub fn since(&self, now: f64, seconds: f64) -> impl Iterator<Item = &Sample> {
        self.samples.iter().filter(move |s| now - s.t <= seconds)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.samples.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Emotion;

    fn out(happy: f32) -> Outputs {
        let mut probs = [0.0; N_CLASSES];
        probs[2] = happy;
        Outputs {
            voice: 0.5,
            emotion: Some(Emotion {
                probs,
                dominant: 2,
                valence: 0.3,
                arousal: f32::NAN,
            }),
            ..Outputs::default()
        }
    }

    #[test]
    fn samples_at_its_rate_and_forgets_beyond_the_span() {
        let mut h = History::default();
        // 60 s of frames at 100 Hz: kept at 10 Hz for the last 30 s only.
        for i in 0..6000 {
            h.record(i as f64 / 100.0, &out(0.5));
        }
        assert!(h.len() <= CAPACITY);
        let now = 59.99;
        let kept: Vec<_> = h.since(now, SPAN_S).collect();
        assert!((kept.len() as i64 - 300).abs() <= 2, "{}", kept.len());
        assert!(kept.iter().all(|s| now - s.t <= SPAN_S));
        assert_eq!(kept[0].probs.unwrap()[2], 0.5);
        assert_eq!(kept[0].arousal, 0.0, "NaN is drawn as the centre");
        assert_eq!(h.since(now, 1.0).count(), 10);
    }

    #[test]
    fn no_model_means_no_probabilities() {
        let mut h = History::default();
        h.record(0.0, &Outputs::default());
        assert_eq!(h.since(0.0, 1.0).next().unwrap().probs, None);
    }
}
