#!/usr/bin/env bash
# Set up (once) and run the main job: a personalized chat on the bundled defaults, fully offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh local
exec .venv/bin/python -m persona.demo "$@"
