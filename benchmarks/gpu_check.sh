#!/usr/bin/env bash
# The GPU machine's checks in one short script: segkit.train on Keras's JAX backend (images/s,
# input share, MFU against the bf16 peak), Dice on MoNuSeg, tiled prediction vs model.predict.
#
#   bash benchmarks/gpu_check.sh pack   # here, once: wheels the GPU image lacks + MoNuSeg
#                                       # prepared into .gpu/ (git-ignored, about 20 MB)
#   bash benchmarks/gpu_check.sh run    # there, with .gpu carried along: figures in $OUT
#
# The GPU image has JAX, NumPy, SciPy, scikit-image, Pillow, tifffile and matplotlib but no
# Keras (nor TensorFlow): pack fetches Keras (this machine's version), namex and optree as
# Python 3.12 wheels. EPOCHS (default 60) sets the training length of run; BF16=1 trains with
# mixed_bfloat16 instead of mixed_float16.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

pack() {
  mkdir -p .gpu/whl  # .gpu/ is in .gitignore: it travels only when carried
  keras_version=$($PY -c 'import keras; print(keras.__version__)')
  $PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .gpu/whl "keras==$keras_version" namex optree
  $PY benchmarks/gpu_monuseg.py --source "${SOURCE:-../shared/data/monuseg2018-train}" \
    --prepare-only --out .gpu
  du -sh .gpu
}

run() {
  out=${OUT:-gpu_out}
  mkdir -p "$out"
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .gpu/whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD" KERAS_BACKEND=jax PYTHONUNBUFFERED=1
  nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv | tee "$out/gpu.txt" || true
  $PY benchmarks/gpu_monuseg.py --data .gpu/prepared --epochs "${EPOCHS:-60}" ${BF16:+--bf16} \
    --out /tmp/gpu_run 2>&1 | tee "$out/gpu_monuseg.log"
  cp /tmp/gpu_run/summary.json "$out/summary.json"
}

case "${1:-}" in
  pack) pack ;;
  run) run ;;
  *) echo "usage: bash benchmarks/gpu_check.sh pack|run" >&2; exit 2 ;;
esac
