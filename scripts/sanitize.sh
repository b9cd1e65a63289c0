#!/usr/bin/env bash
# Build and run the test suite under AddressSanitizer and ThreadSanitizer (debug builds,
# separate scratch paths .build-asan / .build-tsan so they never disturb .build). DPO is
# exercised by PreferenceStageTests / PreferenceTests / PreferenceOpsTests (reference
# log-probs included). Each sanitizer's log goes to .build-<san>/sanitize.log; the script
# exits non-zero if a build or test fails or a sanitizer reports. Leaves out: UBSan (Swift's runtime checks cover most of it), MSan
# (needs an instrumented libc/oneDNN).
#
# Usage: scripts/sanitize.sh [address|thread|both] [XCTest filter regex]
#   e.g. scripts/sanitize.sh address 'PreferenceOpsTests|CheckpointStoreTests'
# Jobs: STRATA_JOBS (default 1: the development VM has 2 shared cores).
set -uo pipefail
cd "$(dirname "$0")/.."

which="${1:-both}"
filter="${2:-}"
jobs="${STRATA_JOBS:-1}"
status=0

run_one() {
    local san="$1" scratch=".build-$2"
    mkdir -p "$scratch"
    local log="$scratch/sanitize.log"
    echo "== $san sanitizer: build ($scratch, -j $jobs)" | tee "$log"
    if ! swift build --build-tests -j "$jobs" --sanitize="$san" --scratch-path "$scratch" >>"$log" 2>&1; then
        echo "== $san: BUILD FAILED (see $log)"; status=1; return
    fi
    local args=(--skip-build --disable-swift-testing --sanitize="$san" --scratch-path "$scratch")
    [ -n "$filter" ] && args+=(--filter "$filter")
    echo "== $san sanitizer: tests ${filter:+(filter: $filter)}" | tee -a "$log"
    # halt_on_error: the first report fails the run instead of scrolling past.
    if ! ASAN_OPTIONS=halt_on_error=1:detect_leaks=0 TSAN_OPTIONS=halt_on_error=1 \
        swift test "${args[@]}" >>"$log" 2>&1; then
        echo "== $san: TESTS FAILED or sanitizer report (see $log)"; status=1
    fi
    if grep -q "ERROR: AddressSanitizer\|WARNING: ThreadSanitizer" "$log"; then
        echo "== $san: sanitizer report found in $log"; status=1
    fi
    tail -3 "$log"
}

case "$which" in
    address) run_one address asan ;;
    thread) run_one thread tsan ;;
    both) run_one address asan; run_one thread tsan ;;
    *) echo "usage: $0 [address|thread|both] [filter]"; exit 2 ;;
esac
exit $status
