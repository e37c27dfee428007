#!/usr/bin/env python3
"""Small recipe grid (an earlier, wider run over spk:2 with wd 0.3 and 1000 steps found nothing:
results/grid_partial_spk2.log) for the linear head on pooled statistics (LOCO + RAVDESS CV validation).

    python3 models/acoustic/v4/grid.py   -> results/grid.json
"""
import json
import os

import numpy as np

import train as TR

out = {}
for feats in ("spk:2", "spk:1+2", "raw:1+2"):
    variant, blocks = feats.split(":")
    x = np.concatenate([TR.probe_features(variant, int(b)) for b in blocks.split("+")], axis=1)
    for wd in (1e-3, 3e-2):
        for steps in (300,):
            res = {}
            for name, train, test, classes in TR.splits():
                p = TR.fit_linear(x, train, steps=steps, wd=wd)
                res[name] = TR.clip_ua(p[test], test, classes)[0]
            s = TR.score(res)
            key = f"{feats} wd={wd} steps={steps}"
            out[key] = {"per_split": res, **s}
            print(f"{key}: LOCO {s['loco_mean']:.3f} RAV {s['ravdess_cv_mean']:.3f} sel {s['selection']:.3f} "
                  + " ".join(f"{k[5:] if k.startswith('loco') else k[-5:]}={v:.2f}" for k, v in res.items()), flush=True)
with open(os.path.join(TR.RESULTS, "grid.json"), "w") as f:
    json.dump(out, f, indent=1)
