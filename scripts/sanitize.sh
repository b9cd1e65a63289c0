#!/usr/bin/env bash
# Build and run Strata under AddressSanitizer and ThreadSanitizer (debug builds unless told, separate
# scratch paths .build-asan / .build-tsan so they never disturb .build): the XCTest suite,
# and with --cli a real relay through the `strata` binary (synthetic world, tokenizer, shards,
# pretrain, SFT, DPO with its reference log-probs: the README walk-through's commands at 20
# steps). Each run's log goes to .build-<san>/sanitize-<tests|cli>.log; the script exits
# non-zero if a build, a test or a command fails, or if a sanitizer reports. Measured results:
# docs/reliability.md. Leaves out: UBSan (Swift's runtime checks cover most of it), MSan (needs
# an instrumented libc and oneDNN), LeakSanitizer (detect_leaks=0: the Swift runtime's and
# oneDNN's process-lifetime caches are never freed and would bury real leaks).
#
# Usage: scripts/sanitize.sh [address|thread|both] [--cli|--all] [XCTest filter regex]
#   scripts/sanitize.sh address                     # the whole test suite under ASan
#   scripts/sanitize.sh thread 'RunLockTests|PreferenceStageTests'
#   scripts/sanitize.sh both --cli                  # the CLI relay (through DPO) under both
#   scripts/sanitize.sh address --all               # suite, then the relay
# Jobs: STRATA_JOBS (default 1: the development VM has 2 shared cores). KEEP=1 keeps the relay's
# temporary directory. STRATA_SANITIZE_CONFIG=release builds the relay's `strata` in release
# (-O, as users run it) in .build-<san>-release; --cli only, since the tests need debug's
# @testable imports. STRATA_DPO_RUNS=N repeats the relay's DPO stage N times. TSan reads
# scripts/tsan.supp (each entry says why it is there).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

which="${1:-both}"
mode=tests
case "${2:-}" in
    --cli) mode=cli; shift ;;
    --all) mode=all; shift ;;
esac
filter="${2:-}"
jobs="${STRATA_JOBS:-1}"
config="${STRATA_SANITIZE_CONFIG:-debug}"
suffix=""
case "$config" in
    debug) ;;
    release) suffix="-release"
        if [ "$mode" != cli ]; then
            echo "STRATA_SANITIZE_CONFIG=release goes with --cli only: the tests need a debug build (@testable imports)"; exit 2
        fi ;;
    *) echo "STRATA_SANITIZE_CONFIG is '$config'; use debug or release"; exit 2 ;;
esac
dpo_runs="${STRATA_DPO_RUNS:-1}"
if ! [[ $dpo_runs =~ ^[1-9][0-9]*$ ]]; then echo "STRATA_DPO_RUNS is '$dpo_runs'; use a whole number >= 1"; exit 2; fi
status=0
# halt_on_error: the first report fails the run instead of scrolling past.
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=0"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/scripts/tsan.supp"
# Strata's parallel loops run on OpenMP's team (libgomp) by default. TSan cannot see libgomp's barriers
# (uninstrumented), so it would report each loop's writes and the caller's later reads as races; under the
# sanitizers the loops run on Dispatch, whose synchronisation TSan follows (docs/reliability.md).
export STRATA_PARALLEL=dispatch
# ASan's and TSan's dlopen interceptors make the sanitizer runtime, not libnvrtc, the caller the
# dynamic linker sees, so libnvrtc's RPATH $ORIGIN no longer finds libnvrtc-builtins beside it
# (NVRTC_ERROR_BUILTIN_OPERATION_FAILURE in CUDABuildTests; a C program that dlopens libnvrtc and
# compiles a kernel fails the same way with -fsanitize=address and passes without). The NVRTC
# wheel's directories go on LD_LIBRARY_PATH, so NVRTC finds its builtins as it does unsanitized.
nvrtc_dirs=$(python3 -c 'import os, nvidia
print(":".join(os.path.join(p, s) for p in nvidia.__path__ for s in ("cu13/lib", "cu12/lib", "cuda_nvrtc/lib")
               if os.path.isdir(os.path.join(p, s))))' 2>/dev/null)
[ -n "$nvrtc_dirs" ] && export LD_LIBRARY_PATH="$nvrtc_dirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
report_pattern='ERROR: AddressSanitizer|WARNING: ThreadSanitizer|ThreadSanitizer: reported|SUMMARY: (Address|Thread)Sanitizer'

# Fails the run when `log` holds a sanitizer report.
check_reports() {
    local san="$1" log="$2"
    if grep -Eq "$report_pattern" "$log"; then
        echo "== $san: sanitizer report in $log:"; grep -E "$report_pattern" "$log" | head -5; status=1
    fi
}

run_tests() {
    local san="$1" scratch="$2" log="$2/sanitize-tests.log"
    echo "== $san: build with tests ($scratch, -j $jobs)" | tee "$log"
    if ! swift build --build-tests -j "$jobs" --sanitize="$san" --scratch-path "$scratch" >>"$log" 2>&1; then
        echo "== $san: BUILD FAILED (see $log)"; status=1; return
    fi
    local args=(--skip-build --disable-swift-testing --sanitize="$san" --scratch-path "$scratch")
    [ -n "$filter" ] && args+=(--filter "$filter")
    echo "== $san: tests${filter:+ (filter: $filter)} from $(date +%T)" | tee -a "$log"
    local start=$SECONDS
    if ! swift test "${args[@]}" >>"$log" 2>&1; then
        echo "== $san: TESTS FAILED or sanitizer report (see $log)"; status=1
    fi
    local summary
    summary=$(grep -E '^\s*Executed [0-9]+ tests' "$log" | tail -1 | sed 's/^[[:space:]]*//')
    echo "== $san: tests took $((SECONDS - start)) s; $summary" | tee -a "$log"
    check_reports "$san" "$log"
}

# Runs one relay command in the current directory, logging it; stops the relay on failure.
relay_step() {
    local san="$1" log="$2"; shift 2
    echo "== $san: strata $*" >>"$log"
    local start=$SECONDS
    if ! "$bin" "$@" >>"$log" 2>&1; then
        echo "== $san: FAILED (exit status above): strata $*" | tee -a "$log"; return 1
    fi
    local words=() a
    for a in "$@"; do [[ $a == -* ]] && break; words+=("$a"); done
    echo "== $san: ok in $((SECONDS - start)) s: strata ${words[*]}" | tee -a "$log"
    if grep -Eq "$report_pattern" "$log"; then echo "== $san: sanitizer report after: strata $*"; return 1; fi
}

# The relay's commands, run in the current directory; DPO STRATA_DPO_RUNS times (default 1; issue
# 12's `free(): invalid pointer` showed once in 27 DPO runs), each into its own run directory.
relay() {
    local san="$1" log="$2" r="$root/recipes" k name
    relay_step "$san" "$log" data synth --out world --size 300KB \
        && relay_step "$san" "$log" tokenizer train --vocab-size 1024 --output tok.json world/before_cutoff.jsonl \
        && relay_step "$san" "$log" data prepare world/before_cutoff.jsonl --tokenizer tok.json --out data --name world \
        && relay_step "$san" "$log" pretrain --config "$r/pretrain-tiny.yaml" --set train.steps=20 \
        && relay_step "$san" "$log" sft --from runs/pretrain-tiny --config "$r/sft-world.yaml" --set train.steps=20 \
        || return 1
    for ((k = 1; k <= dpo_runs; k++)); do
        local rename=()
        name=dpo-world
        if [ "$k" -gt 1 ]; then name="dpo-world-$k"; rename=(--set "run.name=$name"); fi
        relay_step "$san" "$log" dpo --from runs/sft-world --config "$r/dpo-world.yaml" --set train.steps=20 "${rename[@]}" \
            || return 1
        if [ ! -s "runs/$name/checkpoints/latest" ]; then echo "== $san: runs/$name has no checkpoint" | tee -a "$log"; return 1; fi
    done
}

run_cli() {
    local san="$1" scratch="$2" log="$2/sanitize-cli.log"
    echo "== $san: build strata ($config, $scratch, -j $jobs)" | tee "$log"
    if ! swift build -c "$config" --product strata -j "$jobs" --sanitize="$san" --scratch-path "$scratch" >>"$log" 2>&1; then
        echo "== $san: BUILD FAILED (see $log)"; status=1; return
    fi
    local work
    work=$(mktemp -d "${TMPDIR:-/tmp}/strata-sanitize-$san.XXXXXX")
    # A copy of the binary, so a rebuild during the relay does not swap it underneath.
    bin="$work/strata"; cp "$scratch/$config/strata" "$bin"
    local start=$SECONDS
    echo "== $san: CLI relay in $work from $(date +%T)" | tee -a "$log"
    if (cd "$work" && relay "$san" "$log"); then
        echo "== $san: CLI relay passed in $((SECONDS - start)) s" | tee -a "$log"
    else
        echo "== $san: CLI relay FAILED (see $log; directory $work kept)" | tee -a "$log"; status=1; return
    fi
    check_reports "$san" "$log"
    [ -z "${KEEP:-}" ] && [ "$status" -eq 0 ] && rm -rf "$work"
}

run_one() {
    local san="$1" scratch="$root/.build-$2$suffix"
    mkdir -p "$scratch"
    case "$mode" in
        tests) run_tests "$san" "$scratch" ;;
        cli) run_cli "$san" "$scratch" ;;
        all) run_tests "$san" "$scratch"; run_cli "$san" "$scratch" ;;
    esac
}

case "$which" in
    address) run_one address asan ;;
    thread) run_one thread tsan ;;
    both) run_one address asan; run_one thread tsan ;;
    *) echo "usage: $0 [address|thread|both] [--cli|--all] [XCTest filter regex]"; exit 2 ;;
esac
exit $status
