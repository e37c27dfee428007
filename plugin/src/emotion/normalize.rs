//! Speaker normalisation at run time.
//!
//! The model is trained on features z-normalised with each actor's own statistics. Live, the
//! speaker's statistics are estimated from their voiced frames: the shipped global statistics
//! until enough speech has been heard, then a running estimate that keeps adapting over about a
//! minute of speech — unless the user has calibrated, which fixes the statistics to a recording of
//! their neutral voice.

use serde::{Deserialize, Serialize};

/// Voiced frames (10 ms each) before the running estimate replaces the global statistics.
const WARMUP_FRAMES: u64 = 300;
/// Effective memory of the running estimate: 60 s of voiced frames.
const MEMORY_FRAMES: f64 = 6000.0;
/// Voiced frames a calibration needs (3 s).
pub const MIN_CALIBRATION_FRAMES: usize = 300;

/// A speaker's feature statistics, saved with the plugin state and by `sentio calibrate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    pub frames: usize,
}

impl Calibration {
    /// A calibration from `rows` (each one voiced frame's selected columns): at least 3 s.
    pub fn from_rows(rows: &[Vec<f32>]) -> Result<Self, String> {
        if rows.len() < MIN_CALIBRATION_FRAMES {
            return Err(format!(
                "calibration needs at least {:.1} s of voiced speech, got {:.1} s",
                MIN_CALIBRATION_FRAMES as f32 / 100.0,
                rows.len() as f32 / 100.0
            ));
        }
        Ok(Self::estimate(rows))
    }

    /// Mean and standard deviation of `rows`, however few (at least one).
    pub fn estimate(rows: &[Vec<f32>]) -> Self {
        let n = rows.first().map_or(0, Vec::len);
        let mut mean = vec![0.0f64; n];
        let mut sq = vec![0.0f64; n];
        for r in rows {
            for i in 0..n {
                mean[i] += r[i] as f64;
                sq[i] += (r[i] as f64).powi(2);
            }
        }
        let count = rows.len() as f64;
        let mean: Vec<f64> = mean.iter().map(|m| m / count).collect();
        let std = sq
            .iter()
            .zip(&mean)
            .map(|(s, m)| ((s / count - m * m).max(0.0).sqrt().max(1e-3)) as f32)
            .collect();
        Self {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std,
            frames: rows.len(),
        }
    }
}

pub struct SpeakerNormalizer {
    global_mean: Vec<f32>,
    global_std: Vec<f32>,
    adaptive: bool,
    mean: Vec<f64>,
    var: Vec<f64>,
    voiced: u64,
    calibration: Option<Calibration>,
}

impl SpeakerNormalizer {
    /// `adaptive`: estimate the speaker's statistics (the model was trained per speaker);
    /// otherwise always use the global statistics.
    pub fn new(global_mean: Vec<f32>, global_std: Vec<f32>, adaptive: bool) -> Self {
        Self {
            mean: global_mean.iter().map(|&m| m as f64).collect(),
            var: global_std.iter().map(|&s| (s as f64).powi(2)).collect(),
            global_mean,
            global_std,
            adaptive,
            voiced: 0,
            calibration: None,
        }
    }

    pub fn set_calibration(&mut self, calibration: Option<Calibration>) -> Result<(), String> {
        if let Some(c) = &calibration {
            if c.mean.len() != self.global_mean.len() || c.std.len() != self.global_mean.len() {
                return Err(format!(
                    "calibration has {} values, the model reads {}",
                    c.mean.len(),
                    self.global_mean.len()
                ));
            }
        }
        self.calibration = calibration;
        Ok(())
    }

    pub fn reset(&mut self) {
        self.voiced = 0;
        self.mean = self.global_mean.iter().map(|&m| m as f64).collect();
        self.var = self
            .global_std
            .iter()
            .map(|&s| (s as f64).powi(2))
            .collect();
    }

    /// Learn from one frame (only voiced frames count).
    pub fn observe(&mut self, row: &[f32], voiced: bool) {
        if !voiced || !self.adaptive || self.calibration.is_some() {
            return;
        }
        self.voiced += 1;
        let alpha = (1.0 / self.voiced as f64).max(1.0 / MEMORY_FRAMES);
        for ((m, v), &x) in self.mean.iter_mut().zip(&mut self.var).zip(row) {
            let d = x as f64 - *m;
            *m += alpha * d;
            *v = (1.0 - alpha) * (*v + alpha * d * d);
        }
    }

    /// Normalise `row` in place with the current speaker statistics.
    pub fn apply(&self, row: &mut [f32]) {
        if let Some(c) = &self.calibration {
            for ((x, m), s) in row.iter_mut().zip(&c.mean).zip(&c.std) {
                *x = (*x - m) / s;
            }
        } else if self.adaptive && self.voiced >= WARMUP_FRAMES {
            for ((x, m), v) in row.iter_mut().zip(&self.mean).zip(&self.var) {
                *x = ((*x as f64 - m) / v.sqrt().max(1e-3)) as f32;
            }
        } else {
            for ((x, m), s) in row.iter_mut().zip(&self.global_mean).zip(&self.global_std) {
                *x = (*x - m) / s;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_statistics_until_warm_then_the_speakers_own() {
        let mut n = SpeakerNormalizer::new(vec![0.0, 10.0], vec![1.0, 2.0], true);
        let mut row = vec![1.0, 12.0];
        n.apply(&mut row);
        assert_eq!(row, [1.0, 1.0]);
        // A speaker whose features sit at (5, 20) ± (1, 1).
        for i in 0..2000 {
            let s = if i % 2 == 0 { 1.0 } else { -1.0 };
            n.observe(&[5.0 + s, 20.0 + s], true);
            n.observe(&[100.0, 100.0], false); // unvoiced frames are ignored
        }
        let mut row = vec![6.0, 21.0];
        n.apply(&mut row);
        assert!(
            (row[0] - 1.0).abs() < 0.05 && (row[1] - 1.0).abs() < 0.05,
            "{row:?}"
        );
    }

    #[test]
    fn calibration_fixes_the_statistics_and_is_validated() {
        let rows: Vec<Vec<f32>> = (0..400).map(|i| vec![(i % 2) as f32 * 2.0, 3.0]).collect();
        let c = Calibration::from_rows(&rows).unwrap();
        assert!((c.mean[0] - 1.0).abs() < 1e-6 && (c.std[0] - 1.0).abs() < 1e-6);
        assert_eq!(
            c.std[1], 1e-3,
            "constant columns get a floor, not a division by zero"
        );
        let mut n = SpeakerNormalizer::new(vec![0.0, 0.0], vec![1.0, 1.0], true);
        n.set_calibration(Some(c)).unwrap();
        for _ in 0..1000 {
            n.observe(&[50.0, 50.0], true);
        }
        let mut row = vec![2.0, 3.0];
        n.apply(&mut row);
        assert_eq!(row, [1.0, 0.0]);
        assert!(n
            .set_calibration(Some(Calibration {
                mean: vec![0.0],
                std: vec![1.0],
                frames: 300
            }))
            .is_err());
        assert!(Calibration::from_rows(&rows[..100])
            .unwrap_err()
            .contains("at least 3.0 s"));
    }
}
