#!/usr/bin/env python3
"""Export the trained v4 model as ONE ONNX graph, with its sidecar, parity fixture and latency.

    python3 models/acoustic/v4/export.py --ckpt /tmp/v4_final.pt --temperature T

Writes models/acoustic/sentio-ser.{onnx,json}, parity_input.npy / parity_probs.npy and
results/v4_export.json (v5_export.json for embedding-normalising models, v6_export.json for
two-head ones, v7_export.json when the speaker head pools over the speech frames, v8_export.json
when the heads' copies also held gain-shifted clean windows: `--gain-copies-db=-10,10`; the
Whisper base option's report is named with `--report`). The frozen Whisper weights are stored as float16 (they are float16 in the
CTranslate2 file, so nothing is lost: fp16_storage.py checks every one round-trips exactly).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import onnxruntime as ort
import torch

import data as D
from encoder import WHISPERS, WhisperStem
from model import Head, SerSpeakerEmbedding, SerV4, StatsHead

HERE = os.path.dirname(os.path.abspath(__file__))
ACOUSTIC = os.path.dirname(HERE)
CACHE = os.environ.get("SENTIO_V4_CACHE", "/tmp/v4-cache")
MAX_POS = 500  # positions kept: 10 s of input, four times the plugin's 2.5 s window
PARITY_CLIP = "03-01-05-02-01-01-01"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default="/tmp/v4_final.pt")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--temperature-cold", type=float, default=1.0, help="two-head models: the cold-start head's")
    ap.add_argument("--feat", default="/tmp/rust-feat")
    ap.add_argument("--out", default=ACOUSTIC, help="folder for sentio-ser.{onnx,json} and the fixtures")
    ap.add_argument("--block", type=int, default=2, help="for per-split checkpoints without a config")
    ap.add_argument("--prior-seconds", type=float, default=10.0, help="embedding models: shrinkage prior (speaker_time.py)")
    ap.add_argument("--report", default="", help="results/ file for the export report (default: by model kind, "
                    "written only when exporting into models/acoustic)")
    ap.add_argument("--memory-seconds", type=float, default=300.0, help="embedding models: running estimate's memory")
    ap.add_argument("--gain-copies-db", default="", help="v8: the gains (dB, comma-separated) of the clean windows the "
                    "heads with copies also trained on (cache_merge.py's copies); the checkpoint does not record them")
    a = ap.parse_args()
    torch.set_num_threads(1)
    ck = torch.load(a.ckpt, weights_only=False)
    cfg = ck.get("config", {"block": a.block, "hidden": "linear"})
    with open(os.path.join(CACHE, "meta.json")) as f:
        meta = json.load(f)
    blocks = cfg.get("blocks_list")
    whisper = cfg.get("whisper", "tiny.en")
    stem = WhisperStem.from_ct2(WHISPERS[whisper], n_blocks=max(blocks) if blocks else cfg["block"], max_pos=MAX_POS)
    if "block2" in ck:
        # finetune.py's checkpoints: block 2 fine-tuned, the rest as Whisper trained it.
        stem.blocks[1].load_state_dict(ck["block2"])
    if "lin" in ck:
        lin = torch.nn.Linear(ck["lin"]["weight"].shape[1], 8)
        lin.load_state_dict(ck["lin"])
        head = StatsHead(lin, ck["mu"], ck["sd"])
    else:
        head = Head(hidden=cfg["hidden"])
        head.load_state_dict(ck["head"])
    g_mean, g_std = np.array(meta["global_mean"]), np.array(meta["global_std"])
    emb = ck.get("embedding_global")
    mel_speaker = not cfg.get("variant", "spk").startswith("emb") or cfg["variant"] == "embspk"
    two = "cold" in ck
    speech_delta = 0.0
    if emb is not None:
        e_mean, e_std = (torch.tensor(v, dtype=torch.float32) for v in emb)
        cold = None
        # v7: the embedding is [speech | whole window], twice v6's width.
        speech_delta = float(cfg.get("speech_delta") or 0.0)
        width = 2 * stem.conv1.out_channels * len(blocks) * (2 if speech_delta > 0 else 1)
        if two:
            lin_c = torch.nn.Linear(width, 8)
            lin_c.load_state_dict(ck["cold"]["lin"])
            cold = (lin_c, ck["cold"]["mu"], ck["cold"]["sd"], a.temperature_cold)
        model = SerSpeakerEmbedding(stem, lin, ck["mu"], ck["sd"], g_mean, g_std, a.temperature, blocks,
                                    cold=cold, e_mean=e_mean, e_std=e_std, speech_delta=speech_delta).eval()
        # Two heads: parity at a cold start (0), after some speech (0.4) and with a speaker's all (1).
        w_cold = torch.zeros(1)
    else:
        model = SerV4(stem, head, g_mean, g_std, a.temperature, blocks=blocks if "lin" in ck else None).eval()

    stats = () if emb is None else (e_mean, e_std) + ((w_cold,) if two else ())

    def run(m, x):
        with torch.no_grad():
            return m(x, *stats)[0]

    # Parity input: actor 01, angry, strong; 250 frames from 25 before the first voiced frame,
    # z-normalised with actor 01's statistics (as `sentio eval` and the plugin do).
    clip = next(c for c in D.clips() if c.stem == PARITY_CLIP)
    x, vo = D.load(a.feat, clip)
    s = max(0, int(np.argmax(vo)) - 25)
    m, sd = (np.array(v) for v in meta["speaker_stats"][clip.speaker]) if mel_speaker else (g_mean, g_std)
    inp = (((x[s : s + 250] - m) / sd)[None]).astype(np.float32)
    pair = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 137, 80)).astype(np.float32))
    with torch.no_grad():
        if emb is None:
            want, want2 = model(torch.from_numpy(inp)).numpy(), model(pair).numpy()
        else:
            want, want_emb = (t.numpy() for t in model(torch.from_numpy(inp), *stats))
            want2 = model(pair, *stats)[0].numpy()

    if speech_delta > 0:
        # Training pools with cache.py, the graph with model.py: the same speech frames and
        # statistics on the parity window, or the heads would read at run time what they never saw.
        import cache as C
        raw = x[s : s + 250]
        with torch.no_grad():
            outs = model.stem(torch.from_numpy(C.whisper_scale(raw)[None].astype(np.float32)), return_all=True)
        mask = C.speech_mask(raw, speech_delta)
        ref = torch.cat([t for b in blocks for t in C.masked_stats(outs[b - 1][0], mask)]).numpy()
        cache_vs_graph = float(np.abs(ref - want_emb[0, : len(ref)]).max())
        assert cache_vs_graph < 1e-4, cache_vs_graph

    tmp = "/tmp/v4_fp32.onnx"
    if emb is None:
        torch.onnx.export(model, (torch.from_numpy(inp),), tmp, input_names=["features"], output_names=["probs"],
                          dynamic_axes={"features": {0: "batch", 1: "time"}, "probs": {0: "batch"}},
                          opset_version=17, dynamo=False)
    else:
        torch.onnx.export(model, (torch.from_numpy(inp),) + stats, tmp,
                          input_names=["features", "speaker_mean", "speaker_std"] + (["speaker_weight"] if two else []),
                          output_names=["probs", "embedding"],
                          dynamic_axes={"features": {0: "batch", 1: "time"}, "probs": {0: "batch"}, "embedding": {0: "batch"}},
                          opset_version=17, dynamo=False)
    os.makedirs(a.out, exist_ok=True)
    out = os.path.join(a.out, "sentio-ser.onnx")
    subprocess.run([sys.executable, os.path.join(HERE, "fp16_storage.py"), tmp, out], check=True)

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(out, so, providers=["CPUExecutionProvider"])
    extra = {} if emb is None else {"speaker_mean": e_mean.numpy(), "speaker_std": e_std.numpy()}
    if two:
        extra["speaker_weight"] = w_cold.numpy()
    outs = sess.run(None, {"features": inp, **extra})
    got = outs[0]
    got2 = sess.run(None, {"features": pair.numpy(), **extra})[0]
    diffs = {"parity": float(np.abs(got - want).max()), "batch2_t137": float(np.abs(got2 - want2).max())}
    if speech_delta > 0:
        diffs["cache_vs_graph_speech_embedding"] = cache_vs_graph
    if emb is not None:
        diffs["embedding_rel"] = float(np.abs(outs[1] - want_emb).max() / np.abs(want_emb).max())
        # With a speaker's statistics (actor 01's pooled windows), not only the cold start.
        for w in ((0.4, 1.0) if two else (None,)):
            spk = {"speaker_mean": (e_mean + 0.3 * e_std).numpy(), "speaker_std": (0.7 * e_std).numpy()}
            if two:
                spk["speaker_weight"] = np.array([w], np.float32)
            with torch.no_grad():
                w3 = model(torch.from_numpy(inp), *(torch.from_numpy(v) for v in spk.values()))[0]
            key = "shifted_stats" + ("" if w is None else f"_w{w:g}")
            diffs[key] = float(np.abs(sess.run(None, {"features": inp, **spk})[0] - w3.numpy()).max())
            if w == 0.4:
                # A blend of both heads with a speaker's statistics, for the Rust parity test:
                # speaker_mean = global mean + 0.3 global std, speaker_std = 0.7 global std, w = 0.4.
                np.save(os.path.join(a.out, "parity_probs_blend.npy"), w3.numpy().astype(np.float32))
    for T in (50, 137, 250):
        p = sess.run(None, {"features": inp[:, :T], **extra})[0]
        diffs[f"t{T}"] = float(np.abs(p - run(model, torch.from_numpy(inp[:, :T])).numpy()).max())
    lat = []
    for i in range(230):
        t0 = time.perf_counter()
        sess.run(None, {"features": inp, **extra})
        if i >= 30:
            lat.append((time.perf_counter() - t0) * 1e3)
    params = sum(p.numel() for p in model.parameters()) + model.stem.pos.numel()
    np.save(os.path.join(a.out, "parity_input.npy"), inp)
    np.save(os.path.join(a.out, "parity_probs.npy"), want.astype(np.float32))
    sidecar = {
        "classes": D.CLASSES, "input": "features", "output": "probs",
        "columns": [105, 185], "window_frames": 250, "min_frames": 50,
        "normalization": {"mode": "speaker" if mel_speaker else "global",
                          "global_mean": [round(float(v), 6) for v in g_mean],
                          "global_std": [round(float(v), 6) for v in g_std]},
        "opset": 17, "parameters": int(params), "temperature": a.temperature, "whisper": whisper,
        "model": f"Whisper {whisper} conv stem + encoder blocks 1..{max(blocks or [cfg['block']])} (frozen), statistics pooling of blocks {blocks}, linear",
    }
    if emb is not None:
        np.save(os.path.join(a.out, "parity_embedding.npy"), want_emb.astype(np.float32))
        sidecar["embedding"] = {
            "mean_input": "speaker_mean", "std_input": "speaker_std", "output": "embedding",
            "global_mean": [float(v) for v in e_mean.numpy()], "global_std": [float(v) for v in e_std.numpy()],
            "prior_seconds": a.prior_seconds, "memory_seconds": a.memory_seconds,
            **({"weight_input": "speaker_weight"} if two else {}),
            # The linear layer's input standardisation (SerSpeakerEmbedding's mu, sd): `sentio
            # adapt` fine-tunes that layer on what it reads.
            "head_mean": [float(v) for v in np.asarray(ck["mu"]).ravel()],
            "head_std": [float(v) for v in np.asarray(ck["sd"]).ravel()],
        }
        frozen = "block 1 frozen, block 2 fine-tuned" if "block2" in ck else "frozen"
        sidecar["model"] = (f"Whisper {whisper} conv stem + encoder blocks 1..{max(blocks)} ({frozen}), statistics pooling "
                            f"of blocks {blocks} normalised with the speaker's embedding statistics, linear")
        if two:
            sidecar["temperature_cold"] = a.temperature_cold
            sidecar["model"] = (f"Whisper {whisper} conv stem + encoder blocks 1..{max(blocks)} ({frozen}), statistics "
                                f"pooling of blocks {blocks}; a linear speaker head (the embedding normalised with the "
                                f"speaker's statistics) and a linear cold-start head (the global statistics), blended "
                                f"by the speaker weight")
            if speech_delta > 0:
                sidecar["speech_delta"] = speech_delta
                sidecar["model"] = (f"Whisper {whisper} conv stem + encoder blocks 1..{max(blocks)} ({frozen}), "
                                    f"statistics pooling of blocks {blocks} over the window's speech frames (within "
                                    f"{speech_delta:g} bels of its loudest) and over the whole window; a linear speaker "
                                    f"head on the first (normalised with the speaker's statistics) and a linear "
                                    f"cold-start head on the second (the global statistics), blended by the speaker weight")
            if a.gain_copies_db:
                gains = " / ".join(f"{float(g):+g}" for g in a.gain_copies_db.split(","))
                heads = "both heads" if cfg.get("aug_weight", 0) > 0 else "the cold-start head"
                sidecar["model"] += f"; {heads} also trained on the clean windows at {gains} dB (a microphone's gain)"
    # The model's generation names it in the sidecar (and so in its fingerprint) and its export report.
    version = ("v4" if emb is None else "v5" if not two else "v8" if a.gain_copies_db
               else "v7" if speech_delta > 0 else "v6")
    sidecar["model"] = f"{version}: {sidecar['model']}"
    with open(os.path.join(a.out, "sentio-ser.json"), "w") as f:
        json.dump(sidecar, f, indent=1)
    rep = {"ort_vs_pytorch_max_abs": diffs, "latency_ms_t250_1thread": {"p50": float(np.percentile(lat, 50)),
           "p99": float(np.percentile(lat, 99))}, "parameters": int(params),
           "onnx_bytes": os.path.getsize(out), "parity_probs": want[0].tolist(), "config": cfg,
           "temperature": a.temperature}
    report = a.report or (os.path.abspath(a.out) == os.path.abspath(ACOUSTIC) and f"{version}_export.json")
    if report:
        with open(os.path.join(HERE, "results", report), "w") as f:
            json.dump(rep, f, indent=1)
    print(json.dumps(rep, indent=1))


if __name__ == "__main__":
    main()
