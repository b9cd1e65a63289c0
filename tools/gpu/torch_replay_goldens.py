#!/usr/bin/env python3
"""Replays the training golden (tools/gpu/goldens.safetensors) in PyTorch/transformers.

Loads the CPU backend's initial weights into transformers' GPT2LMHeadModel, trains the same
20 steps on the same batches with torch.optim.AdamW (decay on rank >= 2 tensors, as Strata)
and clip_grad_norm_, and prints how far PyTorch's losses and final weights are from
Strata's CPU goldens — the outside reference for the GPU selftest's training check, and a
measure of how much Adam amplifies float rounding over 20 steps (the GPU's final weights
are compared against the same goldens). Run by hand; CI does not need torch.
"""
import json, sys
import torch
from safetensors import safe_open
from transformers import GPT2Config, GPT2LMHeadModel

path = sys.argv[1] if len(sys.argv) > 1 else "tools/gpu/goldens.safetensors"
f = safe_open(path, "pt")
meta = f.metadata()
L, H, C, V, P = map(int, meta["train.model"].split(","))
B, T, S = map(int, meta["train.batch"].split(","))
num = lambda k: float(meta["train." + k])
cfg = GPT2Config(vocab_size=V, n_positions=P, n_embd=C, n_layer=L, n_head=H, resid_pdrop=0, embd_pdrop=0, attn_pdrop=0,
                 activation_function="gelu_new", layer_norm_epsilon=1e-5)
torch.manual_seed(0)
model = GPT2LMHeadModel(cfg).double() if "--double" in sys.argv else GPT2LMHeadModel(cfg)
dtype = next(model.parameters()).dtype
names = [k[len("train.init."):] for k in f.keys() if k.startswith("train.init.")]
sd = {n: f.get_tensor("train.init." + n).to(dtype) for n in names}
missing = model.load_state_dict(sd, strict=False)
params = dict(model.named_parameters())
decay = [p for n, p in params.items() if p.dim() >= 2]
no_decay = [p for n, p in params.items() if p.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": num("weight_decay")}, {"params": no_decay, "weight_decay": 0.0}],
                        lr=num("lr"), betas=(num("beta1"), num("beta2")), eps=num("eps"))
ids = f.get_tensor("train.ids").long().view(S, B, T)
targets = f.get_tensor("train.targets").long().view(S, B, T)
cpu_losses = f.get_tensor("train.losses")
losses = []
for s in range(S):
    opt.zero_grad()
    logits = model(ids[s]).logits
    loss = torch.nn.functional.cross_entropy(logits.view(-1, V), targets[s].view(-1), ignore_index=-100)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), num("clip"))
    opt.step()
    losses.append(loss.item())
dl = max(abs(a - b) for a, b in zip(losses, cpu_losses.tolist()))
worst, worst_name = 0.0, ""
for n in names:
    if n == "lm_head.weight": continue
    want = f.get_tensor("train.final." + n).double()
    got = params[n].detach().double()
    err = ((got - want).abs().max() / want.abs().max()).item()
    if err > worst: worst, worst_name = err, n
print(json.dumps({"dtype": str(dtype), "max_loss_diff_vs_strata_cpu": dl, "final_weights_worst_rel": worst, "worst_tensor": worst_name}))
