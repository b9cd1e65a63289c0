#!/usr/bin/env bash
# Builds static, portable binaries for the GPU machine and packs them into .gpu-carry/
# (git-ignored; the device tool carries it):
#   strata-gpu-selftest.xz   the selftest alone (needs only the NVIDIA driver and CUDA libraries)
#   with --cli: strata.xz    the whole CLI, and lib.tar.xz with the oneDNN it links (for tools/gpu/verify-cli.sh)
set -euo pipefail
export STRATA_PORTABLE=1
mkdir -p .gpu-carry
products=(strata-gpu-selftest)
if [ "${1:-}" = "--cli" ]; then
    products+=(strata)
    # Linking Foundation statically pulls in FoundationNetworking, which needs libcurl's development files.
    dpkg -s libcurl4-openssl-dev >/dev/null 2>&1 \
        || { echo "package.sh --cli: static linking needs libcurl: apt-get install -y libcurl4-openssl-dev" >&2; exit 1; }
fi
for p in "${products[@]}"; do
    swift build -c release --product "$p" --static-swift-stdlib --scratch-path .build-gpu
    strip -o ".gpu-carry/$p" ".build-gpu/release/$p"
    xz -f -T2 -6 ".gpu-carry/$p"
done
if [ "${1:-}" = "--cli" ]; then
    # Everything it links beyond glibc and the C++ runtime (oneDNN, OpenMP, and libcurl with its closure, which
    # FoundationNetworking needs for the HTTP reward source).
    libs=$(ldd .build-gpu/release/strata | awk '$3 ~ /^\// && $1 !~ /^(libc|libm|libstdc\+\+|libgcc_s|libresolv|libdl|libpthread|librt)\.so/ {print $3}')
    tmp=$(mktemp -d); for l in $libs; do cp -L "$l" "$tmp/"; done
    ls "$tmp"
    tar -C "$tmp" -cJf .gpu-carry/lib.tar.xz . && rm -rf "$tmp"
fi
ls -la .gpu-carry
