#!/usr/bin/env bash
# The recipe search that chose the shipped acoustic model: every configuration runs the full 5-fold
# speaker-independent CV in parallel; the choice is made on the VALIDATION actors' UA (training
# actors only), test UA is reported beside it. Runs anywhere train.py runs; on a GPU box:
#   bash models/acoustic/grid.sh cuda models/acoustic/.pack/ravdess.npz.xz <tag>
set -u
dev=${1:-cpu}; pack=${2:-}; tag=${3:-g}
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-python3}
common=(--cv --device "$dev" ${pack:+--pack "$pack"})
run() { # name, overrides...
  local name=$1; shift
  SENTIO_THREADS=2 PYTHONUNBUFFERED=1 "$py" "$here/train.py" "${common[@]}" --version "$tag-$name" "$@" \
    >"/tmp/grid-$tag-$name.log" 2>&1 &
}
# every run names all the keys it varies (train.py's defaults are the chosen v3 = 2dsm80)
aug=(--set aug_set=all --set copies=2)
sm=(--set specaug=true --set mixup=0.4)
plain=(--set specaug=false --set mixup=0)
d1=(--set front=1d); d2=(--set front=2d)
run base      "${d1[@]}" "${plain[@]}" --set epochs=30
run sm80      "${d1[@]}" "${sm[@]}" --set epochs=80
run aug80s    "${d1[@]}" "${aug[@]}" --set specaug=true --set mixup=0 --set epochs=80
run augsm80   "${d1[@]}" "${aug[@]}" "${sm[@]}" --set epochs=80
run 2dsm80    "${d2[@]}" "${sm[@]}" --set epochs=80
run 2daugsm80 "${d2[@]}" "${aug[@]}" "${sm[@]}" --set epochs=80
run h128sm80  "${d1[@]}" "${sm[@]}" --set epochs=80 --set hidden=128 --set drop=0.3
run 2daug80s  "${d2[@]}" "${aug[@]}" --set specaug=true --set mixup=0 --set epochs=80
wait
