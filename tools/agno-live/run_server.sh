#!/usr/bin/env bash
# Start the live AgentOS on 127.0.0.1 (foreground; exits on SIGTERM/SIGINT).
# Usage: tools/agno-live/run_server.sh <venv-dir> <port> <db-dir> [more server.py flags]
# Env: OS_SECURITY_KEY (bearer key), WFCANCEL_STEP_LOG (step log file), WFCANCEL_AGNO_VERBOSE=1.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 <venv-dir> <port> <db-dir> [server.py flags]" >&2
  exit 2
fi
venv=$1 port=$2 db=$3
shift 3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec "$venv/bin/python" "$here/server.py" --port "$port" --db "$db" "$@"
