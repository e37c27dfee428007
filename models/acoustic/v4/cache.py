#!/usr/bin/env python3
"""Frozen-encoder cache: every clip's 2.5 s windows through Whisper tiny.en's stem and blocks.

    target/release/sentio features --list CLIPS.txt --out /tmp/rust-feat     # the Rust front end
    python3 models/acoustic/v4/cache.py --feat /tmp/rust-feat --out /tmp/v4-cache

Windows: 250 frames (or the whole clip when shorter, at least 50), every 50 frames, kept when at
least 20 % of their frames are voiced — as `sentio eval` and the plugin classify. Two inputs per
window: "raw" (Whisper's log10 mel as the front end gives it; also what the graph sees before a
speaker's statistics exist) and "spk" (z-normalised with the speaker's voiced-frame statistics and
mapped back to the global scale, x' = z * std_g + mean_g; global = RAVDESS actors 1–20). Saved per
input: pooled mean ‖ std of every block's output [W, 4, 768] and the block 1..3 frame sequences
(float16, [W, 125, 384]) for the BiLSTM head. With `--speech-delta D` (v7) also
`speech_pooled.npy` [W, 2, 768]: blocks 1 and 2 pooled over the window's speech frames only
(`speech_mask`, as the exported graph computes it).
"""
import argparse
import json
import os
import time

import numpy as np
import torch

import data as D
from encoder import WHISPERS, WhisperStem

HERE = os.path.dirname(os.path.abspath(__file__))
WIN, MIN, window_starts = D.WIN, D.MIN, D.window_starts


def whisper_scale(x: np.ndarray) -> np.ndarray:
    return (np.maximum(x, x.max() - 8.0) + 4.0) / 4.0


def speech_mask(x: np.ndarray, delta: float) -> np.ndarray:
    """The encoder frames (stride 2) a window's speech covers: a mel frame is speech when its
    power, log10 of the sum of 10^mel over the bins, is within `delta` bels of the window's loudest
    frame's; an encoder frame when either of its two mel frames is. model.py's `speech_mask` is
    the same in the graph."""
    power = np.log10(np.power(10.0, x.astype(np.float64)).sum(1))
    m = power >= power.max() - delta
    n = (len(m) + 1) // 2
    return np.pad(m, (0, 2 * n - len(m))).reshape(n, 2).any(1)


def masked_stats(o: torch.Tensor, m: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and unbiased std of the frames `m` of `o` [T, d] (model.py's `masked_pool`)."""
    sel = o[torch.from_numpy(m)]
    mean = sel.mean(0)
    var = ((sel - mean) ** 2).sum(0) / max(len(sel) - 1, 1)
    return mean, var.sqrt()


def stats(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows = rows.astype(np.float64)
    return rows.mean(0), np.maximum(rows.std(0), 1e-3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--feat", default="/tmp/rust-feat")
    ap.add_argument("--out", default="/tmp/v4-cache")
    ap.add_argument("--blocks", default="1,2,3", help="blocks whose frame sequences are kept")
    ap.add_argument("--max-block", type=int, default=4, help="run the encoder up to this block")
    ap.add_argument("--variants", default="raw,spk", help="inputs to cache: raw and/or spk")
    ap.add_argument("--whisper", default="tiny.en", choices=sorted(WHISPERS),
                    help="whose conv stem and blocks (recorded in meta.json; finetune.py follows it)")
    ap.add_argument("--speech-delta", type=float, default=0.0,
                    help="also pool blocks 1 and 2 over the speech frames (speech_mask; 0: not)")
    ap.add_argument("--gain-db", type=float, default=0.0,
                    help="shift every clip's mel by this gain (a microphone set louder or quieter; the "
                         "windows and the VAD stay the clean clip's, so the rows match an unshifted cache)")
    ap.add_argument("--global-meta", default="", help="take the global statistics from this meta.json (noisy copies)")
    a = ap.parse_args()
    seq_blocks = tuple(int(b) for b in a.blocks.split(",") if b)
    ap_blocks = max(seq_blocks + (a.max_block,))
    torch.set_num_threads(2)
    os.makedirs(a.out, exist_ok=True)
    clips = D.clips()
    feats = [D.load(a.feat, c) for c in clips]
    if a.gain_db:
        feats = [(x + np.float32(a.gain_db / 10.0), vo) for x, vo in feats]
    keep = [i for i, (x, _) in enumerate(feats) if len(x) >= MIN]
    # Speaker and global statistics over voiced frames.
    by_spk: dict[str, list] = {}
    for i in keep:
        x, vo = feats[i]
        by_spk.setdefault(clips[i].speaker, []).append(x[vo] if vo.any() else x)
    spk = {s: stats(np.concatenate(v)) for s, v in by_spk.items()}
    g_mean, g_std = stats(np.concatenate([np.concatenate(v) for s, v in by_spk.items()
                                          if s.startswith("ravdess:")]))
    if a.global_meta:
        with open(a.global_meta) as f:
            gm = json.load(f)
        g_mean, g_std = np.array(gm["global_mean"]), np.array(gm["global_std"])
    enc = WhisperStem.from_ct2(WHISPERS[a.whisper], n_blocks=ap_blocks).eval()
    d = enc.conv1.out_channels
    meta = {"clip": [], "start": [], "end": []}
    for i in keep:
        for s, e in window_starts(len(feats[i][0]), feats[i][1]):
            meta["clip"].append(i)
            meta["start"].append(s)
            meta["end"].append(e)
    n_win = len(meta["clip"])
    print(f"{len(keep)} clips, {n_win} windows", flush=True)
    t0 = time.time()
    for variant in a.variants.split(","):
        pooled = np.zeros((n_win, max(4, ap_blocks), 2 * d), np.float32)
        seqs = {b: np.zeros((n_win, WIN // 2, d), np.float16) for b in seq_blocks}
        lens = np.zeros(n_win, np.int32)
        speech = np.zeros((n_win, 2, 2 * d), np.float32) if a.speech_delta > 0 else None
        # Batch windows of equal length.
        by_len: dict[int, list[int]] = {}
        for w in range(n_win):
            by_len.setdefault(meta["end"][w] - meta["start"][w], []).append(w)
        for T, ws in by_len.items():
            for k in range(0, len(ws), 64):
                chunk = ws[k : k + 64]
                xs, masks = [], []
                for w in chunk:
                    c = meta["clip"][w]
                    x = feats[c][0][meta["start"][w] : meta["end"][w]]
                    if variant == "spk":
                        m, sd = spk[clips[c].speaker]
                        x = ((x - m) / sd) * g_std + g_mean
                    if speech is not None:
                        masks.append(speech_mask(x, a.speech_delta))
                    xs.append(whisper_scale(x).astype(np.float32))
                with torch.no_grad():
                    outs = enc(torch.from_numpy(np.stack(xs)), return_all=True)
                L = outs[0].shape[1]
                for j, w in enumerate(chunk):
                    lens[w] = L
                    for b, o in enumerate(outs):
                        pooled[w, b, :d] = o[j].mean(0).numpy()
                        pooled[w, b, d:] = o[j].std(0).numpy()
                        if b + 1 in seq_blocks:
                            seqs[b + 1][w, :L] = o[j].numpy().astype(np.float16)
                        if speech is not None and b < 2:
                            mean, std = masked_stats(o[j], masks[j])
                            speech[w, b, :d], speech[w, b, d:] = mean.numpy(), std.numpy()
        np.save(os.path.join(a.out, f"{variant}_pooled.npy"), pooled)
        for b in seq_blocks:
            np.save(os.path.join(a.out, f"{variant}_seq{b}.npy"), seqs[b])
        np.save(os.path.join(a.out, "lens.npy"), lens)
        if speech is not None:
            np.save(os.path.join(a.out, f"{variant}_speech_pooled.npy"), speech)
        print(f"{variant}: done in {time.time() - t0:.0f} s", flush=True)
    meta["whisper"] = a.whisper
    meta["speech_delta"] = a.speech_delta
    meta["max_block"] = ap_blocks  # pooled blocks beyond it are zeros
    meta["clips"] = [c.__dict__ for c in clips]
    meta["global_mean"] = g_mean.tolist()
    meta["global_std"] = g_std.tolist()
    meta["speaker_stats"] = {s: [m.tolist(), sd.tolist()] for s, (m, sd) in spk.items()}
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump(meta, f)


if __name__ == "__main__":
    main()
