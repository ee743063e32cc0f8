#!/usr/bin/env python3
"""Loads a folder written by `sift train` in sentence-transformers and checks its outputs against Sift's.

    python Scripts/check_trained_model.py embedder FOLDER CASES.json
    python Scripts/check_trained_model.py reranker FOLDER CASES.json

CASES.json: {"texts": [...], "embeddings": [[...], ...]} for an embedder (SentenceTransformer(FOLDER).encode),
{"pairs": [[q, p], ...], "logits": [...]} for a re-ranker (CrossEncoder(FOLDER).predict with the identity
activation, and transformers' AutoModelForSequenceClassification on the same pairs). Prints the largest absolute
difference and exits 1 when it is above 1e-4. Used by Tests/SiftTrainingTests/TrainerTests.swift when the
reference venv (Scripts/setup --python) exists.
"""
import json
import sys

import numpy as np
import torch

kind, folder, cases = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
if kind == "embedder":
    from sentence_transformers import SentenceTransformer
    ours = np.array(cases["embeddings"], dtype=np.float32)
    theirs = SentenceTransformer(folder, device="cpu").encode(cases["texts"], convert_to_numpy=True)
    worst = float(np.abs(ours - theirs).max())
else:
    from sentence_transformers import CrossEncoder
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    ours = np.array(cases["logits"], dtype=np.float32)
    pairs = [tuple(p) for p in cases["pairs"]]
    st = CrossEncoder(folder, device="cpu").predict(pairs, activation_fn=torch.nn.Identity(), convert_to_numpy=True)
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    with torch.no_grad():
        batch = tok([p[0] for p in pairs], [p[1] for p in pairs], padding=True, truncation=True, return_tensors="pt")
        hf = model(**batch).logits.view(-1).numpy()
    worst = float(max(np.abs(ours - st.reshape(-1)).max(), np.abs(ours - hf).max()))
print(f"{kind}: max |sift − sentence-transformers| = {worst:.2e}")
sys.exit(0 if worst <= 1e-4 else 1)
