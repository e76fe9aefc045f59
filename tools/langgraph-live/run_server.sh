#!/usr/bin/env bash
# Start `langgraph dev` (the in-memory Agent Server) on 127.0.0.1 (foreground; exits on SIGTERM).
# Usage: tools/langgraph-live/run_server.sh <venv-dir> <port> <work-dir> [auth]
# The graph folder is copied into <work-dir>/app, so the server's state (.langgraph_api/) starts
# empty there and never touches the source tree. With `auth`, the config with the auth handler
# (graph/langgraph-auth.json: only x-api-key = $WFCANCEL_LIVE_API_KEY gets in) is used.
# WFCANCEL_LANGGRAPH_JOBS sets --n-jobs-per-worker (default 64: at most that many runs run at once).
# `langgraph dev` moves to another port without failing when <port> is taken: the caller checks
# the banner (the "API: http://127.0.0.1:<port>" line) before using it.
set -euo pipefail
if [ $# -lt 3 ] || [ $# -gt 4 ]; then
  echo "usage: $0 <venv-dir> <port> <work-dir> [auth]" >&2
  exit 2
fi
venv=$1 port=$2 work=$3 mode=${4:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
config=langgraph.json
if [ "$mode" = "auth" ]; then config=langgraph-auth.json; fi
rm -rf "$work/app"
mkdir -p "$work/app"
cp "$here/graph/graph.py" "$here/graph/auth.py" "$here/graph/$config" "$work/app/"
cd "$work/app"
# No tracing upload, no telemetry, no browser; keys from the caller's environment stay out.
unset LANGSMITH_API_KEY LANGCHAIN_API_KEY LANGGRAPH_API_KEY
export LANGSMITH_TRACING=false LANGCHAIN_TRACING_V2=false LANGGRAPH_CLI_NO_ANALYTICS=1
exec "$venv/bin/langgraph" dev --host 127.0.0.1 --port "$port" --no-browser --no-reload \
  --n-jobs-per-worker "${WFCANCEL_LANGGRAPH_JOBS:-64}" --config "$config"
