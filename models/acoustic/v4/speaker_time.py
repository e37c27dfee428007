#!/usr/bin/env python3
"""How many seconds of a new speaker the embedding normalisation needs, and the cold start.

    SENTIO_V4_AUG=/tmp/v4-aug/cache python3 models/acoustic/v4/speaker_time.py --variant emb --mix M

For every split (LOCO and RAVDESS CV; the head trained on its training side exactly as `train.py
linear`), each test speaker is heard for B = 5, 10, 30 s of voiced speech (whole clips drawn at
random until B is reached; every window weighted by its share of its clip's voiced seconds, as the
plugin weights a window by the new speech of its hop), and classified on their *other* clips with
the runtime's estimate: the mixture of B seconds of the speaker's statistics and `prior` seconds
of the global ones (plugin/src/emotion/speaker_embedding.rs). Also: B = 0 (cold start: global
statistics), all of the speaker's clips (what `sentio eval` does with a speaker column), and a
"calibration" take of only neutral and calm clips (what a user asked to speak neutrally records).
The prior is chosen on the mean over splits of the 10 s figure. Five draws per speaker.

`--saved DIR` reads finetune.py's per-split models instead (saved.py); two-head models blend
their heads by the speaker weight s / (s + prior) the runtime passes (0 cold, 1 with all clips).
"""
import argparse
import json
import os

import numpy as np
import torch

import data as D
import saved as S
import train as T

DRAWS = 5


def window_seconds():
    """Each clean window's share of its clip's voiced seconds."""
    sec = np.zeros(len(T.WCLIP))
    clean = np.where(~T.AUGW)[0]
    n_win = np.bincount(T.WCLIP[clean], minlength=len(T.CLIPS))
    voiced = {}
    for i in clean:
        c = int(T.WCLIP[i])
        if c not in voiced:
            voiced[c] = D.load(T.META.get("feat", "/tmp/rust-feat"), T.CLIPS[c])[1].sum() / 100.0
        sec[i] = voiced[c] / n_win[c]
    return sec


def mixture(m_s, v_s, s, m_g, v_g, prior):
    w = s / (s + prior) if s + prior > 0 else 1.0
    m = w * m_s + (1 - w) * m_g
    second = w * (v_s + m_s ** 2) + (1 - w) * (v_g + m_g ** 2)
    return m, np.sqrt(np.maximum(second - m ** 2, 1e-6))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", default="emb")
    ap.add_argument("--blocks", default="1+2")
    ap.add_argument("--wd", type=float, default=3e-2)
    ap.add_argument("--mix", type=float, default=0.0)
    ap.add_argument("--priors", default="0,5,10,20,40")
    ap.add_argument("--out", default="speaker_time.json")
    ap.add_argument("--saved", default="", help="finetune.py's per-split models instead of refitting train.py linear")
    ap.add_argument("--temperatures", default="1,1", help="--saved: the speaker head's and the cold head's")
    a = ap.parse_args()
    temps = [float(t) for t in a.temperatures.split(",")]
    priors = [float(p) for p in a.priors.split(",")]
    budgets = [5.0, 10.0, 30.0]
    sec = window_seconds()
    base = T.pooled_of(a.variant[3:] or "raw", a)
    rng = np.random.default_rng(T.SEED)
    res = {}
    for name, train, test, classes in T.splits():
        if a.saved:
            model = S.SplitModel(a.saved, name)
            base = model.embeddings()
            g_m, g_v = model.g_mean, model.g_std ** 2

            def probs(e, m, s, w):
                return S.softmax(model.logits(e, m, s, w, *temps))
        else:
            x, xr, _ = T.embedding_inputs(a, train)
            _, lin, mu, sd = T.fit_linear(x, train, wd=a.wd, full=True, aug=xr, p_aug=a.mix)
            W = lin.weight.detach().numpy().astype(np.float64)
            b = lin.bias.detach().numpy().astype(np.float64)
            g_m, g_v = base[train].mean(0), (base[train].std(0) + 1e-5) ** 2

            def probs(e, m, s, w):
                z = ((e - m) / s - mu) / sd
                lo = z @ W.T + b
                lo -= lo.max(1, keepdims=True)
                p = np.exp(lo)
                return p / p.sum(1, keepdims=True)

        def ua(decisions):
            y = np.array([T.CLIPS[c].label for c, _ in decisions])
            p = np.array([d for _, d in decisions])
            return float(np.mean([(p[y == k] == k).mean() for k in classes if (y == k).any()]))

        def decide(idx, m, s, w):
            p = probs(base[idx], m, s, w)
            out = []
            for c in np.unique(T.WCLIP[idx]):
                pm = p[T.WCLIP[idx] == c].mean(0)
                out.append((int(c), classes[int(np.argmax(pm[classes]))]))
            return out

        test_idx = np.where(test)[0]
        spk_of = T.SPEAKER[test_idx]
        r = {"cold": ua(sum((decide(test_idx[spk_of == s], g_m, np.sqrt(g_v), 0.0) for s in np.unique(spk_of)), []))}
        r["all_clips"] = ua(sum((decide(test_idx[spk_of == s], base[test_idx[spk_of == s]].mean(0),
                                        base[test_idx[spk_of == s]].std(0) + 1e-5, 1.0)
                                 for s in np.unique(spk_of)), []))
        for kind, B in [("speech", B) for B in budgets] + [("neutral_take", 10.0), ("neutral_take", 30.0)]:
            for prior in priors:
                scores = []
                for d in range(DRAWS):
                    dec = []
                    for s in np.unique(spk_of):
                        widx = test_idx[spk_of == s]
                        clips = np.unique(T.WCLIP[widx])
                        pool = clips if kind == "speech" else np.array(
                            [c for c in clips if T.CLIPS[c].label in (0, 1)])
                        order = rng.permutation(pool)
                        heard, total = [], 0.0
                        for c in order:
                            if total >= B:
                                break
                            heard.append(c)
                            total += sec[widx[T.WCLIP[widx] == c]].sum()
                        hw = widx[np.isin(T.WCLIP[widx], heard)]
                        wt = sec[hw] / sec[hw].sum()
                        m_s = (base[hw] * wt[:, None]).sum(0)
                        v_s = (((base[hw] - m_s) ** 2) * wt[:, None]).sum(0)
                        heard_s = min(total, B) if kind == "speech" else total
                        m, sdv = mixture(m_s, v_s, heard_s, g_m, g_v, prior)
                        w = heard_s / (heard_s + prior) if heard_s + prior > 0 else 1.0
                        rest = widx[~np.isin(T.WCLIP[widx], heard)]
                        if len(rest):
                            dec += decide(rest, m, sdv, w)
                    scores.append(ua(dec))
                r[f"{kind}_{B:g}s_prior{prior:g}"] = float(np.mean(scores))
        res[name] = r
        print(name, json.dumps({k: round(v, 3) for k, v in r.items()}), flush=True)
    keys = res[next(iter(res))].keys()

    def summary(k):
        loco = np.mean([res[f"loco_{c}"][k] for c in ("tess", "ased", "urdu")])
        rav = np.mean([res[f"ravdess_fold{i}"][k] for i in range(5)])
        return {"loco_mean": float(loco), "ravdess_cv_mean": float(rav), "selection": float((loco + rav) / 2)}
    summ = {k: summary(k) for k in keys}
    best = max(priors, key=lambda p: summ[f"speech_10s_prior{p:g}"]["selection"])
    out = {"per_split": res, "summary": summ, "chosen_prior_s": best, "config": vars(a)}
    for k, v in summ.items():
        print(f"{k:32s} LOCO {v['loco_mean']:.3f} RAV {v['ravdess_cv_mean']:.3f} sel {v['selection']:.3f}")
    print("chosen prior", best)
    with open(os.path.join(T.RESULTS, a.out), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
