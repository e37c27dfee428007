#!/usr/bin/env python3
"""Item 14: a class prior learnt across corpora. Each head's logits plus a bias of 8 numbers fitted
on the labelled windows of corpora other than the one it is scored on, the head itself unchanged.

    target/release/sentio features --list /tmp/v4-clips.txt --out /tmp/rust-feat
    python3 models/acoustic/v4/prior_probe.py --feat /tmp/rust-feat     # -> v4/results/prior_probe.json

Needs numpy, scipy and onnxruntime only (no torch): the windows' embeddings and both heads'
probabilities come from the exported graph (`sentio-ser.onnx`) through onnxruntime, the windows as
cache.py and `sentio eval` cut them.

Why: the shipped heads learn RAVDESS's prior along with its voices; off RAVDESS the model almost
never says neutral (item 13). Training whole heads on the other corpora lost (item 3); a bias is
8 parameters, too few to learn a corpus's voices, enough to move where the decision falls.

Protocol (validation only, the rule of the other items): LOCO: the shipped heads (trained on
RAVDESS 1-20) on TESS, ASED and URDU, the bias fitted on the other two ("others"), or on those and
RAVDESS 1-20, the heads' own training windows ("anchored"); RAVDESS CV: each fold's heads
refitted here as finetune.py fits the speaker head (the speech half, each speaker's statistics,
logistic regression C = 1, RAVDESS training actors only), the cold head the same on the
whole-window half with the global statistics and without the noisy copies (which need the torch
pipeline's caches), and the bias fitted on TESS, ASED and URDU (anchored: and the fold's 16
training actors). Variants: calm's offset free or tied to neutral's, each clip or each class the
same weight, the penalty λ. Decisions as `sentio eval` makes them now: window probabilities
averaged over the clip, argmax over the corpus's classes, calm counted as neutral where a corpus
has neutral and no calm (the fit does the same).
"""
import argparse
import json
import os
import time

import numpy as np
import onnxruntime as ort
from scipy.optimize import minimize
from scipy.special import logsumexp

import data as D

HERE = os.path.dirname(os.path.abspath(__file__))
NEUTRAL, CALM = 0, 1


class Graph:
    def __init__(self, onnx_path):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = os.cpu_count() or 1
        self.s = ort.InferenceSession(onnx_path, opts, providers=["CPUExecutionProvider"])
        with open(onnx_path[: -len(".onnx")] + ".json") as f:
            self.side = json.load(f)
        n = self.side["normalization"]
        self.f_mean, self.f_std = np.array(n["global_mean"], np.float32), np.array(n["global_std"], np.float32)
        e = self.side["embedding"]
        self.e_mean, self.e_std = np.array(e["global_mean"], np.float32), np.array(e["global_std"], np.float32)

    def run(self, xs, mean=None, std=None, weight=0.0):
        feed = {"features": ((np.stack(xs) - self.f_mean) / self.f_std).astype(np.float32),
                "speaker_mean": self.e_mean if mean is None else mean.astype(np.float32),
                "speaker_std": self.e_std if std is None else std.astype(np.float32),
                "speaker_weight": np.array([weight], np.float32)}
        return self.s.run(["probs", "embedding"], feed)


def windows(feat_dir, clips):
    """[(clip index, window frames)] of every clip at least MIN frames long."""
    out = []
    for i, c in enumerate(clips):
        x, vo = D.load(feat_dir, c)
        if len(x) < D.MIN:
            continue
        out += [(i, x[s:e]) for s, e in D.window_starts(len(x), vo)]
    return out


def batches(wins, idx, batch=64):
    """The windows `idx` of `wins` in batches of equal length (the graph takes one length per
    run): (their indices, their frames)."""
    by_len = {}
    for j in idx:
        by_len.setdefault(len(wins[j][1]), []).append(j)
    for ws in by_len.values():
        for k in range(0, len(ws), batch):
            chunk = ws[k : k + batch]
            yield chunk, [wins[j][1] for j in chunk]


def embed(g, wins):
    """Every window's cold-start probabilities and embedding (speaker weight 0)."""
    probs = np.zeros((len(wins), 8), np.float32)
    emb = np.zeros((len(wins), len(g.e_mean)), np.float32)
    for chunk, xs in batches(wins, range(len(wins))):
        probs[chunk], emb[chunk] = g.run(xs)
    return probs, emb


def speaker_probs(g, wins, emb, speaker):
    """Every window's probabilities with its speaker's embedding statistics (weight 1), as
    `sentio eval --normalize speaker` runs them."""
    probs = np.zeros((len(wins), 8), np.float32)
    for s in np.unique(speaker):
        idx = np.where(speaker == s)[0]
        m, sd = emb[idx].mean(0), emb[idx].std(0)
        for chunk, xs in batches(wins, idx):
            probs[chunk] = g.run(xs, m, sd, 1.0)[0]
    return probs


# --- the bias ---------------------------------------------------------------------------------

def folded_logp(logits, classes):
    """Log-probabilities over `classes` (indices) as the decision sees them: softmax over the
    classes and, where neutral is present and calm is not, calm's share added to neutral's."""
    cls = list(classes)
    fold = NEUTRAL in cls and CALM not in cls
    keep = cls + ([CALM] if fold else [])
    z = logits[:, keep]
    lp = z - logsumexp(z, 1, keepdims=True)
    if fold:
        lp[:, cls.index(NEUTRAL)] = np.logaddexp(lp[:, cls.index(NEUTRAL)], lp[:, -1])
        lp = lp[:, :-1]
    return lp


def fit_bias(logits, labels, corpus, clip, classes_of, lam, balance, tie=False):
    """argmin_b sum_w weight_w * -log p(y_w | logits_w + b) + lam * |b|^2 over windows of the
    corpora in `corpus`'s set: each corpus an equal share, within it each clip the same weight
    (`balance`: each class the same total weight, as UA counts them). `tie`: calm's offset is
    neutral's (corpora without calm cannot say how the two differ, so they move them together)."""
    groups = []
    for c in np.unique(corpus):
        rows = np.where(corpus == c)[0]
        per_clip = 1.0 / np.bincount(clip[rows])[clip[rows]]
        w = per_clip / per_clip.sum()
        if balance:
            for k in np.unique(labels[rows]):
                m = labels[rows] == k
                w[m] /= w[m].sum() * len(np.unique(labels[rows]))
        cls = classes_of[c]
        y = np.array([cls.index(k) for k in labels[rows]])
        groups.append((logits[rows], y, w / w.sum(), cls))

    def f(b):
        loss, grad = lam * (b @ b), 2 * lam * b
        for z, y, w, cls in groups:
            zb = z + b
            lp = folded_logp(zb, cls)
            loss -= (w * lp[np.arange(len(y)), y]).sum() / len(groups)
            # d/db of -log p_y: softmax over the kept classes minus the target's share.
            keep = list(cls) + ([CALM] if NEUTRAL in cls and CALM not in cls else [])
            p = np.exp(zb[:, keep] - logsumexp(zb[:, keep], 1, keepdims=True))
            t = np.zeros_like(p)
            t[np.arange(len(y)), y] = 1.0
            if len(keep) > len(cls):  # the target neutral's mass splits between neutral and calm
                ny = np.array(cls)[y] == NEUTRAL
                pn, pc = p[ny, cls.index(NEUTRAL)], p[ny, -1]
                t[ny, cls.index(NEUTRAL)] = pn / (pn + pc)
                t[ny, -1] = pc / (pn + pc)
            gk = ((p - t) * w[:, None]).sum(0) / len(groups)
            np.add.at(grad, keep, gk)
        return loss, grad

    if not tie:
        return minimize(f, np.zeros(8), jac=True, method="L-BFGS-B").x
    M = np.eye(8)[:, [k for k in range(8) if k != CALM]]
    M[CALM, NEUTRAL] = 1.0

    def f_tied(b7):
        loss, grad = f(M @ b7)
        return loss, M.T @ grad

    return M @ minimize(f_tied, np.zeros(7), jac=True, method="L-BFGS-B").x


def clip_ua(probs, labels, clip, classes):
    """UA over `classes` of clip decisions: window probabilities averaged, calm folded."""
    cls = list(classes)
    fold = NEUTRAL in cls and CALM not in cls
    ys, ds = [], []
    for c in np.unique(clip):
        m = probs[clip == c].mean(0)
        if fold:
            m = m.copy()
            m[NEUTRAL] += m[CALM]
        ys.append(labels[clip == c][0])
        ds.append(cls[int(np.argmax(m[cls]))])
    ys, ds = np.array(ys), np.array(ds)
    rec = {D.CLASSES[k]: float((ds[ys == k] == k).mean()) for k in cls if (ys == k).any()}
    return float(np.mean(list(rec.values()))), rec


def softmax(z):
    return np.exp(z - logsumexp(z, 1, keepdims=True))


# --- the RAVDESS folds' heads, refitted ---------------------------------------------------------

def fit_logreg(x, y, w, c=1.0):
    """finetune.py's logistic regression (train.py fit_logreg): standardised columns, weighted
    multinomial NLL (weights scaled to sum to the row count) + |W|^2 / 2C, L-BFGS."""
    mu, sd = x.mean(0), x.std(0) + 1e-5
    xs = (x - mu) / sd
    n, d = xs.shape
    w = w / w.sum() * n
    Y = np.eye(8)[y]
    present = np.isin(np.arange(8), np.unique(y))

    def f(theta):
        W, b = theta[: 8 * d].reshape(8, d), theta[8 * d :]
        z = xs @ W.T + b
        z[:, ~present] = -1e9
        lse = logsumexp(z, 1)
        loss = (w * (lse - (z * Y).sum(1))).sum() + (W ** 2).sum() / (2 * c)
        p = np.exp(z - lse[:, None]) - Y
        p *= w[:, None]
        return loss, np.concatenate([(p.T @ xs + W / c).ravel(), p.sum(0)])

    r = minimize(f, np.zeros(8 * d + 8), jac=True, method="L-BFGS-B", options={"maxiter": 300})
    return Linear(mu, sd, r.x[: 8 * d].reshape(8, d), r.x[8 * d :])


class Linear:
    """A fitted head: logits of rows `z` (its own standardisation, then the layer)."""

    def __init__(self, mu, sd, W, b):
        self.mu, self.sd, self.W, self.b = mu, sd, W, b

    def __call__(self, z):
        return ((z - self.mu) / self.sd) @ self.W.T + self.b


def fold_logits(emb, label, wclip, corpus, speaker, actor):
    """Each RAVDESS fold's two heads refitted on its 16 training actors: their logits on every
    window, [5, 2 (spk, cold), windows, 8]."""
    half = emb.shape[1] // 2
    spk_x = D.speaker_z(emb[:, :half], speaker)
    out = np.zeros((5, 2, len(emb), 8), np.float32)
    for k in range(5):
        test = (actor >= 4 * k + 1) & (actor <= 4 * k + 4)
        train = (corpus == "ravdess") & ~test
        per_clip = 1.0 / np.bincount(wclip[train])[wclip[train]]
        gm, gs = emb[train, half:].mean(0), emb[train, half:].std(0) + 1e-5
        for h, x in enumerate((spk_x, (emb[:, half:] - gm) / gs)):
            out[k, h] = fit_logreg(x[train], label[train], per_clip)(x)
        print(f"fold {k} refitted", flush=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--feat", default="/tmp/rust-feat")
    ap.add_argument("--model", default=os.path.join(HERE, "..", "sentio-ser.onnx"))
    ap.add_argument("--cache", default="/tmp/prior-probe", help="folder for the windows' outputs")
    ap.add_argument("--lams", default="0,0.001,0.01,0.1")
    ap.add_argument("--out", default="prior_probe.json")
    a = ap.parse_args()
    clips = D.clips()
    os.makedirs(a.cache, exist_ok=True)
    win_path, fold_path = os.path.join(a.cache, "windows.npz"), os.path.join(a.cache, "folds.npy")
    if os.path.exists(win_path):
        z = np.load(win_path)
        wclip, cold_p, spk_p, emb = z["clip"], z["cold"], z["spk"], z["emb"]
    else:
        t0 = time.time()
        g = Graph(a.model)
        wins = windows(a.feat, clips)
        wclip = np.array([i for i, _ in wins])
        cold_p, emb = embed(g, wins)
        print(f"{len(wins)} windows embedded in {time.time() - t0:.0f} s", flush=True)
        spk_p = speaker_probs(g, wins, emb, np.array([clips[i].speaker for i in wclip]))
        print(f"speaker pass done at {time.time() - t0:.0f} s", flush=True)
        np.savez(win_path, clip=wclip, cold=cold_p, spk=spk_p, emb=emb)
    corpus = np.array([clips[i].corpus for i in wclip])
    label = np.array([clips[i].label for i in wclip])
    speaker = np.array([clips[i].speaker for i in wclip])
    actor = np.array([int(s.split(":")[1]) if s.startswith("ravdess:") else 0 for s in speaker])
    if os.path.exists(fold_path):
        folds = np.load(fold_path)
    else:
        folds = fold_logits(emb, label, wclip, corpus, speaker, actor)
        np.save(fold_path, folds)
    cc = D.corpus_classes(clips)
    lams = [float(v) for v in a.lams.split(",")]
    others = ("tess", "ased", "urdu")
    # A variant: which windows fit the bias (the other corpora; or they and the head's own
    # RAVDESS training windows, which anchor it), calm tied to neutral or not, clip or class
    # weights, the penalty.
    variants = [("none", None)] + [
        (f"{fit}{'_tied' if tie else ''}_{'balanced' if bal else 'clips'}_lam{lam}", (fit, tie, bal, lam))
        for fit in ("others", "anchored") for tie in (False, True) for bal in (False, True) for lam in lams]
    out = {"protocol": __doc__.split("Protocol")[1].strip(), "loco": {}, "ravdess_cv": {}, "bias": {}}

    def score(head, split, logits, fit_rows, test_rows, classes):
        res = {}
        for name, v in variants:
            b = np.zeros(8)
            if v is not None:
                fit, tie, bal, lam = v
                rows = fit_rows[fit]
                b = fit_bias(logits[rows], label[rows], corpus[rows], wclip[rows], cc, lam, bal, tie)
                out["bias"].setdefault(head, {}).setdefault(split, {})[name] = [round(float(x), 3) for x in b]
            res[name] = clip_ua(softmax(logits[test_rows] + b), label[test_rows], wclip[test_rows], classes)[0]
        return res

    # LOCO: the shipped heads (log-probabilities serve as logits: softmax is shift-invariant); the
    # anchor is their own training windows, RAVDESS 1-20.
    for head, p in (("spk", spk_p), ("cold", cold_p)):
        lg = np.log(np.maximum(p, 1e-12))
        for held in others:
            rest = np.isin(corpus, [c for c in others if c != held])
            fit_rows = {"others": rest, "anchored": rest | (corpus == "ravdess")}
            out["loco"].setdefault(head, {})[held] = score(head, held, lg, fit_rows, corpus == held, cc[held])
    # RAVDESS CV: fold k tests actors 4k+1..4k+4 with its refitted heads; the anchor is its 16 actors.
    for k in range(5):
        test = (actor >= 4 * k + 1) & (actor <= 4 * k + 4)
        rest = corpus != "ravdess"
        fit_rows = {"others": rest, "anchored": rest | ((corpus == "ravdess") & ~test)}
        for h, head in enumerate(("spk", "cold")):
            out["ravdess_cv"].setdefault(head, {})[f"fold{k}"] = score(head, f"fold{k}", folds[k, h], fit_rows,
                                                                       test, cc["ravdess"])

    # The rule: mean of the LOCO mean and the RAVDESS CV mean, per head and variant.
    summary = {}
    for head in ("spk", "cold"):
        for name, _ in variants:
            ua = [out["loco"][head][c][name] for c in others]
            cv = np.mean([out["ravdess_cv"][head][f"fold{k}"][name] for k in range(5)])
            summary.setdefault(head, {})[name] = {
                "tess_ased_urdu": [round(100 * v, 1) for v in ua], "loco_mean": round(100 * float(np.mean(ua)), 2),
                "ravdess_cv": round(100 * float(cv), 2), "selection": round(100 * float(np.mean(ua) + cv) / 2, 2)}
            print(head, name, summary[head][name], flush=True)
    out["summary"] = summary
    with open(os.path.join(HERE, "results", a.out), "w") as fh:
        json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
