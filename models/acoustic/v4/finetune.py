#!/usr/bin/env python3
"""Frozen versus fine-tuned top encoder block (issue 8, item 2), on the shipped recipe's splits.

    python3 models/acoustic/v4/cache.py --feat /tmp/rust-feat --out /tmp/v4-ft-cache \
        --blocks 1 --max-block 2 --variants raw
    SENTIO_V4_CACHE=/tmp/v4-ft-cache python3 models/acoustic/v4/finetune.py --splits loco

The recipe is v5's (blocks 1+2 statistics pooling, the pooled embedding z-normalised per
speaker, 50 % cold-start rows, linear; `train.py linear --variant emb --blocks 1+2 --wd 0.03
--mix 0.5`), without the augmented copies so that both arms see the same clean windows. Per split:

1. frozen: block 2 as Whisper trained it; the linear layer fitted as `train.py` fits it;
2. fine-tuned: from (1), block 2 and the linear layer trained together on the training side's
   windows (corpus-balanced batches of 64, the class mask, cold-start rows at the same rate) for
   `--epochs`, block 2 at `--lr-block`. The speaker and global statistics the embedding is
   normalised with are frozen block 2's during training and the tuned block's when scoring.

Both arms are scored like `train.py linear`: clip UA with the test speaker's statistics, without
(cold start: the training side's global statistics) and as one session. Block 1's output frames
come from the cache (the conv stem and block 1 stay frozen in both arms).

`--save-dir DIR` keeps each split's tuned model as `DIR/<split>.pt` (and its frozen arm as
`DIR/<split>_frozen.pt`) and `--final` fits one on every window (`DIR/final.pt`, no scores), in
the checkpoint format `export.py` reads (the linear layer, its standardisation, the embedding's
global statistics and, tuned, block 2's weights). `--scored-dir DIR` scores saved models on
another cache instead (noisy copies: the robustness curve, as `train.py saved_linear`):

    SENTIO_V4_CACHE=/tmp/v4-noisy/10/ft-cache python3 models/acoustic/v4/finetune.py \
        --scored-dir DIR --out finetune_block2_noisy_10db.json

    python3 models/acoustic/v4/export.py --ckpt DIR/loco_ased.pt --out /tmp/ft-export/loco_ased
    target/release/sentio eval --manifest ../shared/data/ased/labels.csv \
        --model /tmp/ft-export/loco_ased/sentio-ser.onnx
"""
import argparse
import copy
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import train as T
from encoder import WhisperStem

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.join(HERE, "..", "..", "whisper", "tiny.en", "model.bin")


def block_forward(blk, x, valid):
    """`encoder.Block.forward` over zero-padded windows: padded frames are neither attended to
    nor pooled (`cache.py` batches windows of one length, so it needs no mask)."""
    b, t, d = x.shape
    h = blk.heads
    q, k, v = blk.qkv(blk.ln1(x)).view(b, t, 3, h, d // h).permute(2, 0, 3, 1, 4)
    s = q @ k.transpose(-1, -2) / (d // h) ** 0.5
    s = s.masked_fill(~valid[:, None, None, :], float("-inf"))
    x = x + blk.out((torch.softmax(s, -1) @ v).transpose(1, 2).reshape(b, t, d))
    return x + blk.fc2(F.gelu(blk.fc1(blk.ln2(x))))


def pooled(x, valid):
    """Mean ‖ (biased) std over each window's valid frames, as cache.py pools."""
    m = valid[:, :, None].float()
    n = m.sum(1)
    mean = (x * m).sum(1) / n
    var = (((x - mean[:, None]) ** 2) * m).sum(1) / n
    return torch.cat([mean, var.clamp_min(0).sqrt()], 1)


class Data:
    def __init__(self):
        self.seq = torch.from_numpy(np.load(os.path.join(T.CACHE, "raw_seq1.npy")))
        self.lens = torch.from_numpy(np.load(os.path.join(T.CACHE, "lens.npy")).astype(np.int64))
        pooled_all = np.load(os.path.join(T.CACHE, "raw_pooled.npy"))
        self.p1 = pooled_all[:, 0].astype(np.float32)
        self.p2_frozen = pooled_all[:, 1].astype(np.float32)

    def batch(self, idx):
        L = int(self.lens[idx].max())
        x = self.seq[idx, :L].float()
        valid = torch.arange(L)[None, :] < self.lens[idx][:, None]
        return x, valid


def block2_embeddings(blk, data, rows=None, batch=128):
    """Pooled block-2 statistics of windows `rows` (default: all) under `blk`."""
    rows = np.arange(len(data.lens)) if rows is None else rows
    order = np.argsort(data.lens.numpy()[rows], kind="stable")
    out = np.zeros((len(rows), 768), np.float32)
    blk.eval()
    with torch.no_grad():
        for k in range(0, len(order), batch):
            j = order[k : k + batch]
            x, valid = data.batch(rows[j])
            out[j] = pooled(block_forward(blk, x, valid), valid).numpy()
    return out


def with_block2(blk, data):
    """The windows' blocks 1+2 embedding with block 2 as `blk` (block 1's from the cache)."""
    return np.concatenate([data.p1, block2_embeddings(blk, data)], 1)


def global_stats(x, rows):
    return x[rows].mean(0), x[rows].std(0) + 1e-5


def fit_frozen(x_frozen, train, a):
    """The frozen arm: `train.py linear`'s fit on the training side; (global stats, lin, mu, sd)."""
    g = global_stats(x_frozen, train)
    _, lin, mu, sd = T.fit_linear(T.speaker_z(x_frozen), train, wd=a.wd, full=True,
                                  aug=(x_frozen - g[0]) / g[1], p_aug=a.mix)
    return g, lin, mu, sd


def score_split(lin, mu, sd, x, g, train, test, classes):
    """(with the speaker's statistics, cold start, session) clip UA of one split."""
    def ua(z):
        with torch.no_grad():
            p = torch.softmax(lin(torch.from_numpy(((z - mu) / sd).astype(np.float32))), -1).numpy()
        return T.clip_ua(p[test], test, classes)[0]

    spk = T.speaker_z(x)
    cold = (x - g[0]) / g[1]
    session = (x - x[test].mean(0)) / (x[test].std(0) + 1e-5)
    return ua(spk), ua(cold), ua(session)


def fine_tune(blk, lin, mu, sd, x_frozen, g, data, train, a):
    """Block 2 and the linear layer together; the normalising statistics from `x_frozen`."""
    rng = np.random.default_rng(T.SEED)
    torch.manual_seed(T.SEED)
    speakers = T.CHANNEL_SPEAKER
    names, inv = np.unique(speakers, return_inverse=True)
    s_mu = np.zeros((len(names), x_frozen.shape[1]), np.float32)
    s_sd = np.ones_like(s_mu)
    for k in range(len(names)):
        rows = x_frozen[inv == k]
        s_mu[k], s_sd[k] = rows.mean(0), rows.std(0) + 1e-5
    s_mu, s_sd, inv_t = torch.from_numpy(s_mu), torch.from_numpy(s_sd), torch.from_numpy(inv)
    g_mu, g_sd = (torch.from_numpy(np.asarray(v, np.float32)) for v in g)
    mu_t, sd_t = torch.from_numpy(mu.astype(np.float32)), torch.from_numpy(sd.astype(np.float32))
    p1 = torch.from_numpy(data.p1)
    y = torch.from_numpy(T.LABEL)
    w = T.sample_weights(train)
    steps = max(1, int(a.epochs * train.sum() / a.batch))
    opt = torch.optim.AdamW([
        {"params": blk.parameters(), "lr": a.lr_block, "weight_decay": 1e-2},
        {"params": lin.parameters(), "lr": a.lr_head, "weight_decay": a.wd},
    ])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[a.lr_block, a.lr_head], total_steps=steps,
                                                pct_start=0.1)
    t0 = time.time()
    for step in range(steps):
        blk.train()
        b = np.sort(rng.choice(len(w), a.batch, p=w))
        x, valid = data.batch(b)
        emb = torch.cat([p1[b], pooled(block_forward(blk, x, valid), valid)], 1)
        bt = torch.from_numpy(b)
        spk = (emb - s_mu[inv_t[bt]]) / s_sd[inv_t[bt]]
        cold = (emb - g_mu) / g_sd
        z = torch.where((torch.rand(len(b)) < a.mix)[:, None], cold, spk)
        loss = T.masked_ce(lin((z - mu_t) / sd_t), y[bt], T.WMASK[bt], smooth=0.0)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(blk.parameters(), 1.0)
        opt.step()
        sched.step()
        if (step + 1) % 25 == 0 or step + 1 == steps:
            print(f"    step {step + 1}/{steps} loss {loss.item():.3f} {time.time() - t0:.0f}s", flush=True)


def save(path, blk, lin, mu, sd, g, a):
    """An `export.py` checkpoint of a tuned model (`train.py linear`'s keys plus `block2`)."""
    cfg = {**vars(a), "variant": "emb", "blocks_list": [1, 2], "block2": "frozen" if blk is None else "fine-tuned"}
    ck = {"lin": lin.state_dict(), "mu": mu, "sd": sd, "config": cfg,
          "embedding_global": [g[0].tolist(), g[1].tolist()]}
    if blk is not None:
        ck["block2"] = blk.state_dict()
    torch.save(ck, path)
    print(f"saved {path}", flush=True)


def score_saved(a, data, base_blk):
    """Each split's saved frozen and tuned models on this cache: the test speaker's statistics in
    this channel, the saved (clean training side's) global statistics, the test side's."""
    x_frozen = np.concatenate([data.p1, data.p2_frozen], 1)
    res = {"config": vars(a), "cache": T.CACHE, "per_split": {}}
    for name, train, test, classes in T.splits():
        out = {}
        for arm, suffix in (("frozen", "_frozen"), ("tuned", "")):
            ck = torch.load(os.path.join(a.scored_dir, f"{name}{suffix}.pt"), weights_only=False)
            lin = nn.Linear(x_frozen.shape[1], 8)
            lin.load_state_dict(ck["lin"])
            x = x_frozen
            if "block2" in ck:
                blk = copy.deepcopy(base_blk)
                blk.load_state_dict(ck["block2"])
                x = with_block2(blk, data)
            g = tuple(np.asarray(v, np.float32) for v in ck["embedding_global"])
            out[arm] = dict(zip(("spk", "cold", "session"),
                                score_split(lin, ck["mu"], ck["sd"], x, g, train, test, classes)))
        print(f"{name}: {out}", flush=True)
        res["per_split"][name] = out
    res["summary"] = summary(res["per_split"])
    return res


def summary(per_split):
    """Per arm and normalisation: the LOCO mean, the RAVDESS CV mean and their mean (train.py's
    selection score), when the run covered both."""
    out = {}
    for arm in ("frozen", "tuned"):
        for k in ("spk", "cold", "session"):
            r = {name: v[arm][k] for name, v in per_split.items()}
            if len(r) == 8:
                out.setdefault(arm, {})[k] = T.score(r)
            else:
                out.setdefault(arm, {})[k] = {"mean_of_splits_run": float(np.mean(list(r.values())))}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--splits", default="loco", help="prefix of the splits to run: loco, ravdess, or '' (all)")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr-block", type=float, default=3e-5)
    ap.add_argument("--lr-head", type=float, default=1e-3)
    ap.add_argument("--wd", type=float, default=0.03)
    ap.add_argument("--mix", type=float, default=0.5)
    ap.add_argument("--out", default="finetune_block2.json")
    ap.add_argument("--save-dir", default="", help="keep each split's tuned model here (export.py format)")
    ap.add_argument("--final", action="store_true", help="fit one model on every window into --save-dir")
    ap.add_argument("--scored-dir", default="", help="score the models saved here on SENTIO_V4_CACHE instead")
    a = ap.parse_args()
    assert not a.final or a.save_dir, "--final writes --save-dir/final.pt"
    if a.save_dir:
        os.makedirs(a.save_dir, exist_ok=True)
    assert not T.AUG, "run without SENTIO_V4_AUG: both arms train on the clean windows"
    data = Data()
    base_blk = WhisperStem.from_ct2(BIN, n_blocks=2).blocks[1]
    # The masked forward reproduces the cache's block 2 (same weights, same frames).
    check = np.arange(0, len(data.lens), 97)
    got = block2_embeddings(base_blk, data, check)
    err = float(np.abs(got - data.p2_frozen[check]).max())
    print(f"block 2 parity on {len(check)} windows: max |diff| {err:.2e}", flush=True)
    assert err < 2e-2, err
    if a.scored_dir:
        res = score_saved(a, data, base_blk)
        print(json.dumps(res["summary"], indent=1))
        with open(os.path.join(T.RESULTS, a.out), "w") as f:
            json.dump(res, f, indent=1)
        return
    x_frozen = np.concatenate([data.p1, data.p2_frozen], 1)
    if a.final:
        everything = np.ones(len(data.lens), bool)
        g, lin, mu, sd = fit_frozen(x_frozen, everything, a)
        blk = copy.deepcopy(base_blk)
        fine_tune(blk, lin, mu, sd, x_frozen, g, data, everything, a)
        save(os.path.join(a.save_dir, "final.pt"), blk, lin, mu, sd,
             global_stats(with_block2(blk, data), everything), a)
        return
    res = {"config": vars(a), "block2_parity_max_abs": err, "per_split": {}}
    for name, train, test, classes in T.splits():
        if a.splits and not name.startswith(a.splits):
            continue
        t0 = time.time()
        g, lin, mu, sd = fit_frozen(x_frozen, train, a)
        frozen = score_split(lin, mu, sd, x_frozen, g, train, test, classes)
        print(f"{name} frozen: spk {frozen[0]:.3f} cold {frozen[1]:.3f} session {frozen[2]:.3f}", flush=True)
        if a.save_dir:
            save(os.path.join(a.save_dir, f"{name}_frozen.pt"), None, lin, mu, sd, g, a)
        blk = copy.deepcopy(base_blk)
        fine_tune(blk, lin, mu, sd, x_frozen, g, data, train, a)
        x_tuned = with_block2(blk, data)
        g_t = global_stats(x_tuned, train)
        tuned = score_split(lin, mu, sd, x_tuned, g_t, train, test, classes)
        if a.save_dir:
            save(os.path.join(a.save_dir, f"{name}.pt"), blk, lin, mu, sd, g_t, a)
        print(f"{name} tuned:  spk {tuned[0]:.3f} cold {tuned[1]:.3f} session {tuned[2]:.3f} "
              f"({time.time() - t0:.0f} s)", flush=True)
        res["per_split"][name] = {"frozen": dict(zip(("spk", "cold", "session"), frozen)),
                                  "tuned": dict(zip(("spk", "cold", "session"), tuned))}
        with open(os.path.join(T.RESULTS, a.out), "w") as f:
            json.dump(res, f, indent=1)
    res["summary"] = summary(res["per_split"])
    print(json.dumps(res["summary"], indent=1))
    with open(os.path.join(T.RESULTS, a.out), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
