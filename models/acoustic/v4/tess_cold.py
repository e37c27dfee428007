#!/usr/bin/env python3
"""Why the cold head loses TESS when it reads the speech frames' statistics (the model card's
item 8): the LOCO-TESS cold head of each pooling, fitted as shipped (RAVDESS only, global
statistics, the noisy copies at 0.3), its clip decisions' confusion on TESS, and how far TESS's
globally normalised embeddings sit from RAVDESS's.

    SENTIO_V4_CACHE=/tmp/v4-ft-cache SENTIO_V4_AUG=/tmp/v4-aug/cache \
        python3 models/acoustic/v4/tess_cold.py --out tess_cold.json
"""
import argparse
import json
import os

import numpy as np

import data as D
import head_probe as H
import train as T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tess_cold.json")
    a = ap.parse_args()
    whole, speech = H.embeddings()
    _, train, test, classes = next(s for s in T.splits() if s[0] == "loco_tess")
    rows = train & (T.CORPUS == "ravdess")
    cls = np.array(classes)
    res = {"classes": [D.CLASSES[k] for k in classes]}
    for tag, x in (("whole_window", whole), ("speech_frames", speech)):
        p, z = H.fit_cold(x, train)
        by_clip = {}
        for i in np.where(test)[0]:
            by_clip.setdefault(T.WCLIP[i], []).append(p[i])
        cm = np.zeros((8, 8), int)
        for c, ps in by_clip.items():
            cm[T.CLIPS[c].label, cls[np.argmax(np.mean(ps, 0)[cls])]] += 1
        res[tag] = {
            "ua": T.clip_ua(p[test], test, classes)[0],
            "confusion_rows_true_cols_predicted": cm[np.ix_(cls, cls)].tolist(),
            "tess_mean_abs_offset": float(np.abs(z[test].mean(0)).mean()),
            "ravdess_clean_training_mean_abs_offset": float(np.abs(z[rows & ~T.AUGW].mean(0)).mean()),
        }
        print(tag, json.dumps(res[tag]), flush=True)
    with open(os.path.join(T.RESULTS, a.out), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
