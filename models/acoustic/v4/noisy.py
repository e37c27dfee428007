#!/usr/bin/env python3
"""Noisy copies of every clip for the robustness curve (never used for training).

    python3 models/acoustic/v4/noisy.py --snr 10 --out /tmp/v4-noisy/10   # writes WAVs + list.txt
    target/release/sentio features --list /tmp/v4-noisy/10/list.txt --out /tmp/v4-noisy/10/feat

Noise: the shared real recordings (ESC-50 and Speech Commands backgrounds, ../shared/data/noise),
one file per clip drawn with a fixed seed, added at the given SNR against the clip's active
speech level (RMS over frames above the clip's 10th-percentile energy + 10 dB).
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--snr", type=float, required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(NOISE, "labels.csv")) as f:
        noises = [os.path.join(NOISE, r["path"]) for r in csv.DictReader(f) if r["kind"] == "noise"]
    cache = {}
    lines = []
    for c in D.clips():
        x, sr = sf.read(c.path, dtype="float64")
        rng = np.random.default_rng(zlib.crc32(c.stem.encode()))
        path = noises[int(rng.integers(len(noises)))]
        if path not in cache:
            cache[path] = sf.read(path, dtype="float64")[0]
        n = cache[path]
        if len(n) < len(x):
            n = np.tile(n, int(np.ceil(len(x) / len(n))))
        off = int(rng.integers(0, len(n) - len(x) + 1))
        n = n[off : off + len(x)]
        gain = speech_rms(x) / (np.sqrt((n ** 2).mean()) + 1e-12) / 10 ** (a.snr / 20)
        y = x + gain * n
        peak = np.abs(y).max()
        if peak > 0.999:
            y *= 0.999 / peak
        out = os.path.join(a.out, c.stem + ".wav")
        sf.write(out, y.astype(np.float32), sr, subtype="FLOAT")
        lines.append(out)
    with open(os.path.join(a.out, "list.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
