#!/usr/bin/env bash
# Set everything up and run every test: unit, property, doctests, end-to-end (JupyterLab in
# headless Chromium), lint and layering.
# Arguments are passed to pytest, e.g. scripts/test.sh -k partial_volume
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test,dev
# tests/e2e drives JupyterLab in headless Chromium (playwright comes with the test extra).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing chromium for the end-to-end tests (log: .venv/apt.log) ..."
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
            > .venv/apt.log 2>&1; then
        tail -n 30 .venv/apt.log >&2
        echo "Installing chromium failed; the whole log is in .venv/apt.log." >&2
        exit 1
    fi
fi
# tests/store/test_pg_*.py start a throw-away PostgreSQL server (skipped without one).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ "$(id -u)" = 0 ] \
        && command -v apt-get >/dev/null; then
    echo "Installing PostgreSQL for the PostgreSQL tests (log: .venv/apt-postgres.log) ..."
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } \
            > .venv/apt-postgres.log 2>&1; then
        tail -n 30 .venv/apt-postgres.log >&2
        echo "Installing PostgreSQL failed; the whole log is in .venv/apt-postgres.log." >&2
        exit 1
    fi
fi
exec .venv/bin/python -m pytest "$@"
