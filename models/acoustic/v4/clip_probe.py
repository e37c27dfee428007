#!/usr/bin/env python3
"""Why the issue's probe beats the shipped model: whole clips versus 2.5 s windows, blocks,
training corpora and regularisation, all as linear probes on frozen Whisper tiny.en.

    python3 models/acoustic/v4/clip_probe.py --feat /tmp/rust-feat --windows /tmp/v4-ft-cache

anchor_probe.py reproduces the issue's probe (RAVDESS only, block 2, whole clip, speaker-z,
logistic regression C = 1): RAVDESS CV 80.5 %, TESS / ASED / URDU 54.6 / 53.6 / 26.5 % with
speaker statistics, above the shipped v5 (76.2; LOCO 43.4 / 44.9 / 26.7). This script varies one
thing at a time, on two protocols:

- "rav": trained on RAVDESS only (CV folds; RAVDESS 1-20 for the other corpora), as the probe.
  (Which corpora to train on is corpus_probe.py's question: it has the per-corpus class mask
  that training on several corpora needs, which `splits("multi")` here lacks.)

Inputs per clip: "clip" (the encoder over the clip's whole length, mean ‖ std over its frames),
"trim" (the same from 25 frames before the first to 25 after the last voiced frame), "winmean"
(the mean of the clip's 2.5 s window embeddings from the window cache), and "win" (each window
classified, the clip's probabilities averaged: the shipped model's decision). Writes
results/clip_probe.json.
"""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

import data as D
from encoder import WhisperStem

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.join(HERE, "..", "..", "whisper", "tiny.en", "model.bin")


def embed_clips(feat_dir, clips, trim):
    enc = WhisperStem.from_ct2(BIN, n_blocks=4).eval()
    out = np.zeros((len(clips), 4, 768), np.float32)
    for i, c in enumerate(clips):
        x, vo = D.load(feat_dir, c)
        if trim and vo.any():
            v = np.where(vo)[0]
            x = x[max(0, v[0] - 25): v[-1] + 26]
        x = x[:3000]
        x = (np.maximum(x, x.max() - 8.0) + 4.0) / 4.0
        with torch.no_grad():
            hs = enc(torch.from_numpy(x[None].astype(np.float32)), return_all=True)
        for b, h in enumerate(hs):
            out[i, b, :384], out[i, b, 384:] = h[0].mean(0).numpy(), h[0].std(0).numpy()
    return out


def logreg(x, y, w, c):
    """Weighted multinomial logistic regression (sum of w * NLL, w summing to the row count, plus
    ||W||^2 / 2C) on standardised x; returns a function giving logits."""
    mu, sd = x.mean(0), x.std(0) + 1e-8
    xt = torch.from_numpy((x - mu) / sd).double()
    yt = torch.from_numpy(y)
    wt = torch.from_numpy(w / w.sum() * len(w)).double()
    W = torch.zeros(x.shape[1], 8, dtype=torch.float64, requires_grad=True)
    B = torch.zeros(8, dtype=torch.float64, requires_grad=True)
    present = torch.zeros(8, dtype=torch.bool)
    present[np.unique(y)] = True
    opt = torch.optim.LBFGS([W, B], lr=1, max_iter=500, tolerance_grad=1e-7, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        lo = (xt @ W + B).masked_fill(~present, -1e9)
        loss = (F.cross_entropy(lo, yt, reduction="none") * wt).sum() + (W ** 2).sum() / (2 * c)
        loss.backward()
        return loss

    opt.step(closure)
    Wd, Bd = W.detach(), B.detach()
    return lambda z: (torch.from_numpy((z - mu) / sd).double() @ Wd + Bd).numpy()


def ua(y, p, classes):
    return float(np.mean([(p[y == k] == k).mean() for k in classes if (y == k).any()]))


def corpus_weights(corpus, rows):
    w = np.zeros(len(corpus))
    for c in np.unique(corpus[rows]):
        m = rows & (corpus == c)
        w[m] = 1.0 / m.sum()
    return w[rows]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--feat", default="/tmp/rust-feat")
    ap.add_argument("--windows", default="/tmp/v4-ft-cache")
    ap.add_argument("--out", default="clip_probe.json")
    a = ap.parse_args()
    torch.set_num_threads(2)
    clips = D.clips()
    corpus = np.array([c.corpus for c in clips])
    y = np.array([c.label for c in clips])
    spk = np.array([c.speaker for c in clips])
    actor = np.array([int(s.split(":")[1]) if s.startswith("ravdess:") else 0 for s in spk])
    cc = D.corpus_classes(clips)
    feats = {}
    for kind in ("clip", "trim"):
        path = f"/tmp/clip-emb-{kind}.npy"
        if not os.path.exists(path):
            np.save(path, embed_clips(a.feat, clips, kind == "trim"))
        feats[kind] = np.load(path)
    with open(os.path.join(a.windows, "meta.json")) as f:
        wclip = np.array(json.load(f)["clip"])
    wpool = np.load(os.path.join(a.windows, "raw_pooled.npy"))
    has_win = np.bincount(wclip, minlength=len(clips)) > 0
    wm = np.zeros((len(clips), 4, 768), np.float32)
    for b in range(2):
        for d in range(768):
            wm[:, b, d] = np.bincount(wclip, weights=wpool[:, b, d], minlength=len(clips)) / np.maximum(
                np.bincount(wclip, minlength=len(clips)), 1)
    feats["winmean"] = wm

    def splits(protocol):
        out = []
        for k in range(5):
            test = (corpus == "ravdess") & (actor >= 4 * k + 1) & (actor <= 4 * k + 4)
            train = (corpus == "ravdess") & ~test if protocol == "rav" else ~test
            out.append((f"ravdess_fold{k}", train, test))
        for held in ("tess", "ased", "urdu"):
            train = corpus == "ravdess" if protocol == "rav" else corpus != held
            out.append((f"loco_{held}", train, corpus == held))
        return out

    def run(kind, blocks, protocol, norm, c):
        res = {}
        if kind == "win":
            x = np.concatenate([wpool[:, b - 1] for b in blocks], 1)
            wspk = spk[wclip]
            x = D.speaker_z(x, wspk) if norm == "spk" else x
            for name, train, test in splits(protocol):
                tr = train[wclip] & has_win[wclip]
                # Every clip weighs the same (its windows share it); corpora as the protocol.
                n = np.bincount(wclip[tr], minlength=len(clips))
                w = 1.0 / n[wclip[tr]] * corpus_weights(corpus, train & has_win)[
                    np.searchsorted(np.where(train & has_win)[0], wclip[tr])]
                f = logreg(x[tr], y[wclip[tr]], w, c)
                te = test[wclip]
                lo = f(x[te])
                p = np.exp(lo - lo.max(1, keepdims=True))
                p /= p.sum(1, keepdims=True)
                cls = cc[name.split("_")[-1]] if name.startswith("loco") else list(range(8))
                pc = np.zeros((len(clips), 8))
                np.add.at(pc, wclip[te], p)
                tc = test & has_win
                res[name] = ua(y[tc], np.array(cls)[pc[tc][:, cls].argmax(1)], cls)
        else:
            x = np.concatenate([feats[kind][:, b - 1] for b in blocks], 1)
            x = D.speaker_z(x, spk) if norm == "spk" else x
            for name, train, test in splits(protocol):
                tr = train & has_win if kind == "winmean" else train
                f = logreg(x[tr], y[tr], corpus_weights(corpus, tr), c)
                te = test & has_win if kind == "winmean" else test
                cls = cc[name.split("_")[-1]] if name.startswith("loco") else list(range(8))
                res[name] = ua(y[te], np.array(cls)[f(x[te])[:, cls].argmax(1)], cls)
        rav = np.mean([res[f"ravdess_fold{k}"] for k in range(5)])
        loco = np.mean([res[f"loco_{h}"] for h in ("tess", "ased", "urdu")])
        res.update(ravdess_cv=float(rav), loco_mean=float(loco), selection=float((rav + loco) / 2))
        return res

    grid = [(kind, (2,), "rav", 1.0) for kind in ("clip", "trim", "winmean", "win")]
    grid += [("clip", blocks, "rav", 1.0) for blocks in ((1,), (3,), (4,), (1, 2), (2, 3))]
    grid += [("clip", (2,), "rav", 0.1)]
    out = {}
    for kind, blocks, protocol, c in grid:
        for norm in ("spk", "raw"):
            key = f"{protocol}_{kind}_b{'+'.join(map(str, blocks))}_C{c:g}_{norm}"
            r = run(kind, blocks, protocol, norm, c)
            out[key] = r
            print(f"{key:34s} RAV {r['ravdess_cv']:.3f} TESS {r['loco_tess']:.3f} ASED {r['loco_ased']:.3f} "
                  f"URDU {r['loco_urdu']:.3f} LOCO {r['loco_mean']:.3f} sel {r['selection']:.3f}", flush=True)
            with open(os.path.join(HERE, "results", a.out), "w") as f:
                json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
