#!/usr/bin/env bash
# The README's walk-through ("The relay, command by command") as a test: takes the
# sh block that follows the `<!-- walkthrough` marker in README.md and runs it line
# for line, unchanged, in a fresh temporary directory holding a copy of recipes/,
# at tiny scale (STEPS=20 SIZE=300KB unless set) and with a few typed lines on
# standard input for `strata chat`. Stops at the first line that fails, names it,
# and exits non-zero. Leaves out: checking the numbers the commands print.
#
#   bash scripts/walkthrough.sh                  # release build (as the README builds)
#   STRATA_BUILD=debug bash scripts/walkthrough.sh   # reuse a debug build (slower training)
#   KEEP=1 bash scripts/walkthrough.sh           # keep the temporary directory
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${STRATA_BUILD:-release}

bash scripts/setup.sh
swift build -c "$build" --product strata
export STEPS=${STEPS:-20} SIZE=${SIZE:-300KB}

work=$(mktemp -d "${TMPDIR:-/tmp}/strata-walkthrough.XXXXXX")
if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$work"' EXIT; fi
cp -R recipes "$work/recipes"
# A copy of the binary, so a rebuild during the run does not swap it under the walk-through.
mkdir -p "$work/bin" && cp "$root/.build/$build/strata" "$work/bin/strata"
export PATH="$work/bin:$PATH"

# The block: from the line after the marker's ```sh to the closing ```.
awk '/^<!-- walkthrough/ { marked = 1; next }
     marked && /^```sh$/ { inside = 1; next }
     inside && /^```$/ { exit }
     inside { print }' README.md > "$work/walkthrough.sh"
if [ ! -s "$work/walkthrough.sh" ]; then
    echo "walkthrough: no sh block after a '<!-- walkthrough' marker in README.md" >&2
    exit 1
fi
printf 'Hello, who are you?\n/help\nWhat is 2 + 3?\n/quit\n' > "$work/chat-input.txt"

echo "walkthrough: running $(grep -c '^strata ' "$work/walkthrough.sh") strata commands in $work (STEPS=$STEPS SIZE=$SIZE)"
cd "$work"
# -x echoes each command; the ERR trap names the README line that failed.
status=0
bash -eu -o pipefail -x -c 'trap '\''echo "walkthrough: FAILED (exit $?) at README block line $LINENO: $BASH_COMMAND" >&2'\'' ERR
source ./walkthrough.sh' < chat-input.txt || status=$?
if [ "$status" -ne 0 ]; then
    echo "walkthrough: failed (directory: $work)" >&2
    exit "$status"
fi
echo "walkthrough: every line of the README walk-through ran"
