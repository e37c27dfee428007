//! Host rate → 16 kHz for any block size, allocation-free after construction.
//!
//! rubato's asynchronous sinc resampler wants a fixed input chunk, while hosts hand us anything
//! from 1 to 8192 samples per call (and change it every call), so input is gathered into a
//! pre-allocated chunk and resampled whenever the chunk is full.

use rubato::audioadapter_buffers::direct::SequentialSlice;
use rubato::{
    Async, FixedAsync, Resampler, SincInterpolationParameters, SincInterpolationType,
    WindowFunction,
};

use super::config::ANALYSIS_RATE;

pub struct StreamResampler {
    sinc: Option<Sinc>,
    ratio: f64,
}

struct Sinc {
    resampler: Async<f32>,
    chunk: Vec<f32>,
    filled: usize,
    out: Vec<f32>,
}

impl StreamResampler {
    /// Builds the resampler for `host_rate` (allocates: call from `activate`, not `process`).
    pub fn new(host_rate: f32) -> Result<Self, String> {
        if !host_rate.is_finite() || !(1_000.0..=1_000_000.0).contains(&host_rate) {
            return Err(format!("unsupported sample rate {host_rate} Hz"));
        }
        let ratio = ANALYSIS_RATE as f64 / host_rate as f64;
        if (ratio - 1.0).abs() < 1e-9 {
            return Ok(Self { sinc: None, ratio });
        }
        // 10 ms chunks keep the added analysis latency small at every rate.
        let chunk_size = ((host_rate as f64 / 100.0).ceil() as usize).max(64);
        let params = SincInterpolationParameters::new(128, WindowFunction::BlackmanHarris2)
            .oversampling_factor(256)
            .interpolation(SincInterpolationType::Cubic);
        let resampler =
            Async::<f32>::new_sinc(ratio, 1.0, &params, chunk_size, 1, FixedAsync::Input)
                .map_err(|e| format!("cannot resample {host_rate} Hz to 16 kHz: {e}"))?;
        let out = vec![0.0; resampler.output_frames_max()];
        Ok(Self {
            sinc: Some(Sinc {
                chunk: vec![0.0; chunk_size],
                filled: 0,
                out,
                resampler,
            }),
            ratio,
        })
    }

    /// Output samples per input sample.
    pub fn ratio(&self) -> f64 {
        self.ratio
    }

    pub fn reset(&mut self) {
        if let Some(s) = &mut self.sinc {
            s.resampler.reset();
            s.filled = 0;
        }
    }

    /// Feed host-rate samples; `on_output` receives 16 kHz samples as they become available.
    pub fn push(&mut self, mut input: &[f32], mut on_output: impl FnMut(&[f32])) {
        let Some(s) = &mut self.sinc else {
            on_output(input);
            return;
        };
        while !input.is_empty() {
            let take = (s.chunk.len() - s.filled).min(input.len());
            s.chunk[s.filled..s.filled + take].copy_from_slice(&input[..take]);
            s.filled += take;
            input = &input[take..];
            if s.filled < s.chunk.len() {
                break;
            }
            s.filled = 0;
            let frames_out = s.out.len();
            // Sizes were fixed at construction, so neither adapter nor process can fail.
            let (Ok(adapter_in), Ok(mut adapter_out)) = (
                SequentialSlice::new(&s.chunk[..], 1, s.chunk.len()),
                SequentialSlice::new_mut(&mut s.out[..], 1, frames_out),
            ) else {
                continue;
            };
            if let Ok((_, produced)) =
                s.resampler
                    .process_into_buffer(&adapter_in, &mut adapter_out, None)
            {
                on_output(&s.out[..produced]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rate: f32, block: usize, seconds: f64, freq: f64) -> Vec<f32> {
        let mut r = StreamResampler::new(rate).unwrap();
        let n = (rate as f64 * seconds) as usize;
        let x: Vec<f32> = (0..n)
            .map(|i| {
                (0.5 * (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin()) as f32
            })
            .collect();
        let mut out = Vec::new();
        for chunk in x.chunks(block) {
            r.push(chunk, |y| out.extend_from_slice(y));
        }
        out
    }

    #[test]
    fn output_count_tracks_the_ratio_at_every_rate() {
        for rate in [
            8_000.0, 11_025.0, 16_000.0, 22_050.0, 44_100.0, 48_000.0, 96_000.0, 192_000.0,
        ] {
            for block in [1, 64, 4096] {
                let out = run(rate, block, 2.0, 440.0);
                let want = 32_000.0;
                // One input chunk (10 ms) may still be buffered.
                assert!(
                    (out.len() as f64 - want).abs() <= 170.0,
                    "rate {rate} block {block}: {} samples",
                    out.len()
                );
            }
        }
    }

    #[test]
    fn a_tone_keeps_its_frequency_and_level() {
        for rate in [8_000.0, 44_100.0, 48_000.0, 192_000.0] {
            let out = run(rate, 512, 1.0, 1000.0);
            let tail = &out[2000..];
            let rms = (tail.iter().map(|x| x * x).sum::<f32>() / tail.len() as f32).sqrt();
            assert!(
                (rms - 0.5 / 2f32.sqrt()).abs() < 0.01,
                "rate {rate}: rms {rms}"
            );
            let crossings = tail
                .windows(2)
                .filter(|w| w[0] < 0.0 && w[1] >= 0.0)
                .count();
            let hz = crossings as f64 * 16_000.0 / tail.len() as f64;
            assert!((hz - 1000.0).abs() < 5.0, "rate {rate}: {hz} Hz");
        }
    }

    #[test]
    fn content_above_8khz_is_removed() {
        let out = run(48_000.0, 480, 1.0, 12_000.0);
        let tail = &out[2000..];
        let rms = (tail.iter().map(|x| x * x).sum::<f32>() / tail.len() as f32).sqrt();
        assert!(rms < 0.005, "aliased rms {rms}");
    }

    #[test]
    fn absurd_rates_are_refused() {
        assert!(StreamResampler::new(0.0).is_err());
        assert!(StreamResampler::new(f32::NAN).is_err());
    }
}
