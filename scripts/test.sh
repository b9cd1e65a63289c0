#!/usr/bin/env bash
# Set up, then run the whole test suite (debug build). This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build --build-tests
swift test --skip-build
