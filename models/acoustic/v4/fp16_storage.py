#!/usr/bin/env python3
"""Store the frozen Whisper weights of an exported graph in float16, losslessly.

    python3 models/acoustic/v4/fp16_storage.py IN.onnx OUT.onnx

Whisper's CTranslate2 weights are float16: the float32 initializers that hold them are exactly
representable in float16, so they are stored as float16 and cast back once. ONNX Runtime folds
the Cast of a constant at session creation, so inference runs in float32 exactly as exported.
Only initializers that round-trip bit-exactly are converted (the trained head stays float32);
the script checks that and prints what it did.
"""
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

MIN_ELEMENTS = 4096


def main(src: str, dst: str) -> None:
    model = onnx.load(src)
    graph = model.graph
    converted, kept, saved = 0, 0, 0
    new_inits, casts = [], []
    for init in graph.initializer:
        w = numpy_helper.to_array(init)
        exact = (
            w.dtype == np.float32
            and w.size >= MIN_ELEMENTS
            and np.array_equal(w.astype(np.float16).astype(np.float32), w)
        )
        if not exact:
            new_inits.append(init)
            kept += 1
            continue
        half = numpy_helper.from_array(w.astype(np.float16), init.name + "__fp16")
        new_inits.append(half)
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT))
        converted += 1
        saved += w.size * 2
    del graph.initializer[:]
    graph.initializer.extend(new_inits)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    onnx.checker.check_model(model)
    onnx.save(model, dst)
    print(f"{converted} initializers stored as float16 (lossless), {kept} kept; {saved / 1e6:.1f} MB saved")


if __name__ == "__main__":
    main(*sys.argv[1:3])
