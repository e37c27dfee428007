#!/usr/bin/env python3
"""Noisy copies of every clip for the robustness curve (never used for training).

    python3 models/acoustic/v4/noisy.py --snr 10 --out /tmp/v4-noisy/10   # writes WAVs + list.txt
    target/release/sentio features --list /tmp/v4-noisy/10/list.txt --out /tmp/v4-noisy/10/feat

Noise: the shared real recordings (ESC-50 and Speech Commands backgrounds, ../shared/data/noise),
one file per clip drawn with a fixed seed from the odd half of the files (augment.py trains on the
even half), added at the given SNR against the clip's active
speech level (RMS over frames above the clip's 10th-percentile energy + 10 dB).

    python3 models/acoustic/v4/noisy.py --snr 10 --babble --out /tmp/v4-noisy/babble10

Babble instead: 4 to 6 other speakers of the same corpus summed (for RAVDESS, actors outside the
clip's CV group of four, so the babble never shares a speaker with a fold's test side; the issue's
held-out check adds babble to RAVDESS actors 21-24).
"""
import argparse
import csv
import os
import zlib

import numpy as np
import soundfile as sf

import data as D

NOISE = os.path.join(D.DATA, "noise")


def speech_rms(x):
    n = 1 + max(0, len(x) - 400) // 160
    fr = np.stack([x[i * 160 : i * 160 + 400] for i in range(n)])
    e = 10 * np.log10((fr ** 2).mean(1) + 1e-10)
    v = D.voiced(e)
    return np.sqrt((fr[v] ** 2).mean()) if v.any() else np.sqrt((x ** 2).mean() + 1e-12)


def noise_files(half: int) -> list[str]:
    """The even (0: training augmentation) or odd (1: this test curve) half of the noise files."""
    with open(os.path.join(NOISE, "labels.csv")) as f:
        return [os.path.join(NOISE, r["path"]) for r in csv.DictReader(f)
                if r["kind"] == "noise" and zlib.crc32(r["path"].encode()) % 2 == half]


def fit_noise(n, length, rng):
    """A random excerpt of `n` of `length` samples (looped when shorter)."""
    if len(n) < length:
        n = np.tile(n, int(np.ceil(length / len(n))))
    off = int(rng.integers(0, len(n) - length + 1))
    return n[off : off + length]


def mix(x, n, snr):
    """`x` plus `n` at `snr` dB against the active speech level, kept below full scale."""
    gain = speech_rms(x) / (np.sqrt((n ** 2).mean()) + 1e-12) / 10 ** (snr / 20)
    y = x + gain * n
    peak = np.abs(y).max()
    return y * (0.999 / peak) if peak > 0.999 else y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--snr", type=float, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--babble", action="store_true", help="other speakers' speech instead of noise")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    noises = noise_files(half=1)
    cache = {}
    lines = []
    clips = D.clips()

    def read(p):
        if p not in cache:
            cache[p] = sf.read(p, dtype="float64")[0]
        return cache[p]

    def fold(c):
        return (int(c.speaker.split(":")[1]) - 1) // 4 if c.corpus == "ravdess" else -1

    for c in clips:
        x, sr = sf.read(c.path, dtype="float64")
        rng = np.random.default_rng(zlib.crc32(c.stem.encode()))
        if a.babble:
            others = [o for o in clips if o.corpus == c.corpus and o.speaker != c.speaker
                      and (c.corpus != "ravdess" or fold(o) != fold(c))]
            n = np.zeros(len(x))
            for _ in range(int(rng.integers(4, 7))):
                n += fit_noise(read(others[int(rng.integers(len(others)))].path), len(x), rng)
        else:
            n = fit_noise(read(noises[int(rng.integers(len(noises)))]), len(x), rng)
        y = mix(x, n, a.snr)
        out = os.path.join(a.out, c.stem + ".wav")
        sf.write(out, y.astype(np.float32), sr, subtype="FLOAT")
        lines.append(out)
    with open(os.path.join(a.out, "list.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
