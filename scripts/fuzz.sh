#!/usr/bin/env bash
# Fuzzes every parser of provider answers (cargo-fuzz / libFuzzer), each target for a bounded time.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 30 s, every target)
#
# Installs cargo-fuzz from crates.io when it is missing. Uses the nightly toolchain when one is
# installed, else the stable one with RUSTC_BOOTSTRAP=1 (cargo-fuzz needs -Z flags). Starts each
# target from the hand-written seeds in fuzz/seeds/<target> plus its own corpus in
# fuzz/corpus/<target> (kept between runs, not committed). A crash is saved under
# fuzz/artifacts/<target>/ and makes the script exit 1. Prints one summary line per target.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT="$PWD"
SECS="${1:-30}"
shift || true
if ! [[ "$SECS" =~ ^[0-9]+$ ]] || [ "$SECS" -lt 1 ]; then
    echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
fi

# The fuzz crate is its own workspace with its own target directory, whatever CI exports.
export CARGO_TARGET_DIR="$ROOT/fuzz/target"
export CARGO_TERM_COLOR=never

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    TOOLCHAIN=(+nightly)
else
    TOOLCHAIN=()
    export RUSTC_BOOTSTRAP=1
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "=== installing cargo-fuzz (crates.io)"
    cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    TARGETS=("$@")
else
    mapfile -t TARGETS < <(cargo "${TOOLCHAIN[@]}" fuzz list --fuzz-dir fuzz)
fi

echo "=== building the targets ($(cargo "${TOOLCHAIN[@]}" --version))"
cargo "${TOOLCHAIN[@]}" fuzz build --fuzz-dir fuzz

LOGS="$ROOT/fuzz/target/logs"
mkdir -p "$LOGS"
failed=()
summary=()
for t in "${TARGETS[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t"
    log="$LOGS/$t.log"
    echo "=== $t: ${SECS}s"
    set +e
    cargo "${TOOLCHAIN[@]}" fuzz run --fuzz-dir fuzz "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        >"$log" 2>&1
    code=$?
    set -e
    runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+')
    corp=$(find "fuzz/corpus/$t" -type f | wc -l)
    if [ "$code" -ne 0 ]; then
        failed+=("$t")
        tail -n 40 "$log"
        line="FUZZ $t: FAILED (exit $code) after ${runs:-?} runs; see $log and fuzz/artifacts/$t/"
    else
        line="FUZZ $t: ${runs:-?} runs in ${SECS}s, coverage ${cov:-?}, corpus ${corp}, crashes 0"
    fi
    echo "$line"
    summary+=("$line")
done

echo
echo "=== fuzz summary (${SECS}s per target)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "crashed: ${failed[*]}" >&2
    exit 1
fi
