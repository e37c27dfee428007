#!/usr/bin/env python3
"""Other ways to fit v7's two heads on the same embedding (issue 8; validation only, not shipped
unless it wins). The model card's item 10.

    SENTIO_V4_CACHE=/tmp/v4-ft-cache SENTIO_V4_AUG=/tmp/v4-aug/cache \
        python3 models/acoustic/v4/head_probe.py --out head_probe.json

Cold head (the whole window's statistics, the global normalisation, the noisy copies at 0.3, as
shipped), two ways to make it ignore who is speaking and through what:
- `nap<k>`: nuisance attribute projection: the k leading directions of the training speakers'
  mean embeddings (RAVDESS's clean windows; `napall<k>`: also TESS's and ASED's speakers where they
  are not held out, their labels unused) projected out before the fit (a linear map, so it would
  fold into the head's weights);
- `ens`: the mean of the whole-window head's and a speech-frame head's probabilities;
- which statistics it reads: `coldstd` the standard deviations alone (a speaker's and a
  channel's static colour sits in the means), `coldmean` the means alone, `coldlogstd` the
  standard deviations as logarithms, `coldspstd` the shipped input and the speech frames'
  standard deviations beside it.
Speaker head (the speech frames' statistics z-normalised per speaker, clean windows, as shipped):
- `C<c>`: the logistic regression's regularisation far below the shipped C = 1 (item 9 tried 0.3
  and 3); as C falls its weights turn towards the class means;
- `lda<l>`: shrinkage linear discriminant analysis (the within-class covariance shrunk by l
  towards a scaled identity; l = 1 is the nearest class mean), its probabilities put on the
  logistic regression's scale (the training windows' logit spread);
- `blend<l>`: the logistic regression's and `lda<l>`'s probabilities averaged.
Scored as every recipe here: clip UA on LOCO and the RAVDESS CV, RAVDESS-only training; the
RAVDESS CV also for its men and its women apart ("cold" and "spk" are the shipped heads).
"""
import argparse
import json
import os
import time

import numpy as np
import torch

import finetune as FT
import train as T

HEAD = {"nap": "cold", "napall": "cold", "ens": "cold", "C": "spk", "lda": "spk", "blend": "spk",
        "coldstd": "cold", "coldmean": "cold", "coldlogstd": "cold", "coldspstd": "cold"}


def cache_embeddings(path):
    """(whole window, speech frames) blocks 1 + 2 statistics of a cache.py cache's windows."""
    pooled = np.load(os.path.join(path, "raw_pooled.npy"))
    whole = np.concatenate([pooled[:, 0], pooled[:, 1]], 1).astype(np.float32)
    speech = np.load(os.path.join(path, "raw_speech_pooled.npy"))
    return whole, speech.reshape(len(whole), -1).astype(np.float32)


def embeddings():
    """`cache_embeddings` of every window, clean then copies."""
    parts = [cache_embeddings(c) for c in [T.CACHE] + ([T.AUG] if T.AUG else [])]
    return tuple(np.concatenate(x) for x in zip(*parts))


def nap_basis(z, rows, k):
    """The k leading directions of the spread of the speakers' mean embeddings (clean rows)."""
    rows = rows & ~T.AUGW
    means = np.stack([z[rows & (T.SPEAKER == s)].mean(0) for s in np.unique(T.SPEAKER[rows])])
    return np.linalg.svd(means - means.mean(0), full_matrices=False)[2][:k].T


def fit_cold(x, train, nap=0, nap_corpora=("ravdess",)):
    """The cold head as shipped (RAVDESS, global statistics, copies at 0.3): (probabilities of
    every window, the globally normalised embedding it read)."""
    rows = train & (T.CORPUS == "ravdess")
    g = FT.global_stats(x, rows)
    z = (x - g[0]) / g[1]
    if nap:
        u = nap_basis(z, train & np.isin(T.CORPUS, nap_corpora), nap)
        z = z - (z @ u) @ u.T
    return T.fit_logreg(z, rows, T.corpus_weights(rows, ["ravdess"], None, 0.3, False), 1.0)[0], z


def cold_input(whole, speech, kind):
    """The cold head's input for the `cold<stats>` variants (each half is block 1's then block
    2's mean ‖ std)."""
    d = whole.shape[1] // 4
    std = np.r_[d:2 * d, 3 * d:4 * d]
    if kind == "coldstd":
        return whole[:, std]
    if kind == "coldmean":
        return whole[:, np.r_[0:d, 2 * d:3 * d]]
    if kind == "coldspstd":
        return np.concatenate([whole, speech[:, std]], 1)
    x = whole.copy()
    x[:, std] = np.log(x[:, std] + 1e-4)
    return x


def lda_logits(z, rows, shrink):
    """Shrinkage LDA's discriminant (logits) on standardised `z`, fitted on `rows`."""
    z64, y = z.astype(np.float64), T.LABEL[rows]
    mus = np.stack([z64[rows][y == k].mean(0) for k in range(8)])
    xc = z64[rows] - mus[y]
    s = xc.T @ xc / len(xc)
    s = (1 - shrink) * s + shrink * np.trace(s) / len(s) * np.eye(len(s))
    w = mus @ np.linalg.inv(s)
    b = -0.5 * np.einsum("kd,kd->k", w, mus) + np.log(np.bincount(y, minlength=8) / len(y))
    return z64 @ w.T + b


def softmax(a):
    e = np.exp(a - a.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def fit_spk(zspk, train, kind, value):
    rows = train & (T.CORPUS == "ravdess") & ~T.AUGW
    w = T.corpus_weights(rows, ["ravdess"], None, 0.0, False)
    p, lin, mu, sd = T.fit_logreg(zspk, rows, w, value if kind == "C" else 1.0)
    if kind == "C":
        return p
    zs = (zspk - mu) / sd
    with torch.no_grad():
        l1 = lin(torch.from_numpy(zs.astype(np.float32))).numpy()
    l2 = lda_logits(zs, rows, value)
    p2 = softmax(l2 * (l1[rows].std() / l2[rows].std()))
    return p2 if kind == "lda" else 0.5 * (p + p2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", default="cold,nap4,nap8,nap15,napall8,napall30,ens,coldstd,coldmean,"
                                          "coldlogstd,coldspstd,spk,C0.001,C0.01,C0.1,lda0.3,lda0.9,lda1,"
                                          "blend0.97")
    ap.add_argument("--out", default="head_probe.json")
    a = ap.parse_args()
    t0 = time.time()
    whole, speech = embeddings()
    zspk = T.speaker_z(speech)
    out = os.path.join(T.RESULTS, a.out)
    res = {}
    if os.path.exists(out):  # a run of some variants adds to (or replaces) theirs
        with open(out) as f:
            res = json.load(f)
    base_cold = {}
    for v in a.variants.split(","):
        kind = v.rstrip("0123456789.")
        value = float(v[len(kind):]) if v != kind else 0.0
        per, by_sex = {}, {}
        for name, train, test, classes in T.splits():
            if v == "cold":
                p = base_cold[name] = fit_cold(whole, train)[0]
            elif v == "spk":
                p = fit_spk(zspk, train, "C", 1.0)
            elif kind in ("nap", "napall"):
                corpora = ("ravdess", "tess", "ased") if kind == "napall" else ("ravdess",)
                p = fit_cold(whole, train, int(value), corpora)[0]
            elif kind.startswith("cold"):
                p = fit_cold(cold_input(whole, speech, kind), train)[0]
            elif kind == "ens":
                shipped = base_cold[name] if name in base_cold else fit_cold(whole, train)[0]
                p = 0.5 * (shipped + fit_cold(speech, train)[0])
            else:
                p = fit_spk(zspk, train, kind, value)
            per[name] = T.clip_ua(p[test], test, classes)[0]
            if name.startswith("ravdess"):
                # RAVDESS's odd actors are men, its even ones women.
                for sex, odd in (("men", 1), ("women", 0)):
                    t = test & (T.ACTOR % 2 == odd)
                    by_sex.setdefault(sex, []).append(T.clip_ua(p[t], t, classes)[0])
        s = T.score(per)
        res[v] = {"head": HEAD.get(kind, v), "per_split": per, **s,
                  "ravdess_cv_by_sex": {k: float(np.mean(x)) for k, x in by_sex.items()}}
        print(f"== {v}: selection {s['selection']:.3f} (LOCO {s['loco_mean']:.3f}, RAV {s['ravdess_cv_mean']:.3f}) "
              + " ".join(f"{n.replace('ravdess_fold', 'f')}={x:.3f}" for n, x in per.items())
              + " RAVDESS " + " ".join(f"{k} {np.mean(x):.3f}" for k, x in by_sex.items()),
              f"({time.time() - t0:.0f} s)", flush=True)
        with open(out, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
