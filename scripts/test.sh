#!/usr/bin/env bash
# Set up, then run the whole test suite (debug build). This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build --build-tests
# XCTest only: the suite has no Swift Testing tests, and its empty "0 tests" summary would close the log.
swift test --skip-build --disable-swift-testing
