#!/usr/bin/env python3
"""Whisper base instead of tiny.en: the shipped recipe's probe on base's encoder blocks.

    python3 models/acoustic/v4/cache.py --whisper base --feat /tmp/rust-feat --out /tmp/v4-base-cache \
        --blocks "" --max-block 4 --variants raw
    SENTIO_V4_CACHE=/tmp/v4-ft-cache python3 models/acoustic/v4/base_probe.py --base-cache /tmp/v4-base-cache

The same 2.5 s windows as the tiny.en cache (its meta.json), each through Whisper base's conv stem
and first four encoder blocks (the CTranslate2 weights `cargo xtask setup` fetches for
transcription; d = 512), pooled (mean ‖ std of every block's frames) by `cache.py --whisper base`.
Then corpus_probe.py's two-head probe on them (RAVDESS-only logistic regressions; LOCO + RAVDESS
CV; speaker and cold heads) for several blocks, beside tiny.en's blocks 1 + 2. Writes
results/base_probe.json. The issue's own probe found base's third block about as good as tiny.en's
second (better on its German and Italian sets, worse on RAVDESS); this asks the same on our
validation, and what it would cost.
"""
import argparse
import json
import os

import numpy as np

import corpus_probe as CP
import train as T
from speaker_time import window_seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-cache", default="/tmp/v4-base-cache",
                    help="cache.py --whisper base --max-block 4 on the same features")
    ap.add_argument("--out", default="base_probe.json")
    a = ap.parse_args()
    with open(os.path.join(a.base_cache, "meta.json")) as f:
        meta = json.load(f)
    assert meta.get("whisper") == "base", "not a cache of Whisper base's blocks"
    assert meta.get("max_block", 0) >= 4, "the probe needs blocks 1-4 (cache.py --max-block 4)"
    assert all(meta[k] == T.META[k][: len(meta[k])] for k in ("clip", "start", "end")) \
        and len(meta["clip"]) == T.N_CLEAN, "the base cache's windows differ from SENTIO_V4_CACHE's"
    pooled = np.load(os.path.join(a.base_cache, "raw_pooled.npy"))
    sec = window_seconds()
    res = {}
    for blocks in ((2,), (3,), (2, 3), (1, 2), (3, 4)):
        name = "base_b" + "+".join(map(str, blocks))
        res[name] = CP.run(name, {"blocks": blocks}, pooled, sec)
        with open(os.path.join(T.RESULTS, a.out), "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
