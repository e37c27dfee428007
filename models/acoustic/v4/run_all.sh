#!/usr/bin/env bash
# The shipped acoustic model (v5) end to end (what `cargo xtask train` runs), from the repository
# root:
#   bash models/acoustic/v4/run_all.sh PYTHON
# Rust features of every clip, the frozen-encoder cache, augmented training copies (real noise,
# babble, rooms), the chosen recipe (blocks 1+2 statistics pooling, embedding z-normalised per
# speaker, 50 % cold-start rows, linear) with its LOCO + RAVDESS CV figures and final fit,
# temperature calibration, speaker seconds, "learn my voice", the robustness curve, export.
# SENTIO_V4_RECORD=1 also reruns v4's probe, grid and heads (slow; their results are committed).
set -euo pipefail
PY=${1:-python3}
HERE=models/acoustic/v4
DATA=../shared/data
CLI=$PWD/target/release/sentio
RECIPE=(--variant emb --blocks 1+2 --wd 0.03 --mix 0.5)
TAG=linear_emb_b1+2_wd0.03_mix0.5_aug

find "$(cd $DATA && pwd)"/{ravdess,tess,ased,urdu} -name '*.flac' | sort > /tmp/v4-clips.txt
$CLI features --list /tmp/v4-clips.txt --out /tmp/rust-feat
cd $HERE
if [ "${SENTIO_V4_RECORD:-0}" = 1 ]; then
    $PY cache.py --feat /tmp/rust-feat --out /tmp/v4-cache
    $PY train.py probe
    $PY grid.py
    # The heads that lost on validation (BiLSTM, attentive pooling) and v4's linear head:
    $PY train.py head --block 2 --variant spk --hidden 64 --epochs 8
    $PY train.py head --block 2 --variant spk --hidden 0 --epochs 8
    $PY train.py linear --variant spk
    # v5's candidates without augmentation (mix 0 / 0.3 / 0.5):
    for mix in 0 0.3 0.5; do $PY train.py linear --variant emb --blocks 1+2 --wd 0.03 --mix $mix; done
    # Frozen versus fine-tuned block 2 (clean windows; block 1's frames cached):
    $PY cache.py --feat /tmp/rust-feat --out /tmp/v4-ft-cache --blocks 1 --max-block 2 --variants raw
    for e in 1 3; do for lr in 3e-5 1e-4; do
        SENTIO_V4_CACHE=/tmp/v4-ft-cache $PY finetune.py --splits "" --epochs $e --lr-block $lr \
            --out finetune_block2_e${e}_lr${lr}.json
    done; done
    # The winner again, its models kept: through `sentio eval`, and in noise (below).
    SENTIO_V4_CACHE=/tmp/v4-ft-cache $PY finetune.py --splits "" --epochs 3 --lr-block 1e-4 \
        --save-dir /tmp/ft-e3-1e-4 --out finetune_block2_e3_lr1e-4_rerun.json
    (cd ../../.. && SENTIO_V4_CACHE=/tmp/v4-ft-cache $PY $HERE/finetune_sentio_eval.py /tmp/ft-e3-1e-4 \
        $HERE/results/finetune_block2_e3_lr1e-4_sentio_eval.json)
else
    $PY cache.py --feat /tmp/rust-feat --out /tmp/v4-cache --blocks "" --max-block 2 --variants raw
fi

# Training copies in real noise, babble and rooms (the even half of the noise files).
$PY augment.py --out /tmp/v4-aug
$CLI features --list /tmp/v4-aug/list.txt --out /tmp/v4-aug/feat
$PY cache.py --feat /tmp/v4-aug/feat --out /tmp/v4-aug/cache --blocks "" --max-block 2 --variants raw \
    --global-meta /tmp/v4-cache/meta.json
export SENTIO_V4_AUG=/tmp/v4-aug/cache

$PY train.py linear "${RECIPE[@]}"
$PY calibrate.py "/tmp/${TAG}_oof.npy" calibration_v5.json
TEMPERATURE=$($PY -c "import json; print(json.load(open('results/calibration_v5.json'))['shipped']['temperature'])")
$PY speaker_time.py --variant emb --mix 0.5
$PY adapt.py --mix 0.5 --temperature "$TEMPERATURE" --prior 5 --lams 0.001,0.01
$PY adapt.py --mix 0.5 --temperature "$TEMPERATURE" --prior 5 --lams 0.03,0.1,0.3 --out adapt_more.json
$PY adapt.py --mix 0.5 --temperature "$TEMPERATURE" --prior 5 --lams 1,3 --out adapt_wide.json

# The robustness curve: the odd half of the noise files, and babble, never trained on.
for snr in 20 10 5 babble10; do
    if [ $snr = babble10 ]; then args=(--snr 10 --babble); else args=(--snr $snr); fi
    $PY noisy.py "${args[@]}" --out /tmp/v4-noisy/$snr
    $CLI features --list /tmp/v4-noisy/$snr/list.txt --out /tmp/v4-noisy/$snr/feat
    $PY cache.py --feat /tmp/v4-noisy/$snr/feat --out /tmp/v4-noisy/$snr/cache --blocks "" --max-block 2 \
        --variants raw --global-meta /tmp/v4-cache/meta.json
    label=${snr}$([ $snr = babble10 ] || echo db)
    name=robustness_v5_$label.json
    if [ "${SENTIO_V4_RECORD:-0}" = 1 ] && [ $snr = 10 -o $snr = babble10 ]; then
        $PY cache.py --feat /tmp/v4-noisy/$snr/feat --out /tmp/v4-noisy/$snr/ft-cache --blocks 1 --max-block 2 \
            --variants raw --global-meta /tmp/v4-ft-cache/meta.json
        SENTIO_V4_CACHE=/tmp/v4-noisy/$snr/ft-cache $PY finetune.py --scored-dir /tmp/ft-e3-1e-4 --epochs 3 \
            --lr-block 1e-4 --out finetune_block2_e3_lr1e-4_noisy_$label.json
    fi
    env -u SENTIO_V4_AUG SENTIO_V4_CACHE=/tmp/v4-noisy/$snr/cache \
        $PY train.py saved_linear "${RECIPE[@]}" --aug --out "$name"
done

$PY export.py --ckpt "/tmp/${TAG}_final.pt" --temperature "$TEMPERATURE" --prior-seconds 5
