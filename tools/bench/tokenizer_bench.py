#!/usr/bin/env python3
"""Tokenizer benchmark: Strata vs Hugging Face `tokenizers` vs `tiktoken`, same text, same run.

1. Runs `strata bench tokenizer --json` (train + encode; it also writes the text and its tokenizer.json).
2. Hugging Face tokenizers: trains a byte-level BPE with the same vocab size/special token/pattern on the
   same documents (train_from_iterator), then encode_batch over the documents (all cores).
3. tiktoken: an Encoding built from Strata's trained tokenizer.json (mergeable ranks = token ids, which
   follow merge order; GPT-2 pattern), encode_ordinary_batch on all cores and a one-thread loop.
Prints seconds, MB/s (10^6 bytes of UTF-8 input) and token counts so the three can be compared.

Usage: python3 tools/bench/tokenizer_bench.py [--strata .build/release/strata] [--file TEXT] [--size-mb 10]
       [--vocab-size 8192] [--repeats 3]
Leaves out: the cl100k pattern (GPT-2's only), memory use, encode latency of single short texts.
"""
import argparse, json, os, subprocess, sys, tempfile, time

GPT2_PAT = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def byte_decoder():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def run_strata(args, workdir):
    cmd = [args.strata, "bench", "tokenizer"]
    probe = subprocess.run(cmd + ["--help"], capture_output=True, text=True)
    if "--size-mb" not in probe.stdout:  # before `strata bench` exists, the same command lives here
        cmd = [args.strata, "tokenizer", "bench"]
    text = args.file or os.path.join(workdir, "text.txt")
    tok = os.path.join(workdir, "strata_tokenizer.json")
    cmd += ["--json", "--vocab-size", str(args.vocab_size), "--repeats", str(args.repeats), "--save-tokenizer", tok]
    cmd += ["--file", args.file] if args.file else ["--size-mb", str(args.size_mb), "--save-text", text]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1]), text, tok


def best_of(n, f):
    best, result = float("inf"), None
    for _ in range(n):
        t = time.perf_counter(); result = f(); best = min(best, time.perf_counter() - t)
    return best, result


def hf(docs, args):
    from tokenizers import Tokenizer, models, trainers, pre_tokenizers, decoders
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=args.vocab_size, special_tokens=["<|endoftext|>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    t = time.perf_counter(); tok.train_from_iterator(docs, trainer); train_s = time.perf_counter() - t
    enc_s, enc = best_of(args.repeats, lambda: tok.encode_batch(docs))
    return train_s, enc_s, sum(len(e.ids) for e in enc), tok


def tiktoken_from(path, docs, args):
    import tiktoken
    j = json.load(open(path, encoding="utf-8"))
    dec = byte_decoder()
    specials = {a["content"]: a["id"] for a in j["added_tokens"]}
    ranks = {bytes(dec[c] for c in t): i for t, i in j["model"]["vocab"].items() if t not in specials}
    enc = tiktoken.Encoding("strata-bpe", pat_str=GPT2_PAT, mergeable_ranks=ranks, special_tokens=specials)
    par_s, ids = best_of(args.repeats, lambda: enc.encode_ordinary_batch(docs, num_threads=os.cpu_count()))
    one_s, _ = best_of(args.repeats, lambda: [enc.encode_ordinary(d) for d in docs])
    return par_s, one_s, sum(len(x) for x in ids)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strata", default=".build/release/strata")
    ap.add_argument("--file")
    ap.add_argument("--size-mb", type=float, default=10)
    ap.add_argument("--vocab-size", type=int, default=8192)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        s, text_path, tok_path = run_strata(args, work)
        with open(text_path, encoding="utf-8", errors="replace") as f:
            docs = f.read().split("\n")
        if docs and docs[-1] == "":
            docs.pop()
        mb = sum(len(d.encode()) for d in docs) / 1e6
        h_train, h_enc, h_tokens, _ = hf(docs, args)
        t_par, t_one, t_tokens = tiktoken_from(tok_path, docs, args)
    cores = os.cpu_count()
    print("text: %.2f MB, %d documents (%s), vocab %d, %d cores, best of %d encodes"
          % (mb, len(docs), args.file or "generated English-like text", args.vocab_size, cores, args.repeats))
    print("%-34s %9s %10s %10s %11s" % ("", "train s", "encode s", "MB/s", "tokens"))
    rows = [("strata train / encode (%d cores)" % s["workers"], s["train_s"], s["encode_s"], s["tokens"]),
            ("strata encode (1 core)", None, s["encode_1core_s"], s["tokens"]),
            ("HF tokenizers train / encode_batch", h_train, h_enc, h_tokens),
            ("tiktoken (Strata ranks, %d thr)" % cores, None, t_par, t_tokens),
            ("tiktoken (Strata ranks, 1 thread)", None, t_one, t_tokens)]
    for name, tr, en, tokens in rows:
        print("%-34s %9s %10.3f %10.2f %11d" % (name, "-" if tr is None else "%.3f" % tr, en, mb / en, tokens))
    print("strata encode vs HF: %.2fx; vs tiktoken 1 thread: %.2fx; train time strata/HF: %.2f"
          % (h_enc / s["encode_s"], t_one / s["encode_s"], s["train_s"] / h_train))


if __name__ == "__main__":
    sys.exit(main())
