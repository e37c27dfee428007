#!/usr/bin/env python3
"""Waveform augmentation for the Sentio acoustic emotion model (16 kHz mono).

Everything here works on WAVEFORMS; features are computed afterwards by the project's Rust front
end (`target/release/sentio features`), never in Python.

Groups (each can be switched off for the ablation):
  noise    additive stationary coloured noise (white / pink / brown, spectral slope 0..-2) or babble,
           at 0..30 dB SNR against the active speech level
  channel  gain +-12 dB, synthetic room reverb (exponentially decaying noise IR, RT60 0.2..0.8 s),
           microphone / telephone band-limiting (300-3400 Hz band-pass or a random 3-7.5 kHz low-pass,
           random 50-200 Hz high-pass)
  pitch    pitch shift +-2 semitones (phase vocoder + resampling, formants kept) and time stretch
           0.85..1.15 (phase vocoder)
  vtlp     synthetic new voice: formant shift (vocal-tract-length perturbation) by a factor 0.9..1.1,
           warping the cepstrally smoothed spectral envelope while the harmonics (pitch) stay put

Leak-free babble: augmented copies are made ONCE for all folds, so a clip's babble is built only
from clips of the OTHER actors of the clip's own cross-validation fold (fold k = actors 4k+1..4k+4).
Those actors are always on the same side of every split as the clip itself: whenever the clip is
training data, its babble sources are training actors too, and no test actor's voice ever enters a
training clip. (For the final all-actor model this is simply "babble from other training actors".)

Sessions: copy k of actor a is a "virtual speaker session" (a, k): the voice (VTLP factor, pitch
offset), microphone / room and gain are drawn once per session, noise / tempo per clip. Training
normalises each session with its own statistics, like the plugin's running per-speaker statistics
would in that voice / mic / room.

Usage:
  python3 models/acoustic/augment.py --out /tmp/sentio-aug --copies 4 --set all
  python3 models/acoustic/augment.py --out /tmp/sentio-aug --copies 4 --set no_noise   (ablation)
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import time
import zlib
from fractions import Fraction
from multiprocessing import Pool

import numpy as np
import scipy.signal as sps

SR = 16000
DATA = "/work/shared/data/ravdess"
GROUPS = ("noise", "channel", "pitch", "vtlp")
SETS = {
    "all": set(GROUPS),
    "no_noise": set(GROUPS) - {"noise"},
    "no_channel": set(GROUPS) - {"channel"},
    "no_pitch": set(GROUPS) - {"pitch"},
    "no_vtlp": set(GROUPS) - {"vtlp"},
}


# ----------------------------------------------------------------------------------------------
# corpus helpers
def parse_name(path: str) -> dict:
    stem = os.path.splitext(os.path.basename(path))[0]
    p = stem.split("-")
    return {"stem": stem, "emotion": int(p[2]) - 1, "intensity": int(p[3]), "statement": int(p[4]),
            "rep": int(p[5]), "actor": int(p[6]), "path": path}


def corpus() -> list[dict]:
    files = sorted(glob.glob(os.path.join(DATA, "Actor_*", "*.flac")))
    return [parse_name(f) for f in files]


def fold_of(actor: int) -> int:
    """Fold k (0-based) tests actors 4k+1..4k+4."""
    return (actor - 1) // 4


def load(path: str) -> np.ndarray:
    import soundfile as sf  # only where audio is read or written: packed-feature training needs none

    x, sr = sf.read(path, dtype="float32", always_2d=False)
    assert sr == SR, (path, sr)
    if x.ndim > 1:
        x = x.mean(axis=1)
    return x.astype(np.float32)


def active_power(x: np.ndarray) -> float:
    """Active speech level: mean power of the louder half of 20 ms blocks (P.56-like, simple)."""
    n = len(x) // 320
    if n < 2:
        return float(np.mean(x ** 2) + 1e-12)
    p = np.mean(x[: n * 320].reshape(n, 320) ** 2, axis=1)
    p = np.sort(p)[n // 2:]
    return float(np.mean(p) + 1e-12)


# ----------------------------------------------------------------------------------------------
# STFT helpers (n_fft 512, hop 128, periodic Hann)
NFFT, HOP = 512, 128
_WIN = sps.get_window("hann", NFFT, fftbins=True)


def stft(x):
    _, _, Z = sps.stft(x, fs=SR, window=_WIN, nperseg=NFFT, noverlap=NFFT - HOP, boundary="zeros",
                       padded=True)
    return Z  # [bins, frames]


def istft(Z, length):
    _, y = sps.istft(Z, fs=SR, window=_WIN, nperseg=NFFT, noverlap=NFFT - HOP, boundary=True)
    y = y[:length]
    if len(y) < length:
        y = np.pad(y, (0, length - len(y)))
    return y


def phase_vocoder(x: np.ndarray, rate: float) -> np.ndarray:
    """Time stretch by `rate` (>1 faster/shorter), pitch unchanged. Standard phase vocoder."""
    if abs(rate - 1.0) < 1e-3:
        return x
    Z = stft(x)
    nb, nf = Z.shape
    steps = np.arange(0, nf - 1, rate)
    omega = 2 * np.pi * HOP * np.arange(nb) / NFFT
    mag = np.abs(Z)
    ang = np.angle(Z)
    i0 = np.floor(steps).astype(int)
    frac = (steps - i0)[None, :]
    m = (1 - frac) * mag[:, i0] + frac * mag[:, i0 + 1]
    dphi = ang[:, i0 + 1] - ang[:, i0] - omega[:, None]
    dphi = dphi - 2 * np.pi * np.round(dphi / (2 * np.pi))
    inc = omega[:, None] + dphi
    phase = ang[:, :1] + np.concatenate([np.zeros((nb, 1)), np.cumsum(inc[:, :-1], axis=1)], axis=1)
    out_len = int(round(len(x) / rate))
    return istft(m * np.exp(1j * phase), out_len).astype(np.float32)


def resample(x: np.ndarray, factor: float) -> np.ndarray:
    """Resample so the output has len(x)/factor samples (played at SR: pitch and formants x factor)."""
    fr = Fraction(factor).limit_denominator(200)
    return sps.resample_poly(x, fr.denominator, fr.numerator).astype(np.float32)


def envelope_warp(x: np.ndarray, alpha: float, lifter: int = 30) -> np.ndarray:
    """Shift formants by `alpha` (>1: shorter vocal tract), keeping the harmonics (pitch).

    Per STFT frame: log-magnitude -> real cepstrum -> low-quefrency lifter = spectral envelope E(f);
    new magnitude = |X(f)| * E(f / alpha) / E(f); the phase is kept.
    """
    if abs(alpha - 1.0) < 1e-3:
        return x
    Z = stft(x)
    nb = Z.shape[0]
    logm = np.log(np.abs(Z) + 1e-8)
    cep = np.fft.irfft(logm, axis=0)
    cep[lifter:-lifter + 1 if lifter > 1 else None, :] = 0.0
    env = np.fft.rfft(cep, axis=0).real  # log envelope [bins, frames]
    src = np.arange(nb) / alpha
    src = np.clip(src, 0, nb - 1)
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, nb - 1)
    f = (src - i0)[:, None]
    env_w = (1 - f) * env[i0] + f * env[i1]
    gain = np.exp(np.clip(env_w - env, -8, 8))
    return istft(Z * gain, len(x)).astype(np.float32)


def pitch_shift(x: np.ndarray, semitones: float, keep_formants: bool = True) -> np.ndarray:
    if abs(semitones) < 1e-3:
        return x
    p = 2.0 ** (semitones / 12.0)
    y = phase_vocoder(x, 1.0 / p)            # longer by p, same pitch
    y = resample(y, p)                        # back to the length, pitch and formants x p
    y = y[: len(x)] if len(y) >= len(x) else np.pad(y, (0, len(x) - len(y)))
    if keep_formants:
        y = envelope_warp(y, 1.0 / p)        # formants back where they were
    return y


# ----------------------------------------------------------------------------------------------
# noise, room, channel
def coloured_noise(n: int, slope: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with power spectrum ~ f^slope (0 white, -1 pink, -2 brown)."""
    w = rng.standard_normal(n)
    W = np.fft.rfft(w)
    f = np.fft.rfftfreq(n, 1 / SR)
    f[0] = f[1]
    W *= f ** (slope / 2.0)
    y = np.fft.irfft(W, n)
    return (y / (np.std(y) + 1e-12)).astype(np.float32)


def babble(n: int, sources: list[str], rng: np.random.Generator, cache: dict) -> np.ndarray:
    k = int(rng.integers(3, 7))
    out = np.zeros(n, np.float32)
    for path in rng.choice(sources, size=k, replace=len(sources) < k):
        if path not in cache:
            cache[path] = load(path)
        s = cache[path]
        s = s / np.sqrt(active_power(s))
        reps = int(np.ceil((n + len(s)) / len(s)))
        s = np.tile(s, reps)
        off = int(rng.integers(0, len(s) - n))
        out += s[off: off + n]
    return out / np.sqrt(active_power(out))


def add_at_snr(x: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    ps = active_power(x)
    pn = float(np.mean(noise ** 2) + 1e-12)
    return (x + noise * np.sqrt(ps / (pn * 10 ** (snr_db / 10)))).astype(np.float32)


def room_ir(rt60: float, rng: np.random.Generator, drr_db: float) -> np.ndarray:
    n = int(rt60 * SR)
    t = np.arange(n) / SR
    tail = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60)  # -60 dB at rt60
    tail[: int(0.0025 * SR)] = 0.0                                # first reflections after ~2.5 ms
    # slightly darker tail (air / wall absorption)
    tail = sps.lfilter([0.6], [1, -0.4], tail)
    tail *= np.sqrt(10 ** (-drr_db / 10) / (np.sum(tail ** 2) + 1e-12))
    tail[0] += 1.0                                                 # direct path
    return tail.astype(np.float32)


def reverb(x, rt60, drr_db, rng):
    h = room_ir(rt60, rng, drr_db)
    y = sps.fftconvolve(x, h)[: len(x)]
    return (y * np.sqrt(active_power(x) / active_power(y))).astype(np.float32)


def band_limit(x, kind, rng_params):
    if kind == "telephone":
        sos = sps.butter(4, [300, 3400], btype="bandpass", fs=SR, output="sos")
    elif kind == "lowpass":
        sos = sps.butter(6, rng_params["cutoff"], btype="lowpass", fs=SR, output="sos")
    else:
        return x
    y = sps.sosfilt(sos, x)
    if rng_params.get("hp", 0) > 0:
        y = sps.sosfilt(sps.butter(2, rng_params["hp"], btype="highpass", fs=SR, output="sos"), y)
    return y.astype(np.float32)


# ----------------------------------------------------------------------------------------------
# random configurations
def seed_of(*parts) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode()) & 0x7FFFFFFF


def session_params(actor: int, k: int, seed: int) -> dict:
    """Drawn once per virtual speaker session (actor, k): voice, mic, room, gain."""
    r = np.random.default_rng(seed_of(seed, "session", actor, k))
    return {
        "vtlp": float(r.uniform(0.9, 1.1)),
        "pitch": float(r.uniform(-2.0, 2.0)),
        "use_pitch": bool(r.random() < 0.6),
        "gain_db": float(r.uniform(-12, 12)),
        "reverb": bool(r.random() < 0.5),
        "rt60": float(r.uniform(0.2, 0.8)),
        "drr_db": float(r.uniform(0, 12)),
        "room_seed": int(r.integers(1 << 30)),
        "band": str(r.choice(["none", "telephone", "lowpass"], p=[0.4, 0.25, 0.35])),
        "cutoff": float(r.uniform(3000, 7500)),
        "hp": float(r.choice([0.0, r.uniform(50, 200)])),
    }


def clip_params(stem: str, k: int, seed: int) -> dict:
    """Drawn per clip: noise, tempo, pitch jitter."""
    r = np.random.default_rng(seed_of(seed, "clip", stem, k))
    return {
        "noise": str(r.choice(["none", "coloured", "babble"], p=[0.25, 0.4, 0.35])),
        "slope": float(r.uniform(-2.0, 0.0)),
        "snr": float(r.uniform(0, 30)),
        "tempo": float(r.uniform(0.85, 1.15)) if r.random() < 0.6 else 1.0,
        "pitch_jitter": float(r.uniform(-0.5, 0.5)),
        "noise_seed": int(r.integers(1 << 30)),
    }


def augment(x: np.ndarray, sp: dict, cp: dict, groups: set, babble_sources: list[str],
            cache: dict) -> np.ndarray:
    rng = np.random.default_rng(cp["noise_seed"])
    y = x
    # voice: pitch / formants (source-filter changes first, as the speaker produces them)
    if "pitch" in groups and sp["use_pitch"]:
        y = pitch_shift(y, float(np.clip(sp["pitch"] + cp["pitch_jitter"], -2, 2)))
    if "vtlp" in groups:
        y = envelope_warp(y, sp["vtlp"])
    if "pitch" in groups and cp["tempo"] != 1.0:
        y = phase_vocoder(y, cp["tempo"])
    # acoustic scene: room, then noise in the room, then microphone / channel, then gain
    if "channel" in groups and sp["reverb"]:
        y = reverb(y, sp["rt60"], sp["drr_db"], np.random.default_rng(sp["room_seed"]))
    if "noise" in groups and cp["noise"] != "none":
        if cp["noise"] == "coloured":
            nz = coloured_noise(len(y), cp["slope"], rng)
        else:
            nz = babble(len(y), babble_sources, rng, cache)
        y = add_at_snr(y, nz, cp["snr"])
    if "channel" in groups:
        y = band_limit(y, sp["band"], sp)
        y = y * 10 ** (sp["gain_db"] / 20)
    peak = float(np.max(np.abs(y)) + 1e-12)
    if peak > 0.99:  # the recording chain's limiter: no wrap-around in 16-bit PCM
        y = y * (0.99 / peak)
    return y.astype(np.float32)


# ----------------------------------------------------------------------------------------------
# unseen test noise for the robustness curve ("cafe": NOT used in training)
def cafe_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Non-stationary cafe-like noise: cutlery / glass clinks (damped 1.5-7 kHz partials), a
    mains hum with harmonics, and background "music" (random harmonic notes with vibrato).
    Contains no Gaussian stationary noise and no speech, so it is unlike anything in training."""
    t = np.arange(n) / SR
    out = np.zeros(n)
    # clinks: Poisson onsets, ~4 per second
    n_clinks = rng.poisson(4 * n / SR)
    for _ in range(n_clinks):
        on = int(rng.integers(0, n))
        L = min(n - on, int(SR * rng.uniform(0.05, 0.3)))
        tt = np.arange(L) / SR
        env = np.exp(-tt / rng.uniform(0.01, 0.08))
        s = sum(np.sin(2 * np.pi * rng.uniform(1500, 7000) * tt + rng.uniform(0, 6.28))
                for _ in range(3))
        out[on: on + L] += rng.uniform(0.3, 1.0) * env * s
    # hum
    f0 = rng.choice([50.0, 60.0])
    hum = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 6))
    out += 0.05 * hum
    # music: notes of 0.2-0.6 s, 4 harmonics, vibrato
    pos = 0
    while pos < n:
        L = min(n - pos, int(SR * rng.uniform(0.2, 0.6)))
        tt = np.arange(L) / SR
        f = 110 * 2 ** (rng.integers(0, 36) / 12)
        ph = 2 * np.pi * f * tt + 0.3 * np.sin(2 * np.pi * 5 * tt)
        note = sum(np.sin(h * ph) / h ** 1.5 for h in range(1, 5))
        note *= np.minimum(1, tt / 0.02) * np.exp(-tt / 0.4)
        out[pos: pos + L] += 0.3 * note
        pos += L
    return (out / (np.std(out) + 1e-12)).astype(np.float32)


# ----------------------------------------------------------------------------------------------
def _work(args):
    items, out_dir, copies, seed, groups, all_clips = args
    cache: dict = {}
    by_fold: dict[int, list[dict]] = {}
    for c in all_clips:
        by_fold.setdefault(fold_of(c["actor"]), []).append(c)
    import soundfile as sf

    lines = []
    for c in items:
        x = load(c["path"])
        sources = [o["path"] for o in by_fold[fold_of(c["actor"])] if o["actor"] != c["actor"]]
        for k in range(copies):
            sp = session_params(c["actor"], k, seed)
            cp = clip_params(c["stem"], k, seed)
            y = augment(x, sp, cp, groups, sources, cache)
            name = f"{c['stem']}_k{k}.wav"
            sf.write(os.path.join(out_dir, name), y, SR, subtype="PCM_16")
            lines.append(name)
    return lines


def make_set(out_root: str, set_name: str, copies: int, seed: int, workers: int = 2) -> str:
    groups = SETS[set_name]
    out_dir = os.path.join(out_root, set_name)
    os.makedirs(out_dir, exist_ok=True)
    clips = corpus()
    chunks = [clips[i::workers * 4] for i in range(workers * 4)]
    t0 = time.time()
    with Pool(workers) as pool:
        res = pool.map(_work, [(ch, out_dir, copies, seed, groups, clips) for ch in chunks])
    names = sorted(n for r in res for n in r)
    with open(os.path.join(out_dir, "list.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    print(f"[augment] {set_name}: {len(names)} clips in {time.time() - t0:.0f} s -> {out_dir}",
          file=sys.stderr)
    return out_dir


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/tmp/sentio-aug")
    ap.add_argument("--set", default="all", choices=sorted(SETS))
    ap.add_argument("--copies", type=int, default=4)
    ap.add_argument("--seed", type=int, default=20180516)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    make_set(a.out, a.set, a.copies, a.seed, a.workers)


if __name__ == "__main__":
    main()
