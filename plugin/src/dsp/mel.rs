//! Mel filterbank and DCT matrix, built once outside the audio thread.
//!
//! Matches `librosa.filters.mel(htk=False, norm="slaney")` (Slaney's mel scale: linear below
//! 1 kHz, logarithmic above; each triangle normalised to unit area) and SciPy's orthonormal DCT-II.

use super::config::{
    ANALYSIS_RATE, MEL_FMAX, MEL_FMIN, N_FFT, N_MELS, N_MFCC, WHISPER_MELS, WHISPER_N_FFT,
};

pub use sentio_speech::mel::{hz_to_mel, mel_to_hz};

/// One mel band: the FFT bins it covers and their weights, so applying the bank touches only
/// non-zero weights.
#[derive(Debug, Clone)]
pub struct MelBand {
    pub first_bin: usize,
    pub weights: Vec<f64>,
}

impl MelBand {
    /// The band's power: its weights applied to the power of the spectrum's bins.
    pub fn power(&self, spectrum: &[realfft::num_complex::Complex<f64>]) -> f64 {
        spectrum[self.first_bin..self.first_bin + self.weights.len()]
            .iter()
            .zip(&self.weights)
            .map(|(c, w)| c.norm_sqr() * w)
            .sum()
    }
}

/// Slaney-normalised triangular filters over the `N_BINS` power bins.
pub fn mel_filterbank() -> Vec<MelBand> {
    sparse(sentio_speech::mel::triangles(
        ANALYSIS_RATE as f64,
        N_FFT,
        N_MELS,
        MEL_FMIN,
        MEL_FMAX,
    ))
}

/// Whisper's filterbank (`librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)`, 0 Hz to Nyquist),
/// the same triangles whisper.cpp reads from the converted model file.
pub fn whisper_filterbank() -> Vec<MelBand> {
    let nyquist = ANALYSIS_RATE as f64 / 2.0;
    sparse(sentio_speech::mel::triangles(
        ANALYSIS_RATE as f64,
        WHISPER_N_FFT,
        WHISPER_MELS,
        0.0,
        nyquist,
    ))
}

/// Keeps only each band's non-zero span.
fn sparse(rows: Vec<Vec<f64>>) -> Vec<MelBand> {
    rows.into_iter()
        .map(|full| {
            let first = full.iter().position(|&w| w > 0.0).unwrap_or(0);
            let last = full.iter().rposition(|&w| w > 0.0).unwrap_or(first);
            MelBand {
                first_bin: first,
                weights: full[first..=last].to_vec(),
            }
        })
        .collect()
}

/// Orthonormal DCT-II matrix, `N_MFCC` rows of `N_MELS` (row-major).
pub fn dct_matrix() -> Vec<f64> {
    let n = N_MELS as f64;
    let mut m = Vec::with_capacity(N_MFCC * N_MELS);
    for k in 0..N_MFCC {
        let scale = if k == 0 {
            (1.0 / n).sqrt()
        } else {
            (2.0 / n).sqrt()
        };
        for i in 0..N_MELS {
            m.push(
                scale * (std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2.0 * n)).cos(),
            );
        }
    }
    m
}

/// Periodic Hann window of `len` samples (scipy `get_window("hann", len, fftbins=True)`).
pub fn hann_periodic(len: usize) -> Vec<f64> {
    (0..len)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / len as f64).cos())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_scale_round_trips_and_is_linear_below_1khz() {
        assert!((hz_to_mel(500.0) - 7.5).abs() < 1e-12);
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        for hz in [20.0, 440.0, 999.0, 1000.0, 3000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9, "{hz}");
        }
    }

    #[test]
    fn filterbank_bands_are_ordered_and_area_normalised() {
        let bank = mel_filterbank();
        assert_eq!(bank.len(), N_MELS);
        for pair in bank.windows(2) {
            assert!(pair[1].first_bin >= pair[0].first_bin);
        }
        // Slaney normalisation: the triangle's peak is 2 / (hi - lo) in Hz, so the weights'
        // sum times the bin spacing approximates unit area for wide (high) bands.
        let bin_hz = ANALYSIS_RATE as f64 / N_FFT as f64;
        let top = bank.last().unwrap();
        let area: f64 = top.weights.iter().sum::<f64>() * bin_hz;
        assert!((area - 1.0).abs() < 0.05, "area {area}");
    }

    #[test]
    fn dct_rows_are_orthonormal() {
        let m = dct_matrix();
        for a in 0..N_MFCC {
            for b in 0..N_MFCC {
                let dot: f64 = (0..N_MELS)
                    .map(|i| m[a * N_MELS + i] * m[b * N_MELS + i])
                    .sum();
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-12, "rows {a},{b}: {dot}");
            }
        }
    }
}
