#!/usr/bin/env bash
# Start the live tests' worker (worker.py) against a Temporal server (foreground).
# Usage: tools/temporal-live/run_worker.sh <venv-dir> <grpc-address> <namespace> <task-queue> <ready-file>
# Env: WFCANCEL_STEP_LOG (the step log file).
set -euo pipefail
if [ $# -ne 5 ]; then
  echo "usage: $0 <venv-dir> <grpc-address> <namespace> <task-queue> <ready-file>" >&2
  exit 2
fi
venv=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for v in $(env | sed -n 's/^\(TEMPORAL_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
exec "$venv/bin/python" "$here/worker.py" --address "$2" --namespace "$3" --task-queue "$4" --ready-file "$5"
