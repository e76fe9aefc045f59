#!/usr/bin/env bash
# Start a Restate server on 127.0.0.1 (foreground; exits on SIGTERM/SIGINT).
# Usage: tools/restate-live/run_server.sh <install-dir> <base-dir> <admin-port> <ingress-port> <node-port>
# Every listener is on 127.0.0.1 (admin API, ingress, node-to-node), state lives in <base-dir>.
set -euo pipefail
if [ $# -ne 5 ]; then
  echo "usage: $0 <install-dir> <base-dir> <admin-port> <ingress-port> <node-port>" >&2
  exit 2
fi
dir=$1 base=$2 admin=$3 ingress=$4 node=$5
# No RESTATE_* setting may leak in from the caller's environment.
for v in $(env | sed -n 's/^\(RESTATE_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
mkdir -p "$base"
export RESTATE_BASE_DIR="$base"
export RESTATE_ADMIN__BIND_ADDRESS="127.0.0.1:$admin"
export RESTATE_INGRESS__BIND_ADDRESS="127.0.0.1:$ingress"
export RESTATE_BIND_ADDRESS="127.0.0.1:$node"
export RESTATE_DISABLE_TELEMETRY=true DO_NOT_TRACK=1
export RESTATE_LOG_FILTER=${RESTATE_LOG_FILTER:-warn}
exec "$dir/node_modules/.bin/restate-server" --no-logo --bind-ip 127.0.0.1 --listen-mode tcp
