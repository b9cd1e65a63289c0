#!/usr/bin/env python3
"""Rollout generation: Strata's rollout engine against Hugging Face transformers
`generate` on the same model, batch and lengths, in one run.

Runs `strata bench rollout --json --save-model DIR` (random GPT-2, batch of
random prompts, sampling at temperature 1 with no stop tokens so every row
generates exactly --new-tokens tokens, KV cache), then loads DIR's
model.safetensors/config.json into transformers' GPT2LMHeadModel and times
`generate(do_sample=True, top_k=0, max_new_tokens=N, min_new_tokens=N,
use_cache=True)` on the same prompt ids, fp32 on CPU; and a forward pass that
reads the sampled tokens' log-probs (the reference/old-policy pass). Fastest
of --repeats after one warm-up on both sides.

    python3 tools/bench/rollout_bench.py --strata .build/release/strata [--threads 2] [--batch 16] [--new-tokens 64]
"""
import argparse, json, subprocess, tempfile, time
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strata", default=".build/release/strata")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
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
    with tempfile.TemporaryDirectory() as d:
        cmd = [a.strata, "bench", "rollout", "--json", "--save-model", d, "--batch", str(a.batch),
               "--prompt-tokens", str(a.prompt_tokens), "--new-tokens", str(a.new_tokens), "--layers", str(a.layers),
               "--embd", str(a.embd), "--heads", str(a.heads), "--vocab", str(a.vocab), "--repeats", str(a.repeats)]
        strata = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        model = GPT2LMHeadModel.from_pretrained(d, torch_dtype=torch.float32).eval()
        prompts = torch.tensor(json.load(open(f"{d}/prompts.json")), dtype=torch.long)
    n = a.new_tokens
    attention = torch.ones_like(prompts)
    torch.manual_seed(0)

    def generate():
        with torch.no_grad():
            return model.generate(prompts, attention_mask=attention, do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                                  max_new_tokens=n, min_new_tokens=n, use_cache=True, pad_token_id=0, eos_token_id=None)

    hf_gen = fastest(generate, a.repeats)
    seqs = generate()

    def logprobs():
        with torch.no_grad():
            logits = model(seqs).logits[:, prompts.shape[1] - 1:-1].float()
            return torch.log_softmax(logits, -1).gather(-1, seqs[:, prompts.shape[1]:, None])

    hf_lp = fastest(logprobs, a.repeats)
    tokens = a.batch * n
    rows = [("generate (tokens/s)", strata["generate_tokens_per_s"], tokens / hf_gen),
            ("log-prob pass (tokens/s)", strata["logprob_tokens_per_s"], tokens / hf_lp)]
    print(f"model: {a.layers} layers, d={a.embd}, V={a.vocab}; batch {a.batch}, prompt {a.prompt_tokens} + {n} new tokens; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'':28}{'strata':>10}{'transformers':>14}{'ratio':>8}")
    for name, s, h in rows:
        print(f"{name:28}{s:10.0f}{h:14.0f}{s / h:8.2f}")


if __name__ == "__main__":
    main()
