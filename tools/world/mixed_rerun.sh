#!/bin/bash
# Round 20 in docs/demo.md, "mixed training": a finished demo's continued pretraining rerun with the SFT file's
# before-cutoff fact conversations mixed in as plain-text Q&A pages ("Q: ...\nA: ...", six pairs a page, 400 pages),
# then the demo's anneal and SFT (the shipped sft-world.yaml) from it, scored like tools/world/sft_rerun.sh. No
# after-cutoff question is ever shown. Run by hand:
#
#   [QA_WEIGHT=0.2] tools/world/mixed_rerun.sh DEMO_DIR OUT_DIR SFT_SEED
#
# QA_WEIGHT: the Q&A pages' share of the continued run's mixture (the news and the replay share the rest equally).
# Needs a release build (.build/release/strata) and python3. Leaves out: sft-base, the later legs.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
S=${STRATA:-$here/.build/release/strata}
demo=$(cd "$1" && pwd); out=$2; seed=$3; w=${QA_WEIGHT:-0.2}
rm -rf "$out"; mkdir -p "$out"; out=$(cd "$out" && pwd); cp -r "$demo/world" "$out/world"; cd "$out"
python3 "$here/tools/world/replies.py" widen world wide.jsonl
python3 - "$demo" "$out" "$w" <<'PY'
import json, random, sys, re
demo, out, w = sys.argv[1], sys.argv[2], float(sys.argv[3])
rng = random.Random(7)
facts = [json.loads(l) for l in open(out + "/world/sft_before_cutoff.jsonl")]
facts = [f["messages"] for f in facts if f.get("kind") == "fact"]
with open(out + "/world/qa_text.jsonl", "w") as f:
    for _ in range(400):
        pick = rng.sample(facts, 6)
        f.write(json.dumps({"text": "\n".join(f"Q: {m[0]['content']}\nA: {m[1]['content']}" for m in pick)}) + "\n")
r = open(demo + "/runs/continue-replay/recipe.yaml").read().replace(demo + "/world", out + "/world")
r = r.replace("    weight: 0.5\n", f"    weight: {(1 - w) / 2}\n")
r = r.replace("  validation:\n", f"  - name: qa\n    path: {out}/world/qa_text.jsonl\n    weight: {w}\n    interpolation: linear\n  validation:\n", 1)
open(out + "/continue.yaml", "w").write(r)
open(out + "/anneal.yaml", "w").write(open(demo + "/runs/anneal/recipe.yaml").read().replace(demo + "/world", out + "/world"))
PY
$S continue --from "$demo/runs/pretrain" --config continue.yaml --set run.dir="$out/runs" --set run.name=continue-replay > cont.log 2>&1
$S anneal --from runs/continue-replay --config anneal.yaml --set run.dir="$out/runs" --set run.name=anneal > anneal.log 2>&1
$S sft --from runs/anneal --config "$here/recipes/sft-world.yaml" --set train.seed=$seed --set run.dir=runs --set run.name=sft > sft.log 2>&1
$S eval --checkpoint runs/sft --instructions world/qa.jsonl --instructions-json sft-qa.json --chat-only > eval.log 2>&1
$S eval --checkpoint runs/sft --instructions wide.jsonl --instructions-json sft-wide.json --chat-only >> eval.log 2>&1
$S eval --checkpoint runs/continue-replay --probes world/probes.jsonl > probes.log 2>&1 || true
echo "demo's: $(python3 "$here/tools/world/replies.py" score world sft-qa.json | tail -1)" > result.txt
echo "wide: $(python3 "$here/tools/world/replies.py" score world sft-wide.json | tail -1)" >> result.txt
cat result.txt
