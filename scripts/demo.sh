#!/usr/bin/env bash
# The README's first command: install crashkit with its demo engine into .venv (once),
# then sweep the embedded default. Extra arguments go to `crashkit run`, e.g.
#   scripts/demo.sh --fault all
# Needs only Python 3.11+ (with its venv module).
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
fi
.venv/bin/python -m pip install -q -e '.[demo]'

exec .venv/bin/crashkit run "$@"
