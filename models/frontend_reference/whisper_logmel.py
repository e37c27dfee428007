"""Whisper's log-mel, as the plugin's front end computes it (reference for the Rust parity test).

The definition is OpenAI Whisper's `log_mel_spectrogram` (80 Slaney mel bands from
`librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)`, a periodic Hann window of 400 samples,
n_fft 400, hop 160, power spectrum, log10 with a 1e-10 floor) with one deliberate difference:
frames are **not centred** (frame i covers samples [160 i, 160 i + 400)), because a streaming
front end cannot read 200 samples of the future. Whisper's own frame i is this frame shifted by
200 samples (1.25 hops); an encoder does not care about a 12.5 ms shift.

Whisper's two window-level steps, the clamp to (max - 8) and (x + 4) / 4, depend on the whole
window, so they are not in the per-frame front end: the acoustic model's ONNX graph applies them
over its own input window (`whisper_window_norm`).
"""

import numpy as np
import scipy.signal

SAMPLE_RATE = 16_000
N_FFT = 400
HOP = 160
N_MELS = 80


def mel_filters() -> np.ndarray:
    """[80, 201] float64, Whisper's filterbank (librosa Slaney scale, Slaney area norm)."""
    import librosa

    return librosa.filters.mel(
        sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, htk=False, norm="slaney", dtype=np.float64
    )


def log10_mel(samples: np.ndarray, filters: np.ndarray | None = None) -> np.ndarray:
    """[frames, 80] float64 log10 mel power of 16 kHz samples in [-1, 1], non-centred frames."""
    x = np.asarray(samples, dtype=np.float64)
    if filters is None:
        filters = mel_filters()
    if len(x) < N_FFT:
        return np.zeros((0, N_MELS))
    n = 1 + (len(x) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n)[:, None]
    window = scipy.signal.get_window("hann", N_FFT, fftbins=True)
    spec = np.fft.rfft(x[idx] * window, n=N_FFT, axis=1)
    power = spec.real**2 + spec.imag**2
    return np.log10(np.maximum(power @ filters.T, 1e-10))


def whisper_window_norm(logmel: np.ndarray) -> np.ndarray:
    """Whisper's window-level scaling: clamp to (window max - 8), then (x + 4) / 4."""
    return (np.maximum(logmel, logmel.max() - 8.0) + 4.0) / 4.0
