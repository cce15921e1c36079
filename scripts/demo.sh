#!/usr/bin/env bash
# Set everything up and run the demo. Arguments go to `circus-nb demo`
# (--headless to run without JupyterLab, --path DIR for the store folder).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh app  # Voila too, for `circus-nb app`
exec .venv/bin/circus-nb demo "$@"
