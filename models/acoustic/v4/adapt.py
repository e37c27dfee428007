#!/usr/bin/env python3
""""Learn my voice": how much a few labelled clips of one person help, on speakers never trained on.

    SENTIO_V4_AUG=/tmp/v4-aug/cache python3 models/acoustic/v4/adapt.py --mix 0.5 --temperature T

For every split (LOCO and RAVDESS CV; the head trained on its training side exactly as `train.py
linear`), each test speaker gives k = 1, 2, 4 clips of every class they have (drawn at random;
three draws) and is tested on their *other* clips. The speaker's embedding statistics come from the
adaptation clips alone (the only speech of theirs the tool has; mixed with `prior` seconds of the
global ones as live). Compared, on the same draws:

- none: the shipped head with those statistics (what the adaptation clips give without labels);
- bias: a per-class offset b added to the calibrated log-probabilities, fitted by cross-entropy on
  the adaptation windows (each clip weighing the same) with an L2 penalty lam * |b|^2 — what
  `sentio adapt` fits in Rust (plugin/src/emotion/adaptation.rs);
- last: the linear layer itself fine-tuned from the shipped weights with the penalty on the change.

The penalty is chosen on the mean of the LOCO mean and the RAVDESS CV mean, over k (validation,
as every recipe here); run_all.sh runs three grids (0.001, 0.01 → adapt.json; 0.03, 0.1, 0.3 →
adapt_more.json; 1, 3 → adapt_wide.json). RAVDESS actors have 4 neutral clips, so k = 4 leaves none to test on there:
RAVDESS has k = 1 and 2 only.

`--saved DIR` reads finetune.py's per-split models instead (saved.py): the correction is added
to the model's calibrated logits (for two-head models the blend at the speaker weight of the
adaptation clips' seconds), as `sentio adapt` adds it to the calibrated log-probabilities.
"""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

import saved as S
import train as T
from speaker_time import mixture, window_seconds

DRAWS = 3


def fit_offsets(z, y, w, base, lam, last, mask, steps=150):
    """Cross-entropy of softmax(base + z dW^T + db) over the classes in `mask` (those the clips
    teach; the others keep their offset 0) on windows z with labels y, weights w; `base`: the
    model's calibrated logits of the same windows (for one linear head, z W^T + b: fine-tuning that
    layer from the shipped weights). Returns (dW, db): what `sentio adapt` fits in Rust."""
    z, y, w = torch.from_numpy(z).float(), torch.from_numpy(y), torch.from_numpy(w).float()
    base = torch.from_numpy(base).float()
    keep = torch.from_numpy(mask)
    d_b = torch.zeros(8, requires_grad=True)
    d_W = torch.zeros(8, z.shape[1], requires_grad=True)
    params = [d_b] + ([d_W] if last else [])
    opt = torch.optim.LBFGS(params, lr=0.5, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        lo = (base + z @ d_W.T + d_b).masked_fill(~keep, -1e9)
        loss = (F.cross_entropy(lo, y, reduction="none") * w).sum() / w.sum()
        loss = loss + lam * (d_b[keep] ** 2).sum() + lam * (d_W ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    d_b.data[~keep] = 0.0
    return d_W.detach().numpy(), d_b.detach().numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", default="emb")
    ap.add_argument("--blocks", default="1+2")
    ap.add_argument("--wd", type=float, default=3e-2)
    ap.add_argument("--mix", type=float, default=0.5)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--prior", type=float, default=10.0)
    ap.add_argument("--lams", default="0.001,0.01")
    ap.add_argument("--out", default="adapt.json")
    ap.add_argument("--saved", default="", help="finetune.py's per-split models instead of refitting train.py linear")
    ap.add_argument("--temperatures", default="1,1", help="--saved: the speaker head's and the cold head's")
    a = ap.parse_args()
    lams = [float(v) for v in a.lams.split(",")]
    ks = [1, 2, 4]
    sec = window_seconds()
    base = T.pooled_of(a.variant[3:] or "raw", a)
    rng = np.random.default_rng(T.SEED)
    res = {}
    for name, train, test, classes in T.splits():
        if a.saved:
            model = S.SplitModel(a.saved, name)
            base = model.embeddings()
            g_m, g_v = model.g_mean, model.g_std ** 2
            temps = [float(t) for t in a.temperatures.split(",")]

            def inputs(e, m, sdv, w):
                """(what the speaker head reads, the model's calibrated logits)."""
                return model.head_input(e, m, sdv), model.logits(e, m, sdv, w, *temps)
        else:
            x, xr, _ = T.embedding_inputs(a, train)
            _, lin, mu, sd = T.fit_linear(x, train, wd=a.wd, full=True, aug=xr, p_aug=a.mix)
            # The calibrated logits: (z W^T + b) / T.
            W = lin.weight.detach().numpy().astype(np.float64) / a.temperature
            b = lin.bias.detach().numpy().astype(np.float64) / a.temperature
            g_m, g_v = base[train].mean(0), (base[train].std(0) + 1e-5) ** 2

            def inputs(e, m, sdv, w):
                z = ((e - m) / sdv - mu) / sd
                return z, z @ W.T + b
        mask = np.array([i in classes for i in range(8)])
        test_idx = np.where(test)[0]
        spk_of = T.SPEAKER[test_idx]
        r = {}
        for k in ks:
            scores: dict[str, list] = {}
            for d in range(DRAWS):
                dec: dict[str, list] = {}
                for s in np.unique(spk_of):
                    widx = test_idx[spk_of == s]
                    clips = np.unique(T.WCLIP[widx])
                    by_class: dict[int, list] = {}
                    for c in rng.permutation(clips):
                        by_class.setdefault(T.CLIPS[c].label, []).append(c)
                    # Only speakers with at least k + 1 clips of every class they have take part.
                    if any(len(v) <= k for v in by_class.values()):
                        continue
                    heard = [c for v in by_class.values() for c in v[:k]]
                    hw = widx[np.isin(T.WCLIP[widx], heard)]
                    # Clips with no voiced second teach nothing (URDU has such speakers).
                    if sec[hw].sum() <= 0:
                        continue
                    wt = sec[hw] / sec[hw].sum()
                    m_s = (base[hw] * wt[:, None]).sum(0)
                    v_s = (((base[hw] - m_s) ** 2) * wt[:, None]).sum(0)
                    heard_s = sec[hw].sum()
                    m, sdv = mixture(m_s, v_s, heard_s, g_m, g_v, a.prior)
                    z, lo0 = inputs(base[widx], m, sdv, heard_s / (heard_s + a.prior))
                    a_rows = np.isin(T.WCLIP[widx], heard)
                    n_win = np.bincount(T.WCLIP[widx][a_rows])
                    w_clip = 1.0 / n_win[T.WCLIP[widx][a_rows]]
                    y = np.array([T.CLIPS[c].label for c in T.WCLIP[widx][a_rows]])
                    seen = np.array([i in by_class for i in range(8)])
                    heads = {"none": (np.zeros((8, z.shape[1])), np.zeros(8))}
                    for lam in lams:
                        heads[f"bias_lam{lam:g}"] = fit_offsets(z[a_rows], y, w_clip, lo0[a_rows], lam, False, seen)
                        heads[f"last_lam{lam:g}"] = fit_offsets(z[a_rows], y, w_clip, lo0[a_rows], lam, True, seen)
                    rest = ~a_rows
                    for hname, (dW, db) in heads.items():
                        lo = lo0[rest] + z[rest] @ dW.T + db
                        lo = np.where(mask, lo, -1e9)
                        p = np.exp(lo - lo.max(1, keepdims=True))
                        p /= p.sum(1, keepdims=True)
                        for c in np.unique(T.WCLIP[widx][rest]):
                            pm = p[T.WCLIP[widx][rest] == c].mean(0)
                            dec.setdefault(hname, []).append((T.CLIPS[c].label, int(np.argmax(pm))))
                for hname, pairs in dec.items():
                    yt = np.array([p[0] for p in pairs])
                    yp = np.array([p[1] for p in pairs])
                    ua = float(np.mean([(yp[yt == c] == c).mean() for c in classes if (yt == c).any()]))
                    scores.setdefault(hname, []).append(ua)
            for hname, v in scores.items():
                r[f"k{k}_{hname}"] = float(np.mean(v))
        res[name] = r
        print(name, json.dumps({kk: round(v, 3) for kk, v in r.items()}), flush=True)
    keys = sorted({kk for r in res.values() for kk in r})

    def summary(kk):
        loco = [res[f"loco_{c}"][kk] for c in ("tess", "ased", "urdu") if kk in res[f"loco_{c}"]]
        rav = [res[f"ravdess_fold{i}"][kk] for i in range(5) if kk in res[f"ravdess_fold{i}"]]
        return {"loco_mean": float(np.mean(loco)) if loco else None, "loco_splits": len(loco),
                "ravdess_cv_mean": float(np.mean(rav)) if rav else None}
    summ = {kk: summary(kk) for kk in keys}
    for kk, v in summ.items():
        print(f"{kk:22s} LOCO {v['loco_mean']} ({v['loco_splits']} corpora) RAV {v['ravdess_cv_mean']}")
    out = {"per_split": res, "summary": summ, "config": vars(a)}
    with open(os.path.join(T.RESULTS, a.out), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
