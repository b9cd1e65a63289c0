#!/usr/bin/env bash
# Installs what Strata needs beyond Swift: oneDNN (Debian's libdnnl-dev) for matrix
# products. Safe to run repeatedly; does nothing when everything is present.
set -euo pipefail

have_dnnl() { [ -f /usr/include/dnnl.h ] || [ -f /usr/include/oneapi/dnnl/dnnl.h ]; }

if ! have_dnnl; then
    echo "setup: installing libdnnl-dev (oneDNN) with apt-get"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq libdnnl-dev >/dev/null
fi
have_dnnl || { echo "setup: oneDNN headers still missing after install (need Debian's libdnnl-dev)" >&2; exit 1; }
command -v swift >/dev/null || { echo "setup: swift is not on PATH (Strata needs Swift 6)" >&2; exit 1; }
