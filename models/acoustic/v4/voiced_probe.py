#!/usr/bin/env python3
"""Pool only the window's speech? (issue 8; validation only, not shipped unless it wins.)

    SENTIO_V4_CACHE=/tmp/v4-ft-cache python3 models/acoustic/v4/voiced_probe.py \
        --feat /tmp/rust-feat --out voiced_probe.json

v6 pools blocks 1 and 2's frames over the whole 2.5 s window, pauses and all. How much of a window
is pause is a property of the corpus (RAVDESS clips open with a second of room tone, TESS's are cut
tight), so the embedding carries it. Here the same frames are pooled over the frames a mask calls
speech, the mask computable from the graph's own input (so the runtime would not change): a mel
frame is speech when its power, log10 Σ 10^mel, is within `delta` bels of the window's loudest
frame; an encoder frame (stride 2) is speech when either of its two mel frames is. `vad` uses the
training pipeline's offline energy VAD instead (reference only: the graph cannot compute it).
`--concat d4.5` also scores the whole window's and the masked embedding side by side (3,072), read
by both heads.

Block 1's frames come from the cache (float16), block 2 is run on them as `finetune.py` does, so
every variant, the full-window baseline included, shares one path. Both heads are fitted as the
shipped recipe fits them on clean windows (logistic regression, C = 1, RAVDESS only) and scored
like `finetune.py` (speaker statistics / cold start / session), on LOCO and the RAVDESS CV.
"""
import argparse
import json
import os
import time
from types import SimpleNamespace

# Every variant is scored as one embedding read by both heads, v6's way (finetune.py otherwise
# splits a cache.py --speech-delta cache's embedding between the heads).
os.environ["SENTIO_V4_SPEECH"] = "0"

import numpy as np  # noqa: E402
import torch  # noqa: E402

import cache  # noqa: E402
import data as D  # noqa: E402
import finetune as FT  # noqa: E402
import train as T  # noqa: E402
from encoder import WhisperStem  # noqa: E402


def mel_masks(feat_dir, deltas):
    """Per window, per variant: the encoder-frame speech mask (bool [125])."""
    feats = {}
    out = {f"d{d:g}": np.zeros((len(T.WCLIP), 125), bool) for d in deltas}
    out["vad"] = np.zeros((len(T.WCLIP), 125), bool)
    for w, (c, s, e) in enumerate(zip(T.META["clip"], T.META["start"], T.META["end"])):
        if c not in feats:
            feats[c] = D.load(feat_dir, T.CLIPS[c])
        x, vo = feats[c][0][s:e], feats[c][1][s:e]
        n_enc = (len(x) + 1) // 2
        for d in deltas:
            out[f"d{d:g}"][w, :n_enc] = cache.speech_mask(x, d)
        # The VAD's frames, an encoder frame when either of its two mel frames is voiced.
        out["vad"][w, :n_enc] = np.pad(vo, (0, 2 * n_enc - len(vo))).reshape(n_enc, 2).any(1) if vo.any() else True
    return out


def pooled_masked(x, valid, mask):
    """finetune.py's pooling over the valid frames `mask` keeps (all valid ones if it keeps none)."""
    m = valid & mask
    return FT.pooled(x, torch.where(m.any(1, keepdim=True), m, valid))


def embeddings(data, masks, batch=128):
    blk2 = WhisperStem.from_ct2(FT.BIN, n_blocks=2).blocks[1].eval()
    names = ["full"] + list(masks)
    out = {k: np.zeros((len(data.lens), 2 * 2 * 384), np.float32) for k in names}
    order = np.argsort(data.lens.numpy(), kind="stable")
    with torch.no_grad():
        for k in range(0, len(order), batch):
            j = order[k : k + batch]
            x1, valid = data.batch(j)
            x2 = FT.block_forward(blk2, x1, valid)
            for name in names:
                m = valid if name == "full" else torch.from_numpy(masks[name][j, : valid.shape[1]])
                out[name][j] = torch.cat([pooled_masked(x1, valid, m), pooled_masked(x2, valid, m)], 1).numpy()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--feat", default="/tmp/rust-feat")
    ap.add_argument("--deltas", default="2,3,4")
    ap.add_argument("--variants", default="", help="score only these (default: all)")
    ap.add_argument("--concat", default="", help="also score these masks' embeddings after the full one's")
    ap.add_argument("--out", default="voiced_probe.json")
    a = ap.parse_args()
    t0 = time.time()
    data = FT.Data()
    masks = mel_masks(a.feat, [float(d) for d in a.deltas.split(",")])
    share = {k: float(v.sum() / (np.minimum(data.lens.numpy(), 125)).sum()) for k, v in masks.items()}
    print("speech share of encoder frames:", json.dumps(share), f"({time.time() - t0:.0f} s)", flush=True)
    emb = embeddings(data, masks)
    full_err = float(np.abs(emb["full"] - np.concatenate([data.p1, data.p2_frozen], 1)).max())
    print(f"full pooling vs the cache: max |diff| {full_err:.2e} ({time.time() - t0:.0f} s)", flush=True)
    for k in filter(None, a.concat.split(",")):
        emb[f"full+{k}"] = np.concatenate([emb["full"], emb[k]], 1)
    args = SimpleNamespace(fit="logreg", heads=2, aug_weight=0.0, aug_weight_cold=0.0, corpora="ravdess",
                           C=1.0, class_balance=False)
    res = {"speech_share": share, "full_vs_cache_max_abs": full_err, "variants": {}}
    path = os.path.join(T.RESULTS, a.out)
    for name, x in emb.items():
        if a.variants and name not in a.variants.split(","):
            continue
        per = {}
        for split, train, test, classes in T.splits():
            train = FT.training_side(train, args)
            g, heads = FT.fit_frozen(x, train, args)
            per[split] = dict(zip(("spk", "cold", "session"), FT.score_split(heads, x, g, train, test, classes)))
            print(f"{name} {split}: " + " ".join(f"{k} {v:.3f}" for k, v in per[split].items()), flush=True)
        summ = {k: T.score({s: v[k] for s, v in per.items()}) for k in ("spk", "cold", "session")}
        res["variants"][name] = {"per_split": per, "summary": summ}
        print(f"== {name}: " + "  ".join(f"{k} sel {v['selection']:.3f} (LOCO {v['loco_mean']:.3f}, "
                                          f"RAV {v['ravdess_cv_mean']:.3f})" for k, v in summ.items()),
              f"({time.time() - t0:.0f} s)", flush=True)
        with open(path, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
