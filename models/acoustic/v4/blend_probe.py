#!/usr/bin/env python3
"""Item 16: how far the speaker head should take over. The graph blends the two heads' calibrated
logits, w * speaker head + (1 - w) * cold head, and the runtime passes w = s / (s + prior) for s
seconds of the speaker heard: 0.5 after 5 s, 0.86 after 30 s, 1 with a speaker's full statistics
(`sentio eval --normalize speaker` and `session` pass 1). The cold head reads the window with the
global statistics and the whole window's frames, the speaker head the speaker's statistics and
the speech frames: two views, and an ensemble of the two may beat either even when the speaker's
statistics are known. This scores the blend at fixed w with each speaker's full statistics.

    python3 models/acoustic/v4/blend_probe.py --aug-feat /tmp/v4-aug/feat \
        --noisy-feat babble10=/tmp/v4-noisy/babble10/feat,10db=/tmp/v4-noisy/10/feat,20db=/tmp/v4-noisy/20/feat,5db=/tmp/v4-noisy/5/feat
    # -> v4/results/blend_probe.json (after prior_probe.py, whose window cache it reads, augment.py's
    # copies and noisy.py's, each with its `sentio features`)

Protocol (validation only): LOCO: the shipped graph (prior_probe.py's windows: each speaker's
statistics over all its windows, weight 1, and weight 0), the blend of the two calibrated outputs
at each w; RAVDESS CV: each fold's speaker head as prior_probe.py refits it and its cold head
refitted with v8's recipe in numpy (the whole-window half, the global statistics of its training
rows, logistic regression C = 1 on the fold's clean windows and, at weight 0.3, their noisy and
reverberant copies (augment.py) and the clean windows at -10 and +10 dB, each clip's windows
weighing as one clip), each head's logits divided by the shipped temperature. Decisions as
`sentio eval` makes them (window probabilities averaged, calm as neutral where a corpus has no calm).
With `--noisy-feat`, the same fold heads also on the test actors' noisy copies (noisy.py's, never
trained on), each speaker's statistics over their noisy windows, as the card's robustness curve;
not part of the choice.
"""
import argparse
import json
import os

import numpy as np

import data as D
from prior_probe import HERE, Graph, Linear, clip_ua, embed, fit_logreg, softmax

AUG_WEIGHT, GAINS_DB = 0.3, (-10.0, 10.0)


def ravdess_windows(g, clips, path, sources):
    """RAVDESS's clips through the graph, cached: for each clip, the windows of each source in
    `sources` [(features folder, gain in dB)] (its own windows and VAD, the mel shifted by the
    gain). (clip index, embedding)."""
    if os.path.exists(path):
        z = np.load(path)
        return z["clip"], z["emb"]
    wins = []
    for i, c in enumerate(clips):
        if c.corpus != "ravdess":
            continue
        for feat, gain in sources:
            x, vo = D.load(feat, c)
            if len(x) >= D.MIN:
                wins += [(i, x[s:e] + np.float32(gain / 10.0)) for s, e in D.window_starts(len(x), vo)]
    clip = np.array([i for i, _ in wins])
    emb = embed(g, wins)[1]
    np.savez(path, clip=clip, emb=emb)
    return clip, emb


def fold_blend_ua(heads, spk_x, whole, label, clip, actor, weights, temps, classes):
    """{w: [UA of each RAVDESS fold's test actors]} for the blend w * speaker head + (1 - w) * cold
    head of each fold's `heads`; `spk_x` the speaker-normalised speech half, `whole` the
    whole-window half of the same windows."""
    res = {w: [] for w in weights}
    for k, (spk_head, cold_head, gm, gs) in enumerate(heads):
        test = (actor >= 4 * k + 1) & (actor <= 4 * k + 4)
        spk = spk_head(spk_x[test]) / temps[0]
        cold = cold_head((whole[test] - gm) / gs) / temps[1]
        for w in weights:
            res[w].append(clip_ua(softmax(w * spk + (1 - w) * cold), label[test], clip[test], classes)[0])
    return res


def write_choice(out, name, sidecar, key, value):
    """The results as v4/results/`name`, and (with a `sidecar` path) the chosen `value` as that
    sidecar's embedding.`key`, where the runtime reads it."""
    if sidecar:
        with open(sidecar) as fh:
            side = json.load(fh)
        side["embedding"][key] = value
        with open(sidecar, "w") as fh:
            json.dump(side, fh, indent=1)
    with open(os.path.join(HERE, "results", name), "w") as fh:
        json.dump(out, fh, indent=1)


HEAD_PARAMS = ("mu", "sd", "W", "b")


def load_fold_heads(path):
    """fold_heads()'s cache: per RAVDESS fold, (speaker head, cold head, the cold head's global
    mean and std)."""
    if not os.path.exists(path):
        raise SystemExit(f"{path} is missing: blend_probe.py fits and caches the fold heads")
    z = np.load(path)
    return [(Linear(*(z[f"spk_{n}"][k] for n in HEAD_PARAMS)), Linear(*(z[f"cold_{n}"][k] for n in HEAD_PARAMS)),
             z["gm"][k], z["gs"][k]) for k in range(5)]


def fold_heads(emb, wclip, label, actor, corpus, cclip, cemb, cactor, clabel, speaker, path):
    """Per RAVDESS fold: (speaker head, cold head, the cold head's global mean and std), cached."""
    if os.path.exists(path):
        return load_fold_heads(path)
    half = emb.shape[1] // 2
    spk_x = D.speaker_z(emb[:, :half], speaker)
    heads = []
    for k in range(5):
        test = (actor >= 4 * k + 1) & (actor <= 4 * k + 4)
        train = (corpus == "ravdess") & ~test
        spk = fit_logreg(spk_x[train], label[train], 1.0 / np.bincount(wclip[train])[wclip[train]])
        ctrain = ~((cactor >= 4 * k + 1) & (cactor <= 4 * k + 4))
        x = np.concatenate([emb[train, half:], cemb[ctrain, half:]])
        y = np.concatenate([label[train], clabel[ctrain]])
        src = np.concatenate([wclip[train], cclip[ctrain]])
        w = 1.0 / np.bincount(src)[src]
        w[train.sum():] *= AUG_WEIGHT
        gm, gs = x.mean(0), x.std(0) + 1e-5
        heads.append((spk, fit_logreg((x - gm) / gs, y, w), gm, gs))
        print(f"fold {k} heads refitted", flush=True)
    np.savez(path, gm=np.stack([h[2] for h in heads]), gs=np.stack([h[3] for h in heads]),
             **{f"{h}_{n}": np.stack([getattr(hs[j], n) for hs in heads]) for j, h in enumerate(("spk", "cold"))
                for n in HEAD_PARAMS})
    return heads


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--feat", default="/tmp/rust-feat")
    ap.add_argument("--aug-feat", default="/tmp/v4-aug/feat")
    ap.add_argument("--model", default=os.path.join(HERE, "..", "sentio-ser.onnx"))
    ap.add_argument("--cache", default="/tmp/prior-probe")
    ap.add_argument("--weights", default="1,0.95,0.9,0.85,0.8,0.75,0.7,0.6,0.5,0")
    ap.add_argument("--noisy-feat", default="", help="TAG=DIR,...: noisy.py copies' features to score the "
                    "RAVDESS CV on too (not part of the choice)")
    ap.add_argument("--out", default="blend_probe.json")
    ap.add_argument("--write-sidecar", default="", help="write the chosen ceiling into this sidecar's "
                    "embedding.max_speaker_weight (the runtime caps the speaker weight there)")
    a = ap.parse_args()
    clips = D.clips()
    g = Graph(a.model)
    z = np.load(os.path.join(a.cache, "windows.npz"))
    wclip, emb = z["clip"], z["emb"]
    # RAVDESS's training copies: each clip's noisy copy and its clean windows at each gain.
    cclip, cemb = ravdess_windows(g, clips, os.path.join(a.cache, "copies.npz"),
                                  [(a.aug_feat, 0.0)] + [(a.feat, gain) for gain in GAINS_DB])
    corpus = np.array([clips[i].corpus for i in wclip])
    label = np.array([clips[i].label for i in wclip])
    speaker = np.array([clips[i].speaker for i in wclip])
    actor = np.array([int(clips[i].speaker.split(":")[1]) if corpus[j] == "ravdess" else 0
                      for j, i in enumerate(wclip)])
    cactor = np.array([int(clips[i].speaker.split(":")[1]) for i in cclip])
    clabel = np.array([clips[i].label for i in cclip])
    cc = D.corpus_classes(clips)
    t_spk, t_cold = g.side["temperature"], g.side["temperature_cold"]
    half = emb.shape[1] // 2
    weights = [float(w) for w in a.weights.split(",")]
    out = {"protocol": __doc__.split("Protocol")[1].strip(), "temperatures": [t_spk, t_cold]}

    # RAVDESS CV: each fold's two heads (the speaker head as prior_probe.py fits it, the cold head
    # with v8's copies), cached.
    heads = fold_heads(emb, wclip, label, actor, corpus, cclip, cemb, cactor, clabel, speaker,
                       os.path.join(a.cache, "heads_v8.npz"))
    temps = (t_spk, t_cold)
    cv = fold_blend_ua(heads, D.speaker_z(emb[:, :half], speaker), emb[:, half:], label, wclip, actor, weights,
                       temps, cc["ravdess"])

    # The same heads on the RAVDESS test actors' noisy copies (noisy.py: never trained on), each
    # speaker's statistics over their noisy windows, as the card's robustness curve.
    robust = {}
    for spec in filter(None, a.noisy_feat.split(",")):
        tag, feat_dir = spec.split("=")
        nclip, nemb = ravdess_windows(g, clips, os.path.join(a.cache, f"noisy_{tag}.npz"), [(feat_dir, 0.0)])
        nactor = np.array([int(clips[i].speaker.split(":")[1]) for i in nclip])
        nlabel = np.array([clips[i].label for i in nclip])
        nspk_x = D.speaker_z(nemb[:, :half], np.array([clips[i].speaker for i in nclip]))
        res = fold_blend_ua(heads, nspk_x, nemb[:, half:], nlabel, nclip, nactor, weights, temps, cc["ravdess"])
        robust[tag] = {str(bw): round(100 * float(np.mean(v)), 2) for bw, v in res.items()}
        print(tag, robust[tag], flush=True)
    out["ravdess_cv_noisy"] = robust

    # LOCO: the shipped graph's two outputs (log-probabilities are the calibrated logits up to a
    # constant per window, which the softmax drops).
    ls, lc = (np.log(np.maximum(z[h], 1e-12)) for h in ("spk", "cold"))
    summary = {}
    for bw in weights:
        loco = []
        for c in ("tess", "ased", "urdu"):
            m = corpus == c
            loco.append(clip_ua(softmax(bw * ls[m] + (1 - bw) * lc[m]), label[m], wclip[m], cc[c])[0])
        summary[str(bw)] = {
            "tess_ased_urdu": [round(100 * v, 1) for v in loco], "loco_mean": round(100 * float(np.mean(loco)), 2),
            "ravdess_cv": round(100 * float(np.mean(cv[bw])), 2),
            "ravdess_folds": [round(100 * v, 1) for v in cv[bw]],
            "selection": round(50 * float(np.mean(loco) + np.mean(cv[bw])), 2)}
        print(bw, summary[str(bw)], flush=True)
    out["summary"] = summary
    # The ceiling: the weight the rule picks (a tie keeps the larger, the speaker head's share).
    best = max(weights, key=lambda bw: (summary[str(bw)]["selection"], bw))
    out["chosen_max_speaker_weight"] = best
    print("chosen max_speaker_weight", best, flush=True)
    write_choice(out, a.out, a.write_sidecar, "max_speaker_weight", best)


if __name__ == "__main__":
    main()
