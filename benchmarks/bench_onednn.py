"""Benchmark: TensorFlow's CPU training step with oneDNN's kernels on (segkit's default) and off.

TensorFlow reads ``TF_ENABLE_ONEDNN_OPTS`` once, when it loads, so each setting runs in its own
process, one after the other on the same machine: a U-Net of the MoNuSeg recipe (depth 4,
16 filters, BCE + Dice, Adam) takes ``--steps`` training steps on a batch of ``--batch``
random ``--patch`` x ``--patch`` RGB patches after 3 warm-up steps; the figure is the median
step time. A third process runs oneDNN with Keras's ``mixed_bfloat16`` policy (CPUs with
AVX-512 BF16 or AMX gain from it; segkit does not turn it on by itself).

Usage: ``python benchmarks/bench_onednn.py [--steps 15] [--batch 4] [--patch 256]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import json, statistics, sys, time
import numpy as np
import keras
from segkit.training import TrainConfig
from segkit.training.loop import build_model

steps, batch, patch, policy = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
keras.mixed_precision.set_global_policy(policy)
config = TrainConfig(depth=4, base_filters=16, loss="bce_dice", learning_rate=1e-3)
model = build_model(config, channels=3, num_classes=2)
rng = np.random.default_rng(0)
x = rng.uniform(0, 255, (batch, patch, patch, 3)).astype("float32")
y = (rng.uniform(size=(batch, patch, patch, 1)) > 0.7).astype("uint8")
for _ in range(3):
    model.train_on_batch(x, y)
times = []
for _ in range(steps):
    t0 = time.perf_counter()
    model.train_on_batch(x, y)
    times.append(time.perf_counter() - t0)
from tensorflow.python.util import _pywrap_util_port
print(json.dumps({"step_ms": 1000 * statistics.median(times),
                  "onednn": bool(_pywrap_util_port.IsMklEnabled())}))
"""


def _measure(onednn: bool, policy: str, args: argparse.Namespace) -> dict:
    env = {
        **os.environ,
        "TF_ENABLE_ONEDNN_OPTS": "1" if onednn else "0",
        "CUDA_VISIBLE_DEVICES": "",
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    argv = [str(args.steps), str(args.batch), str(args.patch), policy]
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, *argv], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--patch", type=int, default=256)
    args = ap.parse_args(argv)
    off = _measure(False, "float32", args)
    on = _measure(True, "float32", args)
    bf16 = _measure(True, "mixed_bfloat16", args)
    result = {
        "cpus": os.cpu_count(),
        "batch": f"{args.batch} x {args.patch}x{args.patch}x3",
        "onednn_off_step_ms": round(off["step_ms"], 1),
        "onednn_on_step_ms": round(on["step_ms"], 1),
        "onednn_bf16_step_ms": round(bf16["step_ms"], 1),
        "speedup_onednn": round(off["step_ms"] / on["step_ms"], 2),
        "speedup_onednn_bf16": round(off["step_ms"] / bf16["step_ms"], 2),
        "onednn_active": [off["onednn"], on["onednn"], bf16["onednn"]],
    }
    print(json.dumps(result, indent=2))
    print(
        f"training step, {result['batch']}: oneDNN off {result['onednn_off_step_ms']} ms, on "
        f"{result['onednn_on_step_ms']} ms ({result['speedup_onednn']}x), on + bf16 "
        f"{result['onednn_bf16_step_ms']} ms ({result['speedup_onednn_bf16']}x)"
    )
    return result


if __name__ == "__main__":
    main()
