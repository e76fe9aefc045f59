#!/usr/bin/env bash
# Install the pinned @upstash/workflow SDK (from package-lock.json) into <dir>.
# Usage: tools/upstash-sdk/setup.sh <dir>
# Idempotent: skips when <dir>/.ok exists and its lock matches this one. Quiet on success, loud on error.
set -euo pipefail
if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 <dir>" >&2
  exit 2
fi
dir=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$dir"
cp "$here/run-ops.mjs" "$dir/"   # always refreshed: `node <dir>/run-ops.mjs <dir> ops.json` works too
if [ -f "$dir/.ok" ] && cmp -s "$here/package-lock.json" "$dir/package-lock.json"; then
  exit 0
fi
rm -f "$dir/.ok"
cp "$here/package.json" "$here/package-lock.json" "$dir/"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1; then
  cat "$log" >&2
  echo "setup.sh: npm ci failed in $dir" >&2
  exit 1
fi
touch "$dir/.ok"
