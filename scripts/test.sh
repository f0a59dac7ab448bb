#!/usr/bin/env bash
# The README's second command: install crashkit and its test tools into .venv (once),
# install headless Chromium for the report's browser tests when this machine lets us
# (root with apt-get; CI runs as root), then run crashkit's tests. Extra arguments go to
# pytest, e.g. scripts/test.sh tests/unit -x
# Needs only Python 3.11+ (with its venv module).
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
fi
.venv/bin/python -m pip install -q -e '.[dev]'

# The report's browser tests (tests/e2e/test_report_browser.py) drive Chromium.
have_chromium() { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }
if ! have_chromium && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium for the report's browser tests (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null \
        || echo "apt-get could not install chromium"
fi
if ! have_chromium; then
    cat <<'MSG'
NOTE: chromium is not installed, so the report's browser tests
(tests/e2e/test_report_browser.py) will be SKIPPED; everything else runs.
To run them: install Debian's or Ubuntu's chromium (sudo apt-get install chromium),
or run this script as root, and run it again.
MSG
fi

exec .venv/bin/pytest "$@"
