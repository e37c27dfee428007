#!/usr/bin/env python3
"""The fine-tuned LOCO models (`finetune.py --save-dir DIR`) through the product's path.

    python3 models/acoustic/v4/finetune_sentio_eval.py DIR results/OUT.json [T_SPK,T_COLD [PRIOR]]
    (from the repository root)

Exports each `DIR/loco_<corpus>.pt` (else `loco_<corpus>_frozen.pt`) with `export.py` and runs `target/release/sentio eval` on the
held-out corpus with the speaker's, global and session statistics; writes UA, WA, macro-F1,
recall and the export's ONNX Runtime ↔ PyTorch differences. Calm's probability is dropped
(`--keep-calm-apart`): the decision every recipe was chosen with; `calm_fold.py` measures the
default decision, calm counted as neutral, beside it.
"""
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))


def main(ckpt_dir: str, out_path: str, temperatures: str = "1,1", prior: str = "5") -> None:
    out = {"models": ckpt_dir, "sentio_eval": {}, "export_parity": {}, "temperatures": temperatures}
    t_spk, t_cold = temperatures.split(",")
    corpora = ("tess", "ased", "urdu")
    for c in corpora:
        export = f"/tmp/ft-export/loco_{c}"
        ckpt = os.path.join(ckpt_dir, f"loco_{c}.pt")
        if not os.path.exists(ckpt):
            ckpt = os.path.join(ckpt_dir, f"loco_{c}_frozen.pt")
        r = subprocess.run([sys.executable, os.path.join(HERE, "export.py"), "--ckpt", ckpt, "--out", export,
                            "--prior-seconds", prior, "--temperature", t_spk, "--temperature-cold", t_cold],
                           capture_output=True, text=True, check=True, cwd=HERE)
        rep = json.loads(r.stdout[r.stdout.index("{\n"):])
        out["export_parity"][c] = rep["ort_vs_pytorch_max_abs"]

    def run(job):
        c, n = job
        r = subprocess.run(["target/release/sentio", "eval", "--manifest", f"../shared/data/{c}/labels.csv",
                            "--model", f"/tmp/ft-export/loco_{c}/sentio-ser.onnx", "--normalize", n,
                            "--keep-calm-apart"],
                           capture_output=True, text=True, check=True)
        d = json.loads([line for line in r.stdout.splitlines() if line.startswith("{")][-1])
        print(c, n, round(100 * d["ua"], 1), flush=True)
        return c, n, {k: d[k] for k in ("n", "ua", "wa", "macro_f1", "recall")}

    # `sentio eval` runs one clip at a time on one thread: one run per core.
    jobs = [(c, n) for c in corpora for n in ("speaker", "global", "session")]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for c, n, res in pool.map(run, jobs):
            out["sentio_eval"].setdefault(c, {})[n] = res
    with open(out_path, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:])
