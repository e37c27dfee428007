//! Per-speaker statistics of the model's pooled embedding, estimated live.
//!
//! The model was trained on each speaker's window embeddings z-normalised with that speaker's own
//! mean and deviation (over all their speech, every emotion): what a voice sounds like is taken
//! out, how it changes is left. Live, the speaker part is a running weighted mean and variance of
//! the embeddings of the windows the model classified, each weighted by the seconds of new voiced
//! speech it brought (windows overlap, so a window counts for its hop, not its length). It is
//! blended with the training set's global statistics by shrinkage: after `s` seconds, a mixture of
//! `s` seconds of the speaker and `prior` seconds of the global statistics — so the first seconds
//! move it little and a cold start is exactly the global normalisation. A "calibrate to my voice"
//! take replaces the running part with the take's statistics. The speaker's share of the mixture,
//! `s / (s + prior)`, is also the weight with which two-head models (v6 to v8) blend their speaker head
//! over their cold-start head. `models/acoustic/v4/speaker_time.py` simulates the same estimate to
//! choose `prior` and measure how many seconds it needs.

use super::normalize::{Calibration, MIN_CALIBRATION_FRAMES};
use super::sidecar::EmbeddingNormalization;

/// A running weighted mean and variance that forgets beyond `memory` seconds.
#[derive(Debug, Clone)]
pub struct RunningStats {
    mean: Vec<f64>,
    var: Vec<f64>,
    seconds: f64,
}

impl RunningStats {
    pub fn new(dims: usize) -> Self {
        Self {
            mean: vec![0.0; dims],
            var: vec![0.0; dims],
            seconds: 0.0,
        }
    }

    /// Seconds of speech behind the estimate (at most the memory).
    pub fn seconds(&self) -> f64 {
        self.seconds
    }

    pub fn observe(&mut self, x: &[f32], seconds: f64, memory: f64) {
        if seconds <= 0.0 || x.iter().any(|v| !v.is_finite()) {
            return;
        }
        self.seconds = (self.seconds + seconds).min(memory);
        let alpha = seconds / self.seconds.max(seconds);
        for ((m, v), &x) in self.mean.iter_mut().zip(&mut self.var).zip(x) {
            let d = x as f64 - *m;
            *m += alpha * d;
            *v = (1.0 - alpha) * (*v + alpha * d * d);
        }
    }

    /// The take as a calibration; `frames`: voiced 10 ms frames it covered.
    pub fn to_calibration(&self, frames: usize) -> Result<Calibration, String> {
        if frames < MIN_CALIBRATION_FRAMES || self.seconds <= 0.0 {
            return Err(format!(
                "calibration needs at least {:.1} s of voiced speech, got {:.1} s",
                MIN_CALIBRATION_FRAMES as f32 / 100.0,
                frames as f32 / 100.0
            ));
        }
        Ok(Calibration {
            mean: self.mean.iter().map(|&m| m as f32).collect(),
            std: self
                .var
                .iter()
                .map(|&v| v.sqrt().max(1e-3) as f32)
                .collect(),
            frames,
        })
    }
}

pub struct EmbeddingNormalizer {
    global_mean: Vec<f32>,
    global_std: Vec<f32>,
    prior: f64,
    memory: f64,
    running: RunningStats,
    calibration: Option<Calibration>,
    /// What the graph gets, recomputed by [`Self::refresh`].
    mean: Vec<f32>,
    std: Vec<f32>,
    /// The speaker's share of the statistics, `s / (s + prior)`.
    weight: f32,
}

impl EmbeddingNormalizer {
    pub fn new(n: &EmbeddingNormalization) -> Self {
        Self {
            running: RunningStats::new(n.global_mean.len()),
            mean: n.global_mean.clone(),
            std: n.global_std.clone(),
            weight: 0.0,
            global_mean: n.global_mean.clone(),
            global_std: n.global_std.clone(),
            prior: n.prior_seconds as f64,
            memory: n.memory_seconds as f64,
            calibration: None,
        }
    }

    pub fn dims(&self) -> usize {
        self.global_mean.len()
    }

    pub fn set_calibration(&mut self, calibration: Option<Calibration>) -> Result<(), String> {
        if let Some(c) = &calibration {
            if c.mean.len() != self.dims() || c.std.len() != self.dims() {
                return Err(format!(
                    "calibration has {} values, the model reads {} (recorded for another model: calibrate again)",
                    c.mean.len(),
                    self.dims()
                ));
            }
        }
        self.calibration = calibration;
        self.refresh();
        Ok(())
    }

    pub fn reset(&mut self) {
        self.running = RunningStats::new(self.dims());
        self.refresh();
    }

    /// Learn from one classified window's embedding, worth `seconds` of new voiced speech.
    pub fn observe(&mut self, embedding: &[f32], seconds: f64) {
        if self.calibration.is_some() {
            return;
        }
        self.running.observe(embedding, seconds, self.memory);
        self.refresh();
    }

    /// Seconds of the speaker behind the current statistics.
    pub fn speaker_seconds(&self) -> f64 {
        match &self.calibration {
            Some(c) => c.frames as f64 / 100.0,
            None => self.running.seconds(),
        }
    }

    /// The statistics the graph normalises with: `(mean, std)`.
    pub fn current(&self) -> (&[f32], &[f32]) {
        (&self.mean, &self.std)
    }

    /// How much of [`Self::current`] is the speaker's (0 at a cold start), for models that blend
    /// a speaker head with a cold-start head.
    pub fn weight(&self) -> f32 {
        self.weight
    }

    fn refresh(&mut self) {
        let s = self.speaker_seconds();
        let w = if s + self.prior > 0.0 {
            s / (s + self.prior)
        } else {
            1.0
        };
        self.weight = w as f32;
        for i in 0..self.dims() {
            let (sm, sv) = match &self.calibration {
                Some(c) => (c.mean[i] as f64, (c.std[i] as f64).powi(2)),
                None => (self.running.mean[i], self.running.var[i]),
            };
            let (gm, gv) = (
                self.global_mean[i] as f64,
                (self.global_std[i] as f64).powi(2),
            );
            // The mixture's mean and variance.
            let m = w * sm + (1.0 - w) * gm;
            let second = w * (sv + sm * sm) + (1.0 - w) * (gv + gm * gm);
            self.mean[i] = m as f32;
            self.std[i] = (second - m * m).max(1e-6).sqrt() as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(prior: f32) -> EmbeddingNormalization {
        EmbeddingNormalization {
            mean_input: "speaker_mean".into(),
            std_input: "speaker_std".into(),
            output: "embedding".into(),
            weight_input: None,
            global_mean: vec![0.0, 10.0],
            global_std: vec![1.0, 2.0],
            max_speaker_weight: 1.0,
            min_speaker_weight: 0.0,
            prior_seconds: prior,
            memory_seconds: 100.0,
            head_mean: vec![],
            head_std: vec![],
        }
    }

    #[test]
    fn cold_start_is_global_and_the_speaker_takes_over_by_shrinkage() {
        let mut n = EmbeddingNormalizer::new(&spec(10.0));
        assert_eq!(n.current(), (&[0.0, 10.0][..], &[1.0, 2.0][..]));
        assert_eq!(n.weight(), 0.0);
        // A speaker at (5, 20) ± 1, heard for 10 s: half speaker, half prior.
        for i in 0..40 {
            let s = if i % 2 == 0 { 1.0 } else { -1.0 };
            n.observe(&[5.0 + s, 20.0 + s], 0.25);
        }
        let (m, _) = n.current();
        assert!(
            (m[0] - 2.5).abs() < 1e-4 && (m[1] - 15.0).abs() < 1e-4,
            "{m:?}"
        );
        assert!((n.weight() - 0.5).abs() < 1e-6, "{}", n.weight());
        // After a long time the speaker dominates (memory 100 s: 100 / 110).
        for i in 0..4000 {
            let s = if i % 2 == 0 { 1.0 } else { -1.0 };
            n.observe(&[5.0 + s, 20.0 + s], 0.25);
        }
        let (m, s) = n.current();
        assert!((m[0] - 5.0 * 100.0 / 110.0).abs() < 0.01, "{m:?}");
        assert!(n.speaker_seconds() <= 100.0);
        assert!(
            s[0] > 1.0,
            "the mixture is wider than the speaker alone: {s:?}"
        );
        // NaN embeddings are ignored; reset returns to the cold start.
        n.observe(&[f32::NAN, 0.0], 1.0);
        assert!(n.current().0.iter().all(|v| v.is_finite()));
        n.reset();
        assert_eq!(n.current(), (&[0.0, 10.0][..], &[1.0, 2.0][..]));
        assert_eq!(n.weight(), 0.0);
    }

    #[test]
    fn a_calibration_replaces_the_running_estimate_and_is_validated() {
        let mut n = EmbeddingNormalizer::new(&spec(0.0));
        let mut take = RunningStats::new(2);
        for i in 0..20 {
            take.observe(&[3.0 + (i % 2) as f32 * 2.0, 1.0], 0.25, 100.0);
        }
        assert!(take
            .to_calibration(100)
            .unwrap_err()
            .contains("at least 3.0 s"));
        let c = take.to_calibration(500).unwrap();
        assert!((c.mean[0] - 4.0).abs() < 1e-4 && (c.std[0] - 1.0).abs() < 1e-4);
        assert_eq!(c.std[1], 1e-3);
        n.set_calibration(Some(c)).unwrap();
        n.observe(&[100.0, 100.0], 10.0);
        let (m, _) = n.current();
        assert!((m[0] - 4.0).abs() < 1e-4, "{m:?}");
        assert!(n
            .set_calibration(Some(Calibration {
                mean: vec![0.0; 80],
                std: vec![1.0; 80],
                frames: 300
            }))
            .unwrap_err()
            .contains("calibrate again"));
    }
}
