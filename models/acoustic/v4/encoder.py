"""Whisper's conv stem and its first encoder blocks, initialised from CTranslate2 weights.

Whisper (Radford et al. 2022): x = GELU(conv1(mel)); x = GELU(conv2(x)) (stride 2); x += pos[:T/2];
each block x += attn(LN(x)); x += MLP(LN(x)). The input here is Whisper's scaled log-mel
((clamp(log10 mel, max - 8) + 4) / 4) of one window, [B, T, 80]; the output is [B, ceil(T/2), d].
"""
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

import ct2

_WHISPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "whisper")
# The CTranslate2 weights `cargo xtask setup` fetches for transcription: tiny.en (d 384, the shipped
# model's) and base (d 512, multilingual; the larger option).
WHISPERS = {name: os.path.join(_WHISPER, name, "model.bin") for name in ("tiny.en", "base")}


class Block(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)

    def forward(self, x):
        b, t, d = x.shape
        h = self.heads
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, h, d // h).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // h), dim=-1)
        x = x + self.out((att @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class WhisperStem(nn.Module):
    """Conv stem + the first `n_blocks` encoder blocks (positions: the first `max_pos`)."""

    def __init__(self, d=384, heads=6, n_blocks=2, max_pos=1500):
        super().__init__()
        self.conv1 = nn.Conv1d(80, d, 3, padding=1)
        self.conv2 = nn.Conv1d(d, d, 3, stride=2, padding=1)
        self.register_buffer("pos", torch.zeros(max_pos, d))
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(n_blocks))

    def forward(self, mel, return_all=False):
        x = F.gelu(self.conv1(mel.transpose(1, 2)))
        x = F.gelu(self.conv2(x)).transpose(1, 2)
        x = x + self.pos[: x.shape[1]]
        outs = []
        for blk in self.blocks:
            x = blk(x)
            outs.append(x)
        return outs if return_all else x

    @classmethod
    def from_ct2(cls, path, n_blocks=2, max_pos=1500):
        w = ct2.read(path, "encoder/")
        d = w["encoder/conv1/weight"].shape[0]
        m = cls(d=d, heads=d // 64, n_blocks=n_blocks, max_pos=max_pos)
        t = lambda k: torch.from_numpy(w[k])  # noqa: E731
        sd = {
            "conv1.weight": t("encoder/conv1/weight"),
            "conv1.bias": t("encoder/conv1/bias"),
            "conv2.weight": t("encoder/conv2/weight"),
            "conv2.bias": t("encoder/conv2/bias"),
            "pos": t("encoder/position_encodings/encodings")[:max_pos],
        }
        for i in range(n_blocks):
            p = f"encoder/layer_{i}/"
            for ours, theirs in [
                ("ln1.weight", "self_attention/layer_norm/gamma"),
                ("ln1.bias", "self_attention/layer_norm/beta"),
                ("qkv.weight", "self_attention/linear_0/weight"),
                ("qkv.bias", "self_attention/linear_0/bias"),
                ("out.weight", "self_attention/linear_1/weight"),
                ("out.bias", "self_attention/linear_1/bias"),
                ("ln2.weight", "ffn/layer_norm/gamma"),
                ("ln2.bias", "ffn/layer_norm/beta"),
                ("fc1.weight", "ffn/linear_0/weight"),
                ("fc1.bias", "ffn/linear_0/bias"),
                ("fc2.weight", "ffn/linear_1/weight"),
                ("fc2.bias", "ffn/linear_1/bias"),
            ]:
                sd[f"blocks.{i}.{ours}"] = t(p + theirs)
        m.load_state_dict(sd)
        return m
