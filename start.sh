#!/usr/bin/env bash
# The README's one start command: ./start.sh [--port N] [--host H] [--no-demo]
#
# Creates .venv on first use, installs requirements.txt into it (again only when that file
# changes), then hands over to scripts/start_platform.py, which runs Redis, migrations,
# the worker and the web server. Needs only Python 3.11+ on the machine.
set -euo pipefail

cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"

# --help needs nothing but the standard library: answer it without creating .venv.
for arg in "$@"; do
    if [ "$arg" = "-h" ] || [ "$arg" = "--help" ]; then
        exec "$PYTHON" -m scripts.start_platform --help
    fi
done

if [ ! -x .venv/bin/python ]; then
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "start.sh: Python 3.11 or newer is required as '$PYTHON' (set PYTHON=/path/to/python3.11)." >&2
        exit 1
    fi
    echo "[start] creating .venv"
    "$PYTHON" -m venv .venv
fi

# The stamp holds the sha256 of the requirements.txt last installed, so a second start
# skips pip entirely. Hashed with Python itself: sha256sum is not on every system.
stamp=.venv/.requirements.sha256
wanted="$(.venv/bin/python -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' requirements.txt)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]; then
    echo "[start] installing requirements.txt into .venv"
    .venv/bin/python -m pip install --disable-pip-version-check -r requirements.txt
    printf '%s\n' "$wanted" > "$stamp"
fi

exec .venv/bin/python -m scripts.start_platform "$@"
