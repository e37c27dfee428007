#!/usr/bin/env python3
"""How much a microphone's gain moves v7's decisions, and gain-shifted training copies for the
cold head (issue 8; the model card's item 12).

    for g in -10 -5 5 10 15 20; do python3 models/acoustic/v4/cache.py --variants raw --blocks "" \
        --max-block 2 --speech-delta 4.5 --gain-db $g --out /tmp/v4-gain$g; done
    SENTIO_V4_CACHE=/tmp/v4-ft-cache SENTIO_V4_AUG=/tmp/v4-aug/cache \
        python3 models/acoustic/v4/gain_probe.py --out gain_probe.json

Whisper's log-mel is an absolute level (log10 of the power; its window scaling clamps the floor
but does not remove the level), so the same voice through a louder or quieter microphone reaches
the encoder shifted. The speaker head normalises with the speaker's statistics, which take the
gain in; the cold head has only the global ones.

Each split's heads are fitted as shipped and scored on the test side at every gain (`cache.py
--gain-db` shifts every mel and keeps the clean clip's windows and VAD, so the rows match) and on
the robustness curve's 10 dB noise and 10 dB babble caches (`--noisy`). The variants `gaincopies<w>`
(`gaincopies<w>:<g>/<g>/...`) fit the cold head with the clean windows at those gains added as
training copies of weight w beside the noisy ones (the test speakers' never). The ±5 and +15 dB
test sets are gains no copy was made at. Clip UA over the splits of every recipe; the score is item 4's
(mean of the clean selection and the mean of the 10 dB noise and babble selections).
"""
import argparse
import json
import os
import time

import numpy as np
import torch

import data as D
import finetune as FT
import head_probe as HP
import train as T


def cache_embeddings(path):
    """(whole window, speech frames, clip of each window) of a cache.py cache."""
    with open(os.path.join(path, "meta.json")) as f:
        clip = np.array(json.load(f)["clip"])
    return (*HP.cache_embeddings(path), clip)


def apply(fit, x):
    _, lin, mu, sd = fit
    with torch.no_grad():
        return torch.softmax(lin(torch.from_numpy(((x - mu) / sd).astype(np.float32))), -1).numpy()


def speech_levels(feat_dir):
    """Each corpus's speech level: per clip the 90th percentile of its voiced frames' energy
    (dBFS, the front end's column), then the corpus's median and 10th / 90th percentiles."""
    by = {}
    for c in T.CLIPS:
        e = np.load(os.path.join(feat_dir, c.stem + ".npy"))[:, D.ENERGY]
        vo = D.voiced(e)
        if vo.any():
            by.setdefault(c.corpus, []).append(np.percentile(e[vo], 90))
    return {k: {"median": float(np.median(v)), "p10": float(np.percentile(v, 10)),
                "p90": float(np.percentile(v, 90))} for k, v in by.items()}


def add_copies(whole, speech, paths):
    """The clean windows of the caches `paths` appended to train's arrays as training copies
    (AUGW); returns the extended embeddings and, per path, the mask of its rows."""
    n, k, old = T.N_CLEAN, len(paths), len(T.WCLIP)
    extra = [cache_embeddings(p) for p in paths]
    for (w, _, c), p in zip(extra, paths):
        assert np.array_equal(c, T.WCLIP[:n]), f"{p}'s windows are not the cache's"
    for name in ("WCLIP", "CORPUS", "LABEL", "SPEAKER", "ACTOR"):
        a = getattr(T, name)
        setattr(T, name, np.concatenate([a] + [a[:n]] * k))
    T.AUGW = np.concatenate([T.AUGW, np.ones(n * k, bool)])
    T.WMASK = torch.cat([T.WMASK] + [T.WMASK[:n]] * k)
    whole = np.concatenate([whole] + [e[0] for e in extra])
    speech = np.concatenate([speech] + [e[1] for e in extra])
    row = np.arange(len(whole))
    return whole, speech, [(row >= old + i * n) & (row < old + (i + 1) * n) for i in range(k)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gains", default="-10,-5,5,10,15,20", help="test gains (dB)")
    ap.add_argument("--cache", default="/tmp/v4-gain{}")
    ap.add_argument("--noisy", default="noise10:/tmp/v4-noisy/10/ft-cache,babble10:/tmp/v4-noisy/babble10/ft-cache")
    ap.add_argument("--variants", default="cold,gaincopies0.3:-10/10,gaincopies0.1:-10/10,gaincopies0.3:-10/10/20,"
                                          "gaincopies0.3:10/20,spk",
                    help="gaincopies<w>:<g>/<g>...: the cold head with the clean windows at those gains as copies")
    ap.add_argument("--feat", default="/tmp/rust-feat", help="the clean features (for the corpora's levels)")
    ap.add_argument("--out", default="gain_probe.json")
    a = ap.parse_args()
    t0 = time.time()
    n = T.N_CLEAN
    whole, speech = HP.embeddings()
    zspk = T.speaker_z(speech)
    # Test sets: (whole, speaker-normalised speech, clip of each row), the clean one first.
    tests = {"clean": (whole[:n], zspk[:n], T.WCLIP[:n].copy())}
    for g in a.gains.split(","):
        w, s, c = cache_embeddings(a.cache.format(g))
        assert np.array_equal(c, T.WCLIP[:n]), f"{a.cache.format(g)}'s windows are not the cache's"
        tests[f"gain{g}"] = (w, T.speaker_z(s, T.SPEAKER[:n]), c)  # each speaker's own statistics there
    for item in a.noisy.split(","):
        label, path = item.split(":")
        w, s, c = cache_embeddings(path)
        tests[label] = (w, T.speaker_z(s, np.array([T.CLIPS[i].speaker for i in c])), c)
    variants = a.variants.split(",")
    train_gains = sorted({g for v in variants if ":" in v for g in v.split(":")[1].split("/")}, key=float)
    whole, speech, rows_of = add_copies(whole, speech, [a.cache.format(g) for g in train_gains])
    rows_of = dict(zip(train_gains, rows_of))
    gain_rows = np.zeros(len(whole), bool)
    for r in rows_of.values():
        gain_rows |= r
    zspk = np.concatenate([zspk, np.zeros((gain_rows.sum(), zspk.shape[1]), np.float32)])
    res = {v: {t: {} for t in tests} for v in variants}
    for name, train, test, classes in T.splits():
        test_clips = np.unique(T.WCLIP[test])
        rav = train & (T.CORPUS == "ravdess")
        for v in variants:
            if v == "spk":
                rows = rav & ~T.AUGW
                fit = T.fit_logreg(zspk, rows, T.corpus_weights(rows, ["ravdess"], None, 0.0, False), 1.0)
                g = None
            else:
                rows = rav & ~gain_rows
                if v != "cold":
                    for gain in v.split(":")[1].split("/"):
                        rows = rows | (rav & rows_of[gain])
                g = FT.global_stats(whole, rows)
                wts = T.corpus_weights(rows, ["ravdess"], None, 0.3, False)
                if v != "cold":  # the gain copies at their own weight, the noisy ones at 0.3
                    wts[gain_rows] *= float(v[len("gaincopies"):v.index(":")]) / 0.3
                fit = T.fit_logreg((whole - g[0]) / g[1], rows, wts, 1.0)
            for t, (tw, tz, tc) in tests.items():
                r = np.isin(tc, test_clips)
                p = apply(fit, tz[r]) if g is None else apply(fit, (tw[r] - g[0]) / g[1])
                res[v][t][name] = T.ua_by_clip(p, tc[r], classes)[0]
        print(name, {v: {t: round(x[name], 3) for t, x in r.items()} for v, r in res.items()},
              f"({time.time() - t0:.0f} s)", flush=True)
    out = {"speech_level_dbfs": speech_levels(a.feat)}
    print("speech levels (dBFS):", {k: round(x["median"], 1) for k, x in out["speech_level_dbfs"].items()})
    for v, r in res.items():
        out[v] = {t: {"per_split": x, **T.score(x)} for t, x in r.items()}
        sel = {t: x["selection"] for t, x in out[v].items()}
        out[v]["score"] = (sel["clean"] + (sel["noise10"] + sel["babble10"]) / 2) / 2
        print(f"== {v}: score {out[v]['score']:.3f} | selection " + " ".join(f"{t}:{x:.3f}" for t, x in sel.items())
              + " | RAV " + " ".join(f"{t}:{x['ravdess_cv_mean']:.3f}" for t, x in out[v].items() if t != "score"))
    with open(os.path.join(T.RESULTS, a.out), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
