#!/bin/bash
# Rerun a finished demo's SFT (from its anneal checkpoint, the shipped sft-world.yaml) with another training
# seed, or with invented-name copy tasks added to the SFT file, and score the result on the demo's own held-out
# questions and on the widened after-cutoff set (replies.py widen). Round 16 in docs/demo.md. Run by hand:
#
#   tools/world/sft_rerun.sh DEMO_DIR OUT_DIR TRAIN_SEED [repeat|sentence N]
#
#   repeat N    appends N conversations "Repeat the name: Drouflex" -> "Drouflex"
#   sentence N  appends N conversations "Say that Drouflex is a name." -> "Drouflex is a name."
# The names are drawn like the world's organisation names and never equal one of the world's entities.
# SFT_SETS (environment, optional): more `--set KEY=VALUE` overrides for the SFT run, space-separated, e.g.
#   SFT_SETS="sft.lora.r=16 sft.lora.alpha=32" (round 17: LoRA instead of full fine-tuning).
# Needs a release build (.build/release/strata) and python3. Leaves out: sft-base, the later legs.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
strata=${STRATA:-$here/.build/release/strata}
demo=$(cd "$1" && pwd); out=$2; seed=$3; mode=${4:-}; n=${5:-0}
rm -rf "$out"; mkdir -p "$out"; cp -r "$demo/world" "$out/world"
if [ -n "$mode" ]; then
python3 - "$out/world" "$n" "$mode" <<'PY'
import json, random, sys
wd, n, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
used = {e["name"].lower() for e in json.load(open(wd + "/world.json"))["entities"]}
rng = random.Random(12345)
onsets = "b d f g h k l m n p r s t v z br dr kr tr st th sh gr fl vr c j w".split()
vowels = "a e i o u a e i o a e ai ou y".split()
ends = "ex ion ora tek vane co ium ant ix era ell ard holt mar dun ia or el an".split()
def name():
    while True:
        s = "".join(("" if i == 0 and rng.random() < 0.15 else rng.choice(onsets)) + rng.choice(vowels)
                    for i in range(rng.randint(1, 2))) + rng.choice(ends)
        if 5 <= len(s) <= 11 and s not in used:
            used.add(s); return s.capitalize()
with open(wd + "/sft_before_cutoff.jsonl", "a") as f:
    for _ in range(n):
        x = name()
        u, a = (f"Repeat the name: {x}", x) if mode == "repeat" else (f"Say that {x} is a name.", f"{x} is a name.")
        f.write(json.dumps({"kind": "copy", "messages": [{"content": u, "role": "user"}, {"content": a, "role": "assistant"}]}) + "\n")
PY
fi
python3 "$here/tools/world/replies.py" widen "$out/world" "$out/wide.jsonl"
cd "$out"
"$strata" sft --from "$demo/runs/anneal" --config "$here/recipes/sft-world.yaml" --set train.seed="$seed" \
  --set run.dir=runs --set run.name=sft $(for kv in ${SFT_SETS:-}; do printf -- '--set %s ' "$kv"; done) > sft.log 2>&1
"$strata" eval --checkpoint runs/sft --instructions world/qa.jsonl --instructions-json sft-qa.json --chat-only > eval.log 2>&1
"$strata" eval --checkpoint runs/sft --instructions wide.jsonl --instructions-json sft-wide.json --chat-only >> eval.log 2>&1
echo "demo's questions:  $(python3 "$here/tools/world/replies.py" score world sft-qa.json | tail -1)"
echo "widened after-cutoff: $(python3 "$here/tools/world/replies.py" score world sft-wide.json | tail -1)"
