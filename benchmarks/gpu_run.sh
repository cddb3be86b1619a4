#!/usr/bin/env bash
# The whole device command of the GPU suite (benchmarks/gpu_suite.py), under 8 minutes on one
# H100-class GPU.  Prepare the checkout first with benchmarks/gpu_prepare.sh (wheels in .whl/,
# datasets in .data/), send .whl and .data along, then run from the repository root:
#   bash benchmarks/gpu_run.sh NAME [OUTDIR]      # results in OUTDIR/gpu_NAME (default benchmarks/results)
# The image is expected to hold python3 with CuPy, PyTorch and/or JAX for CUDA, NumPy, SciPy,
# scikit-learn, pytest, hypothesis and matplotlib; the carried wheels add the rest, and nmfdnn
# itself comes from this checkout (PYTHONPATH).
set -u
NAME="${1:?usage: gpu_run.sh NAME [OUTDIR]}"
OUTDIR="${2:-benchmarks/results}"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD || exit 1
export PYTHONUNBUFFERED=1
python3 benchmarks/gpu_suite.py --data .data --out "$OUTDIR/gpu_$NAME"
