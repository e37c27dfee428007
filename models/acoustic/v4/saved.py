"""The per-split models `finetune.py --save-dir DIR` keeps, as calibrate.py, speaker_time.py and
adapt.py read them (`--saved DIR`): every window's embedding under a split's model, and the
model's calibrated logits for given speaker statistics and speaker weight — what the exported
graph computes (model.py's SerSpeakerEmbedding).

A split's model is `DIR/<split>.pt` (fine-tuned) or else `DIR/<split>_frozen.pt`.
"""
import os

import numpy as np
import torch

import finetune as FT
from encoder import WhisperStem

_BASE = None
_DATA = None


def data():
    global _DATA
    if _DATA is None:
        _DATA = FT.Data()
    return _DATA


def base_block():
    global _BASE
    if _BASE is None:
        _BASE = WhisperStem.from_ct2(FT.BIN, n_blocks=2).blocks[1]
    return _BASE


class SplitModel:
    def __init__(self, saved_dir, split):
        path = os.path.join(saved_dir, f"{split}.pt")
        if not os.path.exists(path):
            path = os.path.join(saved_dir, f"{split}_frozen.pt")
        self.ck = torch.load(path, weights_only=False)
        self.path = path
        self.heads = FT.load_heads(self.ck, self.ck["lin"]["weight"].shape[1])
        self.g_mean, self.g_std = (np.asarray(v, np.float64) for v in self.ck["embedding_global"])
        self.spk_mu, self.spk_sd = np.asarray(self.ck["mu"]), np.asarray(self.ck["sd"])
        lin = self.heads.spk[0]
        self.W = lin.weight.detach().numpy().astype(np.float64)
        self.b = lin.bias.detach().numpy().astype(np.float64)
        if self.heads.two:
            lc, self.c_mu, self.c_sd = self.heads.cold
            self.Wc = lc.weight.detach().numpy().astype(np.float64)
            self.bc = lc.bias.detach().numpy().astype(np.float64)

    @property
    def two(self):
        return self.heads.two

    def embeddings(self):
        """Every window's (clean + augmented, train.py's order) embedding under this model."""
        return FT.saved_embeddings(self.ck, data(), base_block()).astype(np.float64)

    def head_input(self, emb, mean, std):
        """What the speaker head reads (the adaptation's z)."""
        return ((emb - mean) / std - self.spk_mu) / self.spk_sd

    def logits(self, emb, mean, std, weight, t_spk=1.0, t_cold=1.0):
        """Calibrated logits: the speaker head on `emb` normalised with (mean, std), blended with
        the cold-start head (global statistics) by `weight` for two-head models."""
        spk = (self.head_input(emb, mean, std) @ self.W.T + self.b) / t_spk
        if not self.two:
            return spk
        zc = ((emb - self.g_mean) / self.g_std - self.c_mu) / self.c_sd
        cold = (zc @ self.Wc.T + self.bc) / t_cold
        return weight * spk + (1 - weight) * cold


def softmax(lo):
    lo = lo - lo.max(1, keepdims=True)
    p = np.exp(lo)
    return p / p.sum(1, keepdims=True)
