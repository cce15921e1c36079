#!/usr/bin/env bash
# Make .venv (once) and install circus_nb into it with the extras named in $1.
# Run by demo.sh and test.sh; installs again only when pyproject.toml changes.
set -euo pipefail
extras="${1:-}"
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "circus_nb needs Python 3.11 or newer; '$python' is not. Set PYTHON=/path/to/python3.11." >&2
    exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=".venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)-${extras//,/-}"
if [ ! -f "$stamp" ]; then
    echo "Installing circus_nb${extras:+[$extras]} into .venv (log: .venv/install.log) ..."
    pip=(.venv/bin/python -m pip install --disable-pip-version-check)
    if ! { "${pip[@]}" --upgrade pip && "${pip[@]}" -e ".${extras:+[$extras]}"; } \
            > .venv/install.log 2>&1; then
        tail -n 30 .venv/install.log >&2
        echo "Installing failed; the whole log is in .venv/install.log." >&2
        exit 1
    fi
    touch "$stamp"
fi
