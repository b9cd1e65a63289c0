#!/usr/bin/env python3
"""Summarises tools/world/sweep.sh's evaluations.
  summarise.py --line TAG CHECKPOINT EVAL_JSON   one JSON line: probe ranking/exact match per period,
                                                 general validation loss, and (chat checkpoints) the
                                                 instruction accuracy recorded in evaluations.json
  summarise.py SWEEP_JSONL                       a markdown table of all lines
  summarise.py --goals SWEEP_JSONL               PHASE=demo lines as issue 21's goals, one row per world and seed"""
import json, os, sys

def line(tag, ckpt, path):
    try:
        r = json.load(open(path))[-1]
    except Exception as e:
        return {"tag": tag, "checkpoint": ckpt, "error": f"no evaluation: {e}"}
    out = {"tag": tag, "checkpoint": r.get("checkpoint", ckpt)}
    out["step"] = int(os.path.basename(out["checkpoint"]).split("-")[-1]) if "step-" in out["checkpoint"] else None
    for period, p in r["probes"]["by_period"].items():
        out[f"rank.{period}"] = round(p["accuracy"], 4)
        out[f"em.{period}"] = round(p["exact_match"], 4)
        out[f"n.{period}"] = p["count"]
    for v in r.get("validation", []):
        out[f"loss.{v['name']}"] = round(v["loss"], 4)
    lineage = os.path.join(out["checkpoint"], "lineage.json")
    if os.path.exists(lineage):
        e = json.load(open(lineage))["entries"][-1].get("evaluations", {})
        for group in ("instruction", "knowledge", "instruction_before", "knowledge_before"):
            for k, v in (e.get(group) or {}).items():
                if k.startswith(("instr_acc", "instr_format", "chat_rank_acc")) and isinstance(v, (int, float)):
                    out[f"{group}:{k}"] = round(v, 4)
    return out

def table(path):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    cols = ["rank.before", "em.before", "rank.after", "em.after", "loss.general",
            "instruction:instr_acc.fact.before", "instruction:instr_acc.fact.after", "instruction:instr_format"]
    print("| run | step | " + " | ".join(c.replace("instruction:instr_", "sft ") for c in cols) + " |")
    print("|---" * (len(cols) + 2) + "|")
    for r in sorted(rows, key=lambda r: (r["tag"], r.get("step") or 0)):
        cells = []
        for c in cols:
            v = r.get(c)
            cells.append("" if v is None else (f"{v:.3f}" if c.startswith("loss") else f"{100 * v:.1f}"))
        print(f"| {r['tag']} | {r.get('step', '')} | " + " | ".join(cells) + " |")

def goals(path):
    """One row per (world, seed) of PHASE=demo: the pretrained, continued and fine-tuned figures issue 21 sets goals for."""
    runs = {}
    for l in open(path):
        if not l.strip():
            continue
        r = json.loads(l)
        words = dict(w.split("=", 1) for w in r["tag"].split()[1:] if "=" in w)
        runs.setdefault((words["world"], words.get("seed", "0")), {})[r["tag"].split()[0]] = r
    cols = ["before rank/em", "after rank", "replay: after, Δbefore", "no replay: Δbefore", "SFT before", "SFT after (knows)",
            "sft-base after (knows)", "general loss pt → SFT"]
    print("| world | seed | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 2) + "|")
    pct = lambda v: "" if v is None else f"{100 * v:.1f}"
    for (world, seed), k in sorted(runs.items()):
        pt, rp, nr = k.get("pretrain", {}), k.get("continue-replay", {}), k.get("continue-noreplay", {})
        sft, base = k.get("sft-demo", {}), k.get("sft-demo-base", {})
        delta = lambda r: "" if "rank.before" not in r or "rank.before" not in pt else f"{100 * (r['rank.before'] - pt['rank.before']):+.1f}"
        inst = lambda r, p: pct(r.get(f"instruction:instr_acc.fact.{p}"))
        knows = lambda r: pct(r.get("knowledge:chat_rank_acc.after"))
        cells = [f"{pct(pt.get('rank.before'))} / {pct(pt.get('em.before'))}", pct(pt.get("rank.after")),
                 f"{pct(rp.get('rank.after'))}, {delta(rp)}", delta(nr), inst(sft, "before"),
                 f"{inst(sft, 'after')} ({knows(sft)})", f"{inst(base, 'after')} ({knows(base)})",
                 f"{pt.get('loss.general', '')} → {sft.get('loss.general', '')}"]
        print(f"| {world} | {seed} | " + " | ".join(cells) + " |")

if __name__ == "__main__":
    if sys.argv[1] == "--goals":
        goals(sys.argv[2])
    elif sys.argv[1] == "--line":
        print(json.dumps(line(*sys.argv[2:5])))
    else:
        table(sys.argv[1])
