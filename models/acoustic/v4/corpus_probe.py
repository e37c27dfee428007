#!/usr/bin/env python3
"""Which corpora to train on, and how: window-level linear probes on frozen Whisper tiny.en.

    SENTIO_V4_CACHE=/tmp/v4-ft-cache [SENTIO_V4_AUG=/tmp/v4-aug/cache] \
        python3 models/acoustic/v4/corpus_probe.py --configs all

clip_probe.py found that the issue's probe (RAVDESS only) beats every multi-corpus recipe
cross-corpus. This asks why, on the product's own decision (2.5 s windows, each classified,
a clip's probabilities averaged) and train.py's protocol (LOCO + RAVDESS CV; the held-out corpus
never in training): the training corpora, their weights, the per-corpus class mask, how a
speaker with little speech is normalised, blocks, regularisation and the augmented copies. Two
models per configuration, as the two-head design ships them: one on speaker-normalised windows
(scored with the test speaker's statistics), one on globally normalised windows (cold start).
Sample weights: every corpus its share (`rav`: RAVDESS's share, the others split the rest
equally; default equal shares), every clip the same within its corpus. Multinomial logistic
regression, L2 ||W||^2 / 2C on standardised inputs, L-BFGS. Writes results/corpus_probe.json.
"""
import argparse
import json
import os

import numpy as np
import torch

import train as T
from speaker_time import mixture, window_seconds

HERE = os.path.dirname(os.path.abspath(__file__))

RAV, ALL = ("ravdess",), ("ravdess", "tess", "ased", "urdu")
DEFAULTS = {"corpora": RAV, "rav_share": None, "prior": None, "blocks": (2,), "C": 1.0, "aug": 0.0}
CONFIGS = {
    # name: what differs from DEFAULTS. corpora: trained on (the held-out one never);
    # rav_share: RAVDESS's share of the weight (None: equal shares); prior: shrink a speaker's
    # statistics towards the global ones (seconds); blocks: pooled blocks read; C: 1 / L2;
    # aug: the augmented copies' weight relative to the clean windows (0: none).
    "rav": {},
    "all": {"corpora": ALL},
    "all_shrink5": {"corpora": ALL, "prior": 5.0},
    "rav_ased": {"corpora": ("ravdess", "ased")},
    "rav_tess": {"corpora": ("ravdess", "tess")},
    "rav_urdu": {"corpora": ("ravdess", "urdu")},
    "all_rav0.7": {"corpora": ALL, "rav_share": 0.7},
    "rav_b12": {"blocks": (1, 2)},
    "rav_aug": {"aug": 1.0},
    "all_aug": {"corpora": ALL, "aug": 1.0},
    "rav_b12_C0.3": {"blocks": (1, 2), "C": 0.3},
    "rav_b12_C3": {"blocks": (1, 2), "C": 3.0},
    "rav_b12_aug0.3": {"blocks": (1, 2), "aug": 0.3},
    "rav_b12_aug1": {"blocks": (1, 2), "aug": 1.0},
    "rav_tess_b12": {"corpora": ("ravdess", "tess"), "blocks": (1, 2)},
}


def speaker_norm(x, prior, sec):
    """Each (channel-)speaker's windows z-normalised with their statistics; with `prior`, those
    statistics shrunk towards the global ones as the runtime shrinks them after hearing all of the
    speaker's voiced seconds."""
    if prior is None:
        return T.speaker_z(x)
    g_m, g_v = x.mean(0), x.var(0)
    out = np.empty_like(x)
    for s in np.unique(T.CHANNEL_SPEAKER):
        i = T.CHANNEL_SPEAKER == s
        m, sd = mixture(x[i].mean(0), x[i].var(0), sec[i].sum(), g_m, g_v, prior)
        out[i] = (x[i] - m) / (sd + 1e-5)
    return out


def run(name, cfg, pooled, sec):
    cfg = {**DEFAULTS, **cfg}
    corpora, rav_share, prior, blocks, c, aug = (cfg[k] for k in ("corpora", "rav_share", "prior", "blocks", "C", "aug"))
    x = np.concatenate([pooled[:, b - 1] for b in blocks], 1).astype(np.float32)
    xs = speaker_norm(x, prior, sec)
    res = {}
    for split, train, test, classes in T.splits():
        train = train & np.isin(T.CORPUS, corpora) & (T.AUGW <= (aug > 0))
        w = T.corpus_weights(train, corpora, rav_share, aug)
        for norm in ("spk", "cold"):
            if norm == "spk":
                z = xs
            else:
                g_m, g_s = x[train].mean(0), x[train].std(0) + 1e-5
                z = (x - g_m) / g_s
            p = T.fit_logreg(z, train, w, c, full=False)
            res[f"{split}_{norm}"] = T.clip_ua(p[test], test, classes)[0]
    out = {}
    for norm in ("spk", "cold"):
        s = T.score({k[: -len(norm) - 1]: v for k, v in res.items() if k.endswith("_" + norm)})
        out[norm] = {**s, **{k: v for k, v in res.items() if k.endswith("_" + norm)}}
        print(f"{name:14s} {norm:4s} RAV {s['ravdess_cv_mean']:.3f} TESS {res['loco_tess_' + norm]:.3f} "
              f"ASED {res['loco_ased_' + norm]:.3f} URDU {res['loco_urdu_' + norm]:.3f} "
              f"LOCO {s['loco_mean']:.3f} sel {s['selection']:.3f}", flush=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--configs", default="all", help="comma-separated names, or all")
    ap.add_argument("--out", default="corpus_probe.json")
    a = ap.parse_args()
    torch.set_num_threads(2)
    names = list(CONFIGS) if a.configs == "all" else a.configs.split(",")
    pooled = T.load_pooled("raw")
    sec = window_seconds()
    path = os.path.join(T.RESULTS, a.out)
    results = json.load(open(path)) if os.path.exists(path) else {}
    for n in names:
        if CONFIGS[n].get("aug") and not T.AUG:
            print(f"{n}: needs SENTIO_V4_AUG, skipped")
            continue
        results[n] = {"config": {**DEFAULTS, **CONFIGS[n]}, **run(n, CONFIGS[n], pooled, sec)}
        with open(path, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
