//! Exponential smoothing of the probabilities with a user time constant, so outputs glide
//! instead of jumping with every hop.

use super::N_CLASSES;

#[derive(Default)]
pub struct Smoother {
    state: Option<[f32; N_CLASSES]>,
}

impl Smoother {
    pub fn reset(&mut self) {
        self.state = None;
    }

    /// Blend a new estimate that arrives `dt_s` after the previous one; `tau_s` = 0 disables
    /// smoothing. The result still sums to 1.
    pub fn update(&mut self, probs: &[f32; N_CLASSES], dt_s: f32, tau_s: f32) -> [f32; N_CLASSES] {
        let alpha = if tau_s <= 0.0 {
            1.0
        } else {
            1.0 - (-dt_s.max(0.0) / tau_s).exp()
        };
        let next = match self.state {
            None => *probs,
            Some(prev) => std::array::from_fn(|i| prev[i] + alpha * (probs[i] - prev[i])),
        };
        self.state = Some(next);
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_constant_sets_the_step_response() {
        let mut s = Smoother::default();
        let mut a = [0.0; N_CLASSES];
        a[0] = 1.0;
        let mut b = [0.0; N_CLASSES];
        b[1] = 1.0;
        assert_eq!(s.update(&a, 0.25, 1.0), a);
        // After one time constant (4 hops of 0.25 s) the step is 63 % done.
        let mut out = a;
        for _ in 0..4 {
            out = s.update(&b, 0.25, 1.0);
        }
        assert!((out[1] - (1.0 - (-1.0f32).exp())).abs() < 1e-5, "{out:?}");
        assert!((out.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert_eq!(s.update(&a, 0.25, 0.0), a, "tau 0 disables smoothing");
    }
}
