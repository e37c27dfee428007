#!/usr/bin/env python3
"""Training copies of every clip in real noise, babble and rooms (the test side is noisy.py).

    python3 models/acoustic/v4/augment.py --out /tmp/v4-aug        # writes WAVs + list.txt + aug.json
    target/release/sentio features --list /tmp/v4-aug/list.txt --out /tmp/v4-aug/feat

One copy per clip, seeded by its name: with probability 0.3 convolved with one of the shared room
responses (direct path aligned to t = 0, unit energy, then scaled back to the dry level); then
either babble (3-6 other speakers of the same corpus summed; for RAVDESS only actors of the same
CV group of four, so a fold's test actors never sound in its training data) or one of the shared
ESC-50 / Speech Commands noises, at an SNR drawn uniformly in [0, 20] dB against the active speech
level. Only the even half of the noise files (by CRC of their path) is used here; noisy.py draws
the robustness curve's noise from the odd half, so no recording is both trained on and tested with.

`--speed`: each copy is first played 5-15 % slower or faster (resampled, so pitch, formants and
tempo move together, like a different vocal tract and pace), the factor seeded by the clip's name
on its own stream so that the room and noise draws stay those of the plain copies.
"""
import argparse
import csv
import json
import os
import zlib

import numpy as np
import soundfile as sf
from scipy.signal import fftconvolve, resample_poly

import data as D
from noisy import NOISE, fit_noise, mix, noise_files, speech_rms


def group(c: D.Clip) -> str:
    if c.corpus == "ravdess":
        return f"ravdess:{(int(c.speaker.split(':')[1]) - 1) // 4}"
    return c.corpus


def room(x, ir):
    k = int(np.argmax(np.abs(ir)))
    ir = ir[k:]
    ir = ir / (np.sqrt((ir ** 2).sum()) + 1e-12)
    y = fftconvolve(x, ir)[: len(x)]
    return y * np.sqrt((x ** 2).mean() / ((y ** 2).mean() + 1e-12))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--speed", action="store_true", help="also change each copy's speed by 5-15 %%")
    ap.add_argument("--speed-only", action="store_true", help="--speed without the room and noise")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    noises = noise_files(half=0)
    with open(os.path.join(NOISE, "labels.csv")) as f:
        rooms = [os.path.join(NOISE, r["path"]) for r in csv.DictReader(f) if r["kind"] == "impulse_response"]
    clips = D.clips()
    pool: dict[str, list[D.Clip]] = {}
    for c in clips:
        pool.setdefault(group(c), []).append(c)
    cache = {}

    def read(p):
        if p not in cache:
            cache[p] = sf.read(p, dtype="float64")[0]
        return cache[p]

    lines, info = [], {}
    for c in clips:
        x = sf.read(c.path, dtype="float64")[0]
        rng = np.random.default_rng(zlib.crc32((c.stem + ":aug").encode()))
        how = {}
        if a.speed or a.speed_only:
            srng = np.random.default_rng(zlib.crc32((c.stem + ":speed").encode()))
            f = float(srng.uniform(0.05, 0.15)) * (1 if srng.random() < 0.5 else -1) + 1.0
            # Resampled to 1/f of its length and played at 16 kHz: f > 1 is faster and higher.
            down = int(round(200 * f))
            x = resample_poly(x, 200, down)
            how["speed"] = down / 200
        if not a.speed_only:
            if rng.random() < 0.3:
                r = rooms[int(rng.integers(len(rooms)))]
                x = room(x, read(r))
                how["room"] = os.path.basename(r)
            snr = float(rng.uniform(0.0, 20.0))
            if rng.random() < 0.5:
                others = [o for o in pool[group(c)] if o.speaker != c.speaker]
                n = np.zeros(len(x))
                for k in range(int(rng.integers(3, 7))):
                    o = others[int(rng.integers(len(others)))]
                    n += fit_noise(sf.read(o.path, dtype="float64")[0], len(x), rng)
                how["babble"] = k + 1
            else:
                p = noises[int(rng.integers(len(noises)))]
                n = fit_noise(read(p), len(x), rng)
                how["noise"] = os.path.basename(p)
            how["snr"] = round(snr, 2)
            x = mix(x, n, snr)
        out = os.path.join(a.out, c.stem + ".wav")
        sf.write(out, x.astype(np.float32), 16000, subtype="FLOAT")
        lines.append(out)
        info[c.stem] = how
    with open(os.path.join(a.out, "list.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(a.out, "aug.json"), "w") as f:
        json.dump(info, f)


if __name__ == "__main__":
    main()
