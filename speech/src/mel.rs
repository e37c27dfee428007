//! Whisper's mel filterbank, which CTranslate2 does not store but whisper.cpp reads from the
//! model file. It is librosa's default (`librosa.filters.mel(sr, n_fft, n_mels)`): Slaney mel
//! scale, triangles area-normalised to `2 / (f[i+2] - f[i])`, 0 Hz to Nyquist.

pub const SAMPLE_RATE: u32 = 16_000;
pub const N_FFT: usize = 400;

/// Row-major `[n_mels][n_fft / 2 + 1]` weights.
pub fn filterbank(sample_rate: u32, n_fft: usize, n_mels: usize) -> Vec<f32> {
    triangles(
        sample_rate as f64,
        n_fft,
        n_mels,
        0.0,
        sample_rate as f64 / 2.0,
    )
    .into_iter()
    .flatten()
    .map(|w| w as f32)
    .collect()
}

/// Slaney-normalised triangular filters (librosa's `filters.mel(norm="slaney")`) between `fmin`
/// and `fmax`: one row of `n_fft / 2 + 1` weights per band. Shared with the plugin's front end.
pub fn triangles(
    sample_rate: f64,
    n_fft: usize,
    n_mels: usize,
    fmin: f64,
    fmax: f64,
) -> Vec<Vec<f64>> {
    let fft_freqs: Vec<f64> = (0..n_fft / 2 + 1)
        .map(|k| k as f64 * sample_rate / n_fft as f64)
        .collect();
    let (mel_lo, mel_hi) = (hz_to_mel(fmin), hz_to_mel(fmax));
    let band_edges: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(mel_lo + (mel_hi - mel_lo) * i as f64 / (n_mels + 1) as f64))
        .collect();
    (0..n_mels)
        .map(|m| {
            let (lo, centre, hi) = (band_edges[m], band_edges[m + 1], band_edges[m + 2]);
            let norm = 2.0 / (hi - lo);
            fft_freqs
                .iter()
                .map(|&f| {
                    let rising = (f - lo) / (centre - lo);
                    let falling = (hi - f) / (hi - centre);
                    rising.min(falling).max(0.0) * norm
                })
                .collect()
        })
        .collect()
}

// Slaney's auditory-toolbox scale: linear (200/3 Hz per mel) up to 1 kHz, logarithmic above.
const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

pub fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step()
    } else {
        hz / F_SP
    }
}

pub fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp()
    } else {
        mel * F_SP
    }
}
