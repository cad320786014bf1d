#!/usr/bin/env bash
# Create .venv (once) and install persona with the given extras (default: local). Idempotent: when .venv
# already holds this checkout with every requirement of those extras, it says so and runs no pip at all.
# Usage: bash scripts/setup.sh [extras]   e.g. bash scripts/setup.sh all
set -euo pipefail
cd "$(dirname "$0")/.."
extras=${1:-local}
PY=${PYTHON:-python3}
TORCH='torch==2.13.0'

say() { printf 'persona setup: %s\n' "$*" >&2; }

# Exit 0 when .venv has persona installed editable from this checkout, installed after the last change to
# pyproject.toml, with every requirement of the extras in $1 satisfied (stdlib + packaging; under a second).
up_to_date() {
  .venv/bin/python - "$1" <<'PY' 2>/dev/null
import json, sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

dist = metadata.distribution("persona")
url = json.loads(dist.read_text("direct_url.json") or "{}")
if not url.get("dir_info", {}).get("editable") or url.get("url") != Path.cwd().resolve().as_uri():
    sys.exit(1)
meta = next(f for f in dist.files or [] if f.name == "METADATA")
if Path(meta.locate()).stat().st_mtime < Path("pyproject.toml").stat().st_mtime:
    sys.exit(1)  # pyproject changed since the install
known = set(dist.metadata.get_all("Provides-Extra") or [])
requires = [Requirement(r) for r in dist.requires or []]
todo, seen = ["", *(e.strip() for e in sys.argv[1].split(",") if e.strip())], set()
while todo:  # the base requirements, the extras asked for and the extras they name (all = persona[...])
    extra = todo.pop()
    if extra in seen:
        continue
    if extra and extra not in known:
        sys.exit(1)  # let pip say what is wrong with it
    seen.add(extra)
    for req in requires:
        if not (req.marker.evaluate({"extra": extra}) if req.marker else extra == ""):
            continue
        if req.name == "persona":
            todo += sorted(req.extras)
        elif not req.specifier.contains(metadata.version(req.name), prereleases=True):
            sys.exit(1)  # missing (PackageNotFoundError also exits non-zero) or out of range
PY
}

if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $("$PY" --version 2>&1)"
  "$PY" -m venv .venv
elif up_to_date "$extras"; then
  say ".venv is up to date (persona[$extras])"
  exit 0
fi

pip=(.venv/bin/pip install --disable-pip-version-check --progress-bar on)
# torch first, pinned to the CPU build this project is tested with (a wheel on this machine's local index),
# so that the `torch>=2.2` range in pyproject does not pull the newest build with its CUDA packages.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  say "installing $TORCH (CPU build) first"
  "${pip[@]}" "$TORCH"
fi

case ",$extras," in
  *,local,* | *,all,*)
    if ! .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
      if .venv/bin/pip cache list llama_cpp_python 2>/dev/null | grep -q '\.whl'; then
        say "llama-cpp-python (the local extra): reusing the wheel built earlier from pip's cache (seconds)"
      else
        say "llama-cpp-python (the local extra) compiles llama.cpp from source: about 7-9 minutes on 2 cores"
        say "the first time, with little output while it builds; later runs reuse pip's wheel cache (seconds)"
      fi
    fi
    ;;
esac

say "installing persona[$extras] (editable) and its dependencies"
"${pip[@]}" -e ".[${extras}]"
say "done in ${SECONDS}s"
