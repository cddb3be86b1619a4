#!/usr/bin/env bash
# Build the documentation with warnings as errors, then check that the API reference lists every
# public name of nmfdnn and of its public subpackages.  Needs: pip install ".[docs]".
# Usage: bash docs/build.sh [OUTDIR]   (default docs/_build/html)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/_build/html}"
# the examples are small: one BLAS thread is much faster than several on a busy machine
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 MPLBACKEND=Agg
python -m sphinx -W --keep-going -b html docs "$out"
python docs/check_api.py "$out"
