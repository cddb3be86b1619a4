#!/usr/bin/env bash
# Prepare a checkout for benchmarks/gpu_run.sh on a GPU machine that cannot download anything:
#   .whl/   wheels of nmfdnn's pure-Python dependencies that a CUDA image usually lacks
#           (array-api-compat, array-api-extra, array-api-strict), for Python 3.12
#   .data/  mnist/ and orl-faces/ copied from $NMFDNN_DATA (or the folder given as $1)
# Both folders are git-ignored (.git/info/exclude); send them along with the working tree.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-${NMFDNN_DATA:?set NMFDNN_DATA or pass the data folder}}"
PY="${PYTHON_VERSION:-3.12}"
exclude="$(git rev-parse --git-path info/exclude)"
for d in /.whl/ /.data/; do grep -qxF "$d" "$exclude" 2>/dev/null || echo "$d" >> "$exclude"; done
rm -rf .whl && mkdir -p .whl .data
for pkg in "array-api-compat==1.16.0" "array-api-extra==0.11.5" "array-api-strict==2.6.1"; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PY" \
    --implementation cp --platform manylinux2014_x86_64 -d .whl "$pkg"
done
for sub in mnist orl-faces; do
  if [ -d "$DATA/$sub" ]; then chmod -R u+w ".data/$sub" 2>/dev/null; rm -rf ".data/$sub"; cp -r "$DATA/$sub" ".data/$sub"; chmod -R u+w ".data/$sub"; fi
done
ls -la .whl .data
