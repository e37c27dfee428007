#!/usr/bin/env python3
"""Item 15: how the speaker head divides by the speaker's spread. The shipped head reads the speech
half of the embedding z-normalised with the speaker's statistics, (x - mean_s) / std_s. Dividing by
the speaker's own standard deviation also rescales each speaker's emotional range to one; a
speaker who varies little (or a corpus that does) is stretched. Variants: the speaker's mean only
(std the global one), and the speaker's variance shrunk towards the global one.

    python3 models/acoustic/v4/spk_norm_probe.py     # -> v4/results/spk_norm_probe.json
    (after prior_probe.py, whose window cache it reads: numpy and scipy only)

Dividing by the speaker's own spread matters most while the running estimate is young: a
standard deviation from a few seconds is noisier than a mean. So each variant is also scored
after B = 5, 10 and 30 s of the test speaker (speaker_time.py's draws: whole clips at random until
B voiced seconds, each window weighted by its share of its clip's voiced seconds, the estimate a
mixture of B seconds of the speaker's and `prior` seconds of the global statistics, the speaker's
other clips classified with it; the speaker head alone, where the runtime also blends in the cold
head by B / (B + prior)).

Protocol as prior_probe.py's RAVDESS CV (each fold's head refitted, logistic regression C = 1 on
RAVDESS's training actors) and LOCO with one head refitted on RAVDESS 1-20 (the shipped head's
recipe; its "z" row is that head), each test speaker normalised with the statistics of all its
windows, as `sentio eval --normalize speaker` does; decisions as `sentio eval` makes them.
"""
import argparse
import json
import os

import numpy as np

import data as D
from prior_probe import HERE, clip_ua, fit_logreg, softmax


def normalise(x, speaker, train, how):
    """Each speaker's windows of `x` normalised by `how`: "z" (its mean and std), "mean" (its mean,
    the training windows' std), "shrinkA" (its mean; its variance shrunk to A of its own + (1 - A)
    of the training windows')."""
    var_g = x[train].var(0)
    out = np.empty_like(x)
    for s in np.unique(speaker):
        i = speaker == s
        m, v = x[i].mean(0), x[i].var(0)
        if how == "mean":
            v = var_g
        elif how.startswith("shrink"):
            a = float(how[len("shrink"):])
            v = a * v + (1 - a) * var_g
        out[i] = (x[i] - m) / (np.sqrt(v) + 1e-5)
    return out


DRAWS, PRIOR, BUDGETS = 5, 5.0, (5.0, 10.0, 30.0)


def young_estimate_ua(f, x, how, test, train, speaker, wclip, label, sec, classes, budget, rng):
    """UA of head `f` on the speakers of `test` after `budget` voiced seconds of each (DRAWS draws)."""
    m_g, v_g = x[train].mean(0), x[train].var(0)
    scores = []
    for _ in range(DRAWS):
        probs, rows = [], []
        for s in np.unique(speaker[test]):
            widx = np.where(test & (speaker == s))[0]
            heard, total = [], 0.0
            for c in rng.permutation(np.unique(wclip[widx])):
                if total >= budget:
                    break
                heard.append(c)
                total += sec[widx[wclip[widx] == c]].sum()
            hw = widx[np.isin(wclip[widx], heard)]
            wt = sec[hw] / sec[hw].sum()
            m_s = (x[hw] * wt[:, None]).sum(0)
            v_s = (((x[hw] - m_s) ** 2) * wt[:, None]).sum(0)
            b = min(total, budget)
            w = b / (b + PRIOR)
            m = w * m_s + (1 - w) * m_g
            if how == "mean":
                v = v_g
            else:
                v = np.maximum(w * (v_s + m_s ** 2) + (1 - w) * (v_g + m_g ** 2) - m ** 2, 1e-6)
                if how.startswith("shrink"):
                    a = float(how[len("shrink"):])
                    v = a * v + (1 - a) * v_g
            rest = widx[~np.isin(wclip[widx], heard)]
            probs.append(softmax(f((x[rest] - m) / (np.sqrt(v) + 1e-5))))
            rows.append(rest)
        rows = np.concatenate(rows)
        scores.append(clip_ua(np.concatenate(probs), label[rows], wclip[rows], classes)[0])
    return float(np.mean(scores))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default="/tmp/prior-probe")
    ap.add_argument("--feat", default="/tmp/rust-feat")
    ap.add_argument("--variants", default="z,mean,shrink0.5")
    ap.add_argument("--out", default="spk_norm_probe.json")
    a = ap.parse_args()
    clips = D.clips()
    z = np.load(os.path.join(a.cache, "windows.npz"))
    wclip, emb = z["clip"], z["emb"]
    corpus = np.array([clips[i].corpus for i in wclip])
    label = np.array([clips[i].label for i in wclip])
    speaker = np.array([clips[i].speaker for i in wclip])
    actor = np.array([int(s.split(":")[1]) if s.startswith("ravdess:") else 0 for s in speaker])
    man = np.array([D.is_man(clips[i]) for i in wclip])
    cc = D.corpus_classes(clips)
    voiced_s = {i: D.load(a.feat, clips[i])[1].sum() / 100.0 for i in np.unique(wclip)}
    n_win = np.bincount(wclip)
    sec = np.array([voiced_s[c] / n_win[c] for c in wclip])
    rng = np.random.default_rng(0)
    x = emb[:, : emb.shape[1] // 2]  # the speech half: what the speaker head reads
    out = {"protocol": __doc__.split("Protocol")[1].strip()}
    for how in a.variants.split(","):
        res = {}
        for k in list(range(5)) + ["final"]:
            if k == "final":
                train = corpus == "ravdess"
            else:
                test = (actor >= 4 * k + 1) & (actor <= 4 * k + 4)
                train = (corpus == "ravdess") & ~test
            xn = normalise(x, speaker, train, how)
            per_clip = 1.0 / np.bincount(wclip[train])[wclip[train]]
            f = fit_logreg(xn[train], label[train], per_clip)
            p = softmax(f(xn))
            if k == "final":
                for c in ("tess", "ased", "urdu"):
                    m = corpus == c
                    res[c] = clip_ua(p[m], label[m], wclip[m], cc[c])[0]
                    for b in BUDGETS:
                        res[f"{c}_{b:g}s"] = young_estimate_ua(f, x, how, m, train, speaker, wclip, label, sec,
                                                               cc[c], b, rng)
            else:
                res[f"fold{k}"] = clip_ua(p[test], label[test], wclip[test], cc["ravdess"])[0]
                for b in BUDGETS:
                    res[f"fold{k}_{b:g}s"] = young_estimate_ua(f, x, how, test, train, speaker, wclip, label, sec,
                                                               cc["ravdess"], b, rng)
                for sex, sm in (("men", man), ("women", ~man)):
                    m = test & sm
                    res[f"fold{k}_{sex}"] = clip_ua(p[m], label[m], wclip[m], cc["ravdess"])[0]
        loco = float(np.mean([res[c] for c in ("tess", "ased", "urdu")]))
        cv = float(np.mean([res[f"fold{k}"] for k in range(5)]))
        res["summary"] = {
            "tess_ased_urdu": [round(100 * res[c], 1) for c in ("tess", "ased", "urdu")],
            "loco_mean": round(100 * loco, 2), "ravdess_cv": round(100 * cv, 2),
            "ravdess_cv_men_women": [round(100 * float(np.mean([res[f"fold{k}_{s}"] for k in range(5)])), 1)
                                     for s in ("men", "women")],
            "selection": round(100 * (loco + cv) / 2, 2)}
        for b in BUDGETS:
            loco_b = float(np.mean([res[f"{c}_{b:g}s"] for c in ("tess", "ased", "urdu")]))
            cv_b = float(np.mean([res[f"fold{k}_{b:g}s"] for k in range(5)]))
            res["summary"][f"after_{b:g}s"] = {
                "tess_ased_urdu": [round(100 * res[f"{c}_{b:g}s"], 1) for c in ("tess", "ased", "urdu")],
                "loco_mean": round(100 * loco_b, 2), "ravdess_cv": round(100 * cv_b, 2),
                "selection": round(100 * (loco_b + cv_b) / 2, 2)}
        out[how] = res
        print(how, res["summary"], flush=True)
    with open(os.path.join(HERE, "results", a.out), "w") as fh:
        json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
