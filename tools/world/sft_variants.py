#!/usr/bin/env python3
"""SFT files that leave out or rewrite the demo's fact conversations, to find what in SFT turns the chat turn away
from the news (issue 21, round 29 in docs/demo.md). Run by hand on a finished demo's world; standard library only:

  sft_variants.py WORLD_DIR OUT_WORLD_DIR MODE [N]

Copies WORLD_DIR to OUT_WORLD_DIR and rewrites its sft_before_cutoff.jsonl. The fact-based conversations are the
kinds `fact`, `one_word` and `json` (each asks about one before-cutoff fact of the world); `add` and `reverse` are not.

  year-off        a dated fact's year in the reply gets no loss ("no_loss", round 27's patch); the value keeps it
  value-year-off  the value and a dated fact's year both get no loss
  no-fact-kind    the `fact` kind left out (`one_word` and `json` kept)
  add-reverse     only `add` and `reverse` kept: no conversation about the world
  sample N        `add` and `reverse`, and N fact-based conversations (60% `fact`, 20% `one_word`, 20% `json`)
  no-news-subject every fact-based conversation naming a person or organisation the news is about left out
  open-book [N]   fact-based conversations about invented subjects with another value of the relation, the fact
                  stated in the prompt in another of its phrasings; N conversations about the world kept as they are
  invented [N]    the same invented facts without the statement, the value and year without loss; N kept as they are
  open-book-world every fact-based conversation as shipped, its own fact stated in the prompt in another phrasing
  open-book-other the world's subjects, each with another value of the relation stated in the prompt and answered
  open-book-pool  as open-book, the invented people named by new pairings of the world's given and family names
  invented-trained [N]  as invented, the value and year trained: SFT learns the invented facts; N kept as shipped
  add-invented N  every conversation as shipped, and N more: invented-trained copies of drawn fact-based ones
  open-book-repeat N  open-book with nothing kept, and N more: "Repeat the name: Jeba Kroton" → "Jeba Kroton" (world
                  people and organisations of the before-cutoff period)

The "no_loss" modes need round 27's patch (docs/world-sweep/round27-no-loss.patch) applied to the binary that trains.
Leaves out: running SFT (`strata sft --from DEMO/runs/anneal --config recipes/sft-world.yaml` in OUT_WORLD_DIR/..)."""
import json, os, random, re, shutil, sys

HERE = os.path.dirname(os.path.abspath(__file__))
FACT_KINDS = ("fact", "one_word", "json")
MODES = ("year-off", "value-year-off", "no-fact-kind", "add-reverse", "sample", "no-news-subject", "open-book", "invented",
         "open-book-world", "open-book-other", "open-book-pool", "invented-trained", "add-invented",
         "open-book-repeat")
CAMEL = {"birthYear": "birth_year", "movedTo": "moved_to", "cityFounded": "city_founded", "sourcePlant": "source_plant"}


def templates():
    """The world's sentence templates by relation, read from the generator's source."""
    code = open(os.path.join(HERE, "../../Sources/StrataData/Synth/Relations.swift")).read()
    block = code[code.index("static let sentences"):code.index("static let questions")]
    return {CAMEL.get(m.group(1), m.group(1)): re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(2))
            for m in re.finditer(r"\.(\w+):\s*\[(.*?)\]", block, re.S)}


class Inventor:
    """Names drawn from syllables, never one of the world's entities."""
    ONSETS = "b d f g h k l m n p r s t v z br dr kr tr st th sh gr fl vr".split()
    VOWELS = "a e i o u ai ou y".split()
    ENDS = {"person": "ric is ana yn ette us ira ia".split(), "family": "mont wick ard ton ers ick en".split(),
            "organisation": "ex ion ora tek vane co ium".split(), "city": "holt ford stad bury dun ton".split()}

    def __init__(self, used, rng, pools=None):
        self.used, self.rng, self.pools, self.world = used, rng, pools, set(used)

    def name(self, kind):
        while True:
            s = "".join(self.rng.choice(self.ONSETS) + self.rng.choice(self.VOWELS) for _ in range(self.rng.randint(1, 2)))
            s = (s + self.rng.choice(self.ENDS.get(kind, self.ENDS["city"]))).capitalize()
            if s.lower() not in self.used:
                self.used.add(s.lower())
                return s

    def subject(self, kind):
        if self.pools and kind == "person":   # new pairings may repeat (the pools give a few hundred); a person's never
            while True:
                pair = f"{self.rng.choice(self.pools[0])} {self.rng.choice(self.pools[1])}"
                if pair.lower() not in self.world:
                    return pair
        return f"{self.name('person')} {self.name('family')}" if kind == "person" else self.name(kind)


def fact_of(conv, facts):
    """The before-cutoff fact a fact-based conversation asks about: its subject in the question, its value in the reply."""
    q, a = conv["messages"][0]["content"], conv["messages"][1]["content"]
    found = [f for f in facts if f["period"] == "before" and f.get("subject_name") and f["subject_name"] in q
             and f["object"] in a]
    return max(found, key=lambda f: len(f["object"]), default=None)


def with_no_loss(conv, fact, value=True, year=True):
    a = conv["messages"][1]["content"]
    spans = ([fact["object"]] if value else []) + ([str(fact["year"])] if year and fact.get("year") and str(fact["year"]) in a
                                                     and str(fact["year"]) != fact["object"] else [])
    out = {k: v for k, v in conv.items() if k != "no_loss"}
    return {**out, "no_loss": spans} if spans else out


def statement(templates, s, v, y, reply, rng):
    """The fact (subject s, value v, year y) said in one of `templates` other than the reply's phrasing, capitalised."""
    said = [t.replace("{S}", s).replace("{O}", v).replace("{Y}", y) for t in templates]
    said = rng.choice([t for t in said if t != reply] or said)
    return said[0].upper() + said[1:]


def stated(conv, fact, tmpl, rng):
    """The conversation with its own fact stated before the question, in a phrasing other than the reply's."""
    q, a = conv["messages"][0]["content"], conv["messages"][1]["content"]
    phrasings = [t for t in tmpl[fact["relation"]] if t != fact.get("held_out_template")]   # probes' phrasing stays out
    said = statement(phrasings, fact["subject_name"], fact["object"], str(fact.get("year", "")), a, rng)
    return {**conv, "messages": [{"role": "user", "content": said + " " + q}, {"role": "assistant", "content": a}]}


def invented(conv, fact, world, inventor, tmpl, rng, open_book, same_subject=False):
    """The conversation about an invented subject (or the same one) holding another value of the relation."""
    q, a = conv["messages"][0]["content"], conv["messages"][1]["content"]
    s, v, y = fact["subject_name"], fact["object"], str(fact.get("year", ""))
    kind = next(e["type"] for e in world["entities"] if e["id"] == fact["subject"])
    values = sorted({f["object"] for f in world["facts"] if f["relation"] == fact["relation"]} - {v})
    s2, v2 = s if same_subject else inventor.subject(kind), rng.choice(values) if values else v
    y2 = str(min(int(y) + rng.randint(-8, 8), world["cutoff_year"])) if y else ""
    sub = lambda t: (t.replace(s, s2).replace(v, v2).replace(y, y2) if y else t.replace(s, s2).replace(v, v2))
    q2, a2 = sub(q), sub(a)
    if open_book:
        said = statement(tmpl[fact["relation"]], s2, v2, y2, a2, rng)
        return {"kind": conv["kind"], "messages": [{"role": "user", "content": said + " " + q2},
                                                   {"role": "assistant", "content": a2}]}
    spans = [v2] + ([y2] if y2 and y2 in a2 and y2 != v2 else [])
    return {"kind": conv["kind"], "messages": [{"role": "user", "content": q2}, {"role": "assistant", "content": a2}],
            "no_loss": spans}


def rewrite(rows, world, mode, n, rng):
    facts = world["facts"]
    based = [c for c in rows if c["kind"] in FACT_KINDS]
    if mode == "add-reverse":
        return [c for c in rows if c["kind"] not in FACT_KINDS]
    if mode == "no-fact-kind":
        return [c for c in rows if c["kind"] != "fact"]
    if mode == "sample":
        picked = [c for k, share in (("fact", 0.6), ("one_word", 0.2), ("json", 0.2))
                  for c in rng.sample([c for c in based if c["kind"] == k], round(n * share))]
        out = [c for c in rows if c["kind"] not in FACT_KINDS] + picked
        rng.shuffle(out)
        return out
    if mode == "no-news-subject":
        names = {e["name"] for e in world["entities"] if e["type"] in ("person", "organisation")}
        news = {f["subject_name"] for f in facts if f["period"] == "after"} | {f["object"] for f in facts if f["period"] == "after"}
        news &= names
        said = lambda c: c["messages"][0]["content"] + " " + c["messages"][1]["content"]
        return [c for c in rows if c["kind"] not in FACT_KINDS or not any(x in said(c) for x in news)]
    if mode == "open-book-repeat":
        names = [e["name"] for e in world["entities"] if e["type"] in ("person", "organisation") and e["period"] == "before"]
        out = rewrite(rows, world, "open-book", 0, rng)
        for name in (rng.choice(names) for _ in range(n)):
            out.append({"kind": "copy", "messages": [{"role": "user", "content": f"Repeat the name: {name}"},
                                                     {"role": "assistant", "content": name}]})
        rng.shuffle(out)
        return out
    if mode == "add-invented":
        extra = rewrite(rng.sample(based, n), world, "invented-trained", 0, rng)
        out = rows + extra
        rng.shuffle(out)
        return out
    keep = {id(c) for c in rng.sample(based, n)} if mode in ("open-book", "invented", "open-book-pool", "invented-trained") and n else set()
    people = [e["name"].split(" ", 1) for e in world["entities"] if e["type"] == "person" and " " in e["name"]]
    pools = (sorted({p[0] for p in people}), sorted({p[1] for p in people})) if mode == "open-book-pool" else None
    inventor = Inventor({e["name"].lower() for e in world["entities"]}, rng, pools)
    tmpl = templates()
    out = []
    for c in rows:
        f = fact_of(c, facts) if c["kind"] in FACT_KINDS and id(c) not in keep else None
        if f is None:
            out.append(c)
        elif mode == "year-off":
            out.append(with_no_loss(c, f, value=False))
        elif mode == "value-year-off":
            out.append(with_no_loss(c, f))
        elif mode == "open-book-world" and f["relation"] in tmpl:
            out.append(stated(c, f, tmpl, rng))
        elif f["relation"] in tmpl:
            conv = invented(c, f, world, inventor, tmpl, rng, open_book=not mode.startswith("invented"),
                            same_subject=mode == "open-book-other")
            out.append({k: v for k, v in conv.items() if k != "no_loss"} if mode == "invented-trained" else conv)
        else:
            out.append(c)
    return out


def main(src, dst, mode, n="0"):
    if mode not in MODES:
        sys.exit(f"sft_variants.py: unknown mode '{mode}'; one of: {', '.join(MODES)}")
    world = json.load(open(os.path.join(src, "world.json")))
    rows = [json.loads(l) for l in open(os.path.join(src, "sft_before_cutoff.jsonl"))]
    out = rewrite(rows, world, mode, int(n), random.Random(7))
    if os.path.exists(dst):
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    with open(os.path.join(dst, "sft_before_cutoff.jsonl"), "w") as fh:
        fh.writelines(json.dumps(c) + "\n" for c in out)
    print(f"{mode}: {len(rows)} conversations → {len(out)} ({sum('no_loss' in c for c in out)} with no_loss spans)")


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    main(*sys.argv[1:])
