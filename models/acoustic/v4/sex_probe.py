#!/usr/bin/env python3
"""Sex-dependent normalisation for the cold-start head (issue 8; validation only, not shipped
unless it wins). The model card's item 11.

    SENTIO_V4_CACHE=/tmp/v4-ft-cache SENTIO_V4_AUG=/tmp/v4-aug/cache \
        python3 models/acoustic/v4/sex_probe.py --out sex_probe.json

Every model here is weakest on men (RAVDESS's men cold 62.5 % against its women's 78.7 %), and the
cold head normalises every voice with one set of global statistics, half of them women's. A window's
sex is easy to hear, so the cold head could normalise with its sex's statistics instead ("gender-
dependent normalisation" in the SER literature), a step between the global statistics and the
speaker's, computed by the graph from the window itself:
- a logistic regression on the globally normalised whole-window embedding gives p(man) per window
  (trained on the training side's RAVDESS windows, clean and noisy copies, sex from the actor);
- `sexnorm`: the statistics the cold head normalises with are p * the men's + (1 - p) * the
  women's (mean and standard deviation of the training men's / women's windows);
  `sexmean`: the same for the mean only, the global standard deviation kept;
- `sexheads`: one cold head per sex (each on its sex's windows), probabilities mixed by p;
- suffix `_all`: p(man) learnt from every training-side speaker of every corpus instead (their
  sex only); `_oracle`: the true sex, an upper bound for a perfect sex classifier.
Each cold head otherwise as shipped (RAVDESS 1-20, copies at 0.3, C = 1). Scored as every recipe:
clip UA on LOCO and the RAVDESS CV; every split is also scored for its men and its women apart
(every corpus here names its speakers' sex: RAVDESS odd actors are men, TESS is two women, ASED's
file names carry it, URDU's speaker codes start SM / SF), for the shipped speaker head too, and
the sex classifier's clip accuracy per corpus.
"""
import argparse
import json
import os
import time

import numpy as np

import data as D
import finetune as FT
import head_probe as HP
import train as T


MALE = np.array([D.is_man(T.CLIPS[c]) for c in T.WCLIP])


def sex_prob(z, rows):
    """p(man) of every window: logistic regression on `z`, trained on `rows`."""
    lab = T.LABEL
    try:
        # fit_logreg reads the labels from train.LABEL and masks the classes a corpus lacks; every
        # corpus has classes 0 and 2 (neutral, happy), so they carry woman and man.
        T.LABEL = np.where(MALE, 2, 0)
        # every speaker the same total weight, so RAVDESS's 60-clip actors do not drown the others
        spk = T.SPEAKER[rows]
        _, inv, cnt = np.unique(spk, return_inverse=True, return_counts=True)
        w = np.zeros(len(z))
        w[rows] = 1.0 / cnt[inv]
        p = T.fit_logreg(z, rows, w, 1.0)[0]
    finally:
        T.LABEL = lab
    return p[:, 2] / (p[:, 0] + p[:, 2])


def fit_cold_sex(x, train, kind):
    """`kind` is sexnorm / sexmean / sexheads, with a suffix for where p(man) comes from: none, the
    RAVDESS training actors; `_all`, every training-side speaker of every corpus (their sex, not
    their emotion: a held-out corpus stays out); `_oracle`, the truth (an upper bound, not a
    product)."""
    kind, _, src = kind.partition("_")
    rows = train & (T.CORPUS == "ravdess")
    g = FT.global_stats(x, rows)
    z = (x - g[0]) / g[1]
    if src == "oracle":
        pm = MALE.astype(np.float64)[:, None]
    else:
        pm = sex_prob(z, train if src == "all" else rows)[:, None]
    w = T.corpus_weights(rows, ["ravdess"], None, 0.3, False)
    if kind == "sexheads":
        out = 0
        for man, share in ((True, pm), (False, 1 - pm)):
            r = rows & (MALE == man)
            out = out + share * T.fit_logreg(z, r, np.where(r, w, 0), 1.0)[0]
        return out, pm[:, 0]
    m = {man: FT.global_stats(x, rows & (MALE == man)) for man in (True, False)}
    mean = pm * m[True][0] + (1 - pm) * m[False][0]
    std = pm * m[True][1] + (1 - pm) * m[False][1] if kind == "sexnorm" else g[1]
    return T.fit_logreg((x - mean) / std, rows, w, 1.0)[0], pm[:, 0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", default="cold,sexnorm,sexmean,sexheads,sexnorm_all,sexmean_all,"
                                          "sexnorm_oracle,sexmean_oracle,spk")
    ap.add_argument("--out", default="sex_probe.json")
    a = ap.parse_args()
    t0 = time.time()
    whole, speech = HP.embeddings()
    zspk = T.speaker_z(speech) if "spk" in a.variants.split(",") else None
    out = os.path.join(T.RESULTS, a.out)
    res = {}
    if os.path.exists(out):  # a run of some variants adds to (or replaces) theirs
        with open(out) as f:
            res = json.load(f)
    for v in a.variants.split(","):
        per, by_sex, sex_acc = {}, {}, {}
        for name, train, test, classes in T.splits():
            pm = None
            if v == "cold":
                p = HP.fit_cold(whole, train)[0]
            elif v == "spk":
                p = HP.fit_spk(zspk, train, "C", 1.0)
            else:
                p, pm = fit_cold_sex(whole, train, v)
            per[name] = T.clip_ua(p[test], test, classes)[0]
            for sex, man in (("men", True), ("women", False)):
                t = test & (MALE == man)
                if t.any():
                    by_sex.setdefault(name, {})[sex] = T.clip_ua(p[t], t, classes)[0]
            if pm is not None:
                clips = np.unique(T.WCLIP[test])
                mean_p = np.array([pm[test & (T.WCLIP == c)].mean() for c in clips])
                truth = np.array([D.is_man(T.CLIPS[c]) for c in clips])
                sex_acc[name] = float(((mean_p > 0.5) == truth).mean())
        s = T.score(per)
        rav = {sex: float(np.mean([by_sex[f"ravdess_fold{k}"][sex] for k in range(5)])) for sex in ("men", "women")}
        res[v] = {"per_split": per, **s, "by_sex": by_sex, "ravdess_cv_by_sex": rav, "sex_clip_accuracy": sex_acc}
        print(f"== {v}: selection {s['selection']:.3f} (LOCO {s['loco_mean']:.3f}, RAV {s['ravdess_cv_mean']:.3f}) "
              + " ".join(f"{n.replace('ravdess_fold', 'f')}={x:.3f}" for n, x in per.items())
              + f" | RAV men {rav['men']:.3f} women {rav['women']:.3f} | "
              + " ".join(f"{n[5:]} " + "/".join(f"{x:.3f}" for x in by_sex[n].values())
                         for n in per if n.startswith("loco"))
              + (" | sex acc " + " ".join(f"{n.replace('ravdess_fold', 'f')}={x:.3f}" for n, x in sex_acc.items())
                 if sex_acc else "")
              + f" ({time.time() - t0:.0f} s)", flush=True)
        with open(out, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
