#!/usr/bin/env python3
"""v4 acoustic model: choose, evaluate and train on the frozen-encoder cache (cache.py).

    python3 models/acoustic/v4/train.py probe    # block x normalisation, linear probe, LOCO + RAVDESS CV
    python3 models/acoustic/v4/train.py head --block 2 --variant spk    # the BiLSTM head, same protocol
    python3 models/acoustic/v4/train.py final --block 2 --variant spk --epochs E   # all corpora -> final.pt

Protocol (speaker-independent always; every choice is made on these validation figures):
- LOCO: train on the other corpora (RAVDESS 1-20 always in), test on TESS / ASED / URDU; UA over
  the held-out corpus's own classes (argmax among them).
- RAVDESS CV: fold k tests actors 4k+1..4k+4, trains on the other 16 actors and all of TESS, ASED,
  URDU. UA over the 8 classes.
- Selection score = mean(LOCO mean, RAVDESS CV mean).
- Loss: cross-entropy with the logits of the classes a window's corpus lacks masked out; windows
  sampled so that every corpus weighs the same and every clip the same within its corpus.
- Clip decision: the mean of its windows' probabilities.
- Test speakers normalised with their own statistics ("spk"), and without ("raw": the global
  fallback of the same model) — both reported.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import data as D
from model import Head

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.environ.get("SENTIO_V4_CACHE", "/tmp/v4-cache")
RESULTS = os.path.join(HERE, "results")
SEED = 20241202
torch.set_num_threads(2)


def load_meta():
    with open(os.path.join(CACHE, "meta.json")) as f:
        m = json.load(f)
    clips = [D.Clip(**c) for c in m["clips"]]
    return m, clips


META, CLIPS = load_meta()
# SENTIO_V4_AUG: a cache.py cache of augment.py's noisy/reverberant copies of the same clips. Its
# windows join the training side of every split (never a test side); each speaker's copies are
# normalised with their own statistics, as a speaker heard through that channel would be live.
AUG = os.environ.get("SENTIO_V4_AUG", "")
N_CLEAN = len(META["clip"])
if AUG:
    with open(os.path.join(AUG, "meta.json")) as f:
        META["clip"] = META["clip"] + json.load(f)["clip"]
AUGW = np.arange(len(META["clip"])) >= N_CLEAN
WCLIP = np.array(META["clip"])
CORPUS = np.array([CLIPS[c].corpus for c in WCLIP])
LABEL = np.array([CLIPS[c].label for c in WCLIP])
SPEAKER = np.array([CLIPS[c].speaker for c in WCLIP])
# The statistics a speaker's windows are normalised with: per speaker and channel (clean / aug).
CHANNEL_SPEAKER = np.where(AUGW, np.char.add(SPEAKER.astype(str), "|aug"), SPEAKER)
CC = D.corpus_classes(CLIPS)
MASK = {k: torch.tensor([i in v for i in range(8)]) for k, v in CC.items()}
WMASK = torch.stack([MASK[c] for c in CORPUS])
ACTOR = np.array([int(s.split(":")[1]) if s.startswith("ravdess:") else 0 for s in SPEAKER])


def splits():
    """(name, train window mask, test window mask, test classes)."""
    out = []
    for held in ("tess", "ased", "urdu"):
        out.append((f"loco_{held}", CORPUS != held, CORPUS == held, CC[held]))
    for k in range(5):
        test = (CORPUS == "ravdess") & (ACTOR >= 4 * k + 1) & (ACTOR <= 4 * k + 4)
        out.append((f"ravdess_fold{k}", ~test, test, CC["ravdess"]))
    return [(n, tr, te & ~AUGW, c) for n, tr, te, c in out]


def load_pooled(variant):
    """[windows, blocks, 768] pooled mean ‖ std, the augmented windows (if any) after the clean."""
    x = np.load(os.path.join(CACHE, f"{variant}_pooled.npy"), mmap_mode="r")
    if AUG:
        x = np.concatenate([x, np.load(os.path.join(AUG, f"{variant}_pooled.npy"), mmap_mode="r")])
    return x


def sample_weights(train):
    w = np.zeros(len(train))
    idx = np.where(train)[0]
    clips_of = {}
    for i in idx:
        clips_of.setdefault(WCLIP[i], []).append(i)
    corp_clips = {}
    for c in clips_of:
        corp_clips.setdefault(CLIPS[c].corpus, 0)
        corp_clips[CLIPS[c].corpus] += 1
    for c, ws in clips_of.items():
        for i in ws:
            w[i] = 1.0 / (corp_clips[CLIPS[c].corpus] * len(ws))
    return w / w.sum()


def masked_ce(logits, y, mask, smooth=0.1):
    logits = logits.masked_fill(~mask, -1e9)
    logp = F.log_softmax(logits, dim=-1)
    nll = -logp.gather(1, y[:, None]).squeeze(1)
    n = mask.sum(1).clamp_min(1)
    uni = -(logp * mask).sum(1) / n
    return ((1 - smooth) * nll + smooth * uni).mean()


def clip_ua(probs, test, classes):
    """UA over `classes` of clip decisions (mean of window probabilities)."""
    return ua_by_clip(probs, WCLIP[np.where(test)[0]], classes)


def ua_by_clip(probs, clip, classes):
    """`clip_ua` for windows of any cache: `clip` is each row of `probs`'s clip."""
    by_clip = {}
    for j, c in enumerate(clip):
        by_clip.setdefault(c, []).append(probs[j])
    cls = np.array(classes)
    y, p = [], []
    for c, ps in by_clip.items():
        m = np.mean(ps, 0)
        y.append(CLIPS[c].label)
        p.append(cls[np.argmax(m[cls])])
    y, p = np.array(y), np.array(p)
    recalls = [float((p[y == k] == k).mean()) for k in classes if (y == k).any()]
    return float(np.mean(recalls)), len(y)


def score(res):
    loco = np.mean([res[f"loco_{c}"] for c in ("tess", "ased", "urdu")])
    rav = [res[f"ravdess_fold{k}"] for k in range(5)]
    return {"loco_mean": float(loco), "ravdess_cv_mean": float(np.mean(rav)), "ravdess_cv_std": float(np.std(rav)),
            "selection": float((loco + np.mean(rav)) / 2)}


# ---------------------------------------------------------------- linear probe (choice of block / norm)
def probe_features(variant, block):
    if variant == "emb":  # each speaker's pooled vectors z-normalised (the probe)
        x = load_pooled("raw")[:, block - 1].astype(np.float32)
        out = np.empty_like(x)
        for s in np.unique(SPEAKER):
            i = SPEAKER == s
            out[i] = (x[i] - x[i].mean(0)) / (x[i].std(0) + 1e-5)
        return out
    return load_pooled(variant)[:, block - 1].astype(np.float32)


def fit_linear(x, train, steps=300, wd=1e-3, full=False, aug=None, p_aug=0.0):
    """Logistic regression on windows `train` of `x`. `aug`: the same windows normalised another
    way (the cold-start, global statistics); each training row is swapped for its `aug` row with
    probability `p_aug`, so one head serves both before and after a speaker's statistics exist."""
    rng = np.random.default_rng(SEED)
    mu, sd = x[train].mean(0), x[train].std(0) + 1e-5
    xt = torch.from_numpy((x - mu) / sd)
    xa = None if aug is None else torch.from_numpy((aug - mu) / sd)
    y = torch.from_numpy(LABEL)
    w = torch.from_numpy(sample_weights(train)).float()
    lin = nn.Linear(x.shape[1], 8)
    opt = torch.optim.AdamW(lin.parameters(), lr=1e-2, weight_decay=wd)
    tr = torch.from_numpy(np.where(train)[0])
    gen = torch.Generator().manual_seed(SEED)
    for _ in range(steps):
        b = tr[torch.multinomial(w[tr], 1024, replacement=True, generator=torch.Generator().manual_seed(int(rng.integers(1 << 30))))]
        xb = xt[b]
        if xa is not None and p_aug > 0:
            swap = torch.rand(len(b), generator=gen) < p_aug
            xb = torch.where(swap[:, None], xa[b], xb)
        loss = masked_ce(lin(xb), y[b], WMASK[b], smooth=0.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        probs = torch.softmax(lin(xt), -1).numpy()
    return (probs, lin, mu, sd) if full else probs


def corpus_weights(train, corpora=None, rav_share=None, aug=1.0, balance=False):
    """Sample weights of the windows `train` (summing to 1 over them): every clip the same within
    its corpus, every corpus of `corpora` its share (`rav_share`: RAVDESS's, the others split the
    rest; None: equal shares), the augmented copies `aug` times a clean window's weight. Windows of
    other corpora get 0. `balance`: within a corpus every class present the same total weight
    (RAVDESS has half as many neutral clips as of each other class; UA weighs classes equally)."""
    corpora = tuple(np.unique(CORPUS)) if corpora is None else tuple(corpora)
    idx = np.where(train & np.isin(CORPUS, corpora))[0]
    clip = WCLIP[idx]
    per_clip = 1.0 / np.bincount(clip)[clip]
    present = [c for c in corpora if (CORPUS[idx] == c).any()]
    share = {c: 1.0 / len(present) for c in present}
    if rav_share is not None and len(present) > 1:
        share = {c: rav_share if c == "ravdess" else (1 - rav_share) / (len(present) - 1) for c in present}
    w = np.zeros(len(CORPUS))
    for c in present:
        m = idx[CORPUS[idx] == c]
        w[m] = per_clip[CORPUS[idx] == c] / per_clip[CORPUS[idx] == c].sum() * share[c]
        if balance:
            classes = np.unique(LABEL[m])
            for k in classes:
                mk = m[LABEL[m] == k]
                w[mk] *= share[c] / len(classes) / w[mk].sum()
    w = np.where(AUGW, w * aug, w)
    return w / w.sum()


def fit_logreg(x, train, w, c=1.0, full=True):
    """Multinomial logistic regression on windows `train` of `x` (standardised on them): the sum
    over windows of w * NLL (w scaled to sum to their count; the logits of the classes a window's
    corpus lacks masked out) + ||W||^2 / 2C, by L-BFGS — sklearn's objective, the issue's probe.
    Returns (probabilities of every window, nn.Linear, mu, sd) like `fit_linear`."""
    rows = np.where(train & (w > 0))[0]
    mu, sd = x[rows].mean(0), x[rows].std(0) + 1e-5
    xt = torch.from_numpy(((x[rows] - mu) / sd).astype(np.float32))
    yt = torch.from_numpy(LABEL[rows])
    wt = torch.from_numpy((w[rows] / w[rows].sum() * len(rows)).astype(np.float32))
    mask = WMASK[torch.from_numpy(rows)]
    lin = nn.Linear(x.shape[1], 8)
    nn.init.zeros_(lin.weight)
    nn.init.zeros_(lin.bias)
    opt = torch.optim.LBFGS(lin.parameters(), lr=1, max_iter=300, tolerance_grad=1e-6, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        lo = lin(xt).masked_fill(~mask, -1e9)
        loss = (F.cross_entropy(lo, yt, reduction="none") * wt).sum() + (lin.weight ** 2).sum() / (2 * c)
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        probs = torch.softmax(lin(torch.from_numpy(((x - mu) / sd).astype(np.float32))), -1).numpy()
    return (probs, lin, mu, sd) if full else probs


def run_probe(_):
    out = {}
    for variant in ("raw", "spk", "emb"):
        for block in (1, 2, 3, 4):
            x = probe_features(variant, block)
            res = {}
            for name, train, test, classes in splits():
                probs = fit_linear(x, train)
                res[name] = clip_ua(probs[test], test, classes)[0]
            s = score(res)
            out[f"{variant}_block{block}"] = {"per_split": res, **s}
            print(f"{variant} block {block}: LOCO {s['loco_mean']:.3f} RAV {s['ravdess_cv_mean']:.3f} "
                  f"sel {s['selection']:.3f}  " + " ".join(f"{k}={v:.3f}" for k, v in res.items()), flush=True)
    with open(os.path.join(RESULTS, "probe.json"), "w") as f:
        json.dump(out, f, indent=1)


# ---------------------------------------------------------------- BiLSTM head
def load_seq(variant, block):
    return np.load(os.path.join(CACHE, f"{variant}_seq{block}.npy"), mmap_mode="r")


def train_head(seq, train, epochs, eval_sets=(), hidden=64, lr=2e-3, batch=64, log_every=1):
    """Trains on windows `train`; after every epoch scores each (name, seq, test, classes) in eval_sets."""
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    lens = torch.from_numpy(np.load(os.path.join(CACHE, "lens.npy")).astype(np.int64))
    head = Head(hidden=hidden)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=1e-2)
    w = sample_weights(train)
    n = int(train.sum())
    steps = max(1, n // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps, pct_start=0.15)
    y = torch.from_numpy(LABEL)
    curves = {name: [] for name, *_ in eval_sets}
    for ep in range(epochs):
        head.train()
        t0 = time.time()
        for _ in range(steps):
            b = np.sort(rng.choice(len(w), batch, p=w))
            x = torch.from_numpy(seq[b].astype(np.float32))
            # SpecAugment-like time masking on encoder frames and small feature noise.
            lb = lens[b]
            for j in range(len(b)):
                L = int(lb[j])
                t = int(rng.integers(0, max(1, L // 5)))
                s = int(rng.integers(0, max(1, L - t)))
                x[j, s : s + t] = 0.0
            loss = masked_ce(head(x, lb), y[b], WMASK[b])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(head.parameters(), 5.0)
            opt.step()
            sched.step()
        head.eval()
        msg = []
        for name, eseq, test, classes in eval_sets:
            p = predict(head, eseq, np.where(test)[0], lens)
            ua = clip_ua(p, test, classes)[0]
            curves[name].append(ua)
            msg.append(f"{name} {ua:.3f}")
        print(f"  epoch {ep + 1}/{epochs} loss {loss.item():.3f} {time.time() - t0:.0f}s " + " ".join(msg), flush=True)
    return head, curves


def predict(head, seq, idx, lens, batch=256):
    out = []
    with torch.no_grad():
        for k in range(0, len(idx), batch):
            b = idx[k : k + batch]
            out.append(torch.softmax(head(torch.from_numpy(seq[b].astype(np.float32)), lens[b]), -1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 8))


def run_head(a):
    seq = load_seq(a.variant, a.block)
    raw = load_seq("raw", a.block) if a.variant == "spk" else None
    curves, oof = {}, {}
    for name, train, test, classes in splits():
        if a.only and not name.startswith(a.only):
            continue
        print(name, flush=True)
        sets = [(name, seq, test, classes)]
        if raw is not None:
            sets.append((name + "_nostats", raw, test, classes))
        head, c = train_head(seq, train, a.epochs, sets, hidden=a.hidden)
        curves.update(c)
        os.makedirs("/tmp/v4-heads", exist_ok=True)
        torch.save(head.state_dict(), f"/tmp/v4-heads/{a.variant}_b{a.block}_h{a.hidden}_e{a.epochs}_{name}.pt")
        lens = torch.from_numpy(np.load(os.path.join(CACHE, "lens.npy")).astype(np.int64))
        idx = np.where(test)[0]
        oof[name] = {"idx": idx.tolist(), "logits_probs": predict(head, seq, idx, lens).tolist()}
    tag = f"head_{a.variant}_block{a.block}_h{a.hidden}_e{a.epochs}"
    with open(os.path.join(RESULTS, tag + ".json"), "w") as f:
        json.dump({"curves": curves, "config": vars(a)}, f, indent=1)
    np.save(os.path.join("/tmp", tag + "_oof.npy"), np.array([oof], dtype=object), allow_pickle=True)
    # Per-epoch selection score.
    if all(f"loco_{c}" in curves for c in ("tess", "ased", "urdu")) and all(f"ravdess_fold{k}" in curves for k in range(5)):
        for ep in range(a.epochs):
            s = score({k: v[ep] for k, v in curves.items() if not k.endswith("_nostats")})
            print(f"epoch {ep + 1}: LOCO {s['loco_mean']:.3f} RAV {s['ravdess_cv_mean']:.3f}±{s['ravdess_cv_std']:.3f} sel {s['selection']:.3f}")


def run_saved(a):
    """Scores the per-split heads that `head` saved on this cache (SENTIO_V4_CACHE: e.g. noisy copies)."""
    lens = torch.from_numpy(np.load(os.path.join(CACHE, "lens.npy")).astype(np.int64))
    res = {}
    for variant in ("spk", "raw"):
        seq = load_seq(variant, a.block)
        for name, train, test, classes in splits():
            head = Head(hidden=a.hidden)
            head.load_state_dict(torch.load(f"/tmp/v4-heads/{a.variant}_b{a.block}_h{a.hidden}_e{a.epochs}_{name}.pt"))
            head.eval()
            p = predict(head, seq, np.where(test)[0], lens)
            res[name + ("" if variant == a.variant else "_nostats")] = clip_ua(p, test, classes)[0]
    s = score({k: v for k, v in res.items() if not k.endswith("_nostats")})
    s_raw = score({k[: -len("_nostats")]: v for k, v in res.items() if k.endswith("_nostats")})
    out = {"cache": CACHE, "per_split": res, "speaker_stats": s, "no_speaker_stats": s_raw}
    print(json.dumps(out, indent=1))
    with open(os.path.join(RESULTS, a.out or "saved.json"), "w") as f:
        json.dump(out, f, indent=1)


def blocks_of(a):
    return [int(b) for b in a.blocks.split("+")]


def pooled_of(variant, a):
    return np.concatenate([probe_features(variant, b) for b in blocks_of(a)], axis=1)


def speaker_z(x, speakers=None):
    """Each speaker's windows z-normalised with that speaker's own statistics (mean, std over
    their windows): what the runtime's embedding normaliser estimates live."""
    return D.speaker_z(x, CHANNEL_SPEAKER if speakers is None else speakers)


def embedding_inputs(a, train):
    """(features the head trains and is scored on with speaker statistics, the same windows as the
    head sees them without any: cold start, global statistics).

    variant raw/spk: mel-level normalisation only (v4). emb / embspk: the pooled embedding of the
    raw / speaker-normalised mel z-normalised per speaker; its cold start is the raw mel's
    embedding z-normalised with the training windows' global statistics."""
    if not a.variant.startswith("emb"):
        return pooled_of(a.variant, a), pooled_of("raw", a), None
    base = pooled_of(a.variant[3:] or "raw", a)
    g_mu, g_sd = base[train].mean(0), base[train].std(0) + 1e-5
    cold = (pooled_of("raw", a) - g_mu) / g_sd
    return speaker_z(base), cold, (g_mu, g_sd)


def linear_tag(a, aug=None):
    """Names a linear recipe's results and checkpoints (`_aug`: trained with SENTIO_V4_AUG)."""
    aug = bool(AUG) if aug is None else aug
    return f"linear_{a.variant}_b{a.blocks}_wd{a.wd}" + (f"_mix{a.mix}" if a.mix else "") + ("_aug" if aug else "")


def run_linear(a):
    """The chosen head: statistics pooling (mean ‖ std of block-`block` frames) + a linear layer.
    LOCO + RAVDESS CV with and without the test speaker's statistics, out-of-fold probabilities
    for calibration, per-split weights for the robustness curve, and the final fit on everything."""
    tag = linear_tag(a)
    res, oof = {}, {}
    os.makedirs("/tmp/v4-heads", exist_ok=True)
    for name, train, test, classes in splits():
        x, xr, g = embedding_inputs(a, train)
        probs, lin, mu, sd = fit_linear(x, train, wd=a.wd, full=True, aug=xr, p_aug=a.mix)
        res[name] = clip_ua(probs[test], test, classes)[0]
        with torch.no_grad():
            pr = torch.softmax(lin(torch.from_numpy((xr - mu) / sd)), -1).numpy()
        res[name + "_nostats"] = clip_ua(pr[test], test, classes)[0]
        if a.variant.startswith("emb"):
            # No speaker labels, but the test side heard as one stream: its embeddings normalised
            # with their own statistics (what the running estimate converges to on a session
            # of unknown, mixed speakers; `sentio eval --normalize session`).
            base = pooled_of(a.variant[3:] or "raw", a)
            xs = (base - base[test].mean(0)) / (base[test].std(0) + 1e-5)
            with torch.no_grad():
                ps = torch.softmax(lin(torch.from_numpy((xs - mu) / sd)), -1).numpy()
            res[name + "_session"] = clip_ua(ps[test], test, classes)[0]
        idx = np.where(test)[0]
        oof[name] = {"idx": idx.tolist(), "logits_probs": probs[test].tolist()}
        torch.save({"lin": lin.state_dict(), "mu": mu, "sd": sd, "config": {**vars(a), "blocks_list": blocks_of(a)},
                    "embedding_global": g}, f"/tmp/v4-heads/{tag}_{name}.pt")
    s = score({k: v for k, v in res.items() if "_" not in k.replace("loco_", "").replace("ravdess_", "")})
    s0 = score({k[:-8]: v for k, v in res.items() if k.endswith("_nostats")})
    out = {"per_split": res, "speaker_stats": s, "no_speaker_stats": s0, "config": vars(a)}
    if a.variant.startswith("emb"):
        out["session_stats"] = score({k[:-8]: v for k, v in res.items() if k.endswith("_session")})
    print(json.dumps(out, indent=1))
    with open(os.path.join(RESULTS, tag + ".json"), "w") as f:
        json.dump(out, f, indent=1)
    np.save(f"/tmp/{tag}_oof.npy", np.array([oof], dtype=object), allow_pickle=True)
    everything = np.ones(len(WCLIP), bool)
    x, xr, g = embedding_inputs(a, everything)
    _, lin, mu, sd = fit_linear(x, everything, wd=a.wd, full=True, aug=xr, p_aug=a.mix)
    torch.save({"lin": lin.state_dict(), "mu": mu, "sd": sd, "config": {**vars(a), "blocks_list": blocks_of(a)},
                "embedding_global": None if g is None else [g[0].tolist(), g[1].tolist()]},
               f"/tmp/{tag}_final.pt")
    print(f"saved /tmp/{tag}_final.pt")


def run_saved_linear(a):
    """The per-split linear heads of `linear` on this cache (SENTIO_V4_CACHE: noisy copies).

    Embedding variants: with statistics, each test speaker's embeddings normalised with their own
    statistics in this noise (the running estimate hears the speaker through the same channel);
    without, the training side's global statistics (cold start); session, the test side's."""
    res = {}
    tag = linear_tag(a, aug=a.aug)
    emb = a.variant.startswith("emb")
    for variant in (("emb", "raw", "session") if emb else ("spk", "raw")):
        base = pooled_of("raw" if emb else variant, a)
        for name, train, test, classes in splits():
            ck = torch.load(f"/tmp/v4-heads/{tag}_{name}.pt", weights_only=False)
            if variant == "emb":
                x = speaker_z(base)
            elif variant == "session":
                x = (base - base[test].mean(0)) / (base[test].std(0) + 1e-5)
            elif emb:
                x = (base - ck["embedding_global"][0]) / ck["embedding_global"][1]
            else:
                x = base
            lin = nn.Linear(x.shape[1], 8)
            lin.load_state_dict(ck["lin"])
            with torch.no_grad():
                p = torch.softmax(lin(torch.from_numpy(((x - ck["mu"]) / ck["sd"]).astype(np.float32))), -1).numpy()
            suffix = {"raw": "_nostats", "session": "_session"}.get(variant, "")
            res[name + suffix] = clip_ua(p[test], test, classes)[0]
    s = score(res)
    s0 = score({k[:-8]: v for k, v in res.items() if k.endswith("_nostats")})
    out = {"cache": CACHE, "per_split": res, "speaker_stats": s, "no_speaker_stats": s0}
    if emb:
        out["session_stats"] = score({k[:-8]: v for k, v in res.items() if k.endswith("_session")})
    print(json.dumps(out, indent=1))
    with open(os.path.join(RESULTS, a.out or "saved_linear.json"), "w") as f:
        json.dump(out, f, indent=1)


def run_final(a):
    seq = load_seq(a.variant, a.block)
    train = np.ones(len(WCLIP), bool)
    head, _ = train_head(seq, train, a.epochs, (), hidden=a.hidden)
    torch.save({"head": head.state_dict(), "config": vars(a)}, os.path.join("/tmp", "v4_final.pt"))
    print("saved /tmp/v4_final.pt")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("stage", choices=["probe", "head", "final", "saved", "linear", "saved_linear"])
    ap.add_argument("--out", default="")
    ap.add_argument("--blocks", default="1+2", help="linear head: blocks whose pooled statistics it reads")
    ap.add_argument("--wd", type=float, default=3e-2, help="linear head: weight decay")
    ap.add_argument("--block", type=int, default=2)
    ap.add_argument("--variant", default="spk")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--only", default="")
    ap.add_argument("--aug", action="store_true", help="saved_linear: the heads trained with SENTIO_V4_AUG")
    ap.add_argument("--mix", type=float, default=0.0, help="linear head: share of training rows seen with cold-start (global) statistics")
    a = ap.parse_args()
    {"probe": run_probe, "head": run_head, "final": run_final, "saved": run_saved, "linear": run_linear,
     "saved_linear": run_saved_linear}[a.stage](a)
