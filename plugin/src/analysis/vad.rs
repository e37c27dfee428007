//! Voice activity from energy over an adaptive noise floor, spectral shape and periodicity,
//! with a hangover so the output does not flicker between words.

/// Frames the decision is held after the last speech-like frame (250 ms).
const HANGOVER_FRAMES: u32 = 25;
/// How far above the noise floor a frame must be to count as speech.
const MARGIN_DB: f32 = 10.0;
/// Anything quieter than this is never speech.
const ABSOLUTE_MIN_DB: f32 = -60.0;
/// Noise-like spectra (white noise ≈ -2 dB) are flatter than this; voiced speech sits far below.
const MAX_FLATNESS_DB: f32 = -6.0;
/// At least this share of the power must lie in the speech band (100 Hz – 4 kHz): rejects DC,
/// rumble and hiss.
const MIN_SPEECH_BAND_SHARE: f32 = 0.5;
/// The floor follows quieter frames quickly and louder ones slowly (0.5 dB/s), so continuous
/// speech is not absorbed into it.
const FLOOR_FALL: f32 = 0.3;
const FLOOR_RISE_DB_PER_FRAME: f32 = 0.005;
const ATTACK: f32 = 0.5;
const RELEASE: f32 = 0.15;

/// What the VAD looks at in one frame.
#[derive(Debug, Clone, Copy)]
pub struct FrameCues {
    pub energy_db: f32,
    pub flatness_db: f32,
    pub speech_band_share: f32,
    pub periodic: bool,
}

pub struct VoiceActivity {
    floor_db: f32,
    hang: u32,
    value: f32,
}

impl Default for VoiceActivity {
    fn default() -> Self {
        Self {
            floor_db: -70.0,
            hang: 0,
            value: 0.0,
        }
    }
}

impl VoiceActivity {
    pub fn noise_floor_db(&self) -> f32 {
        self.floor_db
    }

    /// Returns voice activity in 0..1 after this frame.
    pub fn update(&mut self, cues: FrameCues) -> f32 {
        let e = cues.energy_db;
        let speech_like = e > ABSOLUTE_MIN_DB
            && e > self.floor_db + MARGIN_DB
            && cues.speech_band_share >= MIN_SPEECH_BAND_SHARE
            && (cues.periodic || cues.flatness_db < MAX_FLATNESS_DB);

        if e < self.floor_db {
            self.floor_db += FLOOR_FALL * (e - self.floor_db);
        } else {
            self.floor_db += (e - self.floor_db).min(FLOOR_RISE_DB_PER_FRAME);
        }
        self.floor_db = self.floor_db.clamp(-100.0, 0.0);

        if speech_like {
            self.hang = HANGOVER_FRAMES;
        } else {
            self.hang = self.hang.saturating_sub(1);
        }
        let target = if self.hang > 0 { 1.0 } else { 0.0 };
        let rate = if target > self.value { ATTACK } else { RELEASE };
        self.value += rate * (target - self.value);
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speech() -> FrameCues {
        FrameCues {
            energy_db: -25.0,
            flatness_db: -15.0,
            speech_band_share: 0.9,
            periodic: true,
        }
    }

    fn silence() -> FrameCues {
        FrameCues {
            energy_db: -90.0,
            flatness_db: -1.0,
            speech_band_share: 0.5,
            periodic: false,
        }
    }

    #[test]
    fn rises_in_speech_holds_through_short_gaps_and_falls_in_silence() {
        let mut vad = VoiceActivity::default();
        for _ in 0..50 {
            vad.update(silence());
        }
        let mut v = 0.0;
        for _ in 0..10 {
            v = vad.update(speech());
        }
        assert!(v > 0.99, "{v}");
        for _ in 0..15 {
            v = vad.update(silence());
        }
        assert!(v > 0.99, "hangover should hold: {v}");
        for _ in 0..60 {
            v = vad.update(silence());
        }
        assert!(v < 0.01, "{v}");
    }

    #[test]
    fn loud_stationary_noise_is_not_voice() {
        let mut vad = VoiceActivity::default();
        let noise = FrameCues {
            energy_db: -20.0,
            flatness_db: -2.0,
            speech_band_share: 0.45,
            periodic: false,
        };
        let v = (0..200).map(|_| vad.update(noise)).fold(0.0f32, f32::max);
        assert!(v < 0.01, "{v}");
    }

    #[test]
    fn dc_and_rumble_are_not_voice() {
        let mut vad = VoiceActivity::default();
        let dc = FrameCues {
            energy_db: -6.0,
            flatness_db: -40.0,
            speech_band_share: 0.0,
            periodic: false,
        };
        assert!((0..100).map(|_| vad.update(dc)).all(|v| v == 0.0));
    }

    #[test]
    fn floor_adapts_down_fast_and_up_slowly() {
        let mut vad = VoiceActivity::default();
        for _ in 0..30 {
            vad.update(silence());
        }
        assert!(vad.noise_floor_db() < -89.0);
        for _ in 0..100 {
            vad.update(speech());
        }
        // One second of speech lifts the floor by only 0.5 dB.
        assert!(
            vad.noise_floor_db() < -89.0 + 0.6,
            "{}",
            vad.noise_floor_db()
        );
    }
}
