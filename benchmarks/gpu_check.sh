#!/usr/bin/env bash
# The GPU machine's checks in short scripts: segkit.train on Keras's JAX backend (images/s,
# input share, MFU against the bf16 peak, Dice on a random split, tiled prediction vs
# model.predict, the input pipeline's patches/s by threads), and the GPU recipe on MoNuSeg's
# unseen organs (quality_monuseg.py).
#
#   bash benchmarks/gpu_check.sh pack    # here, once: wheels the GPU image lacks + a lossless
#                                        # WebP copy of MoNuSeg in .gpu/ (git-ignored, 43 MiB)
#   bash benchmarks/gpu_check.sh run     # there, with .gpu carried along: figures in $OUT
#   bash benchmarks/gpu_check.sh organs  # there, the same carry: unseen-organ Dice in $OUT
#
# The GPU image has JAX, NumPy, SciPy, scikit-image, Pillow, tifffile and matplotlib but no
# Keras (nor TensorFlow): pack fetches Keras (this machine's version), namex and optree as
# Python 3.12 wheels. There the copy becomes TIFFs again in /tmp/monuseg (pixels equal to the
# source's: pack checks each image), and both checks prepare their data from it.
#   run:    EPOCHS (default 60) sets the training length; BF16=1 trains with mixed_bfloat16
#           instead of mixed_float16.
#   organs: the folds of quality_monuseg.py's organ protocol with the GPU recipe: FOLDS
#           (default all five: lung,breast,kidney,prostate,colon+bladder+liver+stomach; try
#           FOLDS=lung first to time one), EPOCHS (default 100, fixed: no time limit),
#           FILTERS (32), DEPTH (4), BATCH (16), PATCHES (patches per image an epoch, 8),
#           NORM (Reinhard stain normalisation, or none), SEED (2).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
MONUSEG=/tmp/monuseg

pack() {
  mkdir -p .gpu/whl  # .gpu/ is in .gitignore: it travels only when carried
  keras_version=$($PY -c 'import keras; print(keras.__version__)')
  $PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .gpu/whl "keras==$keras_version" namex optree
  rm -rf .gpu/prepared  # the earlier pack's prepared tiles: prepared there now
  $PY benchmarks/gpu_monuseg.py --source "${SOURCE:-../shared/data/monuseg2018-train}" \
    --pack-to .gpu/monuseg
  du -sh .gpu
}

setup() {
  out=${OUT:-gpu_out}
  mkdir -p "$out"
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .gpu/whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD" KERAS_BACKEND=jax PYTHONUNBUFFERED=1
  nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv | tee "$out/gpu.txt" || true
  $PY benchmarks/gpu_monuseg.py --source .gpu/monuseg --unpack-to "$MONUSEG"
}

run() {
  setup
  $PY benchmarks/gpu_monuseg.py --source "$MONUSEG" --epochs "${EPOCHS:-60}" ${BF16:+--bf16} \
    --out /tmp/gpu_run 2>&1 | tee "$out/gpu_monuseg.log"
  cp /tmp/gpu_run/summary.json "$out/summary.json"
  $PY benchmarks/bench_input.py 2>&1 | tee "$out/bench_input.txt"  # the input's ceiling there
}

organs() {
  setup
  $PY benchmarks/quality_monuseg.py --source "$MONUSEG" --work /tmp/gpu_organs \
    --folds "${FOLDS:-lung,breast,kidney,prostate,colon+bladder+liver+stomach}" \
    --epochs "${EPOCHS:-100}" --minutes-per-fold 100000 --patience 0 \
    --base-filters "${FILTERS:-32}" --depth "${DEPTH:-4}" --batch-size "${BATCH:-16}" \
    --patches-per-image "${PATCHES:-8}" --stain-normalisation "${NORM:-reinhard}" \
    --seed "${SEED:-2}" --json "$out/organs.json" 2>&1 | tee "$out/organs.log"
}

case "${1:-}" in
  pack) pack ;;
  run) run ;;
  organs) organs ;;
  *) echo "usage: bash benchmarks/gpu_check.sh pack|run|organs" >&2; exit 2 ;;
esac
