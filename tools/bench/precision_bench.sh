#!/usr/bin/env bash
# fp32 against bf16 training steps, Strata and PyTorch, interleaved: each round runs
# strata bench fp32, strata bench bf16, PyTorch fp32, PyTorch bf16 autocast (the
# nano configuration of tools/bench/nanogpt_bench.py), so machine load hits every
# variant alike. Prints one line per run; docs/benchmarks.md tabulates them.
#
#   tools/bench/precision_bench.sh [ROUNDS] [STEPS]     (release build first:
#   swift build -c release -j 1 --product strata)
set -euo pipefail
rounds=${1:-3}
steps=${2:-8}
strata=${STRATA:-.build/release/strata}
here=$(dirname "$0")
for r in $(seq 1 "$rounds"); do
  for p in fp32 bf16; do
    "$strata" bench --json --precision "$p" --steps "$steps" --warmup 2 | tail -1 | python3 -c "
import json, sys
r = json.load(sys.stdin)
bf = r.get('bf16PeakGFLOPS')
print(f\"round $r strata $p: {r['tokensPerSecond']:.0f} tokens/s, {r['msPerStep']:.0f} ms/step, MFU {r['mfu'] * 100:.1f}% (fastest step {r['fastestStepMFU'] * 100:.1f}%), peak RSS {r['peakRSSMiB']:.0f} MiB, \"
      f\"matmul {r['matmulShare'] * 100:.0f}% (bf16 narrowing {r['bf16ConversionShare'] * 100:.0f}%, arena {r.get('bf16ArenaMiB', 0):.0f} MiB), \"
      f\"2048^3 f32 {r['peakGFLOPS']:.0f} GFLOP/s, bf16 {bf and round(bf)} GFLOP/s\")"
  done
  python3 "$here/nanogpt_bench.py" --steps "$steps" | sed "s/^/round $r /"
  python3 "$here/nanogpt_bench.py" --steps "$steps" --bf16 | sed "s/^/round $r /"
done
