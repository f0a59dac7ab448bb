#!/usr/bin/env bash
# The README's second command: install crashkit and its test tools into .venv (once),
# install the system programs some tests drive when this machine lets us (root with
# apt-get; CI runs as root), then run crashkit's tests. Extra arguments go to
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

# System programs some tests drive, from Debian, when this machine lets us install them
# (root with apt-get; CI runs as root): Chromium (the report's browser tests), Node and npm
# (the fake Notion against the official JavaScript SDK), sqlite3, curl and gcc (black-box
# mode's toy programs), git, rclone and unison (the real programs, crashed black-box).
declare -A package=([chromium]=chromium [node]=nodejs [npm]=npm [sqlite3]=sqlite3 [curl]=curl
                    [gcc]=gcc [git]=git [rclone]=rclone [unison]=unison)
missing=()
for tool in "${!package[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("${package[$tool]}")
done
if [ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} for the tests that drive them (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || echo "apt-get could not install ${missing[*]}"
fi
if command -v npm >/dev/null 2>&1; then  # @notionhq/client, pinned by tests/js/package-lock.json
    (cd tests/js && npm ci --no-audit --no-fund --loglevel=error) || echo "npm ci failed in tests/js"
fi
still=()
for tool in "${!package[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || still+=("$tool")
done
if [ "${#still[@]}" -gt 0 ]; then
    cat <<MSG
NOTE: not installed: ${still[*]}. The tests that drive them will be SKIPPED (each says
which program it lacks); everything else runs. To run them: install them (Debian package
names: chromium nodejs npm sqlite3 curl gcc git rclone unison), or run this script as
root, and run it again.
MSG
fi

# On every core (pytest-xdist): the whole suite in a few minutes rather than ten. Pass
# -n 0 to run it in one process.
exec .venv/bin/pytest -n auto "$@"
