#!/usr/bin/env bash
# Set up (once) and run the whole test suite: ruff, mypy, the import-layer contract, pytest. Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
bash scripts/setup.sh all
# The PostgreSQL store's tests need a server: scripts/pg.sh installs (apt-get, as root) and starts one on
# loopback, once; a server named by $PERSONA_TEST_PG_DSN is used as is. Without one those tests skip.
if [ -z "${PERSONA_TEST_PG_DSN:-}" ]; then
  echo "== postgresql"
  if dsn=$(bash scripts/pg.sh); then
    export PERSONA_TEST_PG_DSN="$dsn"
  else
    echo "PostgreSQL could not be started here; the PostgreSQL store tests will skip" >&2
  fi
fi
echo "== ruff"; .venv/bin/ruff check persona tests eval scripts
echo "== mypy"; .venv/bin/mypy
echo "== import layers"; .venv/bin/lint-imports
echo "== pytest"; .venv/bin/python -m pytest -q "$@"
