#!/usr/bin/env python3
"""PyTorch peer of `sift-bench train`: the same model, synthetic ids, batch, sequence length, losses and optimizer
(AdamW lr 2e-5, weight decay 0.01 off biases and LayerNorm, clipping to norm 1, dropout 0.1 as in training mode),
timed the same way (one warm-up step, then --steps steps).

    ~/.cache/sift-venv/bin/python Benchmarks/peers/train_peer.py --kind embedder --batch-size 32 --length 128

embedder: sentence-transformers' computation of MultipleNegativesRankingLoss (mean pooling, normalize, cos · 20,
cross-entropy) on (anchor, positive) pairs; reranker: BertForSequenceClassification (one label, fresh head) with
BCEWithLogitsLoss, as sentence-transformers' CrossEncoder trains it. Threads: torch's default (all cores).
"""
import argparse
import resource
import time

import torch
import torch.nn.functional as F
from transformers import BertForSequenceClassification, BertModel

p = argparse.ArgumentParser()
p.add_argument("--model", default="Models/all-MiniLM-L6-v2")
p.add_argument("--kind", default="embedder", choices=["embedder", "reranker"])
p.add_argument("--batch-size", type=int, default=32)
p.add_argument("--length", type=int, default=128)
p.add_argument("--steps", type=int, default=5)
p.add_argument("--no-dropout", action="store_true", help="dropout off (to compare losses with Sift step by step)")
a = p.parse_args()
torch.manual_seed(42)
bi = a.kind == "embedder"
extra = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0} if a.no_dropout else {}
model = BertModel.from_pretrained(a.model, add_pooling_layer=False, **extra) if bi else \
    BertForSequenceClassification.from_pretrained(a.model, num_labels=1, **extra)
model.train()
decay = [p for n, p in model.named_parameters() if not ("bias" in n or "LayerNorm" in n)]
rest = [p for n, p in model.named_parameters() if "bias" in n or "LayerNorm" in n]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}], lr=2e-5)
# The same schedule as sift-bench train: one warm-up step, then linear decay to 0 after the last step.
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: s / 1 if s < 1 else max(0.0, (a.steps + 1 - s) / a.steps))


def ids(i):
    return [101] + [1000 + (i * 7919 + j * 104729) % 28000 for j in range(1, a.length - 1)] + [102]


def step(s):
    base = s * a.batch_size * 2
    if bi:
        batch = torch.tensor([ids(base + k) for k in range(2 * a.batch_size)])
        hidden = model(input_ids=batch, attention_mask=torch.ones_like(batch)).last_hidden_state
        emb = F.normalize(hidden.mean(1), dim=1)
        scores = emb[0::2] @ emb[1::2].T * 20
        loss = F.cross_entropy(scores, torch.arange(a.batch_size))
    else:
        batch = torch.tensor([ids(base + k) for k in range(a.batch_size)])
        types = torch.tensor([[0 if j < a.length // 2 else 1 for j in range(a.length)]] * a.batch_size)
        logits = model(input_ids=batch, token_type_ids=types, attention_mask=torch.ones_like(batch)).logits.view(-1)
        loss = F.binary_cross_entropy_with_logits(logits, torch.tensor([float(k % 2) for k in range(a.batch_size)]))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
    opt.zero_grad()
    return loss.item()


losses = [step(0)]
start, cpu = time.perf_counter(), time.process_time()
for s in range(1, a.steps + 1):
    loss = step(s)
    losses.append(loss)
if a.no_dropout:
    print("losses: " + " ".join(f"{v:.5f}" for v in losses))
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"torch train {a.kind}: {a.steps * a.batch_size / seconds:.1f} samples/s (batch {a.batch_size} × {a.length} tokens, "
      f"{a.steps} steps in {seconds:.2f} s, cpu {cpu:.2f} s, {torch.get_num_threads()} threads), loss {loss:.4f}, "
      f"peak RSS {peak:.0f} MiB")
