#!/usr/bin/env bash
# Start a Temporal dev server on 127.0.0.1 (foreground; exits on SIGTERM/SIGINT).
# Usage: tools/temporal-live/run_server.sh <venv-dir> <grpc-port> <http-port> <metrics-port> <db-file> [more start-dev flags]
# Every listener is on 127.0.0.1, the Web UI is off, state lives in <db-file>; namespaces
# `default` and `other` exist. Extra flags go to `temporal server start-dev` (e.g. --namespace x).
set -euo pipefail
if [ $# -lt 5 ]; then
  echo "usage: $0 <venv-dir> <grpc-port> <http-port> <metrics-port> <db-file> [start-dev flags]" >&2
  exit 2
fi
venv=$1 grpc=$2 http=$3 metrics=$4 db=$5
shift 5
# The CLI switches to TLS and Temporal Cloud settings when TEMPORAL_* variables are set: none of
# them may leak in from the caller's environment.
for v in $(env | sed -n 's/^\(TEMPORAL_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
exec "$venv/bin/temporal" server start-dev \
  --ip 127.0.0.1 --port "$grpc" --http-port "$http" --metrics-port "$metrics" \
  --headless --db-filename "$db" --log-level warn \
  --namespace other \
  "$@"
