"""Our Whisper stem against openai-whisper's own AudioEncoder on the same CTranslate2 weights.

    /work/venv/bin/pip install --no-deps openai-whisper   # plus tiktoken more-itertools tqdm
    python3 models/acoustic/v4/check_encoder.py
"""
import json
import os

import numpy as np
import torch
from whisper.model import AudioEncoder

import ct2
from encoder import WhisperStem

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.join(HERE, "..", "..", "whisper", "tiny.en", "model.bin")

w = ct2.read(BIN, "encoder/")
ref = AudioEncoder(n_mels=80, n_ctx=1500, n_state=384, n_head=6, n_layer=4)
t = lambda k: torch.from_numpy(w[k])  # noqa: E731
sd = {"conv1.weight": t("encoder/conv1/weight"), "conv1.bias": t("encoder/conv1/bias"),
      "conv2.weight": t("encoder/conv2/weight"), "conv2.bias": t("encoder/conv2/bias"),
      "positional_embedding": t("encoder/position_encodings/encodings"),
      "ln_post.weight": t("encoder/layer_norm/gamma"), "ln_post.bias": t("encoder/layer_norm/beta")}
for i in range(4):
    p = f"encoder/layer_{i}/"
    qkv_w, qkv_b = t(p + "self_attention/linear_0/weight"), t(p + "self_attention/linear_0/bias")
    q, k, v = qkv_w.chunk(3)
    qb, _, vb = qkv_b.chunk(3)
    b = f"blocks.{i}."
    sd.update({b + "attn.query.weight": q, b + "attn.query.bias": qb, b + "attn.key.weight": k,
               b + "attn.value.weight": v, b + "attn.value.bias": vb,
               b + "attn.out.weight": t(p + "self_attention/linear_1/weight"),
               b + "attn.out.bias": t(p + "self_attention/linear_1/bias"),
               b + "attn_ln.weight": t(p + "self_attention/layer_norm/gamma"),
               b + "attn_ln.bias": t(p + "self_attention/layer_norm/beta"),
               b + "mlp.0.weight": t(p + "ffn/linear_0/weight"), b + "mlp.0.bias": t(p + "ffn/linear_0/bias"),
               b + "mlp.2.weight": t(p + "ffn/linear_1/weight"), b + "mlp.2.bias": t(p + "ffn/linear_1/bias"),
               b + "mlp_ln.weight": t(p + "ffn/layer_norm/gamma"), b + "mlp_ln.bias": t(p + "ffn/layer_norm/beta")})
ref.load_state_dict(sd)
seen = []
for blk in ref.blocks:
    blk.register_forward_hook(lambda m, i, o: seen.append(o))
ours = WhisperStem.from_ct2(BIN, n_blocks=4)
torch.manual_seed(0)
mel = torch.randn(1, 80, 3000) * 0.5
with torch.no_grad():
    ref(mel)
    mine = ours(mel.transpose(1, 2), return_all=True)
diffs = [float((a - b).abs().max()) for a, b in zip(mine, seen)]
scale = [float(b.abs().max()) for b in seen]
rel = [d / s for d, s in zip(diffs, scale)]
out = {"max_abs_diff_per_block": diffs, "max_abs_value_per_block": scale, "relative": rel}
print(json.dumps(out))
with open(os.path.join(HERE, "results", "encoder_parity.json"), "w") as f:
    json.dump(out, f, indent=1)
assert max(rel) < 1e-5
