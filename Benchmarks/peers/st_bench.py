#!/usr/bin/env python3
"""sentence-transformers peer of `sift-bench encode` / `sift-bench rerank` (same inputs, same settings).

    HF_HUB_OFFLINE=1 /work/venv/bin/python Benchmarks/peers/st_bench.py encode --model DIR --passages FILE
    HF_HUB_OFFLINE=1 /work/venv/bin/python Benchmarks/peers/st_bench.py rerank --model DIR --pairs 100
"""
import argparse
import json
import time

import torch

QUESTIONS = [
    "How do I read a file line by line?", "What does the with statement do?", "How can I sort a list of dictionaries by a key?",
    "What is a generator?", "How do I handle exceptions?", "What is the difference between a list and a tuple?",
    "How do I create a virtual environment?", "what is the GIL", "How are reference counts managed in the C API?",
    "How do I format strings with f-strings?",
]


def load(path, limit=None):
    texts = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                texts.append(json.loads(line)["text"])
                if limit and len(texts) == limit:
                    break
    return texts


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["encode", "rerank"])
    p.add_argument("--model")
    p.add_argument("--passages", default="Benchmarks/results/passages.jsonl")
    p.add_argument("--max-seq-length", type=int, default=256)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--pairs", type=int, default=100)
    p.add_argument("--limit", type=int)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.what == "encode":
        from sentence_transformers import SentenceTransformer
        texts = load(a.passages, a.limit)
        model = SentenceTransformer(a.model or "Models/all-MiniLM-L6-v2", device="cpu")
        model.max_seq_length = a.max_seq_length
        model.encode(texts[: a.batch_size], batch_size=a.batch_size)
        start, cpu = time.perf_counter(), time.process_time()
        model.encode(texts, batch_size=a.batch_size)
        s, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(f"st encode: {len(texts)} passages in {s:.2f} s = {len(texts) / s:.1f} passages/s, batch {a.batch_size}, cpu {cpu:.2f} s")
    else:
        from sentence_transformers import CrossEncoder
        texts = load(a.passages, a.pairs)
        pairs = [(QUESTIONS[i % len(QUESTIONS)], texts[i % len(texts)]) for i in range(a.pairs)]
        model = CrossEncoder(a.model or "Tests/Fixtures/generated/random-cross-encoder", device="cpu", max_length=a.max_length)
        model.predict(pairs[: a.batch_size], batch_size=a.batch_size)
        start, cpu = time.perf_counter(), time.process_time()
        model.predict(pairs, batch_size=a.batch_size)
        s, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(f"st rerank: {a.pairs} pairs in {s:.2f} s = {s * 1000 * 100 / a.pairs:.0f} ms per 100 pairs, batch {a.batch_size}, cpu {cpu:.2f} s")


if __name__ == "__main__":
    main()
