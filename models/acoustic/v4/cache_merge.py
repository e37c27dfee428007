#!/usr/bin/env python3
"""Several cache.py caches of training copies as one SENTIO_V4_AUG cache (the model card's item 12:
the noisy copies and the gain-shifted clean windows, every one a copy at the cold head's weight).

    python3 models/acoustic/v4/cache_merge.py --out /tmp/v8-aug /tmp/v4-aug/cache /tmp/v4-gain-10 /tmp/v4-gain10

Keeps what finetune.py and train.py read: the windows' clips, lengths, pooled statistics and
speech-frame statistics (block 1's frames only when every cache has them; the speech-frame
statistics when every cache has them, as the Whisper base option's caches do not). The first cache's
meta.json supplies the rest (the clips, the global statistics).
"""
import argparse
import json
import os

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("caches", nargs="+")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    metas = []
    for c in a.caches:
        with open(os.path.join(c, "meta.json")) as f:
            metas.append(json.load(f))
    for m, c in zip(metas[1:], a.caches[1:]):
        assert m["clips"] == metas[0]["clips"], f"{c} indexes other clips"
        # Caches older than the speech pooling carry no speech_delta: the same as 0 (none).
        assert (m.get("speech_delta") or 0.0) == (metas[0].get("speech_delta") or 0.0), f"{c} pools other speech frames"
    meta = dict(metas[0])
    for key in ("clip", "start", "end"):
        meta[key] = [x for m in metas for x in m[key]]
    names = ["lens.npy", "raw_pooled.npy", "raw_speech_pooled.npy", "raw_seq1.npy"]
    for name in names:
        paths = [os.path.join(c, name) for c in a.caches]
        if all(os.path.exists(p) for p in paths):
            # Pooled arrays keep as many blocks as the narrowest cache (blocks past --max-block are zeros).
            arrays = [np.load(p) for p in paths]
            if name == "raw_pooled.npy":
                arrays = [x[:, :min(y.shape[1] for y in arrays)] for x in arrays]
            np.save(os.path.join(a.out, name), np.concatenate(arrays))
        else:
            # Block 1's frames are optional; the speech pooling is absent from every cache or none.
            present = any(os.path.exists(p) for p in paths)
            assert name == "raw_seq1.npy" or (name == "raw_speech_pooled.npy" and not present), \
                f"{name} missing in one of {a.caches}"
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump(meta, f)
    print(f"{len(meta['clip'])} windows from {len(a.caches)} caches -> {a.out}")


if __name__ == "__main__":
    main()
