"""Sentio feature front end (docs/contract.md) computed with librosa, plus an
independent plain-numpy implementation used to cross-check it.

Contract framing: frame i covers samples [160 i, 160 i + 400), no centering,
n_frames = 1 + (N - 400) // 160. The periodic Hann(400) window is zero-padded
centred to n_fft = 512 (56 zeros each side).

librosa with center=False frames the *n_fft*-long span y[160 i : 160 i + 512]
and applies the centred-padded window, so the non-zero part of the window sits
on y[160 i + 56 : 160 i + 456] and n_frames = 1 + (N - 512) // 160. To get the
contract's framing from librosa we therefore pad the input with 56 zeros on
each side (PAD) before calling it; then librosa's frame i sees exactly
x[160 i : 160 i + 400] and the frame count equals the contract's.

librosa.filters.mel defaults to dtype=float32; we pass dtype=np.float64 so the
reference is float64 end to end.
"""

import numpy as np

SR = 16000
N_FFT = 512
WIN_LENGTH = 400
HOP = 160
N_MELS = 64
N_MFCC = 40
FMIN = 20.0
FMAX = 8000.0
AMIN = 1e-10
ENERGY_EPS = 1e-10
PAD = (N_FFT - WIN_LENGTH) // 2  # 56


def n_frames(n_samples):
    if n_samples < WIN_LENGTH:
        return 0
    return 1 + (n_samples - WIN_LENGTH) // HOP


def frame_energy_dbfs(x):
    """10*log10(mean(x^2) + 1e-10) over each raw 400-sample frame -> [n_frames]."""
    import librosa

    frames = librosa.util.frame(x, frame_length=WIN_LENGTH, hop_length=HOP)  # [400, n_frames]
    return 10.0 * np.log10(np.mean(frames * frames, axis=0) + ENERGY_EPS)


def librosa_features(x, mel_dtype=np.float64):
    """Contract features with librosa. x: 1-D float array at 16 kHz.

    Returns (logmel [n_frames, 64], mfcc [n_frames, 40], energy [n_frames]),
    frames first. Computation dtype follows x (float64 in -> float64 out).
    """
    import librosa

    x = np.asarray(x)
    y = np.pad(x, (PAD, PAD))  # see module docstring: aligns librosa frames with the contract
    S = librosa.feature.melspectrogram(
        y=y, sr=SR, n_fft=N_FFT, hop_length=HOP, win_length=WIN_LENGTH,
        window="hann", center=False, power=2.0, n_mels=N_MELS, fmin=FMIN, fmax=FMAX,
        htk=False, norm="slaney", dtype=mel_dtype,
    )
    logmel = librosa.power_to_db(S, ref=1.0, amin=AMIN, top_db=None)
    mfcc = librosa.feature.mfcc(S=logmel, n_mfcc=N_MFCC, dct_type=2, norm="ortho")
    energy = frame_energy_dbfs(x)
    assert logmel.shape[1] == n_frames(len(x)) == energy.shape[0]
    return logmel.T.copy(), mfcc.T.copy(), energy


def numpy_features(x):
    """Independent float64 implementation straight from the contract text
    (explicit framing, periodic Hann from its formula, rfft, own DCT-II matrix).
    The mel filterbank is librosa's (float64), since that is what the contract names."""
    import librosa

    x = np.asarray(x, dtype=np.float64)
    nf = n_frames(len(x))
    idx = HOP * np.arange(nf)[:, None] + np.arange(WIN_LENGTH)[None, :]
    frames = x[idx]  # [nf, 400]
    n = np.arange(WIN_LENGTH)
    win = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / WIN_LENGTH)  # periodic Hann
    buf = np.zeros((nf, N_FFT))
    buf[:, PAD:PAD + WIN_LENGTH] = frames * win
    X = np.fft.rfft(buf, n=N_FFT, axis=1)  # [nf, 257]
    P = X.real ** 2 + X.imag ** 2
    fb = librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS, fmin=FMIN, fmax=FMAX,
                             htk=False, norm="slaney", dtype=np.float64)  # [64, 257]
    mel = P @ fb.T
    logmel = 10.0 * np.log10(np.maximum(mel, AMIN))
    k = np.arange(N_MFCC)[:, None]
    m = np.arange(N_MELS)[None, :]
    dct = np.cos(np.pi * k * (2 * m + 1) / (2 * N_MELS)) * np.sqrt(2.0 / N_MELS)
    dct[0, :] = np.sqrt(1.0 / N_MELS)
    mfcc = logmel @ dct.T
    energy = 10.0 * np.log10(np.mean(frames * frames, axis=1) + ENERGY_EPS)
    return logmel, mfcc, energy
