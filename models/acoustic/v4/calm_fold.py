#!/usr/bin/env python3
"""`sentio eval`'s decision on corpora without "calm": calm's probability counted as neutral's.

    python3 models/acoustic/v4/calm_fold.py results/OUT.json [SENTIO EVAL MODEL ARGS...]
    (from the repository root, after `cargo build --release`; CALM_FOLD_MODES=speaker,global
    limits the runs to those statistics, CALM_FOLD_DECISIONS=calm_as_neutral to that decision)

Only RAVDESS tells calm from neutral; TESS, ASED and URDU (and the issue's English, German and
Italian sets) have neutral and no calm. Runs the exported model through `target/release/sentio
eval` on each corpus with the speaker's, global and session statistics and `--live`, with the
default decision (calm folded into neutral) and with `--keep-calm-apart` (calm's probability
dropped, the decision before), and writes UA, WA, macro-F1 and recall of each. The shipped heads
never saw these corpora, so every figure is cross-corpus validation.
"""
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor


def main(out_path: str, *model_args: str) -> None:
    corpora = ("tess", "ased", "urdu")
    modes = {"speaker": ["--normalize", "speaker"], "global": ["--normalize", "global"],
             "session": ["--normalize", "session"], "live": ["--live"]}
    if os.environ.get("CALM_FOLD_MODES"):
        modes = {m: modes[m] for m in os.environ["CALM_FOLD_MODES"].split(",")}
    decisions = {"calm_as_neutral": [], "calm_apart": ["--keep-calm-apart"]}
    if os.environ.get("CALM_FOLD_DECISIONS"):
        decisions = {d: decisions[d] for d in os.environ["CALM_FOLD_DECISIONS"].split(",")}

    def run(job):
        c, m, d = job
        r = subprocess.run(["target/release/sentio", "eval", "--manifest", f"../shared/data/{c}/labels.csv",
                            *modes[m], *decisions[d], *model_args], capture_output=True, text=True, check=True)
        res = json.loads([line for line in r.stdout.splitlines() if line.startswith("{")][-1])
        print(c, m, d, round(100 * res["ua"], 1), flush=True)
        return c, m, d, {k: res[k] for k in ("ua", "wa", "macro_f1", "recall") if k in res}

    out = {"model_args": list(model_args), "sentio_eval": {}}
    # `sentio eval` runs one clip at a time on one thread: one run per core, longest first.
    jobs = [(c, m, d) for c in ("ased", "tess", "urdu") for m in modes for d in decisions]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for c, m, d, res in pool.map(run, jobs):
            out["sentio_eval"].setdefault(c, {}).setdefault(m, {})[d] = res
    for c in corpora:
        for m in modes:
            r = out["sentio_eval"][c][m]
            if len(r) == 2:
                r["gain"] = r["calm_as_neutral"]["ua"] - r["calm_apart"]["ua"]
    with open(out_path, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:])
