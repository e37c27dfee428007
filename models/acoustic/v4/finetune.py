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
from encoder import WHISPERS, WhisperStem

HERE = os.path.dirname(os.path.abspath(__file__))
# The cache says whose encoder made it (cache.py --whisper); block 2 and the checkpoints follow it.
WHISPER = T.META.get("whisper", "tiny.en")
BIN = WHISPERS[WHISPER]
# v7: the cache also pooled over each window's speech frames (cache.py --speech-delta). The
# embedding is then [speech | whole window]: the speaker head reads the speech half (its columns
# of the other half are zero), the cold-start head the whole-window half — chosen per head on
# validation (voiced_probe.py). SENTIO_V4_SPEECH=0 keeps v6's whole-window embedding.
SPEECH_DELTA = float(T.META.get("speech_delta", 0.0)) if os.environ.get("SENTIO_V4_SPEECH", "1") != "0" else 0.0


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
    """Block 1's output frames and both blocks' frozen pooled statistics of every window: the
    clean cache's, then (with SENTIO_V4_AUG) the augmented copies' in train.py's order."""

    def __init__(self):
        caches = [T.CACHE] + ([T.AUG] if T.AUG else [])
        # Block 1's frames are only needed to tune block 2 (a cache made with --blocks "" has none).
        seqs = [os.path.join(c, "raw_seq1.npy") for c in caches]
        self.seq = (torch.from_numpy(np.concatenate([np.load(p) for p in seqs]))
                    if all(os.path.exists(p) for p in seqs) else None)
        self.lens = torch.from_numpy(np.concatenate(
            [np.load(os.path.join(c, "lens.npy")) for c in caches]).astype(np.int64))
        pooled_all = np.concatenate([np.load(os.path.join(c, "raw_pooled.npy")) for c in caches])
        self.p1 = pooled_all[:, 0].astype(np.float32)
        self.p2_frozen = pooled_all[:, 1].astype(np.float32)
        assert len(self.lens) == len(T.WCLIP), (len(self.lens), len(T.WCLIP))
        # v7 (cache.py --speech-delta): blocks 1 + 2 pooled over the speech frames as well.
        speech = [os.path.join(c, "raw_speech_pooled.npy") for c in caches]
        self.speech = (np.concatenate([np.load(p) for p in speech]).reshape(len(self.lens), -1).astype(np.float32)
                       if SPEECH_DELTA and all(os.path.exists(p) for p in speech) else None)
        assert not SPEECH_DELTA or self.speech is not None, "cache.py --speech-delta made no raw_speech_pooled.npy"

    def frozen(self):
        """Every window's embedding under the frozen blocks: blocks 1 + 2 mean ‖ std over the
        whole window (v6), after the same over its speech frames (v7: [speech | whole], 3,072)."""
        whole = np.concatenate([self.p1, self.p2_frozen], 1)
        return whole if self.speech is None else np.concatenate([self.speech, whole], 1)

    def batch(self, idx):
        assert self.seq is not None, "this cache keeps no block 1 frames (cache.py --blocks 1)"
        L = int(self.lens[idx].max())
        x = self.seq[idx, :L].float()
        valid = torch.arange(L)[None, :] < self.lens[idx][:, None]
        return x, valid


def block2_embeddings(blk, data, rows=None, batch=128):
    """Pooled block-2 statistics of windows `rows` (default: all) under `blk`."""
    rows = np.arange(len(data.lens)) if rows is None else rows
    order = np.argsort(data.lens.numpy()[rows], kind="stable")
    out = np.zeros((len(rows), 2 * blk.ln1.normalized_shape[0]), np.float32)
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


def head_columns(x, which):
    """The columns head `which` ("spk" or "cold") reads: all of a v6 embedding; of a v7 one the
    speech half (speaker head) or the whole-window half (cold head)."""
    if not SPEECH_DELTA:
        return slice(None)
    half = x.shape[1] // 2
    return slice(0, half) if which == "spk" else slice(half, None)


def fit_columns(fit, cols, dims):
    """A head fitted on columns `cols` as a layer over all `dims`: zero weights elsewhere (and a
    neutral standardisation), so the graph and the runtime see one embedding."""
    if cols == slice(None):
        return fit
    _, lin, mu, sd = fit
    full = nn.Linear(dims, 8)
    with torch.no_grad():
        full.weight.zero_()
        full.weight[:, cols] = lin.weight
        full.bias.copy_(lin.bias)
    mu_f, sd_f = np.zeros(dims, np.asarray(mu).dtype), np.ones(dims, np.asarray(sd).dtype)
    mu_f[cols], sd_f[cols] = mu, sd
    return fit[0], full, mu_f, sd_f


def global_stats(x, rows):
    return x[rows].mean(0), x[rows].std(0) + 1e-5


class Heads:
    """The classifier(s) on the normalised embedding: `spk` reads it z-normalised with the
    speaker's statistics, `cold` with the global ones (before a speaker has been heard). One head
    (v5): the same layer for both, trained on a `mix` of cold rows. Two heads (v6): a layer each,
    every training row feeding both; the runtime blends their logits by how much of the speaker
    it has heard (`speaker_weight`)."""

    def __init__(self, spk, cold=None):
        self.spk = spk  # (nn.Linear, mu, sd)
        self.cold = cold or spk

    @property
    def two(self):
        return self.cold is not self.spk

    def logits(self, z, which):
        lin, mu, sd = self.spk if which == "spk" else self.cold
        if isinstance(z, np.ndarray):
            z = torch.from_numpy(((z - mu) / sd).astype(np.float32))
            with torch.no_grad():
                return lin(z)
        mu_t, sd_t = (torch.as_tensor(np.asarray(v, np.float32)) for v in (mu, sd))
        return lin((z - mu_t) / sd_t)

    def parameters(self):
        return list(self.spk[0].parameters()) + (list(self.cold[0].parameters()) if self.two else [])


def training_side(train, a, corpora=None):
    """The windows a split trains on: its training side restricted to `--corpora`, the augmented
    copies only with `--aug-weight` > 0."""
    rows = train & np.isin(T.CORPUS, (corpora or a.corpora).split(","))
    return rows & ~T.AUGW if max(a.aug_weight, cold_aug_weight(a)) <= 0 else rows


def cold_aug_weight(a):
    return a.aug_weight if a.aug_weight_cold < 0 else a.aug_weight_cold


def fit_frozen(x_frozen, train, a, corpora=None):
    """The frozen arm: the head(s) fitted on the training side; (global stats, Heads). `--fit
    logreg`: corpus_probe.py's logistic regression (L-BFGS, C); `adamw`: train.py linear's fit.
    Also fits heads on a tuned block's embeddings (`--head-corpora`)."""
    if a.fit == "logreg":
        # Each head on its own rows: the augmented copies at its own weight (none at 0).
        names = (corpora or a.corpora).split(",")
        spk_rows = train & ~T.AUGW if a.aug_weight <= 0 else train
        cold_rows = train & ~T.AUGW if cold_aug_weight(a) <= 0 else train
        g = global_stats(x_frozen, cold_rows)
        cold = (x_frozen - g[0]) / g[1]
        cs, cc, dims = head_columns(x_frozen, "spk"), head_columns(x_frozen, "cold"), x_frozen.shape[1]
        spk = T.fit_logreg(T.speaker_z(x_frozen[:, cs]), spk_rows,
                           T.corpus_weights(spk_rows, names, None, a.aug_weight, a.class_balance), a.C)
        spk = fit_columns(spk, cs, dims)
        if a.heads == 1:
            assert cs == slice(None), "a v7 embedding needs two heads"
            return g, Heads(spk[1:])
        cold_fit = T.fit_logreg(cold[:, cc], cold_rows,
                                T.corpus_weights(cold_rows, names, None, cold_aug_weight(a), a.class_balance), a.C)
        return g, Heads(spk[1:], fit_columns(cold_fit, cc, dims)[1:])
    g = global_stats(x_frozen, train)
    cold = (x_frozen - g[0]) / g[1]
    if a.heads == 2:
        _, lin, mu, sd = T.fit_linear(T.speaker_z(x_frozen), train, wd=a.wd, full=True)
        _, lin_c, mu_c, sd_c = T.fit_linear(cold, train, wd=a.wd, full=True)
        return g, Heads((lin, mu, sd), (lin_c, mu_c, sd_c))
    _, lin, mu, sd = T.fit_linear(T.speaker_z(x_frozen), train, wd=a.wd, full=True, aug=cold, p_aug=a.mix)
    return g, Heads((lin, mu, sd))


def score_split(heads, x, g, train, test, classes):
    """(with the speaker's statistics, cold start, session) clip UA of one split."""
    def ua(z, which):
        p = torch.softmax(heads.logits(z, which), -1).numpy()
        return T.clip_ua(p[test], test, classes)[0]

    spk = T.speaker_z(x)
    cold = (x - g[0]) / g[1]
    session = (x - x[test].mean(0)) / (x[test].std(0) + 1e-5)
    return ua(spk, "spk"), ua(cold, "cold"), ua(session, "spk")


class SpeakerStats:
    """Each (channel-)speaker's embedding mean and second moment, initialised from the frozen
    block's windows and, with `ema`, followed as the block trains: every training row moves its
    speaker's moments by `ema` towards its detached embedding. The global statistics are the
    training windows' pooled moments (each speaker weighing its windows), as scoring takes them."""

    def __init__(self, x_frozen, train, ema):
        names, self.inv = np.unique(T.CHANNEL_SPEAKER, return_inverse=True)
        self.mean = torch.zeros(len(names), x_frozen.shape[1], dtype=torch.float64)
        self.m2 = torch.zeros_like(self.mean)
        for k in range(len(names)):
            rows = x_frozen[self.inv == k].astype(np.float64)
            self.mean[k] = torch.from_numpy(rows.mean(0))
            self.m2[k] = torch.from_numpy((rows ** 2).mean(0))
        self.n_train = torch.from_numpy(np.bincount(self.inv[train], minlength=len(names)).astype(np.float64))
        self.inv_t = torch.from_numpy(self.inv)
        self.ema = ema

    def speaker(self, rows):
        k = self.inv_t[rows]
        m = self.mean[k]
        return m.float(), ((self.m2[k] - m ** 2).clamp_min(0).sqrt() + 1e-5).float()

    def global_(self):
        w = (self.n_train / self.n_train.sum())[:, None]
        m = (w * self.mean).sum(0)
        return m.float(), (((w * self.m2).sum(0) - m ** 2).clamp_min(0).sqrt() + 1e-5).float()

    def observe(self, rows, emb):
        if not self.ema:
            return
        e = emb.detach().double()
        for j, k in enumerate(self.inv[rows]):
            self.mean[k] += self.ema * (e[j] - self.mean[k])
            self.m2[k] += self.ema * (e[j] ** 2 - self.m2[k])


def fine_tune(blk, heads, x_frozen, data, train, a):
    """Block 2 and the head(s) together; the normalising statistics from `x_frozen` (followed by
    an EMA of the tuned embeddings with `--stats-ema`)."""
    rng = np.random.default_rng(T.SEED)
    torch.manual_seed(T.SEED)
    stats = SpeakerStats(x_frozen, train, a.stats_ema)
    p1 = torch.from_numpy(data.p1)
    y = torch.from_numpy(T.LABEL)
    w = T.corpus_weights(train, a.corpora.split(","), None, a.aug_weight, a.class_balance) if a.fit == "logreg" else T.sample_weights(train)
    steps = max(1, int(a.epochs * (train & ~T.AUGW).sum() / a.batch))
    opt = torch.optim.AdamW([
        {"params": blk.parameters(), "lr": a.lr_block, "weight_decay": 1e-2},
        {"params": heads.parameters(), "lr": a.lr_head, "weight_decay": a.wd},
    ])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[a.lr_block, a.lr_head], total_steps=steps,
                                                pct_start=0.1)
    t0 = time.time()
    for step in range(steps):
        blk.train()
        b = np.sort(rng.choice(len(w), a.batch, p=w))
        x, valid = data.batch(b)
        emb = torch.cat([p1[b], pooled(block_forward(blk, x, valid), valid)], 1)
        s_mu, s_sd = stats.speaker(b)
        g_mu, g_sd = stats.global_()
        spk = (emb - s_mu) / s_sd
        cold = (emb - g_mu) / g_sd
        bt = torch.from_numpy(b)
        if heads.two:
            loss = (T.masked_ce(heads.logits(spk, "spk"), y[bt], T.WMASK[bt], smooth=0.0)
                    + T.masked_ce(heads.logits(cold, "cold"), y[bt], T.WMASK[bt], smooth=0.0)) / 2
        else:
            z = torch.where((torch.rand(len(b)) < a.mix)[:, None], cold, spk)
            loss = T.masked_ce(heads.logits(z, "spk"), y[bt], T.WMASK[bt], smooth=0.0)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(blk.parameters(), 1.0)
        opt.step()
        sched.step()
        stats.observe(b, emb)
        if (step + 1) % 25 == 0 or step + 1 == steps:
            print(f"    step {step + 1}/{steps} loss {loss.item():.3f} {time.time() - t0:.0f}s", flush=True)


def save(path, blk, heads, g, a):
    """An `export.py` checkpoint (`train.py linear`'s keys, `cold` for a second head, `block2`)."""
    cfg = {**vars(a), "variant": "emb", "blocks_list": [1, 2], "block2": "frozen" if blk is None else "fine-tuned",
           "whisper": WHISPER, "speech_delta": SPEECH_DELTA}
    lin, mu, sd = heads.spk
    ck = {"lin": lin.state_dict(), "mu": mu, "sd": sd, "config": cfg,
          "embedding_global": [np.asarray(g[0]).tolist(), np.asarray(g[1]).tolist()]}
    if heads.two:
        lin_c, mu_c, sd_c = heads.cold
        ck["cold"] = {"lin": lin_c.state_dict(), "mu": mu_c, "sd": sd_c}
    if blk is not None:
        ck["block2"] = blk.state_dict()
    torch.save(ck, path)
    print(f"saved {path}", flush=True)


def load_heads(ck, dims):
    def layer(state):
        lin = nn.Linear(dims, 8)
        lin.load_state_dict(state)
        return lin
    spk = (layer(ck["lin"]), ck["mu"], ck["sd"])
    cold = (layer(ck["cold"]["lin"]), ck["cold"]["mu"], ck["cold"]["sd"]) if "cold" in ck else None
    return Heads(spk, cold)


def saved_embeddings(ck, data, base_blk):
    """Every window's blocks 1+2 embedding under a saved model (its tuned block 2, if any)."""
    if "block2" not in ck:
        return data.frozen()
    assert data.speech is None, "a tuned block 2 has no speech-pooled embedding (SENTIO_V4_SPEECH=0)"
    blk = copy.deepcopy(base_blk)
    blk.load_state_dict(ck["block2"])
    return with_block2(blk, data)


def score_saved(a, data, base_blk):
    """Each split's saved frozen and tuned models on this cache: the test speaker's statistics in
    this channel, the saved (clean training side's) global statistics, the test side's."""
    res = {"config": vars(a), "cache": T.CACHE, "per_split": {}}
    for name, train, test, classes in T.splits():
        out = {}
        for arm, suffix in (("frozen", "_frozen"), ("tuned", "")):
            path = os.path.join(a.scored_dir, f"{name}{suffix}.pt")
            if not os.path.exists(path):
                continue
            ck = torch.load(path, weights_only=False)
            x = saved_embeddings(ck, data, base_blk)
            g = tuple(np.asarray(v, np.float32) for v in ck["embedding_global"])
            out[arm] = dict(zip(("spk", "cold", "session"),
                                score_split(load_heads(ck, x.shape[1]), x, g, train, test, classes)))
        print(f"{name}: {out}", flush=True)
        res["per_split"][name] = out
    res["summary"] = summary(res["per_split"])
    return res


def summary(per_split):
    """Per arm and normalisation: the LOCO mean, the RAVDESS CV mean and their mean (train.py's
    selection score), when the run covered both."""
    out = {}
    for arm in ("frozen", "tuned"):
        if not all(arm in v for v in per_split.values()):
            continue
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
    ap.add_argument("--mix", type=float, default=0.5, help="one head: share of cold-start rows")
    ap.add_argument("--heads", type=int, default=1, choices=(1, 2), help="2: a speaker head and a cold-start head")
    ap.add_argument("--corpora", default="ravdess,tess,ased,urdu", help="train on these (the held-out one never)")
    ap.add_argument("--head-corpora", default="",
                    help="fit the (frozen and, after tuning, the tuned) heads on these corpora alone; block 2 is "
                         "tuned on --corpora (default: the heads' corpora are --corpora)")
    ap.add_argument("--aug-weight", type=float, default=0.0,
                    help="the augmented copies' (SENTIO_V4_AUG) weight relative to a clean window; 0: not trained on")
    ap.add_argument("--aug-weight-cold", type=float, default=-1.0,
                    help="the augmented copies' weight for the cold-start head (-1: --aug-weight)")
    ap.add_argument("--fit", default="adamw", choices=("adamw", "logreg"), help="how the frozen head(s) are fitted")
    ap.add_argument("--C", type=float, default=1.0, help="--fit logreg: inverse L2 strength")
    ap.add_argument("--class-balance", action="store_true",
                    help="--fit logreg: every class of a corpus the same total weight")
    ap.add_argument("--stats-ema", type=float, default=0.0,
                    help="follow the speaker statistics as block 2 trains (EMA rate per row; 0: frozen block's)")
    ap.add_argument("--out", default="finetune_block2.json")
    ap.add_argument("--save-dir", default="", help="keep each split's tuned model here (export.py format)")
    ap.add_argument("--final", action="store_true", help="fit one model on every window into --save-dir")
    ap.add_argument("--scored-dir", default="", help="score the models saved here on SENTIO_V4_CACHE instead")
    a = ap.parse_args()
    assert not a.final or a.save_dir, "--final writes --save-dir/final.pt"
    if a.save_dir:
        os.makedirs(a.save_dir, exist_ok=True)
    data = Data()
    base_blk = WhisperStem.from_ct2(BIN, n_blocks=2).blocks[1]
    print(f"Whisper {WHISPER}, {len(data.lens)} windows", flush=True)
    err = None
    if data.seq is not None:
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
    x_frozen = data.frozen()
    assert a.epochs == 0 or data.speech is None, "fine-tuning block 2 needs SENTIO_V4_SPEECH=0 (v6's embedding)"
    if a.final:
        everything = training_side(np.ones(len(data.lens), bool), a)
        head_rows = training_side(np.ones(len(data.lens), bool), a, a.head_corpora)
        g, heads = fit_frozen(x_frozen, head_rows, a, a.head_corpora)
        if a.epochs == 0:
            save(os.path.join(a.save_dir, "final.pt"), None, heads, g, a)
            return
        blk = copy.deepcopy(base_blk)
        if a.head_corpora:
            _, heads = fit_frozen(x_frozen, everything, a)
        fine_tune(blk, heads, x_frozen, data, everything, a)
        x_tuned = with_block2(blk, data)
        g = global_stats(x_tuned, everything)
        if a.head_corpora:
            g, heads = fit_frozen(x_tuned, head_rows, a, a.head_corpora)
        save(os.path.join(a.save_dir, "final.pt"), blk, heads, g, a)
        return
    res = {"config": vars(a), "block2_parity_max_abs": err, "per_split": {}}
    for name, train, test, classes in T.splits():
        if a.splits and not name.startswith(a.splits):
            continue
        train, head_train = training_side(train, a), training_side(train, a, a.head_corpora)
        t0 = time.time()
        g, heads = fit_frozen(x_frozen, head_train, a, a.head_corpora)
        frozen = score_split(heads, x_frozen, g, train, test, classes)
        print(f"{name} frozen: spk {frozen[0]:.3f} cold {frozen[1]:.3f} session {frozen[2]:.3f}", flush=True)
        if a.save_dir:
            save(os.path.join(a.save_dir, f"{name}_frozen.pt"), None, heads, g, a)
        if a.epochs == 0:
            res["per_split"][name] = {"frozen": dict(zip(("spk", "cold", "session"), frozen))}
            continue
        blk = copy.deepcopy(base_blk)
        if a.head_corpora:
            # Tuned on every training corpus through heads fitted on them all; the shipped heads
            # are then refitted on the tuned embeddings of `--head-corpora` alone.
            _, heads = fit_frozen(x_frozen, train, a)
        fine_tune(blk, heads, x_frozen, data, train, a)
        x_tuned = with_block2(blk, data)
        g_t = global_stats(x_tuned, train)
        tuned = score_split(heads, x_tuned, g_t, train, test, classes)
        if a.head_corpora:
            print(f"{name} tuned, heads of all corpora: spk {tuned[0]:.3f} cold {tuned[1]:.3f} "
                  f"session {tuned[2]:.3f}", flush=True)
            res.setdefault("joint_heads", {})[name] = dict(zip(("spk", "cold", "session"), tuned))
            g_t, heads = fit_frozen(x_tuned, head_train, a, a.head_corpora)
            tuned = score_split(heads, x_tuned, g_t, train, test, classes)
        if a.save_dir:
            save(os.path.join(a.save_dir, f"{name}.pt"), blk, heads, g_t, a)
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
