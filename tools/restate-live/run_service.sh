#!/usr/bin/env bash
# Start the live tests' service (service.mjs) on 127.0.0.1 (foreground).
# Usage: tools/restate-live/run_service.sh <install-dir> <ready-file>
# The port it listens on is written to <ready-file> once it is ready. Env: WFCANCEL_STEP_LOG.
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 <install-dir> <ready-file>" >&2
  exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec node "$here/service.mjs" "$1" "$2"
