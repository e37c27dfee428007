#!/usr/bin/env python3
"""Item 17: the speaker head keeps a share before the speaker is known. At a cold start the
runtime passes speaker weight 0 (the cold-start head alone) with the global statistics in place of
the speaker's. The speaker head can still read the window then, z-normalised with those global
statistics: a third view beside item 16's two. This scores the cold start as the blend
f * speaker head (global statistics) + (1 - f) * cold head at each floor f, where the runtime's
weight would be clamp(s / (s + 5), f, ceiling) after s seconds of the speaker: the floor binds for
the first 5 f / (1 - f) seconds and at every cold start (`sentio eval --normalize global`, which the
issue's figures without speaker statistics are).

    python3 models/acoustic/v4/floor_probe.py \
        --noisy-feat babble10=/tmp/v4-noisy/babble10/feat,10db=/tmp/v4-noisy/10/feat \
        --extra-feat 20db=/tmp/v4-noisy/20/feat,5db=/tmp/v4-noisy/5/feat
    # -> v4/results/floor_probe.json (after prior_probe.py and blend_probe.py, whose caches it
    # reads: the windows and the fold heads; noisy.py's copies with their `sentio features`)

Protocol (validation only): LOCO: the shipped graph run twice on every window of TESS, ASED and
URDU with the global statistics, at weight 0 (the cold head) and at weight 1 (the speaker head),
the two calibrated outputs blended at each f (log-probabilities are the calibrated logits up to a
constant per window); RAVDESS CV: blend_probe.py's fold heads (the speaker head as item 14 refits
it, the cold head with v8's copies), the speaker head reading the test windows' speech half
z-normalised with the fold's training windows' statistics (its global ones), each head's logits
divided by the shipped temperature. Decisions as `sentio eval` makes them (window probabilities
averaged, calm as neutral where a corpus has no calm). The rule is the one every cold-head choice
was made by (item 4, item 12): the mean of the clean selection (LOCO mean and RAVDESS CV, halved)
and the noisy one (the same in 10 dB real noise and 10 dB babble, noisy.py's copies of every
corpus, never trained on, averaged); a tie keeps the smaller floor. Not part of the choice: other
noisy copies (`--extra-feat`: 20 and 5 dB real noise), the RAVDESS CV at -10 / +10 / +20 dB (the
test actors' clean windows with the mel shifted, as item 12) and the LOCO corpora at +10 dB, men
and women apart (RAVDESS's odd actors, ASED's codes), and the windows' expected calibration error
(calibrate.py's: 15 bins, each corpus's classes).
"""
import argparse
import os
import time

import numpy as np

import data as D
from blend_probe import load_fold_heads, ravdess_windows, write_choice
from metrics import ece
from prior_probe import HERE, Graph, batches, clip_ua, softmax

LOCO = ("tess", "ased", "urdu")


def cold_start_pass(g, feat_dir, clips, corpora, path, gain=0.0):
    """The clips of `corpora` through the graph with the global statistics, cached: (clip index,
    embedding, log-probabilities at weight 0 (the cold head), at weight 1 (the speaker head))."""
    if os.path.exists(path):
        z = np.load(path)
        return z["clip"], z["emb"], z["cold"], z["spk"]
    wins = []
    for i, c in enumerate(clips):
        if c.corpus in corpora:
            x, vo = D.load(feat_dir, c)
            if len(x) >= D.MIN:
                wins += [(i, x[s:e] + np.float32(gain / 10.0)) for s, e in D.window_starts(len(x), vo)]
    n = len(wins)
    emb = np.zeros((n, len(g.e_mean)), np.float32)
    cold, spk = np.zeros((n, 8), np.float32), np.zeros((n, 8), np.float32)
    for chunk, xs in batches(wins, range(n)):
        cold[chunk], emb[chunk] = g.run(xs)
        spk[chunk] = g.run(xs, None, None, 1.0)[0]
    clip = np.array([i for i, _ in wins])
    cold, spk = np.log(np.maximum(cold, 1e-12)), np.log(np.maximum(spk, 1e-12))
    np.savez(path, clip=clip, emb=emb, cold=cold, spk=spk)
    return clip, emb, cold, spk


def within(p, classes):
    """Probabilities restricted to `classes` and renormalised (calibrate.py's windows)."""
    q = np.zeros_like(p)
    q[:, classes] = p[:, classes]
    return q / q.sum(1, keepdims=True)


def loco_ua(clips, clip, cold, spk, floors, cc):
    """{f: [UA on TESS, ASED, URDU]}, {f: [UA on ASED's men, its women]} and {f: the windows'
    expected calibration error} of the blend."""
    corpus = np.array([clips[i].corpus for i in clip])
    label = np.array([clips[i].label for i in clip])
    man = np.array([D.is_man(clips[i]) for i in clip])
    res, sex, cal = {}, {}, {}
    for f in floors:
        p = softmax(f * spk + (1 - f) * cold)
        res[f] = [clip_ua(p[corpus == c], label[corpus == c], clip[corpus == c], cc[c])[0] for c in LOCO]
        sex[f] = [clip_ua(p[m], label[m], clip[m], cc["ased"])[0]
                  for m in ((corpus == "ased") & man, (corpus == "ased") & ~man)]
        cal[f] = ece(np.concatenate([within(p[corpus == c], cc[c]) for c in LOCO]),
                     np.concatenate([label[corpus == c] for c in LOCO]))
    return res, sex, cal


def ravdess_cv(heads, train_emb, train_actor, emb, clip, clips, floors, temps, classes):
    """{f: [UA of each fold's test actors]}, {f: (men's mean UA, women's)}, {f: the test windows'
    expected calibration error} of the blend on the RAVDESS windows `emb` (the speaker head's
    global statistics: each fold's training windows, `train_emb` of actors `train_actor`)."""
    half = emb.shape[1] // 2
    actor = np.array([int(clips[i].speaker.split(":")[1]) for i in clip])
    label = np.array([clips[i].label for i in clip])
    res, men, women, probs = ({f: [] for f in floors} for _ in range(4))
    order = []
    for k, (spk_head, cold_head, gm, gs) in enumerate(heads):
        train = ~((train_actor >= 4 * k + 1) & (train_actor <= 4 * k + 4))
        sm, ss = train_emb[train, :half].mean(0), train_emb[train, :half].std(0) + 1e-5
        test = (actor >= 4 * k + 1) & (actor <= 4 * k + 4)
        spk = spk_head((emb[test, :half] - sm) / ss) / temps[0]
        cold = cold_head((emb[test, half:] - gm) / gs) / temps[1]
        odd = actor[test] % 2 == 1
        order.append(label[test])
        for f in floors:
            p = softmax(f * spk + (1 - f) * cold)
            probs[f].append(p)
            res[f].append(clip_ua(p, label[test], clip[test], classes)[0])
            men[f].append(clip_ua(p[odd], label[test][odd], clip[test][odd], classes)[0])
            women[f].append(clip_ua(p[~odd], label[test][~odd], clip[test][~odd], classes)[0])
    y = np.concatenate(order)
    return (res, {f: (float(np.mean(men[f])), float(np.mean(women[f]))) for f in floors},
            {f: ece(np.concatenate(probs[f]), y) for f in floors})


def pct(v):
    return round(100 * float(v), 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--feat", default="/tmp/rust-feat")
    ap.add_argument("--model", default=os.path.join(HERE, "..", "sentio-ser.onnx"))
    ap.add_argument("--cache", default="/tmp/prior-probe")
    ap.add_argument("--floors", default="0,0.05,0.1,0.15,0.2,0.3,0.4,0.5,1")
    ap.add_argument("--noisy-feat", default="babble10=/tmp/v4-noisy/babble10/feat,10db=/tmp/v4-noisy/10/feat",
                    help="TAG=DIR,...: noisy.py copies' features (every corpus), averaged for the noisy selection")
    ap.add_argument("--extra-feat", default="", help="TAG=DIR,...: more noisy.py copies (e.g. 20 and 5 dB), "
                    "scored, not part of the choice")
    ap.add_argument("--out", default="floor_probe.json")
    ap.add_argument("--write-sidecar", default="", help="write the chosen floor into this sidecar's "
                    "embedding.min_speaker_weight (the runtime's speaker weight starts there)")
    a = ap.parse_args()
    t0 = time.time()
    clips = D.clips()
    g = Graph(a.model)
    cc = D.corpus_classes(clips)
    temps = (g.side["temperature"], g.side["temperature_cold"])
    floors = [float(f) for f in a.floors.split(",")]
    z = np.load(os.path.join(a.cache, "windows.npz"))
    wclip, emb = z["clip"], z["emb"]
    rav = np.array([clips[i].corpus == "ravdess" for i in wclip])
    r_clip, r_emb = wclip[rav], emb[rav]
    r_actor = np.array([int(clips[i].speaker.split(":")[1]) for i in r_clip])
    heads = load_fold_heads(os.path.join(a.cache, "heads_v8.npz"))
    out = {"protocol": __doc__.split("Protocol")[1].strip(), "temperatures": list(temps), "sets": {}}

    def score(tag, loco_feat, ravdess_set, gain=0.0):
        """One condition: the LOCO corpora from `loco_feat` (None: not scored) and the RAVDESS test
        actors' windows `ravdess_set` (clip, embedding)."""
        entry = {}
        if loco_feat is not None:
            path = os.path.join(a.cache, f"floor_loco_{tag}.npz")
            lclip, _, lcold, lspk = cold_start_pass(g, loco_feat, clips, LOCO, path, gain)
            loco, ased_sex, loco_ece = loco_ua(clips, lclip, lcold, lspk, floors, cc)
        cv, cv_sex, cv_ece = ravdess_cv(heads, r_emb, r_actor, ravdess_set[1], ravdess_set[0], clips, floors, temps,
                                cc["ravdess"])
        for f in floors:
            e = {"ravdess_cv": pct(np.mean(cv[f])), "ravdess_folds": [pct(v) for v in cv[f]],
                 "ravdess_men_women": [pct(v) for v in cv_sex[f]], "ravdess_ece": round(cv_ece[f], 3)}
            if loco_feat is not None:
                e.update({"tess_ased_urdu": [pct(v) for v in loco[f]], "loco_mean": pct(np.mean(loco[f])),
                          "ased_men_women": [pct(v) for v in ased_sex[f]], "loco_ece": round(loco_ece[f], 3),
                          "selection": pct((np.mean(loco[f]) + np.mean(cv[f])) / 2)})
            entry[str(f)] = e
        out["sets"][tag] = entry
        print(tag, {f: (e.get("selection"), e["ravdess_cv"]) for f, e in entry.items()},
              f"{time.time() - t0:.0f} s", flush=True)

    score("clean", a.feat, (r_clip, r_emb))
    noisy_tags = []
    for spec in filter(None, (a.noisy_feat + "," + a.extra_feat).split(",")):
        tag, feat_dir = spec.split("=")
        # The RAVDESS windows of the copies: blend_probe.py --noisy-feat's cache where it made one.
        rset = ravdess_windows(g, clips, os.path.join(a.cache, f"noisy_{tag}.npz"), [(feat_dir, 0.0)])
        score(tag, feat_dir, rset)
        if spec in a.noisy_feat.split(","):
            noisy_tags.append(tag)
    for gain in (-10.0, 10.0, 20.0):
        tag = f"gain{gain:+.0f}db"
        rset = ravdess_windows(g, clips, os.path.join(a.cache, f"floor_ravdess_{tag}.npz"), [(a.feat, gain)])
        score(tag, a.feat if gain == 10.0 else None, rset, gain)

    summary = {}
    for f in floors:
        clean = out["sets"]["clean"][str(f)]["selection"]
        noisy = float(np.mean([out["sets"][t][str(f)]["selection"] for t in noisy_tags]))
        summary[str(f)] = {"clean_selection": clean, "noisy_selection": round(noisy, 2),
                           "score": round((clean + noisy) / 2, 2)}
        print(f, summary[str(f)], flush=True)
    out["summary"] = summary
    best = max(floors, key=lambda f: (summary[str(f)]["score"], -f))
    out["chosen_min_speaker_weight"] = best
    print("chosen min_speaker_weight", best, flush=True)
    write_choice(out, a.out, a.write_sidecar, "min_speaker_weight", best)


if __name__ == "__main__":
    main()
