#!/usr/bin/env python3
"""Build demo/sentio-demo.flac and demo/segments.json from the RAVDESS speech clips.

    python3 demo/make_demo.py [--data ../shared/data/ravdess]   (run from the repo root)

One clip per emotion class, in class order (neutral, calm, happy, sad, angry, fearful,
disgust, surprised), each from a different actor (01-08), alternating male/female, strong
intensity where the class has one (neutral has only normal). Each clip is trimmed to its
speech (librosa.effects.trim, top_db=35) +/- 0.15 s, with 10 ms raised-cosine fades at the
cut points so the jumps to digital silence do not click. Levels are left as recorded.
Layout: 1.0 s digital silence, clip, 1.0 s silence, clip, ..., clip, 1.0 s silence.
Output: 16 kHz mono 16-bit FLAC. Deterministic (no randomness; same input -> same samples).

Requires models/frontend_reference/requirements.txt (librosa, numpy, soundfile).
"""

import argparse
import json
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SR = 16000
GAP_S = 1.0
MARGIN_S = 0.15
FADE_S = 0.010
TRIM_TOP_DB = 35.0

EMOTIONS = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
STATEMENTS = {1: "Kids are talking by the door", 2: "Dogs are sitting by the door"}
# (emotion code, intensity code, statement, actor), repetition 01.
PICKS = [
    (1, 1, 1, 1),   # neutral   - actor 01 (male), only normal intensity exists
    (2, 2, 1, 2),   # calm      - actor 02 (female)
    (3, 2, 1, 3),   # happy     - actor 03 (male)
    (4, 2, 1, 4),   # sad       - actor 04 (female)
    (5, 2, 1, 5),   # angry     - actor 05 (male)
    (6, 2, 1, 6),   # fearful   - actor 06 (female)
    (7, 2, 1, 7),   # disgust   - actor 07 (male)
    (8, 2, 2, 8),   # surprised - actor 08 (female); statement 2 because 03-01-08-02-01-01-08
                    # has a loud noise in its last 0.2 s that the silence trim keeps
]


def trim(y):
    import librosa

    _, (s, e) = librosa.effects.trim(y, top_db=TRIM_TOP_DB, frame_length=400, hop_length=160)
    m = int(round(MARGIN_S * SR))
    return max(0, int(s) - m), min(len(y), int(e) + m)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(REPO / ".." / "shared" / "data" / "ravdess"),
                    help="RAVDESS folder with Actor_XX/*.flac (default ../shared/data/ravdess from the repo root)")
    ap.add_argument("--out", default=str(HERE / "sentio-demo.flac"))
    args = ap.parse_args()
    data = Path(args.data)

    gap = np.zeros(int(round(GAP_S * SR)))
    nf = int(round(FADE_S * SR))
    fade_in = 0.5 - 0.5 * np.cos(np.pi * (np.arange(nf) + 0.5) / nf)

    parts = [gap]
    pos = len(gap)
    segments = []
    for emo, inten, stmt, actor in PICKS:
        name = f"03-01-{emo:02d}-{inten:02d}-{stmt:02d}-01-{actor:02d}.flac"
        y, sr = sf.read(data / f"Actor_{actor:02d}" / name, dtype="float64")
        assert sr == SR and y.ndim == 1, (name, sr, y.shape)
        s, e = trim(y)
        # sanity: speech +/- margin must lie inside the file (else the trim caught edge noise)
        assert 0 < s and e < len(y), (name, s / SR, e / SR, len(y) / SR)
        c = y[s:e].copy()
        c[:nf] *= fade_in
        c[-nf:] *= fade_in[::-1]
        segments.append({
            "source": name,
            "emotion": EMOTIONS[emo - 1],
            "emotion_code": emo,
            "intensity": "strong" if inten == 2 else "normal",
            "actor": actor,
            "sex": "male" if actor % 2 else "female",
            "statement": STATEMENTS[stmt],
            "start_s": round(pos / SR, 6),
            "end_s": round((pos + len(c)) / SR, 6),
            "source_start_s": round(s / SR, 6),
            "source_end_s": round(e / SR, 6),
        })
        parts += [c, gap]
        pos += len(c) + len(gap)

    audio = np.concatenate(parts)
    q = np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)
    sf.write(args.out, q, SR, format="FLAC", subtype="PCM_16")
    meta = {
        "file": "sentio-demo.flac",
        "sample_rate": SR,
        "channels": 1,
        "n_samples": int(len(q)),
        "duration_s": round(len(q) / SR, 6),
        "layout": f"{GAP_S} s digital silence before, between and after the clips; clips = speech "
                  f"(librosa.effects.trim top_db={TRIM_TOP_DB:g}) +/- {MARGIN_S} s, {FADE_S * 1000:g} ms fades",
        "source": "RAVDESS speech (Livingstone & Russo 2018), CC BY-NC-SA 4.0; see demo/README.md",
        "segments": segments,
    }
    (HERE / "segments.json").write_text(json.dumps(meta, indent=2) + "\n")
    for sgm in segments:
        print(f"{sgm['start_s']:7.3f}-{sgm['end_s']:7.3f} s  {sgm['emotion']:9s} actor {sgm['actor']:02d} "
              f"({sgm['sex']}, {sgm['intensity']})  {sgm['source']}")
    print(f"wrote {args.out}: {len(q) / SR:.2f} s, peak {20 * np.log10(np.abs(audio).max()):.1f} dBFS")


if __name__ == "__main__":
    main()
