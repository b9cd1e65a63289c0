#!/usr/bin/env bash
# Design sweep for the demo's world (issue 21): how much of its world a small GPT-2 stores and
# retrieves, by world size, model size and steps, and what continued pretraining (with and without
# replay) and SFT (from the pretrained and from the continued model) then do. Run by hand on the
# lent GPU machine (training with --device cuda, evaluations on its CPU cores) after
# tools/gpu/package.sh --cli; one JSON line per evaluated checkpoint goes to $OUT/sweep.jsonl and
# tools/world/summarise.py turns it into the tables of docs/demo.md.
#   PHASE=pretrain: worlds × models, 1200 steps, evaluated every 300 steps
#   PHASE=relay:    for WORLDS, pretrain (model s, STEPS) → continue ± replay → SFT variants from both
#   PHASE=cont:     continued-pretraining variants;  PHASE=qa: Q&A pages added to the pretraining text
#   PHASE=demo:     the demo's shipped recipes (pretrain 1500 steps, continue ± replay, anneal, SFT ×2), SEED=...;
#                   WORLDS="250KB 210KB:0.6:0.6" (a world's size, then optionally its earlier move / award chances);
#                   DEMO_MODEL=m pretrains model m instead of the demo's s
#   PHASE=r6:       pretraining 900 / 1500 / 1500 at lr 3e-3, each continued 200/400 steps ± replay (and after-weighted),
#                   annealed and fine-tuned as the demo does
set -uo pipefail
OUT=${OUT:-/tmp/sweep-out}; mkdir -p "$OUT"
root=$PWD; R=$root/recipes; W=${W:-/tmp/sweep}; mkdir -p $W
if [ -z "${S:-}" ] && [ -x /tmp/strata ]; then S=/tmp/strata; export LD_LIBRARY_PATH=/tmp/strata-lib
elif [ -z "${S:-}" ]; then
  mkdir -p /tmp/strata-lib && tar -xJf .gpu-carry/lib.tar.xz -C /tmp/strata-lib
  export LD_LIBRARY_PATH=/tmp/strata-lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  xz -dc .gpu-carry/strata.xz > /tmp/strata && chmod +x /tmp/strata; S=/tmp/strata
fi
DEV=${DEV:-cuda}; export OMP_NUM_THREADS=2
declare -A MODEL=([s]="model.n_layer=4 model.n_head=4 model.n_embd=128" [m]="model.n_layer=4 model.n_head=4 model.n_embd=192"
                  [l]="model.n_layer=6 model.n_head=4 model.n_embd=256")
sets() { ARGS=(); for kv in "$@"; do ARGS+=(--set "$kv"); done; }
world() {   # world(spec) → $W/w-spec with general-domain probes; spec = size[:move:award] (earlier-event chances)
  local d=$W/w-$1 size=${1%%:*} extra=(); [ -f $d/world/probes.jsonl ] && return
  if [[ $1 == *:* ]]; then IFS=: read -r _ m a <<< "$1"; extra=(--earlier-move-chance $m --earlier-award-chance $a); fi
  mkdir -p $d && $S data synth --out $d/world --size $size --seed ${SEED:-0} "${extra[@]}" > $d/synth.log 2>&1
  python3 -c "import json,sys; [print(l,end='') for l in open('$d/world/probes.jsonl') if json.loads(l)['domain']=='general']" > $d/world/probes_general.jsonl
}
evaluate() {   # evaluate(tag, checkpoint, worlddir, generalshard)
  local j=$2.eval.json
  $S eval --checkpoint $2 --probes $3/world/probes_general.jsonl --max-probes 400 --no-baseline --data general=$4 --json $j > $j.log 2>&1
  python3 $root/tools/world/summarise.py --line "$1${SEED:+ seed=$SEED}" "$2" $j >> $OUT/sweep.jsonl
}
pretrain() {   # pretrain(size, model, steps, every) in $W/w-size/pt-model-steps
  local d=$W/w-$1 name=pt-$2-$3
  sets ${MODEL[$2]} run.dir=runs run.name=$name train.steps=$3 train.checkpoint_interval=$4 train.eval_interval=$4 train.keep_last=10
  (cd $d && timeout ${PT_TIMEOUT:-400} $S pretrain --config $R/pretrain-world.yaml --device $DEV "${ARGS[@]}" > $d/$name.log 2>&1) || echo "pretrain $1 $2 $3 failed: $(tail -2 $d/$name.log)" >> $OUT/errors.txt
  for c in $d/runs/$name/checkpoints/step-*[1-9]*; do evaluate "pretrain world=$1 model=$2 steps=$3" $c $d $d/runs/$name/data/general.val.bin & done; wait
}
continued() {   # continued(size, base, variant, overrides...): continue a pretrained run, evaluate it
  local size=$1 d=$W/w-$1 base=$2 v=$3; shift 3; local f=$R/continue-world.yaml; case $v in noreplay*) f=$R/continue-world-noreplay.yaml;; esac
  sets run.dir=runs run.name=cont-$v "$@" ${RELAY_STEPS:+train.steps=$RELAY_STEPS}
  (cd $d && $S continue --from $d/runs/$base --config $f --device $DEV "${ARGS[@]}" > $d/cont-$v.log 2>&1) \
    || echo "continue $size $v failed: $(tail -2 $d/cont-$v.log)" >> $OUT/errors.txt
  evaluate "continue-$v world=$size from=$base" $d/runs/cont-$v $d $d/runs/$base/data/general.val.bin
}
tuned() {   # tuned(size, base, variant, overrides...): SFT from a run, evaluate it (probes, general loss, instructions)
  local size=$1 d=$W/w-$1 base=$2 v=$3; shift 3; local name=sft-$v-from-$base
  sets run.dir=runs run.name=$name "$@" ${RELAY_STEPS:+train.steps=$RELAY_STEPS}
  (cd $d && $S sft --from $d/runs/$base --config $R/sft-world.yaml --device $DEV "${ARGS[@]}" > $d/$name.log 2>&1) \
    || echo "sft $size $name failed: $(tail -2 $d/$name.log)" >> $OUT/errors.txt
  evaluate "sft-$v world=$size from=$base" $d/runs/$name $d $PTDATA
}
mixed() {   # the SFT file plus N pretraining documents as {"text": ...} rows (replay inside SFT)
  python3 - "$1" "$2" <<'PY'
import json, random, sys
d, n = sys.argv[1], int(sys.argv[2])
rows = [l for l in open(d + "/world/sft_before_cutoff.jsonl")]
docs = [json.loads(l)["text"] for l in open(d + "/world/before_cutoff.jsonl")]
random.Random(0).shuffle(docs)
rows += [json.dumps({"text": t}) + "\n" for t in docs[:n]]
random.Random(1).shuffle(rows)
open(d + "/world/sft_mixed.jsonl", "w").writelines(rows)
PY
}
relay() {   # relay(size, steps): the demo's legs on model s, with SFT and continue variants
  local d=$W/w-$1; pretrain $1 s $2 $2; local pt=pt-s-$2; PTDATA=$d/runs/$pt/data/general.val.bin
  mixed $d 2000
  continued $1 $pt noreplay & continued $1 $pt replay & continued $1 $pt replay400 train.steps=400 &
  tuned $1 $pt lr1e-3 & tuned $1 $pt lr3e-4 optim.lr=3e-4 optim.min_lr=3e-5 &
  tuned $1 $pt lr1e-4 optim.lr=1e-4 optim.min_lr=1e-5 & tuned $1 $pt lr3e-4s150 optim.lr=3e-4 optim.min_lr=3e-5 train.steps=150 &
  tuned $1 $pt lora "sft.lora={r: 16, alpha: 32, dropout: 0.05, target_modules: [c_attn, c_fc]}" &
  tuned $1 $pt mix sft.train=world/sft_mixed.jsonl & tuned $1 $pt mix3e-4 sft.train=world/sft_mixed.jsonl optim.lr=3e-4 optim.min_lr=3e-5 &
  wait
  for v in lr1e-3 lr3e-4 lr1e-4 mix mix3e-4; do
    case $v in lr1e-3) o=;; lr3e-4) o="optim.lr=3e-4 optim.min_lr=3e-5";; lr1e-4) o="optim.lr=1e-4 optim.min_lr=1e-5";;
      mix) o=sft.train=world/sft_mixed.jsonl;; mix3e-4) o="sft.train=world/sft_mixed.jsonl optim.lr=3e-4 optim.min_lr=3e-5";; esac
    tuned $1 cont-replay $v $o & tuned $1 cont-replay400 $v $o &
  done; wait
}
qaworld() {   # qaworld(size): the world with Q&A pages for its train-split facts added to the pretraining text
  local d=$W/w-$1-qa; [ -f $d/world/probes.jsonl ] && return; world $1; mkdir -p $d && cp -r $W/w-$1/world $d/
  python3 - $d/world <<'PY'
import json, random, sys
w = sys.argv[1]; rng = random.Random(7)
qa = [json.loads(l) for l in open(w + "/qa.jsonl")]
for period, file in (("before", "before_cutoff.jsonl"), ("after", "after_cutoff.jsonl")):
    pairs = [q for q in qa if q["split"] == "train" and q["period"] == period and q["domain"] == "general"] * 3
    rng.shuffle(pairs)
    docs = []
    for i in range(0, len(pairs), 6):
        body = " ".join(f"Question: {q['question']} Answer: {q['answer']}." for q in pairs[i:i + 6])
        docs.append(json.dumps({"text": "Questions and answers. " + body}) + "\n")
    with open(w + "/" + file, "a") as f: f.writelines(docs)
PY
}
relayqa() {   # relayqa(size, steps): pretrain on the Q&A-augmented world, continue with replay, SFT variants
  qaworld $1; local s=$1-qa d=$W/w-$1-qa; pretrain $s s $2 $(( $2 / 2 )); local pt=pt-s-$2; PTDATA=$d/runs/$pt/data/general.val.bin
  mixed $d 2000
  continued $s $pt replay & continued $s $pt noreplay &
  tuned $s $pt lr1e-3 & tuned $s $pt lr3e-4 optim.lr=3e-4 optim.min_lr=3e-5 & tuned $s $pt mix3e-4 sft.train=world/sft_mixed.jsonl optim.lr=3e-4 optim.min_lr=3e-5 &
  tuned $s $pt mix sft.train=world/sft_mixed.jsonl & wait
  tuned $s cont-replay lr1e-3 & tuned $s cont-replay lr3e-4 optim.lr=3e-4 optim.min_lr=3e-5 &
  tuned $s cont-replay mix3e-4 sft.train=world/sft_mixed.jsonl optim.lr=3e-4 optim.min_lr=3e-5 & tuned $s cont-replay mix sft.train=world/sft_mixed.jsonl & wait
}
conts() {   # conts(size, steps): continued-pretraining variants on model s pretrained for STEPS
  local d=$W/w-$1; pretrain $1 s $2 $(( $2 / 3 )); local pt=pt-s-$2
  continued $1 $pt noreplay & continued $1 $pt replay &
  continued $1 $pt replay300 train.steps=300 & continued $1 $pt replay-lr2e-3 optim.lr=2e-3 optim.min_lr=2e-4 &
  continued $1 $pt after60 "data.sources=[{name: after, path: world/after_cutoff.jsonl, weight: 0.6}, {name: general, path: world/before_cutoff.jsonl, weight: 0.4}]" &
  continued $1 $pt after60-300 train.steps=300 "data.sources=[{name: after, path: world/after_cutoff.jsonl, weight: 0.6}, {name: general, path: world/before_cutoff.jsonl, weight: 0.4}]" &
  continued $1 $pt noreplay300 train.steps=300 & wait
}
demolegs() {   # demolegs(size): the demo's recipes as shipped — pretrain, continue ± replay, anneal, SFT from it and from the pretrained model
  local d=$W/w-$1 m=${DEMO_MODEL:-s}; pretrain $1 $m 1500 1500; local pt=pt-$m-1500; PTDATA=$d/runs/$pt/data/general.val.bin
  continued $1 $pt noreplay & continued $1 $pt replay & wait
  sets run.dir=runs run.name=anneal
  (cd $d && $S anneal --from $d/runs/cont-replay --config $R/anneal-world.yaml --device $DEV "${ARGS[@]}" > $d/anneal.log 2>&1) \
    || echo "anneal $1 failed: $(tail -2 $d/anneal.log)" >> $OUT/errors.txt
  evaluate "anneal world=$1" $d/runs/anneal $d $PTDATA &
  tuned $1 anneal demo & tuned $1 $pt demo-base "sft.replay.paths=[world/before_cutoff.jsonl]" & wait
}
r6legs() {   # r6legs(size, tag, pretrain overrides...): round 6 — longer pretraining and continued pretraining, then the demo's SFTs
  local size=$1 tag=$2 d=$W/w-$1; shift 2; local pt=pt-$tag
  sets ${MODEL[s]} run.dir=runs run.name=$pt train.keep_last=10 "$@"
  (cd $d && timeout 500 $S pretrain --config $R/pretrain-world.yaml --device $DEV "${ARGS[@]}" > $d/$pt.log 2>&1) || echo "pretrain $pt failed: $(tail -2 $d/$pt.log)" >> $OUT/errors.txt
  PTDATA=$d/runs/$pt/data/general.val.bin
  evaluate "pretrain world=$size $tag" $d/runs/$pt $d $PTDATA &
  continued $size $pt replay-$tag & continued $size $pt replay400-$tag train.steps=400 &
  continued $size $pt replay400a70-$tag train.steps=400 "data.sources=[{name: after, path: world/after_cutoff.jsonl, weight: 0.7}, {name: general, path: world/before_cutoff.jsonl, weight: 0.3}]" &
  continued $size $pt noreplay-$tag & continued $size $pt noreplay400-$tag train.steps=400 & wait
  for c in replay400-$tag replay400a70-$tag; do
    sets run.dir=runs run.name=anneal-$c
    (cd $d && $S anneal --from $d/runs/cont-$c --config $R/anneal-world.yaml --device $DEV "${ARGS[@]}" > $d/anneal-$c.log 2>&1) \
      || echo "anneal $c failed: $(tail -2 $d/anneal-$c.log)" >> $OUT/errors.txt
    evaluate "anneal world=$size from=$c" $d/runs/anneal-$c $d $PTDATA &
    tuned $size anneal-$c demo &
  done
  tuned $size $pt demo-base "sft.replay.paths=[world/before_cutoff.jsonl]" & wait
}
for s in ${WORLDS:-250KB 400KB 600KB 1MB}; do world $s; done
[ "${PHASE:-pretrain}" = worlds ] && exit 0
if [ "${PHASE:-pretrain}" = pretrain ]; then
  for s in ${WORLDS:-250KB 400KB 600KB 1MB}; do for m in ${MODELS:-s m l}; do pretrain $s $m ${STEPS:-1200} ${EVERY:-300} & done; done; wait
elif [ "$PHASE" = r6 ]; then
  for s in ${WORLDS:-250KB}; do
    r6legs $s p900 & r6legs $s p1500 train.steps=1500 train.checkpoint_interval=500 &
    r6legs $s p1500lr3 train.steps=1500 train.checkpoint_interval=500 optim.lr=3e-3 optim.min_lr=3e-4 &
  done; wait
elif [ "$PHASE" = demo ]; then
  for s in ${WORLDS:-250KB}; do demolegs $s & done; wait
elif [ "$PHASE" = cont ]; then
  for s in ${WORLDS:-250KB 400KB}; do conts $s ${STEPS:-900} & done; wait
elif [ "$PHASE" = qa ]; then
  for s in ${WORLDS:-250KB 400KB}; do relayqa $s ${STEPS:-600} & done; wait
else
  for s in ${WORLDS:-250KB 400KB}; do relay $s ${STEPS:-600} & done; wait
fi
