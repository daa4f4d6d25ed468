#!/usr/bin/env bash
# The test command: sets up .venv with the pinned test dependencies, then runs the whole
# suite. Services: PostgreSQL when TEST_DATABASE_URL names it (default: SQLite in a temp
# dir), and the Redis at TEST_REDIS_URL (default redis://127.0.0.1:6379/15).
# Extra arguments go to pytest, e.g. ./test.sh tests/web -x
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/install_system_packages.sh
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.requirements-dev.sha256
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements-dev.txt
  echo "$want" > "$stamp"
fi
exec .venv/bin/python -m pytest "$@"
