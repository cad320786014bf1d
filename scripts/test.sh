#!/usr/bin/env bash
# Set up (once) and run the whole test suite: ruff, mypy, the import-layer contract, pytest. Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
bash scripts/setup.sh all
echo "== ruff"; .venv/bin/ruff check persona tests eval scripts
echo "== mypy"; .venv/bin/mypy
echo "== import layers"; .venv/bin/lint-imports
echo "== pytest"; .venv/bin/python -m pytest -q "$@"
