#!/usr/bin/env bash
# Install the pinned official Restate CLI (@restatedev/restate, whose `restate` binary ships inside
# the optional dependency @restatedev/restate-<os>-<cpu>) from package-lock.json into <dir>, or
# bring it up to date. Used by wfcancel-bench's Restate row (into <target>/live/restate-cli).
# Usage: crates/wfcancel-bench/scripts/restate-cli/setup.sh <dir>
# Idempotent and fast when up to date: <dir>/.ok holds the SHA-256 of package-lock.json the
# install was made from; when it differs (or is missing) node_modules is installed afresh with
# `npm ci` (exact versions and integrity hashes from the lock). Install scripts are not run: the
# only one is @scarf/scarf's install-time analytics call. Quiet on success, loud on error.
set -euo pipefail
if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 <dir>" >&2
  exit 2
fi
dir=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lock="$here/package-lock.json"

hash_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}
want=$(hash_of "$lock")
mkdir -p "$dir"
if [ -f "$dir/.ok" ] && [ "$(cat "$dir/.ok")" = "$want" ] && [ -x "$dir/node_modules/.bin/restate" ]; then
  exit 0
fi
rm -f "$dir/.ok"
cp "$here/package.json" "$lock" "$dir/"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! (cd "$dir" && SCARF_ANALYTICS=false npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >"$log" 2>&1; then
  cat "$log" >&2
  echo "setup.sh: npm ci failed in $dir" >&2
  exit 1
fi
# The binary must run here (nothing is downloaded at run time).
if ! "$dir/node_modules/.bin/restate" --version >"$log" 2>&1; then
  cat "$log" >&2
  echo "setup.sh: $dir/node_modules/.bin/restate does not run" >&2
  exit 1
fi
printf '%s\n' "$want" >"$dir/.ok"
