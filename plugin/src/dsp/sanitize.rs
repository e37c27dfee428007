//! Keeps hostile input (NaN, ±Inf, denormals, absurd levels) out of the analysis state.
//! Only the analysis copy is cleaned: the audio the host hears is never touched.

/// Largest magnitude the analysis accepts: +12 dBFS, far above any real microphone signal,
/// low enough that squared sums can never overflow.
pub const MAX_ABS: f32 = 4.0;
/// Below this a sample is treated as silence; also flushes denormals, which are slow on x86.
pub const MIN_ABS: f32 = 1e-20;

#[inline]
pub fn sanitize(x: f32) -> f32 {
    if !x.is_finite() || x.abs() < MIN_ABS {
        0.0
    } else {
        x.clamp(-MAX_ABS, MAX_ABS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_values_become_safe() {
        assert_eq!(sanitize(f32::NAN), 0.0);
        assert_eq!(sanitize(f32::INFINITY), 0.0);
        assert_eq!(sanitize(f32::NEG_INFINITY), 0.0);
        assert_eq!(sanitize(1e-40), 0.0);
        assert_eq!(sanitize(1e30), MAX_ABS);
        assert_eq!(sanitize(-1e30), -MAX_ABS);
        assert_eq!(sanitize(0.25), 0.25);
    }
}
