#!/usr/bin/env python3
"""A cross-encoder with *trained* transformer weights, for numeric parity measurements only.

    /work/venv/bin/python Benchmarks/peers/make_minilm_cross_encoder.py [OUT]
    (default OUT: Benchmarks/results/minilm-cross-encoder, git-ignored; then
     CROSS_ENCODER=Benchmarks/results/minilm-cross-encoder Benchmarks/run)

Why: no pretrained cross-encoder can be downloaded here, and the random ms-marco-MiniLM-L-6-v2-shaped checkpoint
(Scripts/fixtures/make_model_fixtures.py) has random-init statistics (std 0.02 weights, near-uniform attention) that
amplify rounding differently from a trained model: OpenVINO moves its logits by 0.07 where the issue measured 8e-4
on the real model. all-MiniLM-L6-v2 has exactly that model's shape (6 layers, hidden 384, 12 heads, intermediate
1536, 512 positions, 2 token types), so its encoder and pooler make a BertForSequenceClassification whose body has
trained weights. Only the one-output classifier is new: fitted here by ridge regression from the pooled [CLS] of
(question, passage) pairs to 10 x the bi-encoder's cosine of the same question and passage, so the head reads the
pooled features the way a trained head does and the logits spread over a few units. The fit uses passages 100-599
of Benchmarks/results/passages.jsonl; Benchmarks/run re-ranks passages 0-99, so the measured pairs are unseen.

This model ranks no better than the bi-encoder it imitates and is not a re-ranker: use it to measure how far each
precision moves logits of a trained network, never to claim relevance.
"""
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
MINILM = ROOT / "Models" / "all-MiniLM-L6-v2"
PASSAGES = ROOT / "Benchmarks" / "results" / "passages.jsonl"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from st_bench import QUESTIONS  # noqa: E402  (the questions Benchmarks/run pairs with passages)

FIT_PASSAGES = range(100, 600)
RIDGE = 1e-2  # relative to the mean diagonal of XᵀX


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "Benchmarks" / "results" / "minilm-cross-encoder"
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    torch.set_num_threads(2)
    texts = [json.loads(line)["text"] for line in PASSAGES.read_text().splitlines() if line.strip()]
    config = BertConfig.from_pretrained(MINILM)
    config.num_labels = 1
    config.architectures = ["BertForSequenceClassification"]
    model = BertForSequenceClassification.from_pretrained(MINILM, config=config).eval()
    tokenizer = AutoTokenizer.from_pretrained(MINILM)

    pairs = [(QUESTIONS[i % len(QUESTIONS)], texts[i]) for i in FIT_PASSAGES]
    bi = SentenceTransformer(str(MINILM), device="cpu")
    q = bi.encode([p[0] for p in pairs], normalize_embeddings=True, convert_to_numpy=True)
    d = bi.encode([p[1] for p in pairs], normalize_embeddings=True, convert_to_numpy=True)
    target = 10.0 * (q * d).sum(axis=1)

    pooled = []
    with torch.no_grad():
        for start in range(0, len(pairs), 32):
            batch = pairs[start:start + 32]
            enc = tokenizer([p[0] for p in batch], [p[1] for p in batch], truncation=True, max_length=512,
                            padding=True, return_tensors="pt")
            pooled.append(model.bert(**enc).pooler_output.numpy())
    x = np.concatenate(pooled).astype(np.float64)
    mean_x, mean_t = x.mean(axis=0), target.mean()
    xc = x - mean_x
    gram = xc.T @ xc
    gram += RIDGE * np.trace(gram) / gram.shape[0] * np.eye(gram.shape[0])
    w = np.linalg.solve(gram, xc.T @ (target - mean_t))
    b = mean_t - mean_x @ w
    fitted = x @ w + b
    with torch.no_grad():
        model.classifier.weight.copy_(torch.tensor(w, dtype=torch.float32).unsqueeze(0))
        model.classifier.bias.copy_(torch.tensor([b], dtype=torch.float32))

    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    for name in ("vocab.txt", "special_tokens_map.json"):  # the files Sift's WordPiece loader reads
        shutil.copy(MINILM / name, out / name)
    corr = float(np.corrcoef(fitted, target)[0, 1])
    print(f"wrote {out}: head fitted on {len(pairs)} pairs, logits mean {fitted.mean():.2f} std {fitted.std():.2f} "
          f"(target std {target.std():.2f}, correlation {corr:.3f}), |w| {np.linalg.norm(w):.2f}")


if __name__ == "__main__":
    main()
