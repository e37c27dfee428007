#!/usr/bin/env python3
"""Temperature scaling on out-of-fold windows (the head run's LOCO and RAVDESS-CV test sides).

    python3 models/acoustic/v4/calibrate.py /tmp/head_spk_block2_h0_e8_oof.npy [OUT.json]
    python3 models/acoustic/v4/calibrate.py --saved DIR OUT.json    # finetune.py's per-split models

One temperature T (probabilities ∝ p^(1/T), i.e. logits / T) fitted by NLL; expected calibration
error over 15 confidence bins of the window-level top probability. Fitted on one side and
scored on the other (RAVDESS CV ↔ LOCO corpora), then fitted on both for the shipped graph.
LOCO windows are renormalised over their corpus's classes (the classes scored there).
`--saved`: each head of two-head models gets its own temperature (the speaker head on windows
normalised with their speaker's statistics, the cold-start head on the global ones).
"""
import json
import os
import sys

import numpy as np

sys.argv += [] if len(sys.argv) > 1 else ["/tmp/head_spk_block2_h0_e8_oof.npy"]
os.environ.setdefault("SENTIO_V4_CACHE", "/tmp/v4-cache")
import train as TR  # noqa: E402
from metrics import ece  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def gather(oof, names):
    logp, y = [], []
    for n in names:
        idx = np.array(oof[n]["idx"])
        p = np.array(oof[n]["logits_probs"])
        mask = TR.WMASK[idx].numpy()
        p = np.where(mask, p, 0.0)
        p /= p.sum(1, keepdims=True)
        logp.append(np.log(np.clip(p, 1e-12, 1)))
        y.append(TR.LABEL[idx])
    return np.concatenate(logp), np.concatenate(y)


def scaled(logp, t):
    z = logp / t
    z -= z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def nll(logp, y, t):
    return float(-np.log(np.clip(scaled(logp, t)[np.arange(len(y)), y], 1e-12, 1)).mean())


def fit(logp, y):
    grid = np.exp(np.linspace(np.log(0.3), np.log(10), 300))
    return float(grid[np.argmin([nll(logp, y, t) for t in grid])])


def saved_oof(saved_dir):
    """Out-of-fold windows of the per-split models in `saved_dir` (saved.py): the speaker head's
    probabilities with each test speaker's own statistics (weight 1) and the cold start's with the
    global ones (weight 0), uncalibrated."""
    import saved as S
    out = {"spk": {}, "cold": {}}
    for name, train, test, classes in TR.splits():
        m = S.SplitModel(saved_dir, name)
        emb = m.embeddings()
        idx = np.where(test)[0]
        spk_of = TR.CHANNEL_SPEAKER[idx]
        lo = np.zeros((len(idx), 8))
        for s in np.unique(spk_of):
            j = spk_of == s
            e = emb[idx[j]]
            lo[j] = m.logits(e, e.mean(0), e.std(0) + 1e-5, 1.0)
        out["spk"][name] = {"idx": idx.tolist(), "logits_probs": S.softmax(lo).tolist()}
        lo = m.logits(emb[idx], m.g_mean, m.g_std, 0.0)
        out["cold"][name] = {"idx": idx.tolist(), "logits_probs": S.softmax(lo).tolist()}
    return out


def fit_sides(oof):
    """Cross-fitted (RAVDESS CV <-> LOCO) and shipped temperatures of one set of OOF windows."""
    rav = [n for n in oof if n.startswith("ravdess")]
    loco = [n for n in oof if n.startswith("loco")]
    sides = {"ravdess_cv": gather(oof, rav), "loco": gather(oof, loco)}
    out = {}
    for fit_on, test_on in (("ravdess_cv", "loco"), ("loco", "ravdess_cv")):
        t = fit(*sides[fit_on])
        lp, y = sides[test_on]
        out[f"fit_{fit_on}_score_{test_on}"] = {"temperature": t, "ece_before": ece(scaled(lp, 1.0), y),
                                                "ece_after": ece(scaled(lp, t), y),
                                                "nll_before": nll(lp, y, 1.0), "nll_after": nll(lp, y, t)}
    both = (np.concatenate([sides[k][0] for k in sides]), np.concatenate([sides[k][1] for k in sides]))
    t = fit(*both)
    out["shipped"] = {"temperature": t, "ece_before": ece(scaled(both[0], 1.0), both[1]),
                      "ece_after": ece(scaled(both[0], t), both[1])}
    return out


def main():
    if sys.argv[1] == "--saved":
        # python3 calibrate.py --saved DIR OUT.json: a temperature per head (speaker, cold start).
        oofs = saved_oof(sys.argv[2])
        out = {k: fit_sides(v) for k, v in oofs.items()}
        print(json.dumps(out, indent=1))
        with open(os.path.join(HERE, "results", sys.argv[3]), "w") as f:
            json.dump(out, f, indent=1)
        return
    out = fit_sides(np.load(sys.argv[1], allow_pickle=True)[0])
    print(json.dumps(out, indent=1))
    name = sys.argv[2] if len(sys.argv) > 2 else "calibration.json"
    with open(os.path.join(HERE, "results", name), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
