#!/usr/bin/env bash
# The GPU verification, run on the lent GPU machine (device tool) from the repo root:
#   1. the static selftest binary (carried in .gpu-carry/, built by tools/gpu/package.sh)
#      checks every kernel and a 20-step training run against the CPU's goldens, then times
#      the nano and GPT-2 small configurations in fp32, tf32 and bf16;
#   2. the PyTorch peer (tools/gpu/torch_gpt2_bench.py) on the same GPU, same sizes and precisions.
# Results land in $OUT (selftest.json, torch-*.json, verify.log). Not run by CI.
set -uo pipefail
OUT=${OUT:-/tmp/strata-gpu-out}; mkdir -p "$OUT"
BENCH=${BENCH:-nano,gpt2-small}; PRECISIONS=${PRECISIONS:-fp32,tf32,bf16}; STEPS=${STEPS:-20}
exec > >(tee "$OUT/verify.log") 2>&1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; lscpu | grep "Model name"
bin=/tmp/strata-gpu-selftest
{ xz -dc .gpu-carry/strata-gpu-selftest.xz || python3 -c "import lzma,sys; sys.stdout.buffer.write(lzma.open(sys.argv[1]).read())" .gpu-carry/strata-gpu-selftest.xz; } > $bin && chmod +x $bin
export STRATA_CUDA_CACHE=/tmp/strata-cuda-cache
timeout 300 $bin --goldens tools/gpu/goldens.safetensors --bench "$BENCH" --precision "$PRECISIONS" --steps "$STEPS" \
    --json "$OUT/selftest.json" --profile
echo "selftest exit $?"
export PYTHONUNBUFFERED=1
for size in ${BENCH//,/ }; do
  for p in ${PRECISIONS//,/ }; do
    timeout 120 python3 tools/gpu/torch_gpt2_bench.py --device cuda --config "$size" --precision "$p" --steps "$STEPS" \
        --warmup 3 --json "$OUT/torch-$size-$p.json" || echo "torch $size $p failed"
  done
done
