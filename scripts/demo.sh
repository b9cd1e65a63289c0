#!/usr/bin/env bash
# The main job: set up, build in release, and run the built-in relay demo
# (synthetic world → tokenizer → pretraining → samples and lineage).
# Extra arguments go to `strata demo` (e.g. --steps 300 --dir runs/demo2).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release
exec .build/release/strata demo "$@"
