//! "Learn my voice": a per-user correction of the classifier, fitted on device from a few
//! labelled clips of one person (`sentio adapt`).
//!
//! The correction is a change of the classifier's last (linear) layer, added to the model's
//! calibrated log-probabilities: `p'_c ∝ p_c · exp(ΔW_c · z + Δb_c)`, where `z` is the window's
//! speaker-normalised, standardised embedding — exactly what the shipped linear layer reads, so
//! this is fine-tuning that layer from the shipped weights. It is fitted by cross-entropy on the
//! windows of the clips (each clip weighing the same) over the classes the clips teach, with an
//! L2 penalty on the change that keeps a few clips from overturning the model; classes the user
//! did not record are left unchanged. Models without an embedding get offsets `Δb` only.
//! `models/acoustic/v4/adapt.py` measures it on speakers never trained on (k = 1, 2, 4 clips per
//! class, tested on their other clips) beside offsets alone, and chose the penalty there. The
//! speaker's statistics from the same clips travel with it as a calibration.

use serde::{Deserialize, Serialize};

use super::normalize::Calibration;
use super::N_CLASSES;

/// The penalty `lam` on the change chosen on validation by `adapt.py` (0.001 … 3 tried: 0.3 is
/// best on the mean of held-out corpora and RAVDESS CV over k = 1, 2, 4).
pub const DEFAULT_PENALTY: f32 = 0.3;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Adaptation {
    /// The model it was fitted for ([`super::sidecar::Sidecar::fingerprint`]); applying it to
    /// another model is refused.
    pub model: String,
    /// Offsets added to the calibrated log-probabilities, in `CLASSES` order.
    pub bias: [f32; N_CLASSES],
    /// The change of the linear layer, `N_CLASSES × dims` row-major (empty: offsets only).
    #[serde(default)]
    pub weight: Vec<f32>,
    /// Clips per class it was fitted on.
    pub clips: [usize; N_CLASSES],
    pub penalty: f32,
    /// The speaker's statistics over the same clips (used when no other calibration is given).
    pub calibration: Option<Calibration>,
}

/// One classified window of a labelled clip.
pub struct Example {
    pub probs: [f32; N_CLASSES],
    /// What the linear layer read (empty to fit offsets only; all examples alike).
    pub z: Vec<f32>,
    pub label: usize,
    /// Its share of its clip (1 / windows of the clip), so that every clip weighs the same.
    pub weight: f32,
}

impl Adaptation {
    /// Fits `(Δb, ΔW)` on `examples` (L-BFGS on a smooth, strongly convex loss).
    pub fn fit(examples: &[Example], penalty: f32) -> Result<([f32; N_CLASSES], Vec<f32>), String> {
        if examples.is_empty() {
            return Err("no labelled windows to learn from".into());
        }
        if !(penalty.is_finite() && penalty > 0.0) {
            return Err(format!("the penalty must be positive, got {penalty}"));
        }
        let dims = examples[0].z.len();
        let mut seen = [false; N_CLASSES];
        for e in examples {
            if e.label >= N_CLASSES
                || e.z.len() != dims
                || !(e.weight.is_finite() && e.weight >= 0.0)
                || e.probs.iter().any(|p| !p.is_finite() || *p < 0.0)
                || e.z.iter().any(|v| !v.is_finite())
            {
                return Err("invalid example (label, probabilities or embedding)".into());
            }
            seen[e.label] = true;
        }
        let total: f64 = examples.iter().map(|e| e.weight as f64).sum();
        if total <= 0.0 {
            return Err("examples carry no weight".into());
        }
        let lam = penalty as f64;
        // θ = [Δb (N_CLASSES) | ΔW (N_CLASSES × dims)].
        let n = N_CLASSES * (1 + dims);
        let loss = |theta: &[f64], grad: &mut [f64]| -> f64 {
            grad.iter_mut().for_each(|g| *g = 0.0);
            let mut f = 0.0;
            for e in examples {
                let mut off = [0.0f64; N_CLASSES];
                for (c, o) in off.iter_mut().enumerate() {
                    let w = &theta[N_CLASSES + c * dims..N_CLASSES + (c + 1) * dims];
                    *o = theta[c] + w.iter().zip(&e.z).map(|(w, z)| w * *z as f64).sum::<f64>();
                }
                let q = adjusted(&e.probs, &off, &seen);
                let w = e.weight as f64 / total;
                f -= w * q[e.label].max(1e-300).ln();
                for c in (0..N_CLASSES).filter(|&c| seen[c]) {
                    let r = w * (q[c] - (c == e.label) as u8 as f64);
                    grad[c] += r;
                    let g = &mut grad[N_CLASSES + c * dims..N_CLASSES + (c + 1) * dims];
                    for (g, z) in g.iter_mut().zip(&e.z) {
                        *g += r * *z as f64;
                    }
                }
            }
            for c in (0..N_CLASSES).filter(|&c| seen[c]) {
                f += lam * theta[c] * theta[c];
                grad[c] += 2.0 * lam * theta[c];
                for k in N_CLASSES + c * dims..N_CLASSES + (c + 1) * dims {
                    f += lam * theta[k] * theta[k];
                    grad[k] += 2.0 * lam * theta[k];
                }
            }
            f
        };
        let theta = lbfgs(n, loss, 500, 1e-7);
        let bias = std::array::from_fn(|c| theta[c] as f32);
        let weight = theta[N_CLASSES..].iter().map(|&v| v as f32).collect();
        Ok((bias, weight))
    }

    /// What it was taught, e.g. "happy 2, sad 1".
    pub fn taught(&self) -> String {
        let taught: Vec<String> = (0..N_CLASSES)
            .filter(|&c| self.clips[c] > 0)
            .map(|c| format!("{} {}", super::CLASSES[c], self.clips[c]))
            .collect();
        taught.join(", ")
    }

    /// The offsets for a window the linear layer read as `z` (ignored by offsets-only ones).
    pub fn offsets(&self, z: &[f32]) -> [f64; N_CLASSES] {
        let dims = self.weight.len() / N_CLASSES;
        std::array::from_fn(|c| {
            let w = &self.weight[c * dims..(c + 1) * dims];
            self.bias[c] as f64
                + w.iter()
                    .zip(z)
                    .map(|(w, z)| *w as f64 * *z as f64)
                    .sum::<f64>()
        })
    }

    /// Applies the correction to `probs` of a window the linear layer read as `z`
    /// (allocation-free).
    pub fn apply(&self, probs: &mut [f32; N_CLASSES], z: &[f32]) {
        let q = adjusted(probs, &self.offsets(z), &[true; N_CLASSES]);
        for (p, q) in probs.iter_mut().zip(q) {
            *p = q as f32;
        }
    }

    /// Checks the adaptation belongs to the model with `fingerprint` and is well-formed.
    pub fn check(&self, fingerprint: &str) -> Result<(), String> {
        if self.model != fingerprint {
            return Err(format!(
                "the adaptation was learnt for another model ({}; this one is {fingerprint}): run `sentio adapt` again",
                self.model
            ));
        }
        if self.bias.iter().chain(&self.weight).any(|b| !b.is_finite()) {
            return Err("the adaptation's values are not finite".into());
        }
        if !self.weight.len().is_multiple_of(N_CLASSES) {
            return Err("the adaptation's layer has the wrong shape".into());
        }
        Ok(())
    }
}

/// Minimises `f` (which writes its gradient) from 0 by L-BFGS (10 pairs, backtracking Armijo line
/// search) until the largest gradient entry is below `tol` or `iters` steps.
fn lbfgs(
    n: usize,
    mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
    iters: usize,
    tol: f64,
) -> Vec<f64> {
    const M: usize = 10;
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(a, b)| a * b).sum::<f64>();
    let mut x = vec![0.0; n];
    let mut g = vec![0.0; n];
    let mut fx = f(&x, &mut g);
    let mut pairs: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)> = Default::default();
    let (mut xn, mut gn) = (vec![0.0; n], vec![0.0; n]);
    for _ in 0..iters {
        if g.iter().fold(0.0f64, |m, v| m.max(v.abs())) < tol {
            break;
        }
        // Two-loop recursion: d = -H g.
        let mut d: Vec<f64> = g.iter().map(|v| -v).collect();
        let mut alpha = Vec::with_capacity(pairs.len());
        for (s, y, rho) in pairs.iter().rev() {
            let a = rho * dot(s, &d);
            d.iter_mut().zip(y).for_each(|(d, y)| *d -= a * y);
            alpha.push(a);
        }
        if let Some((s, y, _)) = pairs.back() {
            let gamma = dot(s, y) / dot(y, y);
            d.iter_mut().for_each(|d| *d *= gamma);
        } else {
            let norm = dot(&g, &g).sqrt().max(1e-12);
            d.iter_mut().for_each(|d| *d /= norm);
        }
        for ((s, y, rho), a) in pairs.iter().zip(alpha.iter().rev()) {
            let b = rho * dot(y, &d);
            d.iter_mut().zip(s).for_each(|(d, s)| *d += (a - b) * s);
        }
        let slope = dot(&g, &d);
        if slope >= 0.0 {
            pairs.clear();
            continue;
        }
        let mut step = 1.0;
        let mut fn_ = f64::INFINITY;
        for _ in 0..40 {
            xn.iter_mut()
                .zip(&x)
                .zip(&d)
                .for_each(|((xn, x), d)| *xn = x + step * d);
            fn_ = f(&xn, &mut gn);
            if fn_ <= fx + 1e-4 * step * slope {
                break;
            }
            step *= 0.5;
        }
        // No decrease (or NaN): converged as far as the line search can tell.
        if fn_.partial_cmp(&fx) != Some(std::cmp::Ordering::Less) {
            break;
        }
        let s: Vec<f64> = xn.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = gn.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 {
            if pairs.len() == M {
                pairs.pop_front();
            }
            pairs.push_back((s, y, 1.0 / sy));
        }
        std::mem::swap(&mut x, &mut xn);
        std::mem::swap(&mut g, &mut gn);
        fx = fn_;
    }
    x
}

/// softmax(log p + b) over the classes in `keep` (the others get 0).
fn adjusted(
    p: &[f32; N_CLASSES],
    b: &[f64; N_CLASSES],
    keep: &[bool; N_CLASSES],
) -> [f64; N_CLASSES] {
    let mut lo = [f64::NEG_INFINITY; N_CLASSES];
    let mut top = f64::NEG_INFINITY;
    for c in 0..N_CLASSES {
        if keep[c] {
            lo[c] = (p[c] as f64).max(1e-12).ln() + b[c];
            top = top.max(lo[c]);
        }
    }
    let mut q = [0.0f64; N_CLASSES];
    let mut sum = 0.0;
    for c in 0..N_CLASSES {
        if keep[c] {
            q[c] = (lo[c] - top).exp();
            sum += q[c];
        }
    }
    q.map(|v| v / sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(probs: [f32; N_CLASSES], z: &[f32], label: usize) -> Example {
        Example {
            probs,
            z: z.to_vec(),
            label,
            weight: 1.0,
        }
    }

    fn adaptation(fit: ([f32; N_CLASSES], Vec<f32>)) -> Adaptation {
        Adaptation {
            model: "m".into(),
            bias: fit.0,
            weight: fit.1,
            clips: [0; N_CLASSES],
            penalty: 0.01,
            calibration: None,
        }
    }

    #[test]
    fn offsets_move_a_biased_model_towards_the_users_labels() {
        // The model hears this user's "sad" as "calm" (0.6 calm, 0.325 sad) every time.
        let mut p = [0.0125f32; N_CLASSES];
        (p[1], p[3]) = (0.6, 0.325);
        let mut calm = [0.0125f32; N_CLASSES];
        (calm[1], calm[3]) = (0.9, 0.025);
        let examples = [ex(p, &[], 3), ex(p, &[], 3), ex(calm, &[], 1)];
        let a = adaptation(Adaptation::fit(&examples, 0.01).unwrap());
        assert!(a.weight.is_empty());
        assert!(a.bias[3] > a.bias[1], "sad must gain on calm: {:?}", a.bias);
        // Unseen classes are left alone.
        for c in [0, 2, 4, 5, 6, 7] {
            assert_eq!(a.bias[c], 0.0);
        }
        let mut q = p;
        a.apply(&mut q, &[]);
        assert!(q[3] > q[1], "after adaptation the user's sad is sad: {q:?}");
        let mut c = calm;
        a.apply(&mut c, &[]);
        assert!(c[1] > c[3], "and their calm stays calm: {c:?}");
        assert!((q.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        // A strong penalty keeps the model as it was.
        let (b, _) = Adaptation::fit(&examples, 1e3).unwrap();
        assert!(b.iter().all(|v| v.abs() < 1e-3), "{b:?}");
    }

    #[test]
    fn the_layer_separates_what_the_model_could_not() {
        // Same probabilities for both classes; only the embedding tells them apart.
        let p = [0.125f32; N_CLASSES];
        let examples = [
            ex(p, &[1.0, 0.0, 0.5], 2),
            ex(p, &[0.9, 0.1, -0.5], 2),
            ex(p, &[-1.0, 0.2, 0.4], 4),
            ex(p, &[-0.8, -0.1, -0.4], 4),
        ];
        let fit = Adaptation::fit(&examples, 0.01).unwrap();
        assert_eq!(fit.1.len(), N_CLASSES * 3);
        let a = adaptation(fit);
        for e in &examples {
            let mut q = e.probs;
            a.apply(&mut q, &e.z);
            let other = if e.label == 2 { 4 } else { 2 };
            assert!(q[e.label] > 2.0 * q[other], "{q:?}");
        }
        // A new window like the first class's goes there too.
        let mut q = p;
        a.apply(&mut q, &[0.7, 0.0, 0.0]);
        assert!(q[2] > q[4]);
        // At the optimum the gradient vanishes: dL/dΔb_c = Σ w (q_c − y_c) + 2 lam Δb_c.
        let mut g = [0.0f64; N_CLASSES];
        for e in &examples {
            let mut q = e.probs;
            // Restricted to the taught classes, as the fit is.
            for (c, v) in q.iter_mut().enumerate() {
                if c != 2 && c != 4 {
                    *v = 0.0;
                }
            }
            a.apply(&mut q, &e.z);
            for c in [2, 4] {
                g[c] += 0.25 * (q[c] as f64 - (c == e.label) as u8 as f64);
            }
        }
        for c in [2, 4] {
            let r = g[c] + 0.02 * a.bias[c] as f64;
            assert!(r.abs() < 1e-4, "gradient {r} for class {c}");
        }
    }

    #[test]
    fn bad_input_is_refused_and_other_models_too() {
        assert!(Adaptation::fit(&[], 0.01).is_err());
        let p = [0.125f32; N_CLASSES];
        assert!(Adaptation::fit(&[ex(p, &[], 9)], 0.01).is_err());
        let mut nan = p;
        nan[0] = f32::NAN;
        assert!(Adaptation::fit(&[ex(nan, &[], 0)], 0.01).is_err());
        assert!(Adaptation::fit(&[ex(p, &[f32::NAN], 0)], 0.01).is_err());
        assert!(Adaptation::fit(&[ex(p, &[1.0], 0), ex(p, &[], 1)], 0.01).is_err());
        assert!(Adaptation::fit(&[ex(p, &[], 0)], 0.0).is_err());
        let mut a = adaptation(([0.0; N_CLASSES], vec![]));
        a.model = "v5 a".into();
        assert!(a.check("v5 a").is_ok());
        assert!(a
            .check("v5 b")
            .unwrap_err()
            .contains("run `sentio adapt` again"));
        a.weight = vec![0.0; 3];
        assert!(a.check("v5 a").unwrap_err().contains("shape"));
    }
}
