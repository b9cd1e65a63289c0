#!/usr/bin/env python3
"""What an SFT model's replies to dated fact questions say, and which of a person's two events it prefers
(issue 21, round 12 in docs/demo.md). Run by hand on a demo or sweep directory; `choice` needs torch and
transformers (pip), the others only the standard library.

  replies.py classify WORLD_DIR INSTR_JSON [PERIOD]   replies from `strata eval --instructions-json` sorted into
                                                      right / the subject's own other value of that kind / another
                                                      value of the world / none, overall and by relation; and the
                                                      after-cutoff questions by whether the world's SFT file
                                                      asks about the subject's earlier event of that relation
  replies.py probes WORLD_DIR OUT_PREFIX              binding probes for `strata eval --probes`: for each dated fact
                                                      of a person with two events of one relation, its value
                                                      against the other event's, after the reply's lead
                                                      (OUT_PREFIX-ofirst.jsonl, "Jeba Kroton packed up and went to
                                                      live in") and after a year-first lead (OUT_PREFIX-yfirst.jsonl,
                                                      "In 2021, Jeba Kroton moved to")
  replies.py choice CHECKPOINT WORLD_DIR [PERIOD]     teacher-forced at the answer slot of each dated test
                                                      question's reply: log P(value asked for) against the best
                                                      log P(the subject's other event), and the greedy reply
  replies.py slot WORLD_DIR CHECKPOINT...             each dated fact's value ranked against every value of its kind at
                                                      the answer slot, before the year that follows it: after the chat
                                                      prompt and the reply's lead, after the bare lead, after a
                                                      year-first lead ("In 2021, Jeba Kroton moved to"), and after the
                                                      chat prompt and that year-first lead; counts the facts whose
                                                      value ranks first (test split before the cutoff, both splits
                                                      after it)
  replies.py widen WORLD_DIR OUT_QA                   qa.jsonl with every general-domain after-cutoff question in the
                                                      test split (SFT trains on neither split of them), for
                                                      `strata eval --instructions OUT_QA`: ~40 questions, not ~20
  replies.py score WORLD_DIR INSTR_JSON [NAME]        fact questions right per period, what guessing a value of the
                                                      asked kind would score, and the after-cutoff ones of the
                                                      world's own test split

Leaves out: relations other than moves, joins and prizes (no person holds two of the others)."""
import collections, json, sys

DATED = ("moved_to", "joined", "award")
KIND = {"employer": "org", "joined": "org", "moved_to": "city", "birthplace": "city", "award": "prize"}
LEADS = {"ofirst": {"moved_to": "{S} packed up and went to live in", "joined": "{S} became part of", "award": "{S} won the"},
         "yfirst": {"moved_to": "In {Y}, {S} moved to", "joined": "In {Y}, {S} joined", "award": "In {Y}, {S} received the"}}


def load(wd):
    world = json.load(open(wd + "/world.json"))
    qa = [json.loads(l) for l in open(wd + "/qa.jsonl")]
    events = collections.defaultdict(list)   # (person, relation) -> dated facts
    for f in world["facts"]:
        if f["relation"] in DATED:
            events[(f["subject_name"], f["relation"])].append(f)
    return world, qa, events


def results(path):
    rep = json.load(open(path))
    return (rep["results"] if isinstance(rep, dict) else rep[-1]["results"])


def classify(wd, instr, period=None):
    world, qa, events = load(wd)
    by_subject = collections.defaultdict(list)
    for f in world["facts"]:
        by_subject[f["subject_name"]].append(f)
    values = {f["object"] for f in world["facts"]}
    sft = open(wd + "/sft_before_cutoff.jsonl").read()   # the world's SFT conversations
    counts, practised = collections.Counter(), collections.Counter()
    for r in results(instr):
        if r["kind"] != "fact":
            continue
        q = next((q for q in qa if q["question"] in r["instruction"]), None)
        if q is None or (period and q["period"] != period):
            continue
        own = [f["object"] for f in by_subject[q["subject"]]
               if f["object"] != q["answer"] and KIND.get(f["relation"]) and KIND.get(f["relation"]) == KIND.get(q["relation"])]
        c = ("right" if r["correct"] else "own other value" if any(o in r["reply"] for o in own)
             else "another value" if any(v in r["reply"] for v in values) else "none")
        counts[c] += 1
        counts[(q["relation"], c)] += 1
        if q["period"] == "after":
            earlier = [p for p in qa if p["subject"] == q["subject"] and p["relation"] == q["relation"] and p["period"] == "before"]
            tag = ("no earlier event" if not earlier else
                   "earlier event asked in SFT" if any(p["question"] in sft for p in earlier) else "earlier event not asked in SFT")
            practised[(tag, "right" if r["correct"] else "wrong")] += 1
    for k, v in sorted(counts.items(), key=str):
        print(k, v)
    for k, v in sorted(practised.items()):
        print("after-cutoff,", k, v)


def probes(wd, prefix):
    _, _, events = load(wd)
    for form, lead in LEADS.items():
        rows = []
        for (person, relation), fs in events.items():
            for f in fs:
                others = [g["object"] for g in fs if g["object"] != f["object"]]
                if others:
                    prompt = lead[relation].replace("{S}", person).replace("{Y}", str(f["year"]))
                    rows.append(dict(prompt=prompt, answer=f["object"], distractors=others[:1], period=f["period"], domain="general"))
        with open(f"{prefix}-{form}.jsonl", "w") as out:
            out.writelines(json.dumps(r) + "\n" for r in rows)
        print(f"{prefix}-{form}.jsonl: {len(rows)} probes")


def scorer(ckpt):
    """The checkpoint's tokenizer and model, and logp(prefix, value) = log P(" value" | prefix): the prefix and the
    value tokenised apart, as the eval does, and the value's tokens only."""
    import torch
    from transformers import AutoTokenizer, GPT2LMHeadModel
    tok = AutoTokenizer.from_pretrained(ckpt)
    model = GPT2LMHeadModel.from_pretrained(ckpt).eval()

    def logp(prefix, value):
        a, b = tok(prefix)["input_ids"], tok(" " + value)["input_ids"]
        with torch.no_grad():
            lp = model(torch.tensor([a + b])).logits.log_softmax(-1)[0]
        return sum(lp[len(a) - 1 + i, t].item() for i, t in enumerate(b))
    return tok, model, logp


def chat_prompt(q):   # the question as the chat template renders a generation prompt
    return "<|im_start|>user\n" + q["question"] + "<|im_end|>\n<|im_start|>assistant\n"


def reply_lead(q):   # the reply sentence up to its answer ("Jeba Kroton packed up and went to live in")
    s = q["sentence_answer"]
    return s[:s.index(q["answer"], s.index(q["subject"]) + len(q["subject"]))].rstrip()


def choice(ckpt, wd, period="after"):
    import torch
    tok, model, logp = scorer(ckpt)
    _, qa, events = load(wd)
    wins = collections.Counter()
    for q in qa:
        if q["period"] != period or q["split"] != "test" or q["relation"] not in DATED:
            continue
        others = [f for f in events[(q["subject"], q["relation"])] if f["object"] != q["answer"]]
        if not others:
            continue
        prompt = chat_prompt(q)
        at = prompt + reply_lead(q)
        asked, other = logp(at, q["answer"]), max(logp(at, f["object"]) for f in others)
        ids = tok(prompt)["input_ids"]
        out = model.generate(torch.tensor([ids]), max_new_tokens=24, do_sample=False, pad_token_id=0)
        reply = tok.decode(out[0][len(ids):]).split("<|im_end|>")[0]
        wins["asked" if asked > other else "other event"] += 1
        print(f"{asked:7.2f} {other:7.2f} | {q['question']} | {q['answer']} / "
              f"{[f['object'] + ' ' + str(f['year']) for f in others]} | {reply}")
    print(dict(wins))


SLOT_PREFIXES = ("chat+lead", "lead", "year-first lead", "chat+year-first")   # what comes before the slot, as printed


def slot(wd, *ckpts):
    world, qa, _ = load(wd)
    pool = collections.defaultdict(set)   # kind -> every value of that kind the world's facts name
    for f in world["facts"]:
        if f["relation"] in KIND:
            pool[KIND[f["relation"]]].add(f["object"])
    for ckpt in ckpts:
        _, _, logp = scorer(ckpt)   # the value's tokens only, not the year after it
        first, total = collections.Counter(), collections.Counter()
        for q in qa:
            if q["domain"] != "general" or q["relation"] not in DATED or (q["period"] == "before" and q["split"] != "test"):
                continue
            year = q["question"].rstrip("?").split()[-1]
            yfirst = LEADS["yfirst"][q["relation"]].format(Y=year, S=q["subject"])
            values = sorted(pool[KIND[q["relation"]]])
            total[q["period"]] += 1
            lead, chat = reply_lead(q), chat_prompt(q)
            prefixes = {"chat+lead": chat + lead, "lead": lead, "year-first lead": yfirst, "chat+year-first": chat + yfirst}
            for name in SLOT_PREFIXES:
                scores = {v: logp(prefixes[name], v) for v in values}
                first[(q["period"], name)] += max(values, key=scores.get) == q["answer"]
        for period in ("before", "after"):
            print(f"{ckpt}: {period} {total[period]} dated facts, value first — " +
                  ", ".join(f"{name} {first[(period, name)]}" for name in SLOT_PREFIXES))


def widen(wd, out):
    rows = [json.loads(l) for l in open(wd + "/qa.jsonl")]
    for r in rows:
        if r["period"] == "after" and r["domain"] == "general":
            r["split"] = "test"
    with open(out, "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)


def score(wd, instr, name=""):
    split = {q["question"]: q["split"] for q in map(json.loads, open(wd + "/qa.jsonl"))}
    facts = [r for r in results(instr) if r["kind"] == "fact"]
    parts = []
    for period in ("before", "after"):
        rs = [r for r in facts if r.get("period") == period]
        ok, guess = sum(r["correct"] for r in rs), sum(r.get("chance") or 0 for r in rs)
        parts.append(f"{period} {ok}/{len(rs)} = {100 * ok / max(1, len(rs)):.1f}% (guessing {100 * guess / max(1, len(rs)):.1f}%)")
    test = [r for r in facts if r.get("period") == "after" and split.get(r["instruction"]) == "test"]
    parts.append(f"after, test split {sum(r['correct'] for r in test)}/{len(test)}")
    print(f"{name:30s} " + " | ".join(parts))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"classify": classify, "probes": probes, "choice": choice, "slot": slot, "widen": widen, "score": score}[cmd](*args)
