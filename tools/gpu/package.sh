#!/usr/bin/env bash
# Builds the static, portable GPU selftest binary and packs it for the GPU machine:
# .gpu-carry/strata-gpu-selftest.xz (git-ignored; the device tool carries it).
set -euo pipefail
STRATA_PORTABLE=1 swift build -c release --product strata-gpu-selftest --static-swift-stdlib --scratch-path .build-gpu
mkdir -p .gpu-carry
strip -o .gpu-carry/strata-gpu-selftest .build-gpu/release/strata-gpu-selftest
xz -f -T2 -6 .gpu-carry/strata-gpu-selftest
ls -la .gpu-carry
