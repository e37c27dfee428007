"""Latency of one inference of the shipped acoustic model in ONNX Runtime from Python (the peer
figure for `cargo xtask bench`): batch 1, one intra-op thread, CPU. Prints one JSON line."""
import argparse
import json
import time

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--frames", type=int, default=250)
    ap.add_argument("--width", type=int, required=True)
    ap.add_argument("--repeat", type=int, default=300)
    a = ap.parse_args()
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((1, a.frames, a.width)).astype(np.float32)
    feed = {sess.get_inputs()[0].name: x}
    # Models that normalise their embedding also take the speaker's statistics (mean, std) and,
    # with two heads, the speaker's weight (0 here: both heads run whatever it is).
    for inp in sess.get_inputs()[1:]:
        shape = [d if isinstance(d, int) else 1 for d in inp.shape]
        feed[inp.name] = (np.ones if "std" in inp.name else np.zeros)(shape, np.float32)
    for _ in range(20):
        sess.run(None, feed)
    times = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        sess.run(None, feed)
        times.append(time.perf_counter() - t0)
    t = np.array(times) * 1e3
    print(json.dumps({"p50_ms": float(np.percentile(t, 50)), "p99_ms": float(np.percentile(t, 99)),
                      "onnxruntime": ort.__version__, "repeat": a.repeat}))


if __name__ == "__main__":
    main()
