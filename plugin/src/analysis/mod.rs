//! Worker-side analysis: feature frames → voice activity, level, pitch (emotion lives in
//! [`crate::emotion`]). Runs on the analysis worker and in the CLI alike.

pub mod loudness;
pub mod pitch;
pub mod vad;

use crate::dsp::mel::{hz_to_mel, mel_to_hz};
use crate::dsp::{FeatureFrame, HOP_LENGTH, MEL_FMAX, MEL_FMIN, N_MELS};
use loudness::Loudness;
use pitch::Yin;
use vad::{FrameCues, VoiceActivity};

/// Prosodic outputs after one frame.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Prosody {
    pub frame_index: u64,
    /// Voice activity, 0..1.
    pub voice: f32,
    /// Level of the last 100 ms, dBFS (-100..).
    pub level_db: f32,
    /// Fundamental frequency in Hz; 0 when unvoiced or not speech.
    pub pitch_hz: f32,
}

pub struct Analyzer {
    history: Vec<f32>,
    yin: Yin,
    vad: VoiceActivity,
    loudness: Loudness,
    speech_band: [bool; N_MELS],
}

impl Default for Analyzer {
    fn default() -> Self {
        Self::new()
    }
}

impl Analyzer {
    pub fn new() -> Self {
        let yin = Yin::new();
        let (lo, hi) = (hz_to_mel(MEL_FMIN), hz_to_mel(MEL_FMAX));
        let mut speech_band = [false; N_MELS];
        for (m, flag) in speech_band.iter_mut().enumerate() {
            let centre = mel_to_hz(lo + (hi - lo) * (m + 1) as f64 / (N_MELS + 1) as f64);
            *flag = (100.0..=4000.0).contains(&centre);
        }
        Self {
            history: vec![0.0; yin.input_len()],
            yin,
            vad: VoiceActivity::default(),
            loudness: Loudness::default(),
            speech_band,
        }
    }

    pub fn push(&mut self, frame: &FeatureFrame) -> Prosody {
        self.history.copy_within(HOP_LENGTH.., 0);
        let n = self.history.len();
        self.history[n - HOP_LENGTH..].copy_from_slice(&frame.pcm);

        let f0 = self.yin.estimate(&self.history);
        let cues = self.cues(frame, f0.is_some());
        let voice = self.vad.update(cues);
        let level_db = self.loudness.push(frame.energy_db);
        Prosody {
            frame_index: frame.index,
            voice,
            level_db,
            pitch_hz: match f0 {
                Some(hz) if voice > 0.5 => hz,
                _ => 0.0,
            },
        }
    }

    fn cues(&self, frame: &FeatureFrame, periodic: bool) -> FrameCues {
        let mut total = 0.0f64;
        let mut speech = 0.0f64;
        let mut db_sum = 0.0f64;
        for (db, in_band) in frame.logmel.iter().zip(&self.speech_band) {
            let p = 10f64.powf(*db as f64 / 10.0);
            total += p;
            db_sum += *db as f64;
            if *in_band {
                speech += p;
            }
        }
        let arith_db = 10.0 * (total / N_MELS as f64).log10();
        FrameCues {
            energy_db: frame.energy_db,
            flatness_db: (db_sum / N_MELS as f64 - arith_db) as f32,
            speech_band_share: if total > 0.0 {
                (speech / total) as f32
            } else {
                0.0
            },
            periodic,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::FrontEnd;

    fn analyse(x: &[f32]) -> Vec<Prosody> {
        let mut fe = FrontEnd::new();
        let mut an = Analyzer::new();
        let mut out = Vec::new();
        fe.push(x, |f| out.push(an.push(f)));
        out
    }

    fn harmonic(f0: f32, amp: f32, seconds: f32) -> Vec<f32> {
        let n = (16_000.0 * seconds) as usize;
        (0..n)
            .map(|i| {
                let t = i as f32 / 16_000.0;
                (1..=10)
                    .map(|h| (2.0 * std::f32::consts::PI * f0 * h as f32 * t).sin() / h as f32)
                    .sum::<f32>()
                    * amp
            })
            .collect()
    }

    #[test]
    fn a_voiced_tone_after_silence_is_voice_with_its_pitch_and_level() {
        let mut x = vec![0.0; 16_000];
        x.extend(harmonic(150.0, 0.1, 1.0));
        let out = analyse(&x);
        let silent = &out[50];
        assert!(silent.voice < 0.01 && silent.pitch_hz == 0.0 && silent.level_db <= -99.0);
        let voiced = out.last().unwrap();
        assert!(voiced.voice > 0.99, "{voiced:?}");
        assert!((voiced.pitch_hz - 150.0).abs() < 3.0, "{voiced:?}");
        assert!(
            voiced.level_db > -30.0 && voiced.level_db < -10.0,
            "{voiced:?}"
        );
    }

    #[test]
    fn voice_falls_after_speech_stops() {
        let mut x = harmonic(200.0, 0.1, 1.0);
        x.extend(vec![0.0; 16_000]);
        let out = analyse(&x);
        let end = out.last().unwrap();
        assert!(end.voice < 0.01 && end.pitch_hz == 0.0, "{end:?}");
    }
}
