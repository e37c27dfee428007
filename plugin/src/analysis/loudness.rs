//! Short-term level in dBFS: the mean power of the last 100 ms of frames.

const FRAMES: usize = 10;
pub const FLOOR_DB: f32 = -100.0;

#[derive(Default)]
pub struct Loudness {
    powers: [f64; FRAMES],
    next: usize,
    seen: usize,
}

impl Loudness {
    /// Add one frame's energy and return the level over the window.
    pub fn push(&mut self, energy_db: f32) -> f32 {
        self.powers[self.next] = 10f64.powf(energy_db as f64 / 10.0);
        self.next = (self.next + 1) % FRAMES;
        self.seen = (self.seen + 1).min(FRAMES);
        let mean = self.powers[..self.seen].iter().sum::<f64>() / self.seen as f64;
        ((10.0 * mean.log10()) as f32).max(FLOOR_DB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_power_not_decibels() {
        let mut l = Loudness::default();
        for _ in 0..5 {
            l.push(-20.0);
        }
        for _ in 0..5 {
            l.push(-100.0);
        }
        // Half the window at -20 dB: -23 dB, not the -60 dB a dB average would give.
        let level = l.push(-100.0);
        assert!(
            (level - (-20.0 - 10.0 * (10.0f32 / 4.0).log10())).abs() < 0.1,
            "{level}"
        );
    }

    #[test]
    fn silence_reads_the_floor() {
        let mut l = Loudness::default();
        assert_eq!(l.push(-100.0), FLOOR_DB);
    }
}
