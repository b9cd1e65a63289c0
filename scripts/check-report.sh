#!/usr/bin/env bash
# check-report.sh: the HTML run report, checked in a real browser. Installs Debian's
# chromium if missing, builds strata (debug), makes small real runs with the CLI — a
# synthetic world, then pretrain → continue → anneal → sft → reward → dpo on a tiny
# GPT-2 (a few dozen steps each, evaluated as they go) — writes `strata report`,
# `strata card` and `strata lineage` for them, loads the report headless (DOM dump,
# screenshot, console log) and fails on any console message, a chart without a data
# path, or an empty table. A negative control page proves the checks can fail.
# Runs as root with no stdin in a few minutes. Leaves out: pixel comparisons.
#
#   bash scripts/check-report.sh [WORK_DIR]       # default WORK_DIR: a new temp directory
#   SCREENSHOT=docs/report.png bash scripts/check-report.sh   # also copy the screenshot there
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK=${1:-$(mktemp -d /tmp/strata-check-report.XXXXXX)}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
say() { echo "check-report: $*"; }
fail() { echo "check-report: FAIL: $*" >&2; exit 1; }

# --- chromium -----------------------------------------------------------------
CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROME" ]; then
    say "installing Debian's chromium with apt-get"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq </dev/null
    $SUDO apt-get install -y -qq chromium </dev/null >/dev/null
    CHROME=$(command -v chromium || command -v chromium-browser || true)
fi
[ -n "$CHROME" ] || fail "chromium is not installed and apt-get could not install it"

# --- strata and the runs --------------------------------------------------------
bash scripts/setup.sh
swift build ${JOBS:+-j "$JOBS"} --product strata 2>&1 | tail -1   # JOBS=1 on a shared machine
S="$ROOT/.build/debug/strata"
cd "$WORK"
rm -rf runs world
"$S" data synth --out world --size 150KB --seed 3 --min-renderings 3 --max-renderings 5 >/dev/null
# Chat data for SFT: the preference pairs' prompts with their chosen replies (TRL prompt/completion).
sed -n 's/^{"chosen":\(\[[^]]*\]\),"prompt":\(\[[^]]*\]\),"rejected":.*$/{"completion":\1,"prompt":\2}/p' world/preferences.jsonl > sft.jsonl
[ -s sft.jsonl ] || fail "could not derive SFT conversations from world/preferences.jsonl"

TRAIN='batch_size: 4, context: 64, eval_batches: 2, keep_last: 2, log_interval: 100, seed: 7'
cat > pretrain.yaml <<YAML
model: {n_layer: 2, n_head: 2, n_embd: 32, n_positions: 64, vocab_size: from_tokenizer}
tokenizer: {train: {vocab_size: 300}}
data:
  sources:
    - {name: general, path: world/before_cutoff.jsonl, weight: 0.9}
    - {name: textbook, path: world/textbook.jsonl, weight: 0.1}
  validation: {fraction: 0.05}
train: {steps: 48, eval_interval: 8, checkpoint_interval: 24, $TRAIN}
optim: {lr: 3.0e-3, min_lr: 3.0e-4, warmup_steps: 4}
run: {dir: runs, name: pretrain}
YAML
cat > continue.yaml <<YAML
data:
  sources:
    - {name: after, path: world/after_cutoff.jsonl, weight: 0.5}
    - {name: general, path: world/before_cutoff.jsonl, weight: 0.5}
  validation: {fraction: 0.05}
train: {steps: 24, eval_interval: 6, checkpoint_interval: 12, $TRAIN}
optim: {lr: 2.0e-3, min_lr: 2.0e-4, warmup_steps: 2}
run: {dir: runs, name: continue}
YAML
cat > anneal.yaml <<YAML
data:
  sources:
    - {name: general, path: world/before_cutoff.jsonl, schedule: [{step: 0, weight: 0.7}, {step: 12, weight: 0.3}]}
    - {name: after, path: world/after_cutoff.jsonl, weight: 0.2}
    - {name: textbook, path: world/textbook.jsonl, schedule: [{step: 0, weight: 0.1}, {step: 12, weight: 0.5}]}
  validation: {fraction: 0.05}
train: {steps: 12, eval_interval: 4, checkpoint_interval: 6, $TRAIN}
optim: {lr: 1.0e-3, min_lr: 0.0, decay_shape: 1-sqrt}
run: {dir: runs, name: anneal}
YAML
cat > sft.yaml <<YAML
train: {steps: 24, eval_interval: 8, checkpoint_interval: 12, $TRAIN}
optim: {lr: 2.0e-3, min_lr: 2.0e-4, warmup_steps: 2}
run: {dir: runs, name: sft}
sft:
  train: sft.jsonl
  validation_fraction: 0.1
  packing: pack
  eval: {qa: world/qa.jsonl, per_kind: 4, max_new_tokens: 8}
YAML
cat > reward.yaml <<YAML
train: {steps: 16, eval_interval: 8, checkpoint_interval: 8, $TRAIN}
optim: {lr: 1.0e-3, min_lr: 1.0e-4, warmup_steps: 2}
run: {dir: runs, name: reward}
preference: {train: world/preferences.jsonl, validation: world/preferences_test.jsonl}
YAML
cat > dpo.yaml <<YAML
train: {steps: 16, eval_interval: 8, checkpoint_interval: 8, $TRAIN}
optim: {lr: 5.0e-4, min_lr: 5.0e-5, warmup_steps: 2}
run: {dir: runs, name: dpo}
preference:
  train: world/preferences.jsonl
  validation: world/preferences_test.jsonl
  loss: sigmoid
  beta: 0.1
  sft_weight: 1.0
  eval: {qa: world/qa.jsonl, behaviour: world/preferences_test.jsonl, per_kind: 4, behaviour_per_kind: 8, max_new_tokens: 8}
YAML

stage() {   # stage NAME COMMAND [--from RUN]: train, then record probe accuracy on the new checkpoint
    local name=$1; shift
    say "training $name"
    "$S" "$@" --config "$name.yaml" > "$name.log" 2>&1 || { tail -20 "$name.log" >&2; fail "strata $1 ($name) failed"; }
}
probe() { "$S" eval --checkpoint "runs/$1" --probes world/probes.jsonl --max-probes 40 --no-exact-match --no-baseline > "eval-$1.log" 2>&1 \
          || { tail -20 "eval-$1.log" >&2; fail "strata eval of $1 failed"; }; }
stage pretrain pretrain;                        probe pretrain
stage continue continue --from runs/pretrain;   probe continue
stage anneal anneal --from runs/continue;       probe anneal
stage sft sft --from runs/anneal
stage reward reward --from runs/sft
stage dpo dpo --from runs/sft

# --- report, card, lineage -------------------------------------------------------
RUNS="runs/pretrain runs/continue runs/anneal runs/sft runs/reward runs/dpo"
# shellcheck disable=SC2086
"$S" report $RUNS -o report.html 2> report.warnings
[ ! -s report.warnings ] || { cat report.warnings >&2; fail "the report of complete runs has warnings"; }
"$S" card runs/dpo -o README.md >/dev/null
"$S" lineage runs/dpo > lineage.txt
grep -q "sft" lineage.txt || fail "strata lineage does not show the sft stage"
grep -q "^base_model\|^library_name: \"strata\"" README.md || fail "the card has no front matter"

# --- the browser ------------------------------------------------------------------
chrome() { "$CHROME" --headless --no-sandbox --disable-gpu --no-first-run --disable-dev-shm-usage --no-default-browser-check \
           --disable-background-networking --disable-component-update --disable-sync --disable-extensions \
           --user-data-dir="$WORK/chrome-profile" --enable-logging=stderr --v=0 "$@" </dev/null; }

check_page() {   # check_page FILE.html LABEL: dump DOM and console; returns the number of problems (printed)
    local page=$1 label=$2 problems=0
    chrome --dump-dom "file://$page" > "$label.dom.html" 2> "$label.console.log" || true
    [ -s "$label.dom.html" ] || { echo "$label: chromium produced no DOM" >&2; return 1; }
    if grep -E "CONSOLE|Uncaught|Refused to|net::ERR" "$label.console.log" >&2; then
        echo "$label: console messages above" >&2; problems=$((problems + 1))
    fi
    # Every chart's SVG must hold a data path (class="series" with a move-to).
    local bad
    bad=$(awk 'BEGIN{RS="<svg class=\"chart\""} NR>1 { s=$0; sub(/<\/svg>.*/, "", s); if (s !~ /<path class="series" d="M/) n++ } END{print n+0}' "$label.dom.html")
    local charts
    charts=$(grep -o '<svg class="chart"' "$label.dom.html" | wc -l)
    [ "$charts" -gt 0 ] || { echo "$label: no chart at all" >&2; problems=$((problems + 1)); }
    [ "$bad" -eq 0 ] || { echo "$label: $bad of $charts charts have no data path" >&2; problems=$((problems + 1)); }
    local empty
    empty=$(awk 'BEGIN{RS="<tbody"} NR>1 { s=$0; sub(/<\/tbody>.*/, "", s); if (s !~ /<tr/) n++ } END{print n+0}' "$label.dom.html")
    [ "$empty" -eq 0 ] || { echo "$label: $empty empty tables" >&2; problems=$((problems + 1)); }
    echo "$label: $charts charts, $(grep -o '<tbody' "$label.dom.html" | wc -l) tables, $problems problems" >&2
    return "$problems"
}

# Negative control: a console error, a chart with no data path and an empty table must all be caught.
cat > control.html <<'HTML'
<!DOCTYPE html><html><head><meta charset="utf-8"><title>control</title></head><body>
<svg class="chart" viewBox="0 0 10 10"><path class="frame" d="M0 0H10"/></svg>
<table><tbody></tbody></table><script>console.error("control error")</script></body></html>
HTML
if check_page "$WORK/control.html" control 2>control.check; then cat control.check >&2; fail "the negative control passed: the checks cannot fail"; fi
for want in "console messages" "have no data path" "empty tables"; do
    grep -q "$want" control.check || { cat control.check >&2; fail "the negative control did not report: $want"; }
done
say "negative control caught a console error, a chart without data and an empty table"

check_page "$WORK/report.html" report || fail "report.html has problems (see above; DOM in $WORK/report.dom.html)"
chrome --hide-scrollbars --window-size=1280,2200 --screenshot="$WORK/report.png" "file://$WORK/report.html" >/dev/null 2>&1 || true
[ -s "$WORK/report.png" ] || fail "chromium wrote no screenshot"
if [ -n "${SCREENSHOT:-}" ]; then cp "$WORK/report.png" "$ROOT/$SCREENSHOT"; say "screenshot copied to $SCREENSHOT"; fi
say "OK: $WORK/report.html passes in chromium ($("$CHROME" --version 2>/dev/null | head -1)); screenshot $WORK/report.png"
