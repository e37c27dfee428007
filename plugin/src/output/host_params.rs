//! Emotion as host parameters: the eight class probabilities, valence, arousal, voice activity and
//! the dominant class, reported from `process()` so a DAW can show and record them as automation.
//!
//! The plugin never reads these parameters back: they are outputs (`ParamFlags::OUTPUT` in the
//! vendored nice-plug). The CLAP wrapper refuses a host's write to one, in `flush()` as in
//! `process()`, and answers it with the parameter's value; VST3 drops it from the input queue.
//! Should a host still change one (VST3 `setParamNormalized` from its UI thread), the next update
//! reasserts the plugin's value. Sending goes through the
//! vendored nice-plug's `ProcessContext::set_output_parameter` (CLAP `PARAM_VALUE` inside a gesture,
//! VST3 `outputParameterChanges`), at most `rate_hz` times a second and only for values that moved.
//! Fixed-size state: real-time safe.

use crate::emotion::N_CLASSES;
use crate::state::Outputs;

/// Outputs in the order of `EmotionOutputParams::ptrs()`: the classes, then these.
pub const VALENCE: usize = N_CLASSES;
pub const AROUSAL: usize = N_CLASSES + 1;
pub const VOICE: usize = N_CLASSES + 2;
pub const DOMINANT: usize = N_CLASSES + 3;
pub const COUNT: usize = N_CLASSES + 4;

/// The largest rate the parameter allows; hosts thin automation lanes anyway.
pub const MAX_RATE_HZ: u32 = 30;
/// A change smaller than this (of the normalized value) is not worth an automation point.
const EPSILON: f32 = 0.002;

/// Normalized values (0..1, as the host sees them), `None` for outputs with nothing to say yet.
pub fn normalized(out: &Outputs) -> [Option<f32>; COUNT] {
    let unit = |x: f32| {
        if x.is_finite() {
            x.clamp(0.0, 1.0)
        } else {
            0.0
        }
    };
    let mut v = [None; COUNT];
    v[VOICE] = Some(unit(out.voice));
    if let Some(e) = &out.emotion {
        for (slot, p) in v[..N_CLASSES].iter_mut().zip(e.probs) {
            *slot = Some(unit(p));
        }
        v[VALENCE] = Some(unit((e.valence + 1.0) / 2.0));
        v[AROUSAL] = Some(unit((e.arousal + 1.0) / 2.0));
        v[DOMINANT] = Some(e.dominant.min(N_CLASSES - 1) as f32 / (N_CLASSES - 1) as f32);
    }
    v
}

#[derive(Default)]
pub struct HostParamSender {
    last: [Option<f32>; COUNT],
    /// Samples since the last update.
    elapsed: u64,
}

impl HostParamSender {
    /// Forget what was sent: the next update reports every output.
    pub fn reset(&mut self) {
        self.last = [None; COUNT];
        self.elapsed = u64::MAX / 2;
    }

    /// Call once per block of `samples` at `sample_rate`. When an update is due, `send(index,
    /// normalized)` is called for each output that moved, or whose parameter no longer holds what
    /// was sent (`current(index)`: the host played automation into it, so the output reasserts
    /// itself). `send` returns whether the host took the value; one it did not take is retried at
    /// the next update.
    pub fn update(
        &mut self,
        out: &Outputs,
        timing: (usize, f32, u32),
        current: impl Fn(usize) -> f32,
        mut send: impl FnMut(usize, f32) -> bool,
    ) {
        let (samples, sample_rate, rate_hz) = timing;
        self.elapsed = self.elapsed.saturating_add(samples as u64);
        let interval = (sample_rate.max(1.0) / rate_hz.clamp(1, MAX_RATE_HZ) as f32) as u64;
        if self.elapsed < interval {
            return;
        }
        self.elapsed = 0;
        for (i, (value, last)) in normalized(out).into_iter().zip(&mut self.last).enumerate() {
            let Some(value) = value else { continue };
            // Reaching either end of the range is always reported, however small the step.
            let at_end = value == 0.0 || value == 1.0;
            let moved = last.is_none_or(|l| {
                (l - value).abs() >= EPSILON
                    || (at_end && l != value)
                    || (current(i) - l).abs() >= EPSILON
            });
            if moved && send(i, value) {
                *last = Some(value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Emotion;

    fn outputs(happy: f32) -> Outputs {
        let mut probs = [0.0; N_CLASSES];
        probs[2] = happy;
        probs[0] = 1.0 - happy;
        Outputs {
            voice: 1.0,
            emotion: Some(Emotion {
                probs,
                dominant: if happy > 0.5 { 2 } else { 0 },
                valence: 0.5,
                arousal: -1.0,
            }),
            ..Outputs::default()
        }
    }

    #[test]
    fn values_map_onto_the_parameter_ranges() {
        let v = normalized(&outputs(0.75));
        assert_eq!(v[2], Some(0.75));
        assert_eq!(v[0], Some(0.25));
        assert_eq!(v[VALENCE], Some(0.75));
        assert_eq!(v[AROUSAL], Some(0.0));
        assert_eq!(v[VOICE], Some(1.0));
        assert_eq!(v[DOMINANT], Some(2.0 / 7.0));
        let silent = normalized(&Outputs {
            voice: f32::NAN,
            ..Outputs::default()
        });
        assert_eq!(silent[VOICE], Some(0.0), "NaN is reported as 0, never sent");
        assert!(
            silent[..N_CLASSES].iter().all(Option::is_none),
            "no model, no emotion"
        );
    }

    /// A host that keeps what it was sent; `refuse` is a parameter it will not take.
    struct FakeHost {
        values: [std::cell::Cell<f32>; COUNT],
        sent: std::cell::RefCell<Vec<(usize, f32)>>,
    }

    impl FakeHost {
        fn new() -> Self {
            Self {
                values: Default::default(),
                sent: Default::default(),
            }
        }

        fn run(
            &self,
            s: &mut HostParamSender,
            out: &Outputs,
            samples: usize,
            refuse: Option<usize>,
        ) {
            s.update(
                out,
                (samples, 48_000.0, 30),
                |i| self.values[i].get(),
                |i, v| {
                    if refuse == Some(i) {
                        return false;
                    }
                    self.values[i].set(v);
                    self.sent.borrow_mut().push((i, v));
                    true
                },
            );
        }

        fn take(&self) -> Vec<(usize, f32)> {
            std::mem::take(&mut self.sent.borrow_mut())
        }
    }

    #[test]
    fn rate_limited_and_only_changes() {
        let mut s = HostParamSender::default();
        s.reset();
        let host = FakeHost::new();
        // First update: everything, at once.
        host.run(&mut s, &outputs(0.75), 480, None);
        assert_eq!(host.take().len(), COUNT);
        // Within 1/30 s nothing is due, even if a value moved.
        host.run(&mut s, &outputs(0.9), 480, None);
        assert!(host.take().is_empty());
        // Once due, only what moved: the two probabilities and the dominant class.
        host.run(&mut s, &outputs(0.4), 1200, None);
        let ids: Vec<usize> = host.take().iter().map(|(i, _)| *i).collect();
        assert_eq!(ids, vec![0, 2, DOMINANT]);
        // A value the host refused is offered again at the next update.
        host.run(&mut s, &outputs(0.5), 1600, Some(2));
        host.take();
        host.run(&mut s, &outputs(0.5), 1600, None);
        assert_eq!(host.take(), vec![(2, 0.5)]);
        // Nothing moved: nothing is sent.
        host.run(&mut s, &outputs(0.5), 1600, None);
        assert!(host.take().is_empty());
    }

    #[test]
    fn automation_played_into_an_output_is_overwritten() {
        let mut s = HostParamSender::default();
        s.reset();
        let host = FakeHost::new();
        host.run(&mut s, &outputs(0.5), 1600, None);
        host.take();
        // The host plays automation into "happy"; the analysis has not changed.
        host.values[2].set(0.987);
        host.run(&mut s, &outputs(0.5), 1600, None);
        assert_eq!(host.take(), vec![(2, 0.5)]);
    }
}
