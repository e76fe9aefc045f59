#!/usr/bin/env bash
# Create a Python venv with the pinned LangGraph CLI with the in-memory
# Agent Server (`langgraph dev`) and langgraph, or bring it up to date.
# Usage: tools/langgraph-live/setup.sh <venv-dir>
# Idempotent and fast when up to date: <venv-dir>/.ok holds the SHA-256 of requirements.txt the
# venv was built from; when it differs (or is missing) the venv is rebuilt from scratch.
# Quiet on success, loud on error. PYTHON=<interpreter> picks the Python to build it with.
set -euo pipefail
if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 <venv-dir>" >&2
  exit 2
fi
venv=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
req="$here/requirements.txt"

hash_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}
want=$(hash_of "$req")
if [ -f "$venv/.ok" ] && [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.ok")" = "$want" ]; then
  exit 0
fi

# A candidate counts only if it really runs and can make a venv: a pyenv shim for a version that
# is not installed exists on PATH but fails when run.
usable() { "$1" -c 'import venv, ensurepip' >/dev/null 2>&1; }
py=${PYTHON:-}
if [ -n "$py" ]; then
  if ! usable "$py"; then
    echo "setup.sh: PYTHON=$py cannot run 'import venv, ensurepip'" >&2
    exit 1
  fi
else
  for c in python3.11 python3.12 python3.13 python3.10 python3; do
    if command -v "$c" >/dev/null 2>&1 && usable "$c"; then py=$c; break; fi
  done
fi
if [ -z "$py" ]; then
  echo "setup.sh: no usable python3 (3.10+ with venv and ensurepip) found" >&2
  exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Rebuild from scratch: a venv made for other requirements may hold packages they no longer list.
# Only ever delete a venv (or an empty folder): never a folder named by mistake.
if [ -e "$venv" ]; then
  if [ -f "$venv/pyvenv.cfg" ]; then
    rm -rf "$venv"
  elif [ -d "$venv" ] && [ -z "$(ls -A "$venv")" ]; then
    :
  else
    echo "setup.sh: $venv exists and is not a venv (no pyvenv.cfg); refusing to replace it" >&2
    exit 1
  fi
fi
if ! { "$py" -m venv "$venv" &&
       "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q \
         -r "$req"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "setup.sh: failed to build the langgraph venv at $venv" >&2
  exit 1
fi
# The CLI must run, and the in-memory server must import (no network needed at run time).
if ! { "$venv/bin/langgraph" --version && "$venv/bin/python" -c 'import langgraph_api, langgraph_runtime_inmem, langgraph'; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "setup.sh: the langgraph CLI or server in $venv does not run" >&2
  exit 1
fi
printf '%s\n' "$want" >"$venv/.ok"
