#!/usr/bin/env bash
# `strata pretrain --device cuda` end to end on the lent GPU machine (after tools/gpu/package.sh --cli):
# the tiny recipe trained 60 steps on the GPU (fp32, then bf16) and on the CPU; the GPU run resumed on
# the CPU and a copy of the CPU run resumed on the GPU, both to step 80; then 30 steps of full SFT from the
# GPU-pretrained model on each device. Loss curves compared step by step. Output in $OUT/cli-*.
set -uo pipefail
OUT=${OUT:-/tmp/strata-gpu-out}; mkdir -p "$OUT"
exec > >(tee "$OUT/cli.log") 2>&1
root=$PWD
mkdir -p /tmp/strata-lib && tar -xJf .gpu-carry/lib.tar.xz -C /tmp/strata-lib
export LD_LIBRARY_PATH=/tmp/strata-lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
{ xz -dc .gpu-carry/strata.xz || python3 -c "import lzma,sys; sys.stdout.buffer.write(lzma.open(sys.argv[1]).read())" .gpu-carry/strata.xz; } > /tmp/strata && chmod +x /tmp/strata
cd .gpu-carry/work && rm -rf runs
S=/tmp/strata; R=$root/recipes/pretrain-tiny.yaml
common=(--set train.steps=60 --set train.checkpoint_interval=20 --set train.eval_interval=20)
timeout 150 $S pretrain --config $R --device cuda --set run.name=gpu "${common[@]}"; echo "gpu fp32 exit $?"
timeout 150 $S pretrain --config $R --device cuda --set run.name=gpu-bf16 --set train.precision=bf16 "${common[@]}"; echo "gpu bf16 exit $?"
timeout 150 $S pretrain --config $R --set run.name=cpu "${common[@]}"; echo "cpu exit $?"
cp -r runs/cpu runs/cpu-then-gpu
timeout 150 $S pretrain --resume runs/cpu-then-gpu --set train.steps=80 --device cuda; echo "cpu run resumed on gpu exit $?"
timeout 150 $S pretrain --resume runs/gpu --set train.steps=80; echo "gpu run resumed on cpu exit $?"
timeout 150 $S pretrain --resume runs/cpu --set train.steps=80; echo "cpu resumed exit $?"
python3 $root/tools/gpu/compare_runs.py runs/gpu runs/cpu 1-60 61-80 | tee "$OUT/cli-compare.json"
python3 $root/tools/gpu/compare_runs.py runs/gpu-bf16 runs/cpu 1-60 | tee -a "$OUT/cli-compare.json"
python3 $root/tools/gpu/compare_runs.py runs/cpu-then-gpu runs/cpu 1-60 61-80 | tee -a "$OUT/cli-compare.json"
# Full-parameter SFT (packed rows: positions and document-aware attention) from the GPU-pretrained model.
sft=(--from runs/gpu --config $root/recipes/sft-world.yaml --set train.steps=30 --set train.eval_interval=10 --set train.checkpoint_interval=30)
timeout 200 $S sft "${sft[@]}" --set run.name=sft-gpu --device cuda; echo "sft gpu exit $?"
timeout 200 $S sft "${sft[@]}" --set run.name=sft-cpu; echo "sft cpu exit $?"
python3 $root/tools/gpu/compare_runs.py runs/sft-gpu runs/sft-cpu 1-30 | tee -a "$OUT/cli-compare.json"
grep -h '"val_loss"' runs/sft-gpu/metrics.jsonl runs/sft-cpu/metrics.jsonl | tail -4
$S lineage runs/gpu | head -40
cp runs/gpu/metrics.jsonl "$OUT/cli-gpu-metrics.jsonl"; cp runs/cpu/metrics.jsonl "$OUT/cli-cpu-metrics.jsonl"
