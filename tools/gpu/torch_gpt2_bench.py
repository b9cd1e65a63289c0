#!/usr/bin/env python3
"""PyTorch reference benchmark of one GPT-2 training step (eager mode).

This is the peer reference for Strata's CUDA backend: it trains a GPT-2 the
way nanoGPT does in eager mode and measures training throughput, so Strata's
numbers on the same GPU can be put next to it.

What one timed step does:
  forward (learned token + position embeddings, L pre-LayerNorm blocks with
  causal SDPA attention and a tanh-GELU MLP, final LayerNorm, LM head tied to
  the token embedding, no dropout), mean cross-entropy over all B*T positions,
  backward, clip_grad_norm_(1.0), AdamW step (fused on CUDA), zero_grad.

What it measures:
  tokens/s = steps * B * T / seconds and ms/step over the timed steps (after
  untimed warm-up steps, with torch.cuda.synchronize() around the timed
  region), peak CUDA memory (torch.cuda.max_memory_allocated), final loss.

What it leaves out on purpose:
  torch.compile, data loading and tokenisation (batches are random token ids,
  all generated on the device before timing), gradient accumulation, learning
  rate schedule (lr is constant), evaluation, checkpointing, multi-GPU/DDP,
  fp16 with GradScaler, and nanoGPT's vocabulary padding (50257 stays 50257).

Precision modes (--precision):
  fp32  TF32 off for matmuls and cuDNN: true fp32 arithmetic.
  tf32  TF32 on (float32 matmul precision 'high').
  bf16  autocast to bfloat16 around forward + loss, fp32 master weights and
        optimizer state, TF32 on for whatever stays in fp32.

CPU smoke test (fp32 only):
  python3 tools/gpu/torch_gpt2_bench.py --device cpu --config nano \\
      --layers 2 --T 64 --batch 2 --steps 3 --warmup 1 --fixed-batch
"""
import argparse
import contextlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass, replace

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------- configs

@dataclass(frozen=True)
class Config:
    layers: int
    heads: int
    embd: int
    T: int
    vocab: int
    batch: int


CONFIGS = {
    "nano": Config(layers=6, heads=6, embd=384, T=256, vocab=8192, batch=8),
    "gpt2-small": Config(layers=12, heads=12, embd=768, T=1024, vocab=50257, batch=8),
}


# ---------------------------------------------------------------- model

class SelfAttention(nn.Module):
    """Multi-head causal self-attention; one fused Linear makes q, k and v."""

    def __init__(self, embd, heads):
        super().__init__()
        assert embd % heads == 0, "--embd must be a multiple of --heads"
        self.heads = heads
        self.c_attn = nn.Linear(embd, 3 * embd)
        self.c_proj = nn.Linear(embd, embd)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=-1)
        # (B, T, C) -> (B, heads, T, head_dim)
        q, k, v = (z.view(B, T, self.heads, C // self.heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, embd):
        super().__init__()
        self.c_fc = nn.Linear(embd, 4 * embd)
        self.c_proj = nn.Linear(4 * embd, embd)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, embd, heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(embd)
        self.attn = SelfAttention(embd, heads)
        self.ln_2 = nn.LayerNorm(embd)
        self.mlp = MLP(embd)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.wte = nn.Embedding(cfg.vocab, cfg.embd)
        self.wpe = nn.Embedding(cfg.T, cfg.embd)
        self.blocks = nn.ModuleList(Block(cfg.embd, cfg.heads) for _ in range(cfg.layers))
        self.ln_f = nn.LayerNorm(cfg.embd)
        self._init_weights(cfg.layers)

    def _init_weights(self, layers):
        """GPT-2 init: N(0, 0.02) everywhere, zero biases, and the two
        projections that write into the residual stream scaled by 1/sqrt(2L)."""
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        residual_std = 0.02 / math.sqrt(2 * layers)
        for block in self.blocks:
            nn.init.normal_(block.attn.c_proj.weight, mean=0.0, std=residual_std)
            nn.init.normal_(block.mlp.c_proj.weight, mean=0.0, std=residual_std)

    def forward(self, idx):
        positions = torch.arange(idx.shape[1], device=idx.device)
        x = self.wte(idx) + self.wpe(positions)
        for block in self.blocks:
            x = block(x)
        # LM head shares its weight with the token embedding.
        return F.linear(self.ln_f(x), self.wte.weight)


def loss_fn(logits, targets):
    """Mean cross-entropy over all B*T positions."""
    return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


# ---------------------------------------------------------------- optimizer

def make_optimizer(model, device):
    """AdamW with weight decay 0.1 on matrices/embeddings (rank >= 2) only."""
    params = list(model.parameters())  # the tied weight appears once
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": 0.1},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=3e-4, betas=(0.9, 0.95), eps=1e-8,
                             fused=(device.type == "cuda"))


# ---------------------------------------------------------------- precision

def set_precision(precision, device):
    """Set the TF32 switches; return the autocast dtype (or None)."""
    if device.type == "cpu" and precision != "fp32":
        sys.exit(f"error: --precision {precision} needs a CUDA device; "
                 "on --device cpu only --precision fp32 is supported")
    allow_tf32 = precision in ("tf32", "bf16")
    torch.backends.cuda.matmul.allow_tf32 = allow_tf32
    torch.backends.cudnn.allow_tf32 = allow_tf32
    torch.set_float32_matmul_precision("high" if allow_tf32 else "highest")
    return torch.bfloat16 if precision == "bf16" else None


# ---------------------------------------------------------------- data

def make_batches(cfg, count, seed, device):
    """`count` (inputs, targets) pairs of random token ids, made on `device`.
    Targets are the inputs shifted by one, as in language-model training."""
    gen = torch.Generator(device=device).manual_seed(seed)
    tokens = torch.randint(0, cfg.vocab, (count, cfg.batch, cfg.T + 1),
                           generator=gen, device=device)
    return [(t[:, :-1].contiguous(), t[:, 1:].contiguous()) for t in tokens]


# ---------------------------------------------------------------- training step

def autocast(dtype, device):
    """bf16 autocast around forward + loss, or nothing in fp32/tf32 modes."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def train_step(model, opt, batch, autocast_dtype, device):
    idx, targets = batch
    with autocast(autocast_dtype, device):
        loss = loss_fn(model(idx), targets)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss.detach()  # no .item(): that would synchronize every step


@torch.no_grad()
def eval_loss(model, batch, autocast_dtype, device):
    idx, targets = batch
    with autocast(autocast_dtype, device):
        return loss_fn(model(idx), targets).item()


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_steps(model, opt, batch_at, autocast_dtype, device, args):
    """Run the timed steps; return (seconds, loss of the last step)."""
    sync(device)
    start = time.perf_counter()
    for i in range(args.warmup, args.warmup + args.steps):
        loss = train_step(model, opt, batch_at(i), autocast_dtype, device)
        if args.log_every and (i + 1) % args.log_every == 0:
            print(f"  step {i + 1}: loss {loss.item():.4f}")  # synchronizes
    sync(device)
    return time.perf_counter() - start, loss.item()


def run(cfg, args, device):
    torch.manual_seed(args.seed)
    autocast_dtype = set_precision(args.precision, device)
    model = GPT2(cfg).to(device)
    opt = make_optimizer(model, device)
    n_batches = 1 if args.fixed_batch else args.warmup + args.steps
    batches = make_batches(cfg, n_batches, args.seed + 1, device)
    batch_at = lambda i: batches[0 if args.fixed_batch else i]

    initial_loss = eval_loss(model, batches[0], autocast_dtype, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for i in range(args.warmup):
        train_step(model, opt, batch_at(i), autocast_dtype, device)
    seconds, final_loss = timed_steps(model, opt, batch_at, autocast_dtype, device, args)

    return {
        "params": sum(p.numel() for p in model.parameters()),
        "initial_loss": initial_loss,
        "final_loss": final_loss,
        "seconds": seconds,
        "peak_mem_bytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None,
    }


# ---------------------------------------------------------------- CLI

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", choices=sorted(CONFIGS), default="nano")
    ap.add_argument("--precision", choices=["fp32", "tf32", "bf16"], default="fp32")
    ap.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps (default 5)")
    ap.add_argument("--steps", type=int, default=20, help="timed steps (default 20)")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--fixed-batch", action="store_true",
                    help="reuse one batch every step (sanity: loss must fall)")
    ap.add_argument("--log-every", type=int, default=0,
                    help="print the loss every N steps during the timed run "
                         "(synchronizes each time, so timings are skewed; for sanity only)")
    ap.add_argument("--threads", type=int, help="CPU threads (torch.set_num_threads)")
    ap.add_argument("--json", metavar="FILE", help="also write the result as a JSON object")
    over = ap.add_argument_group("overrides of the chosen config (for tiny smoke tests)")
    for name in ("batch", "layers", "heads", "embd", "vocab", "T"):
        over.add_argument(f"--{name}", type=int)
    args = ap.parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        ap.error("--steps must be >= 1 and --warmup >= 0")
    return args


def resolve_config(args):
    overrides = {k: getattr(args, k) for k in ("batch", "layers", "heads", "embd", "vocab", "T")
                 if getattr(args, k) is not None}
    cfg = replace(CONFIGS[args.config], **overrides)
    if cfg.embd % cfg.heads != 0:
        sys.exit(f"error: n_embd {cfg.embd} is not a multiple of heads {cfg.heads}")
    return cfg


def resolve_device(name):
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("error: CUDA is not available; use --device cpu (with --precision fp32) for a smoke test")
    if device.type not in ("cuda", "cpu"):
        sys.exit(f"error: unsupported device {name!r}; use cuda or cpu")
    return device


def device_name(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def main(argv=None):
    args = parse_args(argv)
    cfg = resolve_config(args)
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)

    r = run(cfg, args, device)
    tokens = args.steps * cfg.batch * cfg.T
    result = {
        "config": args.config,
        "precision": args.precision,
        "batch": cfg.batch,
        "T": cfg.T,
        "steps": args.steps,
        "tokens_per_s": tokens / r["seconds"],
        "ms_per_step": 1000.0 * r["seconds"] / args.steps,
        "peak_mem_bytes": r["peak_mem_bytes"],
        "device": device_name(device),
        "torch": torch.__version__,
        "final_loss": r["final_loss"],
        # extra context, not part of the required schema
        "initial_loss": r["initial_loss"],
        "warmup": args.warmup,
        "layers": cfg.layers, "heads": cfg.heads, "embd": cfg.embd, "vocab": cfg.vocab,
        "params": r["params"],
        "fixed_batch": args.fixed_batch,
    }
    print_summary(result)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")


def print_summary(r):
    mem = "n/a" if r["peak_mem_bytes"] is None else f"{r['peak_mem_bytes'] / 2**20:.0f} MiB"
    print(f"torch {r['torch']} on {r['device']}: {r['config']} "
          f"(L{r['layers']} H{r['heads']} C{r['embd']} V{r['vocab']}, {r['params'] / 1e6:.1f}M params) "
          f"{r['precision']} B={r['batch']} T={r['T']}: "
          f"{r['tokens_per_s']:.0f} tokens/s, {r['ms_per_step']:.1f} ms/step, peak mem {mem}, "
          f"loss {r['initial_loss']:.4f} at start (ln V = {math.log(r['vocab']):.4f}) -> "
          f"{r['final_loss']:.4f} at step {r['warmup'] + r['steps']}")


if __name__ == "__main__":
    main()
