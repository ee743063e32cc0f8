#!/usr/bin/env python3
"""The Python peer for Benchmarks/serve/run: the sentence-transformers "Retrieve & Re-Rank" recipe behind FastAPI,
as a Python user would serve it, over the same chunks as Sift's index.

POST /v1/ask {"question", "top_k"?} embeds the question with sentence-transformers (all-MiniLM-L6-v2, the same
folder Sift loads), takes the dense top 50 (util.semantic_search over the chunk vectors, normalised) and the BM25
top 50 (rank_bm25's BM25Okapi over lower-cased word tokens), fuses them with RRF (k 60) and returns the first top_k
chunks with their source and text. No highlighting and no grouping, so it does less per question than Sift.
One uvicorn worker; FastAPI runs the plain `def` endpoint in its thread pool, torch uses the cores for each call.

    python Benchmarks/peers/serve_peer.py --index .sift/handbook --model Models/all-MiniLM-L6-v2 --port 8090
Needs fastapi, uvicorn and rank_bm25 in the reference venv (Benchmarks/serve/run installs them).
"""
import argparse
import json
import re
import sqlite3
from pathlib import Path

import torch
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from rank_bm25 import BM25Okapi
from sentence_transformers import SentenceTransformer, util


def load_chunks(index: Path):
    manifest = json.loads((index / "manifest.json").read_text())
    db = sqlite3.connect(index / manifest["databaseFile"])
    rows = db.execute(
        "SELECT c.chunk_id, d.path, c.anchor, c.text FROM chunks c JOIN documents d ON d.id = c.document_id ORDER BY c.rowid"
    ).fetchall()
    return [{"chunk_id": r[0], "source": r[1] + ("#" + r[2] if r[2] else ""), "text": r[3]} for r in rows]


def tokens(text: str):
    return re.findall(r"\w+", text.lower())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--model", default="Models/all-MiniLM-L6-v2")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args()

    chunks = load_chunks(args.index)
    model = SentenceTransformer(args.model, device="cpu")
    corpus = model.encode([c["text"] for c in chunks], convert_to_tensor=True, normalize_embeddings=True, batch_size=32)
    bm25 = BM25Okapi([tokens(c["text"]) for c in chunks])

    app = FastAPI()

    class Ask(BaseModel):
        question: str
        top_k: int = 5

    @app.post("/v1/ask")
    def ask(request: Ask):
        with torch.inference_mode():
            query = model.encode([request.question], convert_to_tensor=True, normalize_embeddings=True)
        dense = util.semantic_search(query, corpus, top_k=50)[0]
        scores = bm25.get_scores(tokens(request.question))
        lexical = sorted(range(len(chunks)), key=lambda i: -scores[i])[:50]
        fused = {}
        for rank, hit in enumerate(dense):
            fused[hit["corpus_id"]] = fused.get(hit["corpus_id"], 0.0) + 1.0 / (60 + rank + 1)
        for rank, i in enumerate(lexical):
            fused[i] = fused.get(i, 0.0) + 1.0 / (60 + rank + 1)
        best = sorted(fused.items(), key=lambda item: -item[1])[: request.top_k]
        return {"question": request.question,
                "answers": [{"rank": n + 1, "score": score, **chunks[i]} for n, (i, score) in enumerate(best)]}

    print(f"peer listening on http://127.0.0.1:{args.port}/ ({len(chunks)} chunks)", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
