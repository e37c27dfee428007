//! MIDI CC output: each output mapped to one controller, sent from `process()` only when its
//! 7-bit value changes (and once for every controller after activation, so a recorder starts
//! from known values). Fixed-size state: real-time safe.

use crate::state::Outputs;

/// The controller table (documented in the README). Emotion controllers are sent once a model
/// runs.
pub const CC_TABLE: [(u8, &str, &str); 15] = [
    (20, "voice", "voice activity 0..1 → 0..127"),
    (21, "level", "level -60..0 dBFS → 0..127"),
    (
        22,
        "pitch",
        "0 when unvoiced, else 60..500 Hz on a log scale → 1..127",
    ),
    (23, "neutral", "probability 0..1 → 0..127"),
    (24, "calm", "probability 0..1 → 0..127"),
    (25, "happy", "probability 0..1 → 0..127"),
    (26, "sad", "probability 0..1 → 0..127"),
    (27, "angry", "probability 0..1 → 0..127"),
    (28, "fearful", "probability 0..1 → 0..127"),
    (29, "disgust", "probability 0..1 → 0..127"),
    (30, "surprised", "probability 0..1 → 0..127"),
    (31, "valence", "-1..1 → 0..127 (64 = neutral)"),
    (32, "arousal", "-1..1 → 0..127 (64 = neutral)"),
    (
        33,
        "dominant",
        "class index 0..7 in the order above (neutral = 0)",
    ),
    (
        34,
        "confidence",
        "the dominant class's calibrated probability 0..1 → 0..127",
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

fn bipolar_to_7bit(x: f32) -> u8 {
    unit_to_7bit((x + 1.0) / 2.0)
}

/// 7-bit values in `CC_TABLE` order; `None` for controllers that have nothing to say yet.
pub fn cc_values(out: &Outputs) -> [Option<u8>; CC_TABLE.len()] {
    let pitch = if out.pitch_hz.is_finite() && out.pitch_hz > 0.0 {
        let hz = out.pitch_hz.clamp(PITCH_MIN_HZ, PITCH_MAX_HZ);
        let t = (hz / PITCH_MIN_HZ).ln() / (PITCH_MAX_HZ / PITCH_MIN_HZ).ln();
        1 + (t * 126.0).round() as u8
    } else {
        0
    };
    let mut v = [None; CC_TABLE.len()];
    v[0] = Some(unit_to_7bit(out.voice));
    v[1] = Some(unit_to_7bit((out.level_db + 60.0) / 60.0));
    v[2] = Some(pitch);
    if let Some(e) = &out.emotion {
        for (slot, p) in v[3..11].iter_mut().zip(e.probs) {
            *slot = Some(unit_to_7bit(p));
        }
        v[11] = Some(bipolar_to_7bit(e.valence));
        v[12] = Some(bipolar_to_7bit(e.arousal));
        v[13] = Some(e.dominant as u8);
        v[14] = Some(unit_to_7bit(e.probs[e.dominant.min(e.probs.len() - 1)]));
    }
    v
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
            let Some(value) = value else { continue };
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
            emotion: None,
            text: None,
        });
        assert_eq!(v[..3], [Some(127); 3]);
        assert!(
            v[3..].iter().all(Option::is_none),
            "no model, no emotion CCs"
        );
        let v = cc_values(&Outputs {
            voice: 0.5,
            level_db: -30.0,
            pitch_hz: 60.0,
            emotion: None,
            text: None,
        });
        assert_eq!(v[..3], [Some(64), Some(64), Some(1)]);
        let v = cc_values(&Outputs {
            voice: f32::NAN,
            level_db: -100.0,
            pitch_hz: 0.0,
            emotion: None,
            text: None,
        });
        assert_eq!(v[..3], [Some(0); 3]);
        // Log scale: the geometric mean of the range sits in the middle.
        let mid = cc_values(&Outputs {
            pitch_hz: (60.0f32 * 500.0).sqrt(),
            ..Outputs::default()
        })[2];
        assert_eq!(mid, Some(64));
    }

    #[test]
    fn emotion_controllers() {
        let mut probs = [0.0; 8];
        probs[5] = 1.0;
        let v = cc_values(&Outputs {
            emotion: Some(crate::state::Emotion {
                probs,
                dominant: 5,
                valence: -1.0,
                arousal: 0.0,
            }),
            ..Outputs::default()
        });
        assert_eq!(
            v[3..11],
            [
                Some(0),
                Some(0),
                Some(0),
                Some(0),
                Some(0),
                Some(127),
                Some(0),
                Some(0)
            ]
        );
        assert_eq!(v[11..], [Some(0), Some(64), Some(5), Some(127)]);
    }

    #[test]
    fn only_changes_are_sent_and_reset_resends_all() {
        let mut s = CcSender::default();
        let out = Outputs {
            voice: 1.0,
            level_db: -20.0,
            pitch_hz: 0.0,
            emotion: None,
            text: None,
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
