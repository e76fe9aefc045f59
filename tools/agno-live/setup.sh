#!/usr/bin/env bash
# Create (once) a Python venv with agno 3.1.10 and the packages AgentOS needs.
# Usage: tools/agno-live/setup.sh <venv-dir>
# Idempotent: skips everything when <venv-dir>/.ok exists. Quiet on success, loud on error.
set -euo pipefail
if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 <venv-dir>" >&2
  exit 2
fi
venv=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -f "$venv/.ok" ]; then
  exit 0
fi
py=${PYTHON:-}
if [ -z "$py" ]; then
  for c in python3.11 python3.12 python3.13 python3.10 python3; do
    if command -v "$c" >/dev/null 2>&1; then py=$c; break; fi
  done
fi
if [ -z "$py" ]; then
  echo "setup.sh: no python3 found" >&2
  exit 1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { "$py" -m venv "$venv" &&
       "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q \
         -r "$here/requirements.txt"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "setup.sh: failed to build the agno venv at $venv" >&2
  exit 1
fi
touch "$venv/.ok"
