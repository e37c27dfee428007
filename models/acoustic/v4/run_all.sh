#!/usr/bin/env bash
# v4 end to end (what `cargo xtask train` runs), from the repository root:
#   bash models/acoustic/v4/run_all.sh PYTHON
# Rust features of every clip, the frozen-encoder cache, the block x normalisation probe, the
# heads compared on LOCO + RAVDESS CV, the chosen head (statistics pooling + linear) with its
# out-of-fold figures and final fit, temperature calibration, the noise robustness curve, export.
set -euo pipefail
PY=${1:-python3}
HERE=models/acoustic/v4
DATA=../shared/data
CLI=$PWD/target/release/sentio
BLOCK=2 VARIANT=spk

find "$(cd $DATA && pwd)"/{ravdess,tess,ased,urdu} -name '*.flac' | sort > /tmp/v4-clips.txt
$CLI features --list /tmp/v4-clips.txt --out /tmp/rust-feat
cd $HERE
$PY cache.py --feat /tmp/rust-feat --out /tmp/v4-cache
$PY train.py probe
$PY grid.py
# The heads that lost on validation (BiLSTM, attentive pooling), for the record:
$PY train.py head --block $BLOCK --variant $VARIANT --hidden 64 --epochs 8
$PY train.py head --block $BLOCK --variant $VARIANT --hidden 0 --epochs 8
$PY train.py linear --block $BLOCK --variant $VARIANT
$PY calibrate.py "/tmp/linear_${VARIANT}_b1+2_wd0.03_oof.npy"
for snr in 20 10 5; do
    $PY noisy.py --snr $snr --out /tmp/v4-noisy/$snr
    $CLI features --list /tmp/v4-noisy/$snr/list.txt --out /tmp/v4-noisy/$snr/feat
    $PY cache.py --feat /tmp/v4-noisy/$snr/feat --out /tmp/v4-noisy/$snr/cache --blocks "" --max-block $BLOCK \
        --global-meta /tmp/v4-cache/meta.json
    SENTIO_V4_CACHE=/tmp/v4-noisy/$snr/cache $PY train.py saved_linear --block $BLOCK --variant $VARIANT \
        --out robustness_${snr}db.json
done
TEMPERATURE=$($PY -c "import json; print(json.load(open('results/calibration.json'))['shipped']['temperature'])")
$PY export.py --ckpt /tmp/v4_final.pt --temperature "$TEMPERATURE"
