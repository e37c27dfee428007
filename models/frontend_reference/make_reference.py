#!/usr/bin/env python3
"""Regenerate the front-end parity reference data (docs/contract.md).

    python3 models/frontend_reference/make_reference.py

For each clip in clips/ writes, next to it (all float64, frames first):
    <clip>.samples.npy  [N]           the exact input samples (int16 / 32768)
    <clip>.logmel.npy   [n_frames, 64] log-mel, dB
    <clip>.mfcc.npy     [n_frames, 40] MFCC (DCT-II ortho of the 64 log-mel values)
    <clip>.energy.npy   [n_frames]     frame energy, dBFS
and clips/manifest.json (shapes, sources, versions).

The RAVDESS clips are re-cut from ../shared/data/ravdess when it exists (otherwise the
committed WAVs are used as they are); the synthetic clip is generated from a fixed seed.
Everything is deterministic.
"""

import json
import sys
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

import sentio_frontend as fe
import whisper_logmel as wm

HERE = Path(__file__).resolve().parent
CLIPS = HERE / "clips"
REPO = HERE.parent.parent
RAVDESS = (REPO / ".." / "shared" / "data" / "ravdess").resolve()

MAX_SECONDS = 4.0
MARGIN_S = 0.30  # kept around the detected speech in the RAVDESS clips
TRIM_TOP_DB = 35.0

RAVDESS_CLIPS = {
    # committed name: (source, emotion, actor, sex, intensity)
    "ravdess_angry_a01.wav": ("Actor_01/03-01-05-02-01-01-01.flac", "angry", 1, "male", "strong"),
    "ravdess_sad_a02.wav": ("Actor_02/03-01-04-02-01-01-02.flac", "sad", 2, "female", "strong"),
}
SYNTH_NAME = "synthetic_chirp_noise.wav"
SYNTH_SEED = 20180516
SYNTH = dict(silence_s=0.3, chirp_s=2.5, f0=80.0, f1=6000.0, chirp_peak_dbfs=-12.0, noise_rms_dbfs=-50.0)


def to_int16(x):
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def speech_bounds(y):
    """(start, end) sample indices of the non-silent part (librosa.effects.trim)."""
    import librosa

    _, (s, e) = librosa.effects.trim(y, top_db=TRIM_TOP_DB, frame_length=400, hop_length=160)
    return int(s), int(e)


def cut_ravdess(src):
    y, sr = sf.read(src, dtype="int16")
    assert sr == fe.SR and y.ndim == 1, (src, sr, y.shape)
    s, e = speech_bounds(y.astype(np.float64) / 32768.0)
    m = int(round(MARGIN_S * sr))
    start = max(0, s - m)
    end = min(len(y), e + m, start + int(MAX_SECONDS * sr))
    return y[start:end], start / sr, end / sr


def make_synthetic():
    p = SYNTH
    sr = fe.SR
    rng = np.random.default_rng(SYNTH_SEED)
    n = int(round(p["chirp_s"] * sr))
    t = np.arange(n) / sr
    chirp = 10 ** (p["chirp_peak_dbfs"] / 20) * scipy.signal.chirp(
        t, f0=p["f0"], t1=p["chirp_s"], f1=p["f1"], method="logarithmic", phi=-90.0)  # sine start
    noise = 10 ** (p["noise_rms_dbfs"] / 20) * rng.standard_normal(n)
    sil = np.zeros(int(round(p["silence_s"] * sr)))
    return to_int16(np.concatenate([sil, chirp + noise]))


def write_wav(path, y16):
    sf.write(path, y16, fe.SR, subtype="PCM_16", format="WAV")


def whisper_reference(x):
    """Whisper's log10 mel [n_frames, 80] (whisper_logmel.py), cross-checked against librosa's STFT."""
    import librosa

    ours = wm.log10_mel(x)
    spec = librosa.stft(x, n_fft=wm.N_FFT, hop_length=wm.HOP, window="hann", center=False)
    other = np.log10(np.maximum(wm.mel_filters() @ np.abs(spec) ** 2, 1e-10)).T
    diff = float(np.max(np.abs(ours - other)))
    assert ours.shape == other.shape and diff < 1e-6, (ours.shape, other.shape, diff)
    return ours


def main():
    import librosa

    CLIPS.mkdir(parents=True, exist_ok=True)
    manifest = {
        "contract": "docs/contract.md (feature front end)",
        "layout": "float64 .npy, frames first: logmel [n_frames,64], mfcc [n_frames,40], energy [n_frames], whisper [n_frames,80] (log10 mel, whisper_logmel.py), samples [N]",
        "framing": "frame i = samples[160 i, 160 i + 400); n_frames = 1 + (N - 400) // 160",
        "versions": {"librosa": librosa.__version__, "numpy": np.__version__,
                     "scipy": scipy.__version__, "soundfile": sf.__version__},
        "clips": {},
    }

    # 1. (re)make the WAVs
    for name, (src, emo, actor, sex, inten) in RAVDESS_CLIPS.items():
        srcp = RAVDESS / src
        info = {"source": "RAVDESS " + Path(src).name, "emotion": emo, "actor": actor, "sex": sex,
                "intensity": inten, "licence": "CC BY-NC-SA 4.0 (Livingstone & Russo 2018)"}
        if srcp.exists():
            y16, t0, t1 = cut_ravdess(srcp)
            write_wav(CLIPS / name, y16)
            info.update(source_start_s=round(t0, 6), source_end_s=round(t1, 6))
        elif (CLIPS / name).exists():
            print(f"note: {srcp} not found, using committed {name} as is", file=sys.stderr)
            old = (json.loads((CLIPS / "manifest.json").read_text()).get("clips", {}).get(name, {})
                   if (CLIPS / "manifest.json").exists() else {})
            info.update({k: old[k] for k in ("source_start_s", "source_end_s") if k in old})
        else:
            sys.exit(f"error: neither {srcp} nor {CLIPS / name} exists")
        manifest["clips"][name] = info
    write_wav(CLIPS / SYNTH_NAME, make_synthetic())
    manifest["clips"][SYNTH_NAME] = {"source": "synthetic", "seed": SYNTH_SEED,
                                     "description": "0.3 s digital silence, then 2.5 s log chirp 80->6000 Hz "
                                                    "(sine, peak -12 dBFS) + Gaussian white noise (RMS -50 dBFS)",
                                     **SYNTH}

    # 2. features
    worst = 0.0
    for name in sorted(manifest["clips"]):
        wav = CLIPS / name
        x, sr = sf.read(wav, dtype="float64")  # == int16 / 32768 exactly
        assert sr == fe.SR and x.ndim == 1 and len(x) <= MAX_SECONDS * sr + 1e-9
        logmel, mfcc, energy = fe.librosa_features(x)
        assert logmel.dtype == mfcc.dtype == energy.dtype == np.float64

        # cross-check against the plain-numpy implementation of the contract text
        ref = fe.numpy_features(x)
        diffs = [float(np.max(np.abs(a - b))) for a, b in zip((logmel, mfcc, energy), ref)]
        worst = max(worst, *diffs)
        assert max(diffs) < 1e-6, (name, diffs)

        np.save(f"{wav}.samples.npy", x)
        np.save(f"{wav}.logmel.npy", logmel)
        np.save(f"{wav}.mfcc.npy", mfcc)
        np.save(f"{wav}.energy.npy", energy)
        np.save(f"{wav}.whisper.npy", whisper_reference(x))
        manifest["clips"][name].update(
            n_samples=len(x), seconds=len(x) / sr, n_frames=logmel.shape[0],
            logmel_range_db=[float(logmel.min()), float(logmel.max())],
            energy_range_dbfs=[float(energy.min()), float(energy.max())],
            frames_at_floor=int(np.sum(np.all(logmel == -100.0, axis=1))),
        )
        print(f"{name}: samples {x.shape} ({len(x) / sr:.3f} s)  logmel {logmel.shape}  "
              f"mfcc {mfcc.shape}  energy {energy.shape}  "
              f"max|librosa-numpy| logmel {diffs[0]:.2e} mfcc {diffs[1]:.2e} energy {diffs[2]:.2e}")

    (CLIPS / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"librosa {librosa.__version__}; worst librosa-vs-numpy difference {worst:.2e}; "
          f"wrote {CLIPS.relative_to(REPO)}/")


if __name__ == "__main__":
    main()
