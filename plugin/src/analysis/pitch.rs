//! Fundamental frequency by YIN (de Cheveigné & Kawahara, 2002) on the 16 kHz stream.

use crate::dsp::ANALYSIS_RATE;

pub const F0_MIN: f32 = 60.0;
pub const F0_MAX: f32 = 500.0;
/// Integration window: 20 ms.
const WINDOW: usize = 320;
const THRESHOLD: f32 = 0.15;

pub struct Yin {
    tau_min: usize,
    tau_max: usize,
    diff: Vec<f32>,
}

impl Default for Yin {
    fn default() -> Self {
        Self::new()
    }
}

impl Yin {
    pub fn new() -> Self {
        let sr = ANALYSIS_RATE as f32;
        let tau_max = (sr / F0_MIN).ceil() as usize;
        Self {
            tau_min: (sr / F0_MAX).floor() as usize,
            tau_max,
            diff: vec![0.0; tau_max + 2],
        }
    }

    /// Samples `estimate` needs.
    pub fn input_len(&self) -> usize {
        WINDOW + self.tau_max + 1
    }

    /// F0 in Hz of the newest `input_len()` samples of `x`, or `None` when aperiodic.
    pub fn estimate(&mut self, x: &[f32]) -> Option<f32> {
        let x = &x[x.len().checked_sub(self.input_len())?..];
        // Difference function d(τ) and its cumulative-mean-normalised form, in place.
        self.diff[0] = 1.0;
        let mut running = 0.0f32;
        for tau in 1..=self.tau_max + 1 {
            let d: f32 = x[..WINDOW]
                .iter()
                .zip(&x[tau..tau + WINDOW])
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            running += d;
            self.diff[tau] = if running > 0.0 {
                d * tau as f32 / running
            } else {
                1.0
            };
        }
        let mut tau = self.tau_min;
        while tau <= self.tau_max {
            if self.diff[tau] < THRESHOLD {
                while tau < self.tau_max && self.diff[tau + 1] < self.diff[tau] {
                    tau += 1;
                }
                let hz = ANALYSIS_RATE as f32 / self.refine(tau);
                // Refinement can step just past the search range; outside it is not a pitch.
                return (F0_MIN..=F0_MAX).contains(&hz).then_some(hz);
            }
            tau += 1;
        }
        None
    }

    /// Parabolic interpolation around the chosen lag for sub-sample precision.
    fn refine(&self, tau: usize) -> f32 {
        let (a, b, c) = (self.diff[tau - 1], self.diff[tau], self.diff[tau + 1]);
        let denom = a - 2.0 * b + c;
        if denom.abs() < 1e-12 {
            tau as f32
        } else {
            tau as f32 + 0.5 * (a - c) / denom
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::PI;

    /// A crude vowel: a glottal-like harmonic series with formant-ish emphasis.
    fn vowel(f0: f32, n: usize) -> Vec<f32> {
        let sr = ANALYSIS_RATE as f32;
        (0..n)
            .map(|i| {
                let t = i as f32 / sr;
                (1..=12)
                    .map(|h| {
                        let f = f0 * h as f32;
                        let formant = 1.0 / (1.0 + ((f - 700.0) / 300.0).powi(2))
                            + 0.5 / (1.0 + ((f - 1200.0) / 300.0).powi(2));
                        (0.3 / h as f32 + formant * 0.2) * (2.0 * PI * f * t).sin()
                    })
                    .sum::<f32>()
                    * 0.3
            })
            .collect()
    }

    #[test]
    fn synthesized_vowels_within_two_percent() {
        let mut yin = Yin::new();
        for f0 in [85.0, 110.0, 150.0, 220.0, 310.0, 440.0] {
            let x = vowel(f0, yin.input_len() + 100);
            let est = yin.estimate(&x).expect("voiced");
            assert!((est - f0).abs() / f0 < 0.02, "f0 {f0}: estimated {est}");
        }
    }

    #[test]
    fn noise_and_silence_are_unvoiced() {
        let mut yin = Yin::new();
        let mut seed = 12345u32;
        let noise: Vec<f32> = (0..yin.input_len())
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect();
        assert_eq!(yin.estimate(&noise), None);
        assert_eq!(yin.estimate(&vec![0.0; yin.input_len()]), None);
    }

    #[test]
    fn too_little_input_is_unvoiced_not_a_panic() {
        assert_eq!(Yin::new().estimate(&[0.1; 10]), None);
    }
}
