#!/usr/bin/env python3
"""Times full training steps of a nanoGPT-style GPT-2 in PyTorch on CPU, in the
configuration `strata bench` uses (6 layers, 6 heads, d=384, context 256,
vocab 8192, batch 8, fp32, AdamW, grad clipping), so the two can be compared
side by side. Optionally runs `strata bench --json` in the same run.

    python3 tools/bench/nanogpt_bench.py [--threads 2] [--steps 10] [--strata .build/release/strata] [--bf16]
"""
import argparse, json, math, resource, subprocess, time
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, c, h):
        super().__init__()
        self.h = h
        self.ln1, self.ln2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.qkv, self.proj = nn.Linear(c, 3 * c), nn.Linear(c, c)
        self.fc, self.fc_proj = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.h, c // self.h).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).contiguous().view(b, t, c))
        return x + self.fc_proj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, v, t, c, l, h):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(v, c), nn.Embedding(t, c)
        self.blocks = nn.ModuleList(Block(c, h) for _ in range(l))
        self.ln_f = nn.LayerNorm(c)
        for m in self.modules():  # GPT-2's initialisation (std 0.02), so the loss starts near ln(V)
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, idx, targets):
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(t))
        for blk in self.blocks:
            x = blk(x)
        logits = self.ln_f(x) @ self.wte.weight.T
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast")
    ap.add_argument("--strata", help="path to a release strata binary to run in the same session")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    V, T, C, L, H, B = 8192, 256, 384, 6, 6, 8
    model = GPT(V, T, C, L, H)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1)
    idx, tg = torch.randint(0, V, (B, T)), torch.randint(0, V, (B, T))

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
            loss = model(idx, tg)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"pytorch {torch.__version__} {'bf16 autocast' if a.bf16 else 'fp32'}, {a.threads} threads: "
          f"{B * T * a.steps / dt:.0f} tokens/s, {dt / a.steps * 1000:.0f} ms/step, peak RSS {rss:.0f} MiB, loss {loss:.3f}")
    if a.strata:
        out = subprocess.run([a.strata, "bench", "--json", "--steps", str(a.steps), "--warmup", str(a.warmup)],
                             capture_output=True, text=True, check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"strata fp32: {r['tokensPerSecond']:.0f} tokens/s, {r['msPerStep']:.0f} ms/step, peak RSS {r['peakRSSMiB']:.0f} MiB, "
              f"matmul share {r['matmulShare'] * 100:.0f}%, MFU {r['mfu'] * 100:.0f}% of {r['peakGFLOPS']:.0f} GFLOP/s")


if __name__ == "__main__":
    main()
