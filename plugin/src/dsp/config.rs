//! The fixed analysis configuration. Changing any of these changes the features the model sees:
//! retrain and regenerate the librosa reference (`models/frontend_reference`) together.

/// Analysis sample rate: every host rate is resampled to this.
pub const ANALYSIS_RATE: u32 = 16_000;
/// 25 ms analysis window.
pub const WIN_LENGTH: usize = 400;
/// 10 ms hop: 100 frames per second.
pub const HOP_LENGTH: usize = 160;
/// FFT size; the window is zero-padded (centred) to it, as librosa does.
pub const N_FFT: usize = 512;
pub const N_BINS: usize = N_FFT / 2 + 1;
pub const N_MELS: usize = 64;
pub const N_MFCC: usize = 40;
pub const MEL_FMIN: f64 = 20.0;
pub const MEL_FMAX: f64 = 8_000.0;
/// Floor of the power before the logarithm (librosa's `amin`): -100 dB.
pub const POWER_FLOOR: f64 = 1e-10;
pub const FRAMES_PER_SECOND: f64 = ANALYSIS_RATE as f64 / HOP_LENGTH as f64;

/// Whisper's own log-mel (the acoustic model's input): its n_fft is the 400-sample window itself
/// (no zero padding), 80 Slaney bands from 0 Hz to Nyquist, log10 of the power with the same floor.
pub const WHISPER_N_FFT: usize = WIN_LENGTH;
pub const WHISPER_N_BINS: usize = WHISPER_N_FFT / 2 + 1;
pub const WHISPER_MELS: usize = 80;

/// Columns of a feature row (`FeatureFrame::columns`, `sentio features`, model sidecars):
/// log-mel dB, MFCC, frame energy dBFS, then Whisper's log10 mel.
pub const FEATURE_COLUMNS: usize = N_MELS + N_MFCC + 1 + WHISPER_MELS;
/// First column of Whisper's log-mel in a feature row.
pub const WHISPER_COLUMN: usize = N_MELS + N_MFCC + 1;
