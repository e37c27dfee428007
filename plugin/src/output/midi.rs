//! MIDI CC output: each output mapped to one controller, sent from `process()` only when its
//! 7-bit value changes (and once for every controller after activation, so a recorder starts
//! from known values). Fixed-size state: real-time safe.

use crate::state::Outputs;

/// The controller table (documented in the README).
pub const CC_TABLE: [(u8, &str, &str); 3] = [
    (20, "voice", "voice activity 0..1 → 0..127"),
    (21, "level", "level -60..0 dBFS → 0..127"),
    (
        22,
        "pitch",
        "0 when unvoiced, else 60..500 Hz on a log scale → 1..127",
    ),
];

const PITCH_MIN_HZ: f32 = 60.0;
const PITCH_MAX_HZ: f32 = 500.0;

fn unit_to_7bit(x: f32) -> u8 {
    if x.is_finite() {
        (x.clamp(0.0, 1.0) * 127.0).round() as u8
    } else {
        0
    }
}

/// 7-bit values in `CC_TABLE` order.
pub fn cc_values(out: &Outputs) -> [u8; CC_TABLE.len()] {
    let pitch = if out.pitch_hz.is_finite() && out.pitch_hz > 0.0 {
        let hz = out.pitch_hz.clamp(PITCH_MIN_HZ, PITCH_MAX_HZ);
        let t = (hz / PITCH_MIN_HZ).ln() / (PITCH_MAX_HZ / PITCH_MIN_HZ).ln();
        1 + (t * 126.0).round() as u8
    } else {
        0
    };
    [
        unit_to_7bit(out.voice),
        unit_to_7bit((out.level_db + 60.0) / 60.0),
        pitch,
    ]
}

#[derive(Default)]
pub struct CcSender {
    last: [Option<u8>; CC_TABLE.len()],
}

impl CcSender {
    /// Forget what was sent: the next call reports every controller.
    pub fn reset(&mut self) {
        self.last = Default::default();
    }

    /// Calls `send(cc, value)` for each controller whose value changed.
    pub fn update(&mut self, out: &Outputs, mut send: impl FnMut(u8, u8)) {
        for ((value, last), (cc, _, _)) in
            cc_values(out).into_iter().zip(&mut self.last).zip(CC_TABLE)
        {
            if *last != Some(value) {
                *last = Some(value);
                send(cc, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_hits_the_documented_points() {
        let v = cc_values(&Outputs {
            voice: 1.0,
            level_db: 0.0,
            pitch_hz: 500.0,
        });
        assert_eq!(v, [127, 127, 127]);
        let v = cc_values(&Outputs {
            voice: 0.5,
            level_db: -30.0,
            pitch_hz: 60.0,
        });
        assert_eq!(v, [64, 64, 1]);
        let v = cc_values(&Outputs {
            voice: f32::NAN,
            level_db: -100.0,
            pitch_hz: 0.0,
        });
        assert_eq!(v, [0, 0, 0]);
        // Log scale: the geometric mean of the range sits in the middle.
        let mid = cc_values(&Outputs {
            pitch_hz: (60.0f32 * 500.0).sqrt(),
            ..Outputs::default()
        })[2];
        assert_eq!(mid, 64);
    }

    #[test]
    fn only_changes_are_sent_and_reset_resends_all() {
        let mut s = CcSender::default();
        let out = Outputs {
            voice: 1.0,
            level_db: -20.0,
            pitch_hz: 0.0,
        };
        let mut sent = Vec::new();
        s.update(&out, |cc, v| sent.push((cc, v)));
        assert_eq!(sent.len(), 3);
        sent.clear();
        s.update(&out, |cc, v| sent.push((cc, v)));
        assert!(sent.is_empty());
        s.update(&Outputs { voice: 0.0, ..out }, |cc, v| sent.push((cc, v)));
        assert_eq!(sent, [(20, 0)]);
        s.reset();
        sent.clear();
        s.update(&out, |cc, v| sent.push((cc, v)));
        assert_eq!(sent.len(), 3);
    }
}
