#!/usr/bin/env python3
"""The frozen-encoder baseline: a head on frozen MiniLM embeddings (shipped until the fine-tuned
model of finetune.py replaced it; kept to reproduce the baseline row of models/text/README.md).

Input: the cached MiniLM embeddings from embed.py (/tmp/sentio-text/emb_*.npy).
Train  = GoEmotions train + XED train part (seeded 90/10 split) + EmoryNLP train
Dev    = GoEmotions dev + EmoryNLP dev           (model selection only)
Test   = GoEmotions test, EmoryNLP test          (reported once, for the chosen model)

Candidates: multinomial logistic regression (C grid x class_weight {None, balanced})
and three small MLPs (sklearn, 384-{256,512}-7 ReLU, Adam, early stopping on a 10%
slice of train).  Selection criterion: the
mean of GoEmotions-dev macro-F1 (7 classes) and EmoryNLP-dev macro-F1 (its 5
classes; EmoryNLP has no disgust/surprise).

Writes OUT (default /tmp/sentio-text/baseline)/text-emotion-head.onnx (+ .json sidecar),
fixtures.json, results.json; the committed copy of results.json is baseline-results.json.

Usage:
    OMP_NUM_THREADS=1 nice -n 15 models/text/.venv/bin/python models/text/train.py
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import embed  # noqa: E402

CLASSES = embed.CLASSES
SEED = 20240607
XED_DEV_FRACTION = 0.10
EMORY_CLASSES = ["anger", "fear", "joy", "neutral", "sadness"]

FIXTURE_SENTENCES = [
    "I can't believe you did this to me, I'm furious!",
    "That smell is absolutely revolting.",
    "I'm really scared about what happens tomorrow.",
    "This is the best day of my life, thank you so much!",
    "The meeting is at three o'clock in room two.",
    "I miss her so much, everything feels empty now.",
    "Wait, what? You're getting married?!",
    "ok",
]


def load(data_dir, emb_dir):
    """Return dict split_name -> (X, y) for the train/dev/test sets."""
    cidx = {c: i for i, c in enumerate(CLASSES)}
    parts = {}
    for name in embed.DATASETS:
        rows = embed.read_rows(data_dir, name)
        x = np.load(os.path.join(emb_dir, f"emb_{name}.npy"))
        assert len(rows) == len(x), (name, len(rows), x.shape)
        y = np.array([cidx[r["ekman7"]] for r in rows])
        split = np.array([r["split"] for r in rows], dtype=object)
        if name == "xed":  # no official split: seeded 90/10 train/dev
            perm = np.random.default_rng(SEED).permutation(len(rows))
            split[:] = "train"
            split[perm[:int(round(XED_DEV_FRACTION * len(rows)))]] = "dev"
        for s in ("train", "dev", "test"):
            m = split == s
            if m.any():
                parts[(name, s)] = (x[m], y[m])
    return parts


def metrics(y, p, labels):
    from sklearn.metrics import accuracy_score, f1_score
    per = f1_score(y, p, labels=labels, average=None, zero_division=0)
    return {
        "n": int(len(y)),
        "macro_f1": float(f1_score(y, p, labels=labels, average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(y, p)),
        "weighted_f1": float(f1_score(y, p, labels=labels, average="weighted", zero_division=0)),
        "per_class_f1": {CLASSES[l]: round(float(v), 4) for l, v in zip(labels, per)},
    }


def evaluate(model, parts):
    all7 = list(range(7))
    emo5 = [CLASSES.index(c) for c in EMORY_CLASSES]
    out = {}
    for (name, s), (x, y) in parts.items():
        if s == "train":
            continue
        p = model.predict(x)
        key = f"{name}_{s}"
        if name == "emorynlp":
            out[key] = metrics(y, p, emo5)
            out[key]["macro_f1_7labels"] = metrics(y, p, all7)["macro_f1"]
            out[key]["predicted_absent_class_fraction"] = float(np.isin(p, [1, 6]).mean())
        else:
            out[key] = metrics(y, p, all7)
    return out


def dev_score(ev):
    return 0.5 * (ev["goemotions_dev"]["macro_f1"] + ev["emorynlp_dev"]["macro_f1"])


def export_onnx(model, path):
    """LogisticRegression or MLPClassifier -> ONNX, input 'embedding' [N,384], output 'probs' [N,7]."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits, nodes = [], []
    cur = "embedding"
    if hasattr(model, "coefs_"):  # MLPClassifier (relu hidden layers, softmax out)
        assert model.activation == "relu" and model.out_activation_ == "softmax"
        for i, (w, b) in enumerate(zip(model.coefs_, model.intercepts_)):
            inits += [numpy_helper.from_array(w.astype(np.float32), f"W{i}"),
                      numpy_helper.from_array(b.astype(np.float32), f"b{i}")]
            nodes += [helper.make_node("MatMul", [cur, f"W{i}"], [f"mm{i}"]),
                      helper.make_node("Add", [f"mm{i}", f"b{i}"], [f"z{i}"])]
            cur = f"z{i}"
            if i < len(model.coefs_) - 1:
                nodes.append(helper.make_node("Relu", [cur], [f"h{i}"]))
                cur = f"h{i}"
    else:  # multinomial LogisticRegression
        inits += [numpy_helper.from_array(model.coef_.T.astype(np.float32), "W"),
                  numpy_helper.from_array(model.intercept_.astype(np.float32), "b")]
        nodes += [helper.make_node("MatMul", [cur, "W"], ["mm"]),
                  helper.make_node("Add", ["mm", "b"], ["logits"])]
        cur = "logits"
    nodes.append(helper.make_node("Softmax", [cur], ["probs"], axis=-1))
    graph = helper.make_graph(
        nodes, "sentio_text_emotion_head",
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", embed.DIM])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", len(CLASSES)])],
        inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                          producer_name="sentio-models-text")
    m.ir_version = 8
    m.doc_string = ("Sentio text-emotion head. classes: " + ",".join(CLASSES) +
                    ". input: all-MiniLM-L6-v2 int8 embedding, mask mean-pooled, L2-normalised.")
    onnx.checker.check_model(m)
    onnx.save(m, path)


def ort_session(path):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/work/shared/data/text")
    ap.add_argument("--emb", default="/tmp/sentio-text")
    ap.add_argument("--out", default="/tmp/sentio-text/baseline")
    ap.add_argument("--no-mlp", action="store_true")
    args = ap.parse_args()
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    parts = load(args.data, args.emb)
    xtr = np.concatenate([parts[(n, "train")][0] for n in embed.DATASETS])
    ytr = np.concatenate([parts[(n, "train")][1] for n in embed.DATASETS])
    counts = {f"{n}_{s}": int(len(v[1])) for (n, s), v in parts.items()}
    print("sizes", counts, "train total", len(ytr), flush=True)

    candidates = []
    for cw in (None, "balanced"):
        for c in (1.0, 4.0, 16.0):
            candidates.append((f"logreg C={c} class_weight={cw}",
                               LogisticRegression(C=c, class_weight=cw, max_iter=2000)))
    candidates.append(("logreg C=64.0 class_weight=None",
                       LogisticRegression(C=64.0, max_iter=3000)))
    if not args.no_mlp:
        for hidden, alpha in ((256, 1e-4), (256, 1e-3), (512, 1e-3)):
            candidates.append((f"mlp 384-{hidden}-7 relu adam alpha={alpha:g} early_stopping",
                               MLPClassifier(hidden_layer_sizes=(hidden,), alpha=alpha,
                                             batch_size=256, learning_rate_init=1e-3,
                                             max_iter=60, early_stopping=True,
                                             validation_fraction=0.1, n_iter_no_change=5,
                                             random_state=SEED)))
    results = []
    best = None
    for name, model in candidates:
        t0 = time.time()
        model.fit(xtr, ytr)
        ev = evaluate(model, {k: v for k, v in parts.items() if k[1] == "dev"})
        score = dev_score(ev)
        row = {"model": name, "dev_score": round(score, 4),
               "goemotions_dev_macro_f1": round(ev["goemotions_dev"]["macro_f1"], 4),
               "emorynlp_dev_macro_f1_5": round(ev["emorynlp_dev"]["macro_f1"], 4),
               "xed_dev_macro_f1": round(ev["xed_dev"]["macro_f1"], 4),
               "fit_s": round(time.time() - t0, 1),
               "epochs": int(getattr(model, "n_iter_", [0])[0] if np.ndim(getattr(model, "n_iter_", 0))
                             else getattr(model, "n_iter_", 0))}
        print(row, flush=True)
        results.append(row)
        if best is None or score > best[0]:
            best = (score, name, model)
    score, name, model = best
    print("chosen on dev:", name, flush=True)

    ev = evaluate(model, parts)
    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "text-emotion-head.onnx")
    export_onnx(model, onnx_path)
    sess = ort_session(onnx_path)
    xall = np.concatenate([v[0] for v in parts.values()])
    p_ort = sess.run(["probs"], {"embedding": xall})[0]
    p_skl = model.predict_proba(xall)
    maxdiff = float(np.abs(p_ort - p_skl).max())
    print("onnx vs sklearn predict_proba max |diff| over", len(xall), "rows:", maxdiff)
    assert maxdiff < 1e-5, maxdiff

    with open(os.path.join(args.out, "text-emotion-head.json"), "w") as f:
        json.dump({"classes": CLASSES, "input": "embedding", "output": "probs",
                   "embedding": "all-MiniLM-L6-v2 int8, mean-pooled with the attention mask, "
                                "L2-normalised",
                   "max_tokens": embed.MAX_TOKENS}, f, indent=2)
        f.write("\n")

    # Fixtures for the Rust test: tokens, embedding and head output of fixed sentences.
    emb = embed.Embedder()
    toks = emb.tokenize(FIXTURE_SENTENCES)
    fx = []
    for s, (ids, mask) in zip(FIXTURE_SENTENCES, toks):
        e = emb._run([(ids, mask)])  # batch of one, no padding
        p = sess.run(["probs"], {"embedding": e})[0][0]
        fx.append({"text": s, "input_ids": ids, "attention_mask": mask,
                   "embedding": [round(float(v), 6) for v in e[0]],
                   "probs": [round(float(v), 6) for v in p],
                   "label": CLASSES[int(np.argmax(p))]})
    with open(os.path.join(args.out, "fixtures.json"), "w") as f:
        json.dump({"classes": CLASSES,
                   "note": "token ids from tokenizer.json with padding disabled, truncation 128; "
                           "token_type_ids are all 0; embedding = masked mean of "
                           "last_hidden_state, L2-normalised (rounded to 6 decimals); probs = "
                           "text-emotion-head.onnx on the unrounded embedding",
                   "sentences": fx}, f, indent=1)
        f.write("\n")
    for r in fx:
        print(f"  {r['label']:9s} {max(r['probs']):.3f}  {r['text']}")

    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"chosen": name, "selection": "mean of GoEmotions-dev macro-F1 (7) and "
                   "EmoryNLP-dev macro-F1 (5 present classes)", "sizes": counts,
                   "train_total": int(len(ytr)), "candidates": results,
                   "onnx_vs_sklearn_max_abs_diff": maxdiff,
                   "eval": ev}, f, indent=1)
        f.write("\n")
    for k in ("goemotions_test", "emorynlp_test", "xed_dev"):
        print(k, json.dumps(ev[k]))


if __name__ == "__main__":
    main()
