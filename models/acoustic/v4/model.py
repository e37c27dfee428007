"""v4: Whisper tiny.en's conv stem and first blocks (frozen), then the paper's head: a BiLSTM over
the encoder frames, attentive statistics pooling and a linear classifier (8 logits)."""
import numpy as np
import torch
import torch.nn as nn

from encoder import WhisperStem


class Head(nn.Module):
    def __init__(self, d=384, hidden=64, n_classes=8, drop=0.2, pool=2):
        super().__init__()
        # Encoder frames are 20 ms apart; averaging pairs (40 ms) quarters the LSTM's cost.
        self.pool = pool
        self.norm = nn.LayerNorm(d)
        # hidden = 0: no BiLSTM, attentive statistics pooling straight over the encoder frames.
        self.lstm = nn.LSTM(d, hidden, batch_first=True, bidirectional=True) if hidden else None
        width = 2 * hidden if hidden else d
        self.att = nn.Sequential(nn.Linear(width, 128), nn.Tanh(), nn.Linear(128, 1))
        self.drop = nn.Dropout(drop)
        self.fc = nn.Linear(2 * width, n_classes)

    def forward(self, x, lens=None):
        """x [B, T, d] encoder frames; lens [B] valid frames (None: all)."""
        if self.pool > 1:
            x = torch.nn.functional.avg_pool1d(x.transpose(1, 2), self.pool).transpose(1, 2)
            lens = None if lens is None else torch.div(lens, self.pool, rounding_mode="floor").clamp_min(1)
        x = self.norm(x)
        if self.lstm is None:
            h = x
            a = self.att(h).squeeze(-1)
            if lens is not None:
                valid = torch.arange(x.shape[1])[None, :] < lens[:, None]
                a = a.masked_fill(~valid, -1e9)
        elif lens is None:
            h, _ = self.lstm(x)
            a = self.att(h).squeeze(-1)
        else:
            packed = nn.utils.rnn.pack_padded_sequence(x, lens.cpu(), batch_first=True, enforce_sorted=False)
            h, _ = self.lstm(packed)
            h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=x.shape[1])
            a = self.att(h).squeeze(-1)
            valid = torch.arange(x.shape[1])[None, :] < lens[:, None]
            a = a.masked_fill(~valid, -1e9)
        w = torch.softmax(a, dim=1).unsqueeze(-1)
        mean = (w * h).sum(1)
        std = ((w * h * h).sum(1) - mean * mean).clamp_min(1e-6).sqrt()
        return self.fc(self.drop(torch.cat([mean, std], dim=1)))


class SerV4(nn.Module):
    """The exported graph: z-normalised Whisper log10-mel window [B, T, 80] -> probabilities [B, 8].

    The plugin feeds speaker z-normalised columns (global statistics before a speaker's are known);
    the graph maps them back to the global scale, applies Whisper's window scaling, the frozen
    encoder and the head, and a calibrated softmax (logits / temperature)."""

    def __init__(self, stem: WhisperStem, head: nn.Module, g_mean, g_std, temperature=1.0, blocks=None):
        super().__init__()
        self.stem, self.head = stem, head
        # blocks: 1-based blocks whose outputs the (statistics) head reads; None: the last one.
        self.blocks = blocks
        self.register_buffer("g_mean", torch.as_tensor(g_mean, dtype=torch.float32))
        self.register_buffer("g_std", torch.as_tensor(g_std, dtype=torch.float32))
        self.register_buffer("inv_t", torch.tensor(1.0 / temperature, dtype=torch.float32))

    def forward(self, features):
        x = features * self.g_std + self.g_mean
        top = x.amax(dim=(1, 2), keepdim=True)
        x = (torch.maximum(x, top - 8.0) + 4.0) / 4.0
        if self.blocks is None:
            logits = self.head(self.stem(x))
        else:
            outs = self.stem(x, return_all=True)
            logits = self.head([outs[b - 1] for b in self.blocks])
        return torch.softmax(logits * self.inv_t, dim=-1)


class StatsHead(nn.Module):
    """Statistics pooling (mean ‖ std of the encoder frames) and one linear layer: the head that
    won on validation (LOCO + RAVDESS CV) over the BiLSTM and attentive-pooling heads above.
    `mu`/`sd` standardise the pooled vector with the training set's statistics."""

    def __init__(self, lin: nn.Linear, mu, sd):
        super().__init__()
        self.fc = lin
        self.register_buffer("mu", torch.as_tensor(mu, dtype=torch.float32))
        self.register_buffer("sd", torch.as_tensor(sd, dtype=torch.float32))

    def forward(self, xs, lens=None):
        """xs: a list of encoder outputs [B, T, d] (one per block read), or one tensor."""
        xs = xs if isinstance(xs, (list, tuple)) else [xs]
        pooled = torch.cat([t for x in xs for t in (x.mean(1), x.std(1))], dim=1)  # std unbiased, as cache.py
        return self.fc((pooled - self.mu) / self.sd)


def speech_mask(x, delta):
    """[B, T, 80] front-end log10 mel -> [B, ceil(T / 2)] bool: the encoder frames (stride 2) of
    the window's speech. A mel frame is speech when its power (log10 of the sum of 10^mel) is
    within `delta` bels of the window's loudest frame's; an encoder frame when either of its two
    mel frames is (cache.py's `speech_mask`). The loudest frame always is, so no mask is empty."""
    power = torch.logsumexp(x * np.log(10.0), dim=2) / np.log(10.0)
    m = (power >= power.amax(dim=1, keepdim=True) - delta).float()
    return torch.nn.functional.max_pool1d(m[:, None, :], 2, 2, ceil_mode=True)[:, 0] > 0


def masked_pool(x, m):
    """Mean ‖ unbiased std of the frames of x [B, T, d] where m [B, T] (cache.py's `masked_stats`)."""
    w = m.to(x.dtype)[:, :, None]
    n = w.sum(1)
    mean = (x * w).sum(1) / n
    var = (((x - mean[:, None]) ** 2) * w).sum(1) / (n - 1).clamp_min(1.0)
    return torch.cat([mean, var.sqrt()], dim=1)


class SerSpeakerEmbedding(nn.Module):
    """v5's and v6's graph: Whisper log10-mel window [B, T, 80] (globally z-normalised) and the
    speaker's embedding statistics [E] each -> probabilities [B, 8] and the window's embedding [B, E].

    The embedding is the statistics pooling (mean ‖ std) of the chosen blocks; the head
    z-normalises it with the speaker's statistics (which the runtime estimates from the returned
    embeddings; the global ones before a speaker is known), standardises it with the training
    set's statistics and applies the linear classifier and the calibrated softmax.

    With a `cold` head (v6: (nn.Linear, mu, sd, temperature)), a fourth input `speaker_weight`
    [1] — the speaker's share of the statistics, 0 at a cold start — blends the two heads'
    calibrated logits: w * speaker head + (1 - w) * cold head, the cold head reading the
    embedding z-normalised with the global statistics `e_mean`, `e_std`.

    v7 (`speech_delta` > 0): the embedding is the blocks' statistics over the window's speech
    frames (`speech_mask`) followed by the same over the whole window; the speaker head's weights
    on the second half and the cold head's on the first are zero (finetune.py `fit_columns`)."""

    def __init__(self, stem: WhisperStem, lin: nn.Linear, mu, sd, g_mean, g_std, temperature, blocks,
                 cold=None, e_mean=None, e_std=None, speech_delta=0.0):
        super().__init__()
        self.stem, self.fc, self.blocks = stem, lin, blocks
        self.speech_delta = float(speech_delta)
        for k, v in (("mu", mu), ("sd", sd), ("g_mean", g_mean), ("g_std", g_std)):
            self.register_buffer(k, torch.as_tensor(v, dtype=torch.float32))
        self.register_buffer("inv_t", torch.tensor(1.0 / temperature, dtype=torch.float32))
        self.cold = cold is not None
        if self.cold:
            lin_c, mu_c, sd_c, t_c = cold
            self.fc_cold = lin_c
            for k, v in (("mu_c", mu_c), ("sd_c", sd_c), ("e_mean", e_mean), ("e_std", e_std)):
                self.register_buffer(k, torch.as_tensor(np.asarray(v), dtype=torch.float32))
            self.register_buffer("inv_t_c", torch.tensor(1.0 / t_c, dtype=torch.float32))

    def forward(self, features, speaker_mean, speaker_std, speaker_weight=None):
        mel = features * self.g_std + self.g_mean
        top = mel.amax(dim=(1, 2), keepdim=True)
        x = (torch.maximum(mel, top - 8.0) + 4.0) / 4.0
        outs = self.stem(x, return_all=True)
        pooled = torch.cat([t for b in self.blocks for t in (outs[b - 1].mean(1), outs[b - 1].std(1))], dim=1)
        if self.speech_delta > 0:
            m = speech_mask(mel, self.speech_delta)
            pooled = torch.cat([masked_pool(outs[b - 1], m) for b in self.blocks] + [pooled], dim=1)
        z = (pooled - speaker_mean) / speaker_std
        logits = self.fc((z - self.mu) / self.sd) * self.inv_t
        if self.cold:
            zc = (pooled - self.e_mean) / self.e_std
            cold = self.fc_cold((zc - self.mu_c) / self.sd_c) * self.inv_t_c
            logits = speaker_weight * logits + (1 - speaker_weight) * cold
        return torch.softmax(logits, dim=-1), pooled
