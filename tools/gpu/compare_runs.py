#!/usr/bin/env python3
"""Compares the loss curves of Strata runs step by step (metrics.jsonl), e.g. a
`--device cuda` run against the same recipe on the CPU. Prints one JSON object:
per pair of runs, the steps compared and the max |loss difference| in each step range."""
import json, sys

def losses(run):
    out = {}
    for line in open(f"{run}/metrics.jsonl"):
        r = json.loads(line)
        if r.get("loss") is not None:
            out[r["step"]] = r["loss"]
    return out

def compare(a, b, ranges):
    la, lb = losses(a), losses(b)
    res = {"runs": [a, b]}
    for lo, hi in ranges:
        steps = [s for s in la if s in lb and lo <= s <= hi]
        if steps:
            res[f"steps {lo}-{hi}"] = {"n": len(steps), "max_abs_diff": max(abs(la[s] - lb[s]) for s in steps),
                                       "first": [la[min(steps)], lb[min(steps)]], "last": [la[max(steps)], lb[max(steps)]]}
    return res

if __name__ == "__main__":
    a, b = sys.argv[1], sys.argv[2]
    ranges = [tuple(map(int, r.split("-"))) for r in sys.argv[3:]] or [(1, 10**9)]
    print(json.dumps(compare(a, b, ranges)))
