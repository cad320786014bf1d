#!/usr/bin/env bash
# Create .venv (once) and install persona with the given extras (default: local). Idempotent.
# Usage: bash scripts/setup.sh [extras]   e.g. bash scripts/setup.sh all
set -euo pipefail
cd "$(dirname "$0")/.."
extras=${1:-local}
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
pip=(.venv/bin/pip install --quiet --disable-pip-version-check)
# torch first, pinned to the CPU build this project is tested with (a wheel on this machine's local index),
# so that the `torch>=2.2` range in pyproject does not pull the newest build with its CUDA packages.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  "${pip[@]}" 'torch==2.13.0'
fi
"${pip[@]}" -e ".[${extras}]"
