#!/usr/bin/env python3
"""Time the contract front end (log-mel + MFCC + frame energy) with librosa.

    python3 models/frontend_reference/bench_librosa.py AUDIO.f32 --repeat N [--dtype float32|float64] [--threads T]

AUDIO.f32: raw little-endian float32 mono samples at 16 kHz (no header).
One untimed warm-up run, then N timed runs of the whole pipeline (same code as the
parity reference: sentio_frontend.librosa_features). Prints ONE JSON line:
  {"seconds_audio": ..., "best_s": ..., "median_s": ..., "librosa_version": ..., ...}

Defaults: --dtype float32 (samples as read, i.e. how librosa is normally used; the
mel basis then also float32, librosa's default) and --threads 1 (BLAS/OpenMP pools
limited to one thread, to compare with a single-threaded real-time front end).
"""

import argparse
import json
import os
import sys


def parse():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("audio", help="raw little-endian float32 mono 16 kHz samples")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs after one warm-up (default 5)")
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads (0 = leave as is)")
    a = ap.parse_args()
    if a.repeat < 1:
        ap.error("--repeat must be >= 1")
    return a


def main():
    a = parse()
    if a.threads > 0:  # must happen before numpy is imported
        for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                  "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
            os.environ[v] = str(a.threads)

    import time

    import numpy as np
    import librosa

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import sentio_frontend as fe

    x = np.fromfile(a.audio, dtype="<f4")
    if len(x) < fe.WIN_LENGTH:
        sys.exit(f"error: {a.audio}: {len(x)} samples, need at least {fe.WIN_LENGTH}")
    dt = np.float32 if a.dtype == "float32" else np.float64
    x = x.astype(dt)

    def run():
        return fe.librosa_features(x, mel_dtype=dt)

    logmel, _, _ = run()  # warm-up
    times = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    print(json.dumps({
        "seconds_audio": len(x) / fe.SR,
        "best_s": min(times),
        "median_s": float(np.median(times)),
        "librosa_version": librosa.__version__,
        "repeat": a.repeat,
        "n_frames": int(logmel.shape[0]),
        "dtype": a.dtype,
        "threads": a.threads,
    }))


if __name__ == "__main__":
    main()
