"""Sentio acoustic emotion model: CNN + BiLSTM + attentive statistics pooling (after the paper's
CNN + BiLSTM design), small enough for real-time CPU inference.

Input  "features": float32 [batch, time, F] (speaker-z-normalised columns of the Rust front end)
Output "probs":    float32 [batch, 8] softmax over the classes of contract.md
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

CLASSES = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]


class ConvFront1d(nn.Module):
    """1-D convolutions over time with the feature columns as channels; time / 4."""

    def __init__(self, n_in: int, ch: int = 128, drop: float = 0.1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(n_in, ch, 5, padding=2, bias=False), nn.BatchNorm1d(ch), nn.ReLU(),
            nn.Conv1d(ch, ch, 5, padding=2, bias=False), nn.BatchNorm1d(ch), nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Dropout(drop),
            nn.Conv1d(ch, ch, 3, padding=1, bias=False), nn.BatchNorm1d(ch), nn.ReLU(),
            nn.MaxPool1d(2),
        )
        self.out_dim = ch

    def forward(self, x):  # x [B, T, F]
        return self.net(x.transpose(1, 2)).transpose(1, 2)  # [B, T/4, ch]


class ConvFront2d(nn.Module):
    """Small 2-D CNN over (time, mel) so spectral patterns are shift-tolerant across voices;
    time / 4, frequency / 8, then a linear projection per frame."""

    def __init__(self, n_in: int, ch=(16, 32, 48), proj: int = 128, drop: float = 0.1):
        super().__init__()
        c1, c2, c3 = ch
        self.net = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1, bias=False), nn.BatchNorm2d(c1), nn.ReLU(),
            nn.MaxPool2d((2, 2)),
            nn.Conv2d(c1, c2, 3, padding=1, bias=False), nn.BatchNorm2d(c2), nn.ReLU(),
            nn.MaxPool2d((2, 2)),
            nn.Conv2d(c2, c3, 3, padding=1, bias=False), nn.BatchNorm2d(c3), nn.ReLU(),
            nn.MaxPool2d((1, 2)),
            nn.Dropout(drop),
        )
        self.fdim = c3 * (n_in // 8)
        self.proj = nn.Sequential(nn.Linear(self.fdim, proj), nn.ReLU())
        self.out_dim = proj

    def forward(self, x):  # x [B, T, F]
        z = self.net(x.unsqueeze(1))           # [B, C, T/4, F/8]
        b, c, t, f = z.shape
        z = z.permute(0, 2, 1, 3).reshape(b, t, c * f)
        return self.proj(z)


class AttentiveStatsPool(nn.Module):
    """Attention weights over time; returns the weighted mean and weighted std (2 x dim)."""

    def __init__(self, dim: int, hidden: int = 64):
        super().__init__()
        self.att = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, h):  # [B, T, D]
        w = torch.softmax(self.att(h), dim=1)  # [B, T, 1]
        mu = (w * h).sum(dim=1)
        var = (w * (h - mu.unsqueeze(1)) ** 2).sum(dim=1)
        return torch.cat([mu, torch.sqrt(var + 1e-5)], dim=1)


class SerNet(nn.Module):
    def __init__(self, n_in: int = 64, front: str = "2d", lstm_hidden: int = 96, drop: float = 0.3,
                 n_classes: int = 8):
        super().__init__()
        self.front = ConvFront2d(n_in) if front == "2d" else ConvFront1d(n_in)
        self.lstm = nn.LSTM(self.front.out_dim, lstm_hidden, batch_first=True, bidirectional=True)
        self.pool = AttentiveStatsPool(2 * lstm_hidden)
        self.drop = nn.Dropout(drop)
        self.head = nn.Linear(4 * lstm_hidden, n_classes)

    def logits(self, x):
        z = self.front(x)
        h, _ = self.lstm(z)
        return self.head(self.drop(self.pool(h)))

    def forward(self, x):
        return self.logits(x)


class ExportWrapper(nn.Module):
    """What ships: softmax included."""

    def __init__(self, net: SerNet):
        super().__init__()
        self.net = net

    def forward(self, features):
        return F.softmax(self.net.logits(features), dim=-1)


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())
