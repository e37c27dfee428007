#!/usr/bin/env python3
"""Sentio acoustic emotion model: training, speaker-independent cross-validation, ONNX export.

  python3 models/acoustic/train.py --cv            # 5-fold speaker-independent CV -> results/<version>.json
  python3 models/acoustic/train.py --final         # all 20 actors -> sentio-ser.onnx + sentio-ser.json + parity
  python3 models/acoustic/train.py --ablation      # augmentation ablation (cheaper protocol) -> results/ablation.json
  python3 models/acoustic/train.py --cv --norm global --version v1-globalnorm   # adaptation comparison

Protocol
- Folds: fold k (0-based) tests actors 4k+1..4k+4; the other 16 actors train. Inside those 16, two
  actors (one male, one female, chosen with the seed) are the validation split that picks the epoch;
  the test fold is never looked at until the chosen checkpoint is evaluated.
- Features: ONLY from the Rust front end (`target/release/sentio features`), columns [c0, c1).
- Normalisation "speaker": every speaker (an actor, or an augmented virtual session (actor, copy))
  is z-normalised with the mean / std of its own voiced frames over all its clips. Test speakers are
  normalised with statistics of their own (unlabelled) clips, like the plugin's running per-speaker
  statistics; variants from only the first N seconds are measured too. "global": one mean / std
  from the training actors' voiced frames.
- Training: random crops of 150-300 frames (1.5-3 s) placed on voiced frames; each epoch visits every
  training clip once (with augmentation: the original with probability p_orig, else one of its K
  augmented copies); SpecAugment-style masking and mixup (both on in v3); label smoothing 0.1;
  AdamW + one-cycle. Defaults (default_cfg) are the shipped v3 recipe.
- Clip-level evaluation: 250-frame windows (the plugin's 2.5 s window), hop 50, covering the clip's
  voiced span +-0.25 s (a shorter span is widened symmetrically to 250 frames of the clip); the
  clip's probabilities are the mean over its windows.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import augment as A  # noqa: E402
from model import CLASSES, ExportWrapper, SerNet, n_params  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
CLI = os.environ.get("SENTIO_CLI", os.path.join(REPO, "target", "release", "sentio"))  # override: tests only
AUG_ROOT = "/tmp/sentio-aug"
FEAT_ROOT = "/tmp/sentio-feat"
RUN_ROOT = "/tmp/sentio-runs"
RESULTS = os.path.join(HERE, "results")
N_FOLDS = 5
ENERGY_COL = 104

torch.set_num_threads(int(os.environ.get("SENTIO_THREADS", "2")))
DEV = torch.device("cpu")  # --device cuda: same code on a GPU (the results do not depend on it beyond float noise)
PACK = None  # --pack FILE: features from pack.py instead of the feature cache (same Rust features)


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# features (Rust CLI only)
def run_cli(paths_or_names: list[str], list_dir: str, out_dir: str):
    os.makedirs(out_dir, exist_ok=True)
    lst = os.path.join(list_dir, f"list-{os.path.basename(out_dir)}.txt")
    with open(lst, "w") as f:
        f.write("\n".join(paths_or_names) + "\n")
    t0 = time.time()
    r = subprocess.run(["nice", "-n", "10", CLI, "features", "--list", lst, "--out", out_dir],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"sentio features failed ({r.returncode}): {r.stderr.strip()}\n"
                         f"Is {CLI} built with the `features` subcommand?")
    log(f"features: {len(paths_or_names)} files -> {out_dir} in {time.time() - t0:.1f} s")


def ensure_orig_features() -> str:
    out = os.path.join(FEAT_ROOT, "orig")
    clips = A.corpus()
    if not all(os.path.exists(os.path.join(out, c["stem"] + ".npy")) for c in clips):
        os.makedirs(FEAT_ROOT, exist_ok=True)
        run_cli([c["path"] for c in clips], FEAT_ROOT, out)
    return out


def ensure_aug_features(set_name: str, copies: int, seed: int) -> str:
    aug_dir = os.path.join(AUG_ROOT, set_name)
    out = os.path.join(FEAT_ROOT, set_name)
    lst = os.path.join(aug_dir, "list.txt")
    want = len(A.corpus()) * copies
    # copy k depends only on (seed, actor, k): a set made with more copies holds these ones too
    if not (os.path.exists(lst) and len(open(lst).read().split()) >= want):
        A.make_set(AUG_ROOT, set_name, copies, seed)
    names = [n for n in open(lst).read().split() if int(n[:-4].rsplit("_k", 1)[1]) < copies]
    if not all(os.path.exists(os.path.join(out, n[:-4] + ".npy")) for n in names):
        run_cli([os.path.join(aug_dir, n) for n in names], aug_dir, out)
    return out


def voiced_mask(energy: np.ndarray) -> np.ndarray:
    """Energy VAD on the front end's dBFS column: above -60 dBFS and 10 dB over the clip's noise
    floor (10th percentile), like the plugin's VAD margin; falls back to the louder half."""
    floor = np.percentile(energy, 10)
    m = (energy > -60.0) & (energy > floor + 10.0)
    if m.sum() < 20:
        m = energy >= np.median(energy)
    return m


class Clip:
    __slots__ = ("stem", "actor", "label", "speaker", "x", "v", "copy")

    def __init__(self, stem, actor, label, speaker, x, v, copy_idx):
        self.stem, self.actor, self.label, self.speaker = stem, actor, label, speaker
        self.x, self.v, self.copy = x, v, copy_idx


def load_clips(feat_dir: str, cols, copies: int | None) -> list[Clip]:
    """copies None: original clips; else augmented copies k=0..copies-1 (speaker = actor_k)."""
    c0, c1 = cols
    out = []
    for c in A.corpus():
        ks = [None] if copies is None else range(copies)
        for k in ks:
            name = c["stem"] if k is None else f"{c['stem']}_k{k}"
            arr = np.load(os.path.join(feat_dir, name + ".npy"))
            spk = f"a{c['actor']:02d}" if k is None else f"a{c['actor']:02d}k{k}"
            out.append(Clip(c["stem"], c["actor"], c["emotion"], spk,
                            np.ascontiguousarray(arr[:, c0:c1], dtype=np.float32),
                            voiced_mask(arr[:, ENERGY_COL]), k))
    return out


# ----------------------------------------------------------------------------------------------
# normalisation
def stats(clips: list[Clip]):
    v = np.concatenate([c.x[c.v] for c in clips]).astype(np.float64)
    return v.mean(0).astype(np.float32), np.maximum(v.std(0), 1e-3).astype(np.float32)


def speaker_stats(clips: list[Clip]) -> dict:
    by: dict[str, list[Clip]] = {}
    for c in clips:
        by.setdefault(c.speaker, []).append(c)
    return {s: stats(cs) for s, cs in by.items()}


def normalise(clips: list[Clip], st: dict | tuple) -> list[np.ndarray]:
    out = []
    for c in clips:
        m, s = st[c.speaker] if isinstance(st, dict) else st
        out.append((c.x - m) / s)
    return out


def calibration_stats(clips: list[Clip], seconds: float, seed: int) -> dict:
    """Per speaker: statistics from only the first `seconds` of voiced frames, the speaker's clips
    taken in a random order (a stand-in for the plugin's running estimate / calibration)."""
    rng = np.random.default_rng(seed)
    by: dict[str, list[Clip]] = {}
    for c in clips:
        by.setdefault(c.speaker, []).append(c)
    res = {}
    for s, cs in by.items():
        order = rng.permutation(len(cs))
        frames, need = [], int(seconds * 100)
        for i in order:
            fr = cs[i].x[cs[i].v]
            frames.append(fr)
            need -= len(fr)
            if need <= 0:
                break
        v = np.concatenate(frames)[: int(seconds * 100)].astype(np.float64)
        res[s] = (v.mean(0).astype(np.float32), np.maximum(v.std(0), 1e-3).astype(np.float32))
    return res


# ----------------------------------------------------------------------------------------------
# training
def crop_batch(xs, vs, rng, L):
    out = np.empty((len(xs), L, xs[0].shape[1]), np.float32)
    for i, (x, v) in enumerate(zip(xs, vs)):
        T = len(x)
        if T <= L:
            reps = int(np.ceil(L / T))
            out[i] = np.tile(x, (reps, 1))[:L]
            continue
        vi = np.flatnonzero(v)
        centre = int(rng.choice(vi)) if len(vi) else T // 2
        s = int(np.clip(centre - L // 2 + rng.integers(-L // 4, L // 4 + 1), 0, T - L))
        out[i] = x[s: s + L]
    return out


def spec_mask(xb: np.ndarray, rng):
    B, T, Fd = xb.shape
    for i in range(B):
        for _ in range(2):
            w = int(rng.integers(0, max(2, Fd // 8)))
            f0 = int(rng.integers(0, Fd - w + 1))
            xb[i, :, f0: f0 + w] = 0.0
        for _ in range(2):
            w = int(rng.integers(0, 20))
            t0 = int(rng.integers(0, T - w + 1))
            xb[i, t0: t0 + w, :] = 0.0
    return xb


@torch.no_grad()
def predict(net, xs: list[np.ndarray], vs: list[np.ndarray], W: int = 250, hop: int = 50) -> np.ndarray:
    """Clip-level probabilities: mean over 250-frame windows (the plugin's 2.5 s window) covering the
    clip's voiced span +-0.25 s; a shorter span is widened symmetrically to 250 frames of the clip."""
    net.eval()
    wins, owner = [], []
    for ci, (x, v) in enumerate(zip(xs, vs)):
        T = len(x)
        idx = np.flatnonzero(v)
        a, b = (max(0, idx[0] - 25), min(T, idx[-1] + 26)) if len(idx) else (0, T)
        if T <= W:
            seg = np.tile(x, (int(np.ceil(W / T)), 1))[:W]
            wins.append(seg)
            owner.append(ci)
            continue
        if b - a < W:
            a = int(np.clip((a + b) // 2 - W // 2, 0, T - W))
            b = a + W
        starts = list(range(a, b - W + 1, hop))
        if starts[-1] != b - W:
            starts.append(b - W)
        for s0 in starts:
            wins.append(x[s0: s0 + W])
            owner.append(ci)
    wins = np.stack(wins).astype(np.float32)
    owner = np.array(owner)
    ps = []
    for i in range(0, len(wins), 256):
        ps.append(torch.softmax(net(torch.from_numpy(wins[i: i + 256]).to(DEV)), -1).cpu().numpy())
    ps = np.concatenate(ps)
    out = np.zeros((len(xs), ps.shape[1]), np.float32)
    np.add.at(out, owner, ps)
    return out / np.bincount(owner, minlength=len(xs))[:, None]


class Ensemble(torch.nn.Module):
    """Mean of the members' softmax outputs; logits() returns log of that mean so that
    softmax(logits) is the averaged probability (what predict() and the export compute)."""

    def __init__(self, nets):
        super().__init__()
        self.nets = torch.nn.ModuleList(nets)

    def logits(self, x):
        p = torch.stack([torch.softmax(n.logits(x), -1) for n in self.nets]).mean(0)
        return torch.log(p.clamp_min(1e-12))

    def forward(self, x):
        return self.logits(x)


def metrics(y: np.ndarray, p: np.ndarray) -> dict:
    pred = p.argmax(1)
    cm = np.zeros((8, 8), int)
    for t, q in zip(y, pred):
        cm[t, q] += 1
    rec = cm.diagonal() / np.maximum(cm.sum(1), 1)
    prec = cm.diagonal() / np.maximum(cm.sum(0), 1)
    f1 = np.where(rec + prec > 0, 2 * rec * prec / np.maximum(rec + prec, 1e-12), 0.0)
    return {"UA": float(rec.mean()), "WA": float((pred == y).mean()), "macro_F1": float(f1.mean()),
            "recall": {c: float(r) for c, r in zip(CLASSES, rec)}, "confusion": cm.tolist()}


def train_model(cfg, train_x, train_v, train_y, train_base, val=None, epochs=None, seed=0):
    """train_base[i]: index of the base clip; one version per base clip per epoch."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    net = SerNet(train_x[0].shape[1], front=cfg["front"], lstm_hidden=cfg["hidden"], drop=cfg["drop"]).to(DEV)
    epochs = epochs or cfg["epochs"]
    groups: dict[int, list[int]] = {}
    for i, b in enumerate(train_base):
        groups.setdefault(b, []).append(i)
    bases = np.array(sorted(groups))
    bs = cfg["batch"]
    steps_per_epoch = int(np.ceil(len(bases) / bs))
    opt = torch.optim.AdamW(net.parameters(), lr=cfg["lr"], weight_decay=cfg["wd"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg["lr"], total_steps=epochs * steps_per_epoch,
                                                pct_start=0.15)
    best = (-1.0, None, 0)
    history = []
    p_orig = cfg.get("p_orig")

    def pick(members):  # members[0] is the original clip (orig clips come first in the list)
        if len(members) == 1:
            return members[0]
        if p_orig is None:
            return members[int(rng.integers(len(members)))]
        if rng.random() < p_orig:
            return members[0]
        return members[1 + int(rng.integers(len(members) - 1))]

    for ep in range(epochs):
        net.train()
        order = rng.permutation(bases)
        tot = 0.0
        for s in range(steps_per_epoch):
            bb = order[s * bs: (s + 1) * bs]
            if len(bb) < 2:
                continue
            ids = [pick(groups[b]) for b in bb]
            L = int(rng.integers(6, 13)) * 25  # 150..300 frames, few shapes
            xb = crop_batch([train_x[i] for i in ids], [train_v[i] for i in ids], rng, L)
            if cfg["specaug"]:
                xb = spec_mask(xb, rng)
            yb = torch.tensor([train_y[i] for i in ids], device=DEV)
            xt = torch.from_numpy(xb).to(DEV)
            if cfg.get("mixup", 0) > 0:
                # mixup between clips of the batch (same crop length), labels mixed the same way
                lam = float(rng.beta(cfg["mixup"], cfg["mixup"]))
                perm = torch.from_numpy(rng.permutation(len(ids))).to(DEV)
                out = net(lam * xt + (1 - lam) * xt[perm])
                loss = lam * F.cross_entropy(out, yb, label_smoothing=0.1) + \
                    (1 - lam) * F.cross_entropy(out, yb[perm], label_smoothing=0.1)
            else:
                loss = F.cross_entropy(net(xt), yb, label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            sched.step()
            tot += float(loss.detach()) * len(bb)
        rec = {"epoch": ep + 1, "loss": tot / len(bases)}
        if val is not None and (ep + 1) >= cfg["eval_from"] * epochs and ((ep + 1) % cfg["eval_every"] == 0 or ep + 1 == epochs):
            vx, vv, vy = val
            ua = metrics(vy, predict(net, vx, vv))["UA"]
            rec["val_UA"] = ua
            if ua > best[0]:
                best = (ua, copy.deepcopy(net.state_dict()), ep + 1)
        history.append(rec)
    if val is None:
        return net, {"epochs": epochs, "history": history}
    last = copy.deepcopy(net.state_dict())
    net.load_state_dict(best[1])
    return net, {"best_epoch": best[2], "val_UA": best[0], "history": history, "last_state": last}


# ----------------------------------------------------------------------------------------------
def default_cfg():
    """The shipped v3 recipe (grid.sh's 2dsm80, chosen on validation UA): 2-D CNN front end,
    SpecAugment masking + mixup, 80-epoch one-cycle schedule, no waveform augmentation."""
    return {"cols": [0, 64], "front": "2d", "hidden": 96, "drop": 0.1, "epochs": 80, "batch": 32,
            "lr": 2e-3, "wd": 1e-2, "specaug": True, "eval_from": 0.4, "eval_every": 2,
            "aug_set": "none", "copies": 4, "p_orig": 0.5, "norm": "speaker", "seed": 20180516,
            "mixup": 0.4, "ensemble": 1}


def val_actors(train_actors: list[int], seed: int, fold: int) -> list[int]:
    rng = np.random.default_rng(seed + 17 * fold)
    males = [a for a in train_actors if a % 2 == 1]
    females = [a for a in train_actors if a % 2 == 0]
    return [int(rng.choice(males)), int(rng.choice(females))]


def prepare(cfg):
    if PACK:
        import pack
        assert tuple(cfg["cols"]) == (0, 64), "packs hold the log-mel columns only"
        orig = pack.load_pack(PACK, "orig")
        aug = [] if cfg["aug_set"] == "none" else pack.load_pack(PACK, cfg["aug_set"], cfg["copies"])
        return orig, aug
    orig = load_clips(ensure_orig_features(), cfg["cols"], None)
    aug = []
    if cfg["aug_set"] != "none":
        d = ensure_aug_features(cfg["aug_set"], cfg["copies"], cfg["seed"])
        aug = load_clips(d, cfg["cols"], cfg["copies"])
    return orig, aug


def split_arrays(clips_train, cfg, stats_src):
    if cfg["norm"] == "speaker":
        st = speaker_stats(clips_train)
    else:
        st = stats_src
    return normalise(clips_train, st)


def run_cv(cfg, version, folds=range(N_FOLDS), save_models=True, data=None, write=True):
    t_start = time.time()
    orig, aug = data if data is not None else prepare(cfg)
    stem_idx = {c.stem: i for i, c in enumerate(orig)}
    results = {"version": version, "config": cfg, "folds": [], "protocol": __doc__}
    all_y, all_p = [], []
    os.makedirs(os.path.join(RUN_ROOT, version), exist_ok=True)
    for k in folds:
        t0 = time.time()
        test_actors = list(range(4 * k + 1, 4 * k + 5))
        train_actors = [a for a in range(1, 21) if a not in test_actors]
        va = val_actors(train_actors, cfg["seed"], k)
        fit_actors = [a for a in train_actors if a not in va]
        fit = [c for c in orig if c.actor in fit_actors] + [c for c in aug if c.actor in fit_actors]
        valc = [c for c in orig if c.actor in va]
        test = [c for c in orig if c.actor in test_actors]
        assert not ({c.actor for c in fit} & set(test_actors)) and not (set(va) & set(test_actors))
        gstats = stats([c for c in orig if c.actor in fit_actors])
        if cfg["norm"] == "speaker":
            fx = normalise(fit, speaker_stats(fit))
            vx = normalise(valc, speaker_stats(valc))
            tx = normalise(test, speaker_stats(test))
        else:
            fx, vx, tx = normalise(fit, gstats), normalise(valc, gstats), normalise(test, gstats)
        ty = np.array([c.label for c in test])
        vy = np.array([c.label for c in valc])
        nets, infos, member_ua, vps, tps, last_tps = [], [], [], [], [], []
        for j in range(cfg.get("ensemble", 1)):
            # members differ only in their seed (init, crops, augmentation draws); each picks its
            # epoch on the validation actors
            net_j, info_j = train_model(cfg, fx, [c.v for c in fit], [c.label for c in fit],
                                        [stem_idx[c.stem] for c in fit],
                                        val=(vx, [c.v for c in valc], vy),
                                        seed=cfg["seed"] + k + 1000 * j)
            nets.append(net_j)
            infos.append(info_j)
            tps.append(predict(net_j, tx, [c.v for c in test]))
            vps.append(predict(net_j, vx, [c.v for c in valc]))
            member_ua.append(metrics(ty, tps[-1])["UA"])
            # the last epoch too: the final all-actor model has no validation split and ships its last epoch
            best_state = copy.deepcopy(net_j.state_dict())
            net_j.load_state_dict(info_j.pop("last_state"))
            last_tps.append(predict(net_j, tx, [c.v for c in test]))
            net_j.load_state_dict(best_state)
        net, info = nets[0], infos[0]
        tp = np.mean(tps, 0)
        m = metrics(ty, tp)
        info = {"best_epoch": int(np.median([i["best_epoch"] for i in infos])),
                "val_UA": metrics(vy, np.mean(vps, 0))["UA"], "history": infos[0]["history"],
                "member_best_epochs": [i["best_epoch"] for i in infos],
                "member_val_UA": [i["val_UA"] for i in infos], "member_UA": member_ua}
        fold_res = {"fold": k, "test_actors": test_actors, "val_actors": va, **info, **m,
                    "UA_last_epoch": metrics(ty, np.mean(last_tps, 0))["UA"],
                    "test_y": ty.tolist(), "test_probs": np.round(tp, 5).tolist()}
        ens = Ensemble(nets)
        if cfg["norm"] == "speaker":
            # runtime-like adaptation: stats from the first N s of the speaker; and no speaker stats
            for secs in (10, 30):
                cst = calibration_stats(test, secs, cfg["seed"] + k)
                fold_res[f"UA_calib_{secs}s"] = metrics(ty, predict(ens, normalise(test, cst),
                                                                    [c.v for c in test]))["UA"]
            fold_res["UA_global_fallback"] = metrics(ty, predict(ens, normalise(test, gstats),
                                                                 [c.v for c in test]))["UA"]
        fold_res.pop("history", None)
        fold_res["history"] = info["history"]
        fold_res["seconds"] = round(time.time() - t0, 1)
        results["folds"].append(fold_res)
        all_y.append(ty)
        all_p.append(tp)
        if save_models:
            torch.save({"state": net.state_dict(), "members": [n.state_dict() for n in nets], "cfg": cfg,
                        "gstats": gstats}, os.path.join(RUN_ROOT, version, f"fold{k}.pt"))
        log(f"[{version}] fold {k}: UA {m['UA']:.3f} WA {m['WA']:.3f} F1 {m['macro_F1']:.3f} "
            f"(val UA {info['val_UA']:.3f} @ep{info['best_epoch']}) {fold_res['seconds']} s"
            + (f" calib10 {fold_res['UA_calib_10s']:.3f} calib30 {fold_res['UA_calib_30s']:.3f} "
               f"global {fold_res['UA_global_fallback']:.3f}" if cfg["norm"] == "speaker" else ""))
        summarise(results, all_y, all_p)
        if write:
            write_results(results, version)
    results["total_seconds"] = round(time.time() - t_start, 1)
    if write:
        write_results(results, version)
        confusion_png(results, version)
    return results


def summarise(results, all_y, all_p):
    fl = results["folds"]
    s = {}
    for key in ["UA", "WA", "macro_F1", "val_UA", "UA_calib_10s", "UA_calib_30s", "UA_global_fallback",
                "UA_last_epoch"]:
        vals = [f[key] for f in fl if key in f]
        if vals:
            s[key] = {"mean": float(np.mean(vals)), "std": float(np.std(vals)), "per_fold": vals}
    s["recall_mean"] = {c: float(np.mean([f["recall"][c] for f in fl])) for c in CLASSES}
    cm = np.sum([np.array(f["confusion"]) for f in fl], axis=0)
    s["confusion_sum"] = cm.tolist()
    pooled = metrics(np.concatenate(all_y), np.concatenate(all_p))
    s["pooled"] = {k: pooled[k] for k in ("UA", "WA", "macro_F1")}
    s["best_epochs"] = [f["best_epoch"] for f in fl]
    mu = [u for f in fl for u in f.get("member_UA", [])]
    if mu:
        s["member_UA"] = {"mean": float(np.mean(mu)), "std": float(np.std(mu)), "n": len(mu)}
        s["member_val_UA_mean"] = float(np.mean([u for f in fl for u in f["member_val_UA"]]))
    results["summary"] = s


def write_results(results, version):
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, f"{version}.json"), "w") as f:
        json.dump(results, f, indent=1)


def confusion_png(results, version):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cm = np.array(results["summary"]["confusion_sum"], float)
    cmn = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7, 6))
    im = ax.imshow(cmn, cmap="Blues", vmin=0, vmax=1)
    for i in range(8):
        for j in range(8):
            ax.text(j, i, f"{cmn[i, j]:.2f}\n({int(cm[i, j])})", ha="center", va="center", fontsize=7,
                    color="white" if cmn[i, j] > 0.5 else "black")
    ax.set_xticks(range(8), CLASSES, rotation=45, ha="right")
    ax.set_yticks(range(8), CLASSES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    s = results["summary"]
    ax.set_title(f"{version}: 5-fold speaker-independent, UA {100 * s['UA']['mean']:.1f} ± "
                 f"{100 * s['UA']['std']:.1f} %", fontsize=9)
    fig.colorbar(im)
    fig.tight_layout()
    fig.savefig(os.path.join(RESULTS, f"{version}_confusion.png"), dpi=110)
    plt.close(fig)


def load_members(ck) -> torch.nn.Module:
    cfg = ck["cfg"]
    nets = []
    for st in ck.get("members", [ck["state"]]):
        n = SerNet(cfg["cols"][1] - cfg["cols"][0], front=cfg["front"], lstm_hidden=cfg["hidden"], drop=cfg["drop"])
        n.load_state_dict(st)
        nets.append(n.to(DEV).eval())
    return nets[0] if len(nets) == 1 else Ensemble(nets).eval()


def combine_folds(version: str, sources: list[str]):
    """A seed-free ensemble of CV runs: fold k of `version` holds fold k's model of every source
    run (same folds, same validation actors, each member picked its epoch on them)."""
    os.makedirs(os.path.join(RUN_ROOT, version), exist_ok=True)
    for k in range(N_FOLDS):
        cks = [torch.load(os.path.join(RUN_ROOT, s, f"fold{k}.pt"), weights_only=False, map_location="cpu")
               for s in sources]
        for ck in cks[1:]:
            assert {x: ck["cfg"][x] for x in ("cols", "front", "hidden", "norm", "seed")} == \
                {x: cks[0]["cfg"][x] for x in ("cols", "front", "hidden", "norm", "seed")}
        members = [m for ck in cks for m in ck.get("members", [ck["state"]])]
        cfg = dict(cks[0]["cfg"], ensemble=len(members), members_from=sources,
                   member_configs=[ck["cfg"] for ck in cks])
        torch.save({"state": members[0], "members": members, "cfg": cfg, "gstats": cks[0]["gstats"]},
                   os.path.join(RUN_ROOT, version, f"fold{k}.pt"))


def combine_final(version: str, sources: list[str]):
    """The shipped ensemble: the all-actor final model of every source run as one member list."""
    cks = [torch.load(os.path.join(RUN_ROOT, s, "final.pt"), weights_only=False, map_location="cpu")
           for s in sources]
    members = [m for ck in cks for m in ck.get("members", [ck["state"]])]
    cfg = dict(cks[0]["cfg"], ensemble=len(members), members_from=sources,
               member_configs=[ck["cfg"] for ck in cks])
    os.makedirs(os.path.join(RUN_ROOT, version), exist_ok=True)
    torch.save({"state": members[0], "members": members, "cfg": cfg, "gstats": cks[0]["gstats"]},
               os.path.join(RUN_ROOT, version, "final.pt"))


def run_rescore(version: str):
    """Score the saved fold models of `version` on the full-precision feature cache: the CV table
    (test actors), adaptation variants and validation UA, written to results/<version>.json."""
    orig = load_clips(ensure_orig_features(), (0, 64), None)
    results = {"version": version, "folds": [], "protocol": __doc__,
               "scored_by": "train.py --rescore (saved fold models, full-precision Rust features)"}
    ys, ps = [], []
    for k in range(N_FOLDS):
        ck = torch.load(os.path.join(RUN_ROOT, version, f"fold{k}.pt"), weights_only=False, map_location="cpu")
        cfg = ck["cfg"]
        results["config"] = cfg
        net = load_members(ck)
        test_actors = list(range(4 * k + 1, 4 * k + 5))
        va = val_actors([a for a in range(1, 21) if a not in test_actors], cfg["seed"], k)
        test = [c for c in orig if c.actor in test_actors]
        valc = [c for c in orig if c.actor in va]
        ty = np.array([c.label for c in test])
        tp = predict(net, normalise(test, speaker_stats(test)), [c.v for c in test])
        vua = metrics(np.array([c.label for c in valc]),
                      predict(net, normalise(valc, speaker_stats(valc)), [c.v for c in valc]))["UA"]
        srcs = cfg.get("members_from", [])
        mbe = [json.load(open(os.path.join(RESULTS, f"{s_}.json")))["folds"][k]["best_epoch"] for s_ in srcs]
        f = {"fold": k, "test_actors": test_actors, "val_actors": va, "val_UA": vua,
             "best_epoch": int(np.median(mbe)) if mbe else None, "member_best_epochs": mbe, **metrics(ty, tp)}
        for secs in (10, 30):
            cst = calibration_stats(test, secs, cfg["seed"] + k)
            f[f"UA_calib_{secs}s"] = metrics(ty, predict(net, normalise(test, cst), [c.v for c in test]))["UA"]
        f["UA_global_fallback"] = metrics(ty, predict(net, normalise(test, ck["gstats"]), [c.v for c in test]))["UA"]
        results["folds"].append(f)
        ys.append(ty)
        ps.append(tp)
        log(f"[{version}] fold {k}: UA {f['UA']:.3f} WA {f['WA']:.3f} F1 {f['macro_F1']:.3f} val {vua:.3f}")
    summarise(results, ys, ps)
    write_results(results, version)
    confusion_png(results, version)
    return results


# ----------------------------------------------------------------------------------------------
# robustness (unseen "cafe" noise) with the CV fold models
def run_robustness(version, snrs=(20, 10, 5), split="test"):
    """split "test": each fold model on its test actors (the robustness curve). split "val": on its
    two validation actors (training side only), so a recipe can be chosen on noisy speech without
    looking at test actors."""
    cfg = torch.load(os.path.join(RUN_ROOT, version, "fold0.pt"), weights_only=False, map_location="cpu")["cfg"]
    orig = load_clips(ensure_orig_features(), cfg["cols"], None)
    clips = A.corpus()
    conds = {"clean": None}
    for snr in snrs:
        d = os.path.join(AUG_ROOT, f"robust_cafe_{snr}dB")
        fd = os.path.join(FEAT_ROOT, f"robust_cafe_{snr}dB")
        os.makedirs(d, exist_ok=True)
        names = []
        for c in clips:
            name = c["stem"] + ".wav"
            names.append(name)
            p = os.path.join(d, name)
            if not os.path.exists(p):
                x = A.load(c["path"])
                nz = A.cafe_noise(len(x), np.random.default_rng(A.seed_of("cafe", c["stem"], snr)))
                y = A.add_at_snr(x, nz, snr)
                y = y * min(1.0, 0.99 / (np.max(np.abs(y)) + 1e-12))
                import soundfile as sf
                sf.write(p, y, A.SR, subtype="PCM_16")
        if not all(os.path.exists(os.path.join(fd, n[:-4] + ".npy")) for n in names):
            run_cli(names if False else [os.path.join(d, n) for n in names], d, fd)
        conds[f"{snr}dB"] = load_clips(fd, cfg["cols"], None)
    res = {"version": version, "noise": "cafe (clinks + mains hum + harmonic music), never used in training",
           "normalisation": "per test speaker, statistics from that speaker's clips in the same condition",
           "folds": {}}
    for k in range(N_FOLDS):
        ck = torch.load(os.path.join(RUN_ROOT, version, f"fold{k}.pt"), weights_only=False, map_location="cpu")
        net = load_members(ck)
        test_actors = set(range(4 * k + 1, 4 * k + 5))
        if split == "val":
            folds_json = json.load(open(os.path.join(RESULTS, f"{version}.json")))["folds"]
            test_actors = set(next(f for f in folds_json if f["fold"] == k)["val_actors"])
        for cname, cl in conds.items():
            cl = cl if cl is not None else orig
            test = [c for c in cl if c.actor in test_actors]
            st = speaker_stats(test) if cfg["norm"] == "speaker" else ck["gstats"]
            ua = metrics(np.array([c.label for c in test]), predict(net, normalise(test, st), [c.v for c in test]))["UA"]
            res["folds"].setdefault(cname, []).append(ua)
        log(f"robustness fold {k}: " + " ".join(f"{c} {res['folds'][c][-1]:.3f}" for c in conds))
    res["UA_mean"] = {c: float(np.mean(v)) for c, v in res["folds"].items()}
    res["UA_std"] = {c: float(np.std(v)) for c, v in res["folds"].items()}
    res["split"] = split
    if split == "val":
        with open(os.path.join(RESULTS, f"{version}_robustness_val.json"), "w") as f:
            json.dump(res, f, indent=1)
        return res
    with open(os.path.join(RESULTS, f"{version}_robustness.json"), "w") as f:
        json.dump(res, f, indent=1)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(conds)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.errorbar(range(len(names)), [100 * res["UA_mean"][c] for c in names],
                yerr=[100 * res["UA_std"][c] for c in names], marker="o", capsize=3)
    ax.axhline(12.5, ls=":", c="gray")
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("UA % (5 folds)")
    ax.set_title(f"{version}: unseen cafe noise")
    fig.tight_layout()
    fig.savefig(os.path.join(RESULTS, f"{version}_robustness.png"), dpi=110)
    plt.close(fig)
    return res


# ----------------------------------------------------------------------------------------------
# final model + export
def run_final(cfg, version, epochs):
    orig, aug = prepare(cfg)
    stem_idx = {c.stem: i for i, c in enumerate(orig)}
    fit = orig + aug
    fx = normalise(fit, speaker_stats(fit)) if cfg["norm"] == "speaker" else normalise(fit, stats(orig))
    log(f"final: {len(fit)} clips, {epochs} epochs")
    nets = []
    for j in range(cfg.get("ensemble", 1)):
        n, _ = train_model(cfg, fx, [c.v for c in fit], [c.label for c in fit],
                           [stem_idx[c.stem] for c in fit], val=None, epochs=epochs, seed=cfg["seed"] + 1000 * j)
        nets.append(n.eval())
    gm, gs = stats(orig)  # fallback: all 20 actors' clean voiced frames
    os.makedirs(os.path.join(RUN_ROOT, version), exist_ok=True)
    torch.save({"state": nets[0].state_dict(), "members": [n.state_dict() for n in nets], "cfg": cfg,
                "gstats": (gm, gs)}, os.path.join(RUN_ROOT, version, "final.pt"))
    if os.environ.get("SENTIO_NO_EXPORT"):
        return
    net = (nets[0] if len(nets) == 1 else Ensemble(nets)).cpu().eval()
    export(net, cfg, gm, gs, orig, version)


def export(net, cfg, gm, gs, orig, version):
    import onnx
    import onnxruntime as ort
    nf = cfg["cols"][1] - cfg["cols"][0]
    wrap = ExportWrapper(net).eval()
    onnx_path = os.path.join(HERE, "sentio-ser.onnx")
    dummy = torch.zeros(1, 250, nf)
    torch.onnx.export(wrap, (dummy,), onnx_path, input_names=["features"], output_names=["probs"],
                      dynamic_axes={"features": {0: "batch", 1: "time"}, "probs": {0: "batch"}},
                      opset_version=17, dynamo=False)
    model = onnx.load(onnx_path)
    onnx.checker.check_model(model)
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    # parity fixture: a real clip (actor 01, angry strong), its first 250 frames from the voiced start,
    # normalised with that actor's speaker statistics
    spk = speaker_stats([c for c in orig if c.actor == 1])["a01"]
    c = next(c for c in orig if c.stem == "03-01-05-02-01-01-01")
    s0 = max(0, int(np.flatnonzero(c.v)[0]) - 25)
    x = (c.x - spk[0]) / spk[1]
    win = x[s0: s0 + 250]
    if len(win) < 250:
        win = x[-250:]
    inp = np.ascontiguousarray(win[None].astype(np.float32))
    with torch.no_grad():
        probs = wrap(torch.from_numpy(inp)).numpy().astype(np.float32)
    np.save(os.path.join(HERE, "parity_input.npy"), inp)
    np.save(os.path.join(HERE, "parity_probs.npy"), probs)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    o = sess.run(["probs"], {"features": inp})[0]
    diff = float(np.abs(o - probs).max())
    o2 = sess.run(["probs"], {"features": np.concatenate([inp[:, :137], inp[:, :137]], 0)})[0]
    with torch.no_grad():
        p2 = wrap(torch.from_numpy(np.concatenate([inp[:, :137], inp[:, :137]], 0))).numpy()
    diff2 = float(np.abs(o2 - p2).max())
    # latency: one 250-frame window, 1 thread
    for _ in range(20):
        sess.run(["probs"], {"features": inp})
    ts = []
    for _ in range(500):
        t = time.perf_counter()
        sess.run(["probs"], {"features": inp})
        ts.append((time.perf_counter() - t) * 1e3)
    lat = {"p50_ms": float(np.percentile(ts, 50)), "p99_ms": float(np.percentile(ts, 99)),
           "mean_ms": float(np.mean(ts)), "runs": len(ts), "threads": 1, "frames": 250,
           "onnxruntime": ort.__version__}
    side = {
        "classes": CLASSES, "input": "features", "output": "probs",
        "columns": list(cfg["cols"]), "window_frames": 250, "min_frames": 50,
        "normalization": {"mode": cfg["norm"], "global_mean": [round(float(v), 6) for v in gm],
                          "global_std": [round(float(v), 6) for v in gs]},
        "opset": int(opset), "parameters": int(n_params(net)),
    }
    with open(os.path.join(HERE, "sentio-ser.json"), "w") as f:
        json.dump(side, f, indent=1)
    rep = {"version": version, "onnx_opset": opset, "parity_max_abs_diff_250": diff,
           "parity_max_abs_diff_batch2_137frames": diff2, "latency": lat,
           "parameters": int(n_params(net)), "parity_probs": probs.tolist()}
    with open(os.path.join(RESULTS, f"{version}_export.json"), "w") as f:
        json.dump(rep, f, indent=1)
    log(f"export: opset {opset}, params {n_params(net)}, parity {diff:.2e}/{diff2:.2e}, "
        f"latency p50 {lat['p50_ms']:.2f} ms p99 {lat['p99_ms']:.2f} ms")


# ----------------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cv", action="store_true")
    ap.add_argument("--final", action="store_true")
    ap.add_argument("--ablation", action="store_true")
    ap.add_argument("--robustness", action="store_true")
    ap.add_argument("--combine", metavar="V1,V2", help="fold models of these CV runs -> ensemble <version>")
    ap.add_argument("--combine-final", metavar="V1,V2", help="final models of these runs -> ensemble <version>")
    ap.add_argument("--rescore", action="store_true", help="score <version>'s saved fold models (full precision)")
    ap.add_argument("--robustness-val", action="store_true",
                    help="the same noise on each fold's validation actors (for choosing a recipe)")
    ap.add_argument("--version", default="v1")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--final-epochs", type=int, help="default: median best epoch of the CV run")
    ap.add_argument("--aug-set", choices=["none"] + sorted(A.SETS))
    ap.add_argument("--copies", type=int)
    ap.add_argument("--norm", choices=["speaker", "global"])
    ap.add_argument("--front", choices=["1d", "2d"])
    ap.add_argument("--folds", default="0,1,2,3,4")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override any default_cfg() entry (JSON value), e.g. --set mixup=0.4")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--export", action="store_true", help="export RUN_ROOT/<version>/final.pt to ONNX")
    ap.add_argument("--pack", help="features from pack.py (no Rust CLI needed)")
    a = ap.parse_args()
    global DEV, PACK
    DEV = torch.device(a.device)
    PACK = a.pack
    cfg = default_cfg()
    for kv in a.set:
        key, _, val = kv.partition("=")
        if key not in cfg:
            raise SystemExit(f"--set: unknown key {key}")
        try:
            cfg[key] = json.loads(val)
        except json.JSONDecodeError:
            cfg[key] = val
    for k in ("epochs", "copies", "norm", "front", "seed"):
        if getattr(a, k) is not None:
            cfg[k] = getattr(a, k)
    if a.aug_set:
        cfg["aug_set"] = a.aug_set
    folds = [int(f) for f in a.folds.split(",")]
    if not PACK and not os.path.exists(CLI):
        raise SystemExit(f"{CLI} is missing: build the Rust CLI first (cargo build --release)")
    if a.cv:
        run_cv(cfg, a.version, folds)
    if a.combine:
        combine_folds(a.version, a.combine.split(","))
    if a.combine_final:
        combine_final(a.version, a.combine_final.split(","))
    if a.rescore:
        run_rescore(a.version)
    if a.robustness:
        run_robustness(a.version)
    if a.robustness_val:
        run_robustness(a.version, split="val")
    if a.ablation:
        run_ablation(cfg, a.epochs or 15, folds)
    if a.export:
        # export a final model trained elsewhere (e.g. on a GPU box with SENTIO_NO_EXPORT=1)
        ck = torch.load(os.path.join(RUN_ROOT, a.version, "final.pt"), weights_only=False, map_location="cpu")
        orig = load_clips(ensure_orig_features(), ck["cfg"]["cols"], None)
        export(load_members(ck).cpu().eval(), ck["cfg"], *ck["gstats"], orig, a.version)
    if a.final:
        ep = a.final_epochs
        if ep is None:
            rp = os.path.join(RESULTS, f"{a.version}.json")
            ep = int(np.median(json.load(open(rp))["summary"]["best_epochs"])) if os.path.exists(rp) else cfg["epochs"]
        run_final(cfg, a.version, ep)


def run_ablation(cfg, epochs, folds):
    """Cheaper protocol (documented): the given folds, `epochs` epochs; decisions use the VALIDATION
    UA (training actors only); test UA is reported alongside."""
    out_p = os.path.join(RESULTS, "ablation.json")
    table = json.load(open(out_p)) if os.path.exists(out_p) else {}
    orig = None
    runs = [("none", "none", "speaker"), ("none_globalnorm", "none", "global"), ("all", "all", "speaker"),
            ("no_noise", "no_noise", "speaker"), ("no_channel", "no_channel", "speaker"),
            ("no_pitch", "no_pitch", "speaker"), ("no_vtlp", "no_vtlp", "speaker")]
    only = os.environ.get("ABLATION_ONLY")
    for name, set_name, norm in runs:
        if (name in table and table[name].get("complete")) or (only and name not in only.split(",")):
            continue
        c = dict(cfg, aug_set=set_name, epochs=epochs, norm=norm)
        if orig is None:
            orig = load_clips(ensure_orig_features(), c["cols"], None)
        aug = []
        if set_name != "none":
            aug = load_clips(ensure_aug_features(set_name, c["copies"], c["seed"]), c["cols"], c["copies"])
        r = run_cv(c, f"ablation_{name}", folds=folds, save_models=False, data=(orig, aug), write=False)
        s = r["summary"]
        table[name] = {"complete": True, "epochs": epochs, "folds": list(folds), "aug_set": set_name, "norm": norm,
                           "test_UA_mean": s["UA"]["mean"], "test_UA_std": s["UA"]["std"],
                           "test_UA_per_fold": s["UA"]["per_fold"],
                           "val_UA_mean": s["val_UA"]["mean"], "WA_mean": s["WA"]["mean"],
                           "F1_mean": s["macro_F1"]["mean"], "seconds": r["total_seconds"]}
        del aug
        with open(out_p, "w") as f:
            json.dump(table, f, indent=1)
        if norm == "speaker":
            table[name].update({k: s[k]["mean"] for k in ("UA_calib_10s", "UA_calib_30s", "UA_global_fallback")})
        log(f"ablation {name}: test UA {s['UA']['mean']:.3f} ± {s['UA']['std']:.3f}, val UA {s['val_UA']['mean']:.3f}")


if __name__ == "__main__":
    main()
