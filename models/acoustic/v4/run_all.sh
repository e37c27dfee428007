#!/usr/bin/env bash
# The shipped acoustic models (v8 on Whisper tiny.en, and the Whisper base option) end to end (what
# `cargo xtask train` runs), from the repository root:
#   bash models/acoustic/v4/run_all.sh PYTHON
# Rust features of every clip, the frozen-encoder cache (block 1's frames kept for fine-tuning),
# the issue's probe reproduced as an anchor, the recipe's choices (clip_probe, corpus_probe, the
# augmented copies' weight per head on clean and noisy validation, pooling over the speech frames),
# the chosen recipe (v7: blocks 1+2 statistics pooling; a speaker head on the speech frames'
# statistics z-normalised per speaker and a cold-start head on the whole window's with the global
# statistics, both logistic regressions on RAVDESS actors 1-20; the cold head also on
# noisy/reverberant copies at weight 0.3; v8: and on the clean windows at -10 and +10 dB) with its LOCO + RAVDESS CV figures and final fit, a
# temperature per head, speaker seconds, "learn my voice", the robustness curve, `sentio eval` on
# the LOCO models, the export. SENTIO_V4_RECORD=1 also reruns v4's, v5's and v6's experiments and
# the recipes measured and rejected since (speed-perturbed copies, class-balanced weights)
# (slow; their results are committed).
set -euo pipefail
PY=${1:-python3}
HERE=models/acoustic/v4
DATA=../shared/data
CLI=$PWD/target/release/sentio
export SENTIO_V4_CACHE=/tmp/v4-ft-cache
AUG=/tmp/v4-aug/cache

find "$(cd $DATA && pwd)"/{ravdess,tess,ased,urdu} -name '*.flac' | sort > /tmp/v4-clips.txt
$CLI features --list /tmp/v4-clips.txt --out /tmp/rust-feat
cd $HERE
# --speech-delta: also the v7 speaker head's pooling over each window's speech frames (4.5 bels).
SD=(--speech-delta 4.5)
$PY cache.py --feat /tmp/rust-feat --out $SENTIO_V4_CACHE --blocks 1 --max-block 2 --variants raw "${SD[@]}"

# Training copies in real noise, babble and rooms (the even half of the noise files), and the
# robustness curve's noisy copies (the odd half, and babble; never trained on).
$PY augment.py --out /tmp/v4-aug
$CLI features --list /tmp/v4-aug/list.txt --out /tmp/v4-aug/feat
$PY cache.py --feat /tmp/v4-aug/feat --out $AUG --blocks 1 --max-block 2 --variants raw \
    --global-meta $SENTIO_V4_CACHE/meta.json "${SD[@]}"
for snr in 20 10 5 babble10; do
    if [ $snr = babble10 ]; then args=(--snr 10 --babble); else args=(--snr $snr); fi
    $PY noisy.py "${args[@]}" --out /tmp/v4-noisy/$snr
    $CLI features --list /tmp/v4-noisy/$snr/list.txt --out /tmp/v4-noisy/$snr/feat
    $PY cache.py --feat /tmp/v4-noisy/$snr/feat --out /tmp/v4-noisy/$snr/ft-cache --blocks 1 --max-block 2 \
        --variants raw --global-meta $SENTIO_V4_CACHE/meta.json "${SD[@]}"
done
label() { echo "$1$([ "$1" = babble10 ] || echo db)"; }
# Each saved per-split model of DIR on every noisy cache (tiny.en's, or base's with base-cache):
# robustness_TAG_<condition>.json.
robustness() {
    for snr in ${3:-20 10 5 babble10}; do
        env -u SENTIO_V4_AUG SENTIO_V4_CACHE=/tmp/v4-noisy/$snr/${4:-ft-cache} $PY finetune.py --scored-dir "$1" \
            --out "robustness_$2_$(label $snr).json"
    done
}
# The same at each gain: every DIR:TAG's per-split models on the clean windows shifted by G dB
# (PREFIX<G>: cache.py --gain-db caches) -> robustness_TAG_gain<G>db.json.
gain_robustness() {  # PREFIX "GAINS" DIR:TAG...
    for g in $2; do
        for t in "${@:3}"; do
            env -u SENTIO_V4_AUG SENTIO_V4_CACHE=$1$g $PY finetune.py --scored-dir "${t%%:*}" \
                --out "robustness_${t#*:}_gain${g}db.json"
        done
    done
}
# What a listener sees (the card's live tables): `sentio eval --live` on TESS, ASED and URDU with the
# exported model that MODEL ARGS pick -> results/live/TAG_<corpus>.json. Calm apart, the decision
# every recipe was chosen with; calm_fold.py measures the default decision (item 13) beside it.
live() {  # TAG MODEL ARGS...
    (cd ../../.. && for c in tess ased urdu; do
        $CLI eval --manifest $DATA/$c/labels.csv --live --keep-calm-apart "${@:2}" | grep '^{' \
            > $HERE/results/live/$1_$c.json
    done)
}
# `sentio eval`'s decision on corpora without calm, calm folded into neutral or kept apart (the
# model card's item 13) with the exported model that MODEL ARGS pick -> results/calm_fold_TAG.json.
calm_fold() {  # TAG MODEL ARGS...
    (cd ../../.. && $PY $HERE/calm_fold.py $HERE/results/calm_fold_$1.json "${@:2}")
}
# "T_SPK,T_COLD": the two temperatures calibrate.py chose for results/calibration_TAG.json.
temperatures() {
    $PY -c "import json; d = json.load(open('results/calibration_$1.json')); print(d['spk']['shipped']['temperature'], d['cold']['shipped']['temperature'], sep=',')"
}

# The recipe's choices (validation only): the issue's probe as an anchor; whole clips versus
# windows, blocks, regularisation; which corpora; the augmented copies' weight for each head (on
# v6's whole-window embedding: SENTIO_V4_SPEECH=0); then pooling over the speech frames (v7).
export SENTIO_V4_SPEECH=0
$PY anchor_probe.py
$PY clip_probe.py
SENTIO_V4_AUG=$AUG $PY corpus_probe.py --configs all
F=(--corpora ravdess --fit logreg --heads 2 --epochs 0)
$PY finetune.py --splits "" "${F[@]}" --save-dir /tmp/v6-noaug --out v6_noaug_splits.json
robustness /tmp/v6-noaug v6_noaug
for w in 0.3 1; do
    SENTIO_V4_AUG=$AUG $PY finetune.py --splits "" "${F[@]}" --aug-weight $w --save-dir /tmp/v6-aug$w \
        --out v6_aug${w}_splits.json
    robustness /tmp/v6-aug$w v6_aug$w "10 babble10"
done
# Block 2 fine-tuned on RAVDESS, TESS and ASED, the heads refitted on RAVDESS (measured; not shipped).
$PY finetune.py --splits "" --corpora ravdess,tess,ased --head-corpora ravdess --fit logreg --heads 2 \
    --epochs 3 --lr-block 1e-4 --stats-ema 0.05 --save-dir /tmp/v6-tuned --out v6_tuned_multi_e3_lr1e-4.json

# Pooling over the speech frames (v7's choice): the threshold on clean validation, then the
# whole-window and the speech embedding side by side.
env -u SENTIO_V4_AUG $PY voiced_probe.py --deltas 2,3,4 --out voiced_probe.json
env -u SENTIO_V4_AUG $PY voiced_probe.py --deltas 4.5,5,6 --variants d4.5,d5,d6 --out voiced_probe_wide.json
env -u SENTIO_V4_AUG $PY voiced_probe.py --deltas 4.5 --concat d4.5 --variants full+d4.5 --out voiced_probe_concat.json
# Why the cold head loses TESS on the speech frames; other ways to fit the two heads (item 10);
# the cold head normalised with its window's sex's statistics (item 11).
SENTIO_V4_AUG=$AUG $PY tess_cold.py
SENTIO_V4_AUG=$AUG $PY head_probe.py
SENTIO_V4_AUG=$AUG $PY sex_probe.py
# A microphone's gain (item 12): the clean windows at six gains (the same windows and VAD), the
# shipped heads on them, and the cold head with gain-shifted training copies.
for g in -10 -5 5 10 15 20; do
    $PY cache.py --feat /tmp/rust-feat --out /tmp/v4-gain$g --blocks "" --max-block 2 --variants raw \
        "${SD[@]}" --gain-db $g
done
SENTIO_V4_AUG=$AUG $PY gain_probe.py
# The next cold head (item 12's choice): the noisy copies and the clean windows at -10 and +10 dB as
# one copies cache (run through the shipped pipeline below, as v8gain).
$PY cache_merge.py --out /tmp/v8-aug $AUG /tmp/v4-gain-10 /tmp/v4-gain10

# The recipe (v7): the speaker head on the speech frames' statistics of the clean windows, the cold
# head on the whole window's with the copies at 0.3 (v8: the copies cache also holds the gain copies).
# ship reads the recipe from R and the noisy caches' name from NOISY (base-cache for the base option).
R=("${F[@]}" --aug-weight 0 --aug-weight-cold 0.3)
ship() {  # TAG [EXPORT ARGS]: per-split models, final fit, temperatures, figures; the export when given its args
    $PY finetune.py --splits "" "${R[@]}" --save-dir /tmp/$1 --out $1_splits.json
    $PY finetune.py "${R[@]}" --save-dir /tmp/$1 --final
    $PY calibrate.py --saved /tmp/$1 calibration_$1.json
    TS=$(temperatures $1)
    $PY speaker_time.py --saved /tmp/$1 --temperatures "$TS" --out speaker_time_$1.json
    $PY adapt.py --saved /tmp/$1 --temperatures "$TS" --prior 5 --lams 0.001,0.01,0.03,0.1,0.3,1,3 --out adapt_$1.json
    robustness /tmp/$1 $1 "" "${NOISY:-ft-cache}"
    (cd ../../.. && $PY $HERE/finetune_sentio_eval.py /tmp/$1 $HERE/results/$1_sentio_eval.json "$TS" 5)
    if [ $# -gt 1 ]; then
        $PY export.py --ckpt /tmp/$1/final.pt --temperature "${TS%,*}" --temperature-cold "${TS#*,}" --prior-seconds 5 \
            "${@:2}"
    fi
}
export SENTIO_V4_AUG=$AUG SENTIO_V4_SPEECH=1
ship v7
# The shipped model, v8 (item 12's choice; the speaker head is v7's: it trains on no copies); the
# export names it (the checkpoint does not record the copies).
SENTIO_V4_AUG=/tmp/v8-aug ship v8gain --gain-copies-db=-10,10
# Both models at each gain (item 12 through the shipped heads), and v8's cold head on men and women.
gain_robustness /tmp/v4-gain "-10 -5 5 10 15 20" /tmp/v7:v7 /tmp/v8gain:v8gain
SENTIO_V4_AUG=/tmp/v8-aug $PY sex_probe.py --variants cold --out sex_probe_v8.json
live v8 --model models/acoustic/sentio-ser.onnx
calm_fold v8 --model models/acoustic/sentio-ser.onnx
# A class prior learnt on the other corpora (item 14), then the speaker head's division by the
# speaker's spread (item 15): the exported graph's windows through onnxruntime, numpy and scipy.
rm -rf /tmp/prior-probe  # its window cache belongs to the graph it was made with
$PY prior_probe.py --feat /tmp/rust-feat
$PY spk_norm_probe.py --feat /tmp/rust-feat
# The cold head's share once the speaker is known (item 16): each fold's cold head refitted with
# v8's copies, the speaker weight's ceiling chosen by the rule and written into the exported
# sidecar (every figure above was measured without it); then `sentio eval` with it.
$PY blend_probe.py --feat /tmp/rust-feat --aug-feat /tmp/v4-aug/feat --write-sidecar ../sentio-ser.json \
    --noisy-feat babble10=/tmp/v4-noisy/babble10/feat,10db=/tmp/v4-noisy/10/feat,20db=/tmp/v4-noisy/20/feat,5db=/tmp/v4-noisy/5/feat
CALM_FOLD_MODES=speaker,session,live CALM_FOLD_DECISIONS=calm_as_neutral calm_fold v8_ceiling \
    --model models/acoustic/sentio-ser.onnx
# The speaker head's share at a cold start (item 17): the same fold heads and the graph's two outputs
# with the global statistics, clean, in noise and at other gains; the floor chosen by item 4's rule
# and written into the sidecar; then `sentio eval` cold and live with it (the speaker and session
# figures are above the floor, unchanged).
$PY floor_probe.py --feat /tmp/rust-feat --write-sidecar ../sentio-ser.json \
    --noisy-feat babble10=/tmp/v4-noisy/babble10/feat,10db=/tmp/v4-noisy/10/feat \
    --extra-feat 20db=/tmp/v4-noisy/20/feat,5db=/tmp/v4-noisy/5/feat
CALM_FOLD_MODES=global,live CALM_FOLD_DECISIONS=calm_as_neutral calm_fold v8_floor \
    --model models/acoustic/sentio-ser.onnx

# Whisper base, the larger option (models/acoustic/base/; the plugin's "Model Encoder", the CLI's
# --emotion-model base): the same windows through base's conv stem and blocks 1+2 (d 512), the
# copies' weight per head chosen by tiny.en's rule (the mean of clean and noisy selection: 0.3 for
# both heads), then the same steps. Every finetune.py and export.py below follows the cache's Whisper.
# The caches also pool over the speech frames (v7's speaker head), measured on base and not adopted
# (level by the rule): the option ships v6's recipe, so its steps run with SENTIO_V4_SPEECH=0.
BASE=/tmp/v4-base-cache BAUG=/tmp/v4-aug/base-cache
G=(--blocks "" --max-block 2 --variants raw --whisper base "${SD[@]}")
# The clean cache keeps blocks 1-4 for the probe of which blocks (base_probe.py); the option uses 1+2.
$PY cache.py --feat /tmp/rust-feat --out $BASE "${G[@]}" --max-block 4
SENTIO_V4_SPEECH=0 env -u SENTIO_V4_AUG $PY base_probe.py --base-cache $BASE
$PY cache.py --feat /tmp/v4-aug/feat --out $BAUG "${G[@]}" --global-meta $SENTIO_V4_CACHE/meta.json
for snr in 20 10 5 babble10; do
    $PY cache.py --feat /tmp/v4-noisy/$snr/feat --out /tmp/v4-noisy/$snr/base-cache "${G[@]}" \
        --global-meta $SENTIO_V4_CACHE/meta.json
done
(
    # v7's speaker head on base: the speech frames' statistics, without and with the copies (the
    # model card's base section).
    export SENTIO_V4_CACHE=$BASE SENTIO_V4_AUG=$BAUG SENTIO_V4_SPEECH=1
    for w in 0 0.3; do
        tag=v7_base$([ $w = 0 ] || echo _spkaug$w)
        $PY finetune.py --splits "" "${F[@]}" --aug-weight $w --aug-weight-cold 0.3 --save-dir /tmp/$tag --out ${tag}_splits.json
        robustness /tmp/$tag $tag "10 babble10" base-cache
    done
)
(
    export SENTIO_V4_CACHE=$BASE SENTIO_V4_SPEECH=0
    env -u SENTIO_V4_AUG $PY finetune.py --splits "" "${F[@]}" --save-dir /tmp/v6b-noaug --out v6_base_noaug_splits.json
    robustness /tmp/v6b-noaug v6_base_noaug "10 babble10" base-cache
    for w in 0.3 1; do
        SENTIO_V4_AUG=$BAUG $PY finetune.py --splits "" "${F[@]}" --aug-weight $w --save-dir /tmp/v6b-aug$w \
            --out v6_base_aug${w}_splits.json
        robustness /tmp/v6b-aug$w v6_base_aug$w "10 babble10" base-cache
    done
    export SENTIO_V4_AUG=$BAUG
    $PY finetune.py "${F[@]}" --aug-weight 0.3 --aug-weight-cold 0.3 --save-dir /tmp/v6b-aug0.3 --final
    $PY calibrate.py --saved /tmp/v6b-aug0.3 calibration_v6_base.json
    TS=$(temperatures v6_base)
    $PY export.py --ckpt /tmp/v6b-aug0.3/final.pt --temperature "${TS%,*}" --temperature-cold "${TS#*,}" \
        --prior-seconds 5 --out /tmp/v6b-export --report v6_base_export.json
    $PY speaker_time.py --saved /tmp/v6b-aug0.3 --temperatures "$TS" --out speaker_time_v6_base.json
    $PY adapt.py --saved /tmp/v6b-aug0.3 --temperatures "$TS" --prior 5 --lams 0.001,0.01,0.03,0.1,0.3,1,3 \
        --out adapt_v6_base.json
    robustness /tmp/v6b-aug0.3 v6_base "20 10 5 babble10" base-cache
    (cd ../../.. && $PY $HERE/finetune_sentio_eval.py /tmp/v6b-aug0.3 $HERE/results/v6_base_sentio_eval.json "$TS" 5)
)
(
    # The shipped option, base v8: the same recipe with the clean windows at -10 and +10 dB among the
    # copies (item 12 on base: both heads win or hold by the rule), and both at each gain.
    export SENTIO_V4_CACHE=$BASE SENTIO_V4_SPEECH=0
    for g in -10 10 20; do
        $PY cache.py --feat /tmp/rust-feat --out /tmp/v4-base-gain$g --blocks "" --max-block 2 --variants raw \
            --whisper base --gain-db $g
    done
    $PY cache_merge.py --out /tmp/v8b-aug $BAUG /tmp/v4-base-gain-10 /tmp/v4-base-gain10
    export SENTIO_V4_AUG=/tmp/v8b-aug NOISY=base-cache
    R=("${F[@]}" --aug-weight 0.3 --aug-weight-cold 0.3)
    ship v8_base --out ../base --report v8_base_export.json --gain-copies-db=-10,10
    gain_robustness /tmp/v4-base-gain "-10 10 20" /tmp/v6b-aug0.3:v6_base /tmp/v8_base:v8_base
    live v8_base --emotion-model base
    CALM_FOLD_MODES=speaker,global calm_fold v8_base --emotion-model base
)

if [ "${SENTIO_V4_RECORD:-0}" = 1 ]; then
    # v6, the previous shipped model (the whole window's statistics for both heads).
    # v6's other choices re-checked on v7's embedding (the model card's item 9).
    export SENTIO_V4_CACHE=/tmp/v4-ft-cache SENTIO_V4_AUG=$AUG SENTIO_V4_SPEECH=1
    $PY finetune.py --splits "" "${F[@]}" --aug-weight 0.3 --aug-weight-cold 0.3 --save-dir /tmp/v7_spkaug0.3 \
        --out v7_spkaug0.3_splits.json
    robustness /tmp/v7_spkaug0.3 v7_spkaug0.3 "10 babble10"
    for c in 0.3 3; do
        $PY finetune.py --splits "" "${R[@]}" --C $c --save-dir /tmp/v7_C$c --out v7_C${c}_splits.json
        robustness /tmp/v7_C$c v7_C$c "10 babble10"
    done
    export SENTIO_V4_SPEECH=0
    ship v6
    # v4 and v5 (their results are committed; their figures are in the model card).
    unset SENTIO_V4_AUG
    $PY cache.py --feat /tmp/rust-feat --out /tmp/v4-cache
    export SENTIO_V4_CACHE=/tmp/v4-cache
    $PY train.py probe
    $PY grid.py
    $PY train.py head --block 2 --variant spk --hidden 64 --epochs 8
    $PY train.py head --block 2 --variant spk --hidden 0 --epochs 8
    $PY train.py linear --variant spk
    for mix in 0 0.3 0.5; do $PY train.py linear --variant emb --blocks 1+2 --wd 0.03 --mix $mix; done
    SENTIO_V4_AUG=$AUG $PY train.py linear --variant emb --blocks 1+2 --wd 0.03 --mix 0.5
    # Speed-perturbed copies (measured, not shipped; the model card's item 6).
    for kind in speed speed-only; do
        tag=${kind/-/}
        $PY augment.py --out /tmp/v7-$tag --$kind
        $CLI features --list /tmp/v7-$tag/list.txt --out /tmp/v7-$tag/feat
        $PY cache.py --feat /tmp/v7-$tag/feat --out /tmp/v7-$tag/cache --blocks "" --max-block 2 \
            --variants raw --global-meta /tmp/v4-ft-cache/meta.json
        SENTIO_V4_CACHE=/tmp/v4-ft-cache SENTIO_V4_AUG=/tmp/v7-$tag/cache $PY finetune.py --splits "" "${F[@]}" \
            --aug-weight 0.3 --save-dir /tmp/v7-${tag}0.3 --out v7_${tag}_aug0.3_splits.json
        robustness /tmp/v7-${tag}0.3 v7_${tag}_aug0.3 "10 babble10"
    done
    # Class-balanced weights (measured, level with v6; the model card's item 7).
    SENTIO_V4_CACHE=/tmp/v4-ft-cache SENTIO_V4_AUG=$AUG $PY finetune.py --splits "" "${F[@]}" --aug-weight 0 \
        --aug-weight-cold 0.3 --class-balance --save-dir /tmp/v7-balanced --out v7_balanced_splits.json
    robustness /tmp/v7-balanced v7_balanced "10 babble10"
    for e in 1 3; do for lr in 3e-5 1e-4; do
        SENTIO_V4_CACHE=/tmp/v4-ft-cache $PY finetune.py --splits "" --epochs $e --lr-block $lr \
            --out finetune_block2_e${e}_lr${lr}.json
    done; done
fi
