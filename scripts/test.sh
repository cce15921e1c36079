#!/usr/bin/env bash
# Set everything up and run every test: unit, property, doctests, lint and layering.
# Arguments are passed to pytest, e.g. scripts/test.sh -k partial_volume
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test,dev
exec .venv/bin/python -m pytest "$@"
