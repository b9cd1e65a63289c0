#!/usr/bin/env python3
"""Generation: `strata bench generate` against Hugging Face transformers
`generate` on the same model, batch and lengths, greedy and sampled, in one run.

Each round runs `strata bench generate --json --save-model DIR` (random GPT-2,
a batch of random prompts, no stop tokens so every row generates exactly
--new-tokens tokens, KV cache), then loads DIR into transformers'
GPT2LMHeadModel (fp32, CPU) and times, fastest of --repeats after one warm-up:
  greedy:  generate(do_sample=False, max_new_tokens=N, min_new_tokens=N, use_cache=True)
  sampled: generate(do_sample=True, temperature=1, top_k=0, top_p=1, ...)
  prefill: one forward over the prompts with use_cache=True.
It also reports how many greedy rows came out token-for-token identical.
Rounds alternate Strata and transformers so load on a shared machine hits both.

    python3 tools/bench/generate_bench.py --strata .build/release/strata [--rounds 3] [--threads 2] [--batch 16]
"""
import argparse, json, os, subprocess, tempfile, time
import torch
from transformers import GPT2LMHeadModel


def fastest(fn, repeats):
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def transformers_side(d, a):
    model = GPT2LMHeadModel.from_pretrained(d, torch_dtype=torch.float32).eval()
    prompts = torch.tensor(json.load(open(f"{d}/prompts.json")), dtype=torch.long)
    mask = torch.ones_like(prompts)
    n = a.new_tokens

    def gen(sample):
        with torch.no_grad():
            kw = dict(do_sample=True, temperature=1.0, top_k=0, top_p=1.0) if sample else dict(do_sample=False)
            return model.generate(prompts, attention_mask=mask, max_new_tokens=n, min_new_tokens=n, use_cache=True,
                                  pad_token_id=0, eos_token_id=None, **kw)

    def prefill():
        with torch.no_grad():
            return model(prompts, attention_mask=mask, use_cache=True).logits[:, -1]

    torch.manual_seed(0)
    greedy = fastest(lambda: gen(False), a.repeats)
    sampled = fastest(lambda: gen(True), a.repeats)
    pre = fastest(prefill, a.repeats)
    tokens = gen(False)[:, prompts.shape[1]:].tolist()
    return greedy, sampled, pre, tokens, prompts.shape


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strata", default=".build/release/strata")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--prompt-tokens", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--embd", type=int, default=384)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    print(f"model: {a.layers} layers, d={a.embd}, V={a.vocab}; batch {a.batch}, prompt {a.prompt_tokens} + {a.new_tokens} new tokens; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'default')}")
    print(f"{'round':>5} {'mode':>8} {'strata tok/s':>13} {'transformers tok/s':>19} {'ratio':>6}")
    for r in range(1, a.rounds + 1):
        with tempfile.TemporaryDirectory() as d:
            cmd = [a.strata, "bench", "generate", "--json", "--save-model", d, "--batch", str(a.batch),
                   "--prompt-tokens", str(a.prompt_tokens), "--new-tokens", str(a.new_tokens), "--layers", str(a.layers),
                   "--embd", str(a.embd), "--heads", str(a.heads), "--vocab", str(a.vocab), "--repeats", str(a.repeats)]
            s = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            greedy, sampled, pre, tokens, shape = transformers_side(d, a)
        n = a.batch * a.new_tokens
        same = sum(1 for x, y in zip(tokens, s["greedy_tokens"]) if x == y)
        for mode, st, hf in [("greedy", s["greedy_tokens_per_s"], n / greedy), ("sampled", s["sampled_tokens_per_s"], n / sampled),
                             ("prefill", s["prefill_tokens_per_s"], shape[0] * shape[1] / pre)]:
            print(f"{r:>5} {mode:>8} {st:13.0f} {hf:19.0f} {st / hf:6.2f}")
        print(f"      greedy rows identical to transformers: {same}/{a.batch}")


if __name__ == "__main__":
    main()
