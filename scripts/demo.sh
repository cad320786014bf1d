#!/usr/bin/env bash
# Set up (once) and run the main job: a personalized chat on the bundled defaults, fully offline.
# The first run installs into .venv and compiles llama.cpp (about 7-9 minutes on 2 cores; setup.sh says
# what it is doing as it goes); later runs find .venv up to date and start in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh local
exec .venv/bin/python -m persona.demo "$@"
