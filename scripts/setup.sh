#!/usr/bin/env bash
# Installs what Strata needs beyond Swift: oneDNN (Debian's libdnnl-dev) for matrix
# products, Open MPI (openmpi-bin, libopenmpi-dev, found through pkg-config) for
# data-parallel training, and NVIDIA's NVRTC wheel for the CUDA kernel compile tests (optional).
# Safe to run repeatedly; does nothing when everything is present.
set -euo pipefail

have_dnnl() { [ -f /usr/include/dnnl.h ] || [ -f /usr/include/oneapi/dnnl/dnnl.h ]; }

have_mpi() { command -v mpirun >/dev/null && command -v pkg-config >/dev/null && pkg-config --exists ompi-c; }

if ! have_dnnl || ! have_mpi; then
    echo "setup: installing libdnnl-dev (oneDNN), openmpi-bin, libopenmpi-dev and pkg-config with apt-get"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq libdnnl-dev openmpi-bin libopenmpi-dev pkg-config >/dev/null
fi
have_dnnl || { echo "setup: oneDNN headers still missing after install (need Debian's libdnnl-dev)" >&2; exit 1; }
have_mpi || { echo "setup: Open MPI still missing after install (need Debian's openmpi-bin, libopenmpi-dev, pkg-config)" >&2; exit 1; }
command -v swift >/dev/null || { echo "setup: swift is not on PATH (Strata needs Swift 6)" >&2; exit 1; }

# NVRTC from NVIDIA's PyPI wheel (no GPU needed): lets the test suite compile every CUDA kernel.
# Optional: without it those tests say in their output that they did not run.
if command -v python3 >/dev/null && ! python3 -m pip show -q nvidia-cuda-nvrtc >/dev/null 2>&1; then
    echo "setup: installing nvidia-cuda-nvrtc with pip (for the CUDA kernel compile tests)"
    if ! python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore nvidia-cuda-nvrtc; then
        echo "setup: could not install nvidia-cuda-nvrtc; the CUDA kernel compile tests will report that they did not run" >&2
    fi
fi
