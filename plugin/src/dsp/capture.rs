//! The audio-thread half of the analysis: host channels → mono → 16 kHz → feature frames.

use super::frontend::{FeatureFrame, FrontEnd};
use super::resample::StreamResampler;
use super::sanitize::sanitize;

/// Mono mixing happens in slices of this many samples, so any host block size works with a
/// fixed scratch buffer.
const MIX_CHUNK: usize = 1024;

pub struct Capture {
    mono: Vec<f32>,
    resampler: StreamResampler,
    frontend: FrontEnd,
}

impl Capture {
    /// Allocates everything the audio thread will need; call from `activate`.
    pub fn new(host_rate: f32) -> Result<Self, String> {
        Ok(Self {
            mono: vec![0.0; MIX_CHUNK],
            resampler: StreamResampler::new(host_rate)?,
            frontend: FrontEnd::new(),
        })
    }

    pub fn reset(&mut self) {
        self.resampler.reset();
        self.frontend.reset();
    }

    pub fn frames_emitted(&self) -> u64 {
        self.frontend.frames_emitted()
    }

    /// Analyse one block of host audio (any length, any channel count). Real-time safe.
    pub fn process<C: AsRef<[f32]>>(
        &mut self,
        channels: &[C],
        mut on_frame: impl FnMut(&FeatureFrame),
    ) {
        let Some(first) = channels.first() else {
            return;
        };
        let len = first.as_ref().len();
        let gain = 1.0 / channels.len() as f32;
        let mut start = 0;
        while start < len {
            let end = (start + MIX_CHUNK).min(len);
            let mono = &mut self.mono[..end - start];
            mono.fill(0.0);
            for ch in channels {
                for (m, x) in mono.iter_mut().zip(&ch.as_ref()[start..end]) {
                    *m += sanitize(*x);
                }
            }
            for m in mono.iter_mut() {
                *m *= gain;
            }
            let frontend = &mut self.frontend;
            self.resampler
                .push(mono, |y| frontend.push(y, &mut on_frame));
            start = end;
        }
    }
}
