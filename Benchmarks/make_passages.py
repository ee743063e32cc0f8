#!/usr/bin/env python3
"""1,000 benchmark passages from the python3.11-doc HTML (chunk-sized: consecutive paragraphs of
one page joined to 600-1500 characters, i.e. roughly 120-300 tokens), deterministic.

    /work/venv/bin/python Benchmarks/make_passages.py [OUT]   (default Benchmarks/results/passages.jsonl)

Paragraph extraction is shared with Scripts/fixtures/make_tokenizer_fixtures.py.
"""
import hashlib
import importlib.util
import json
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
spec = importlib.util.spec_from_file_location("tokfix", os.path.join(ROOT, "Scripts/fixtures/make_tokenizer_fixtures.py"))
tokfix = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tokfix)

COUNT = 1000


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "Benchmarks/results/passages.jsonl")
    candidates = []
    for rel, paras in tokfix.page_paragraphs():
        joined, start = [], 0
        for i, p in enumerate(paras):
            joined.append(p)
            size = sum(len(x) + 1 for x in joined)
            if size >= 600:
                text = "\n\n".join(joined)[:1500]
                candidates.append((hashlib.sha1(text.encode()).hexdigest(), f"{rel}#p{start}-p{i}", text))
                joined, start = [], i + 1
    candidates.sort()
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        for _, pid, text in candidates[:COUNT]:
            f.write(json.dumps({"id": pid, "text": text}, ensure_ascii=False) + "\n")
    print(f"wrote {min(COUNT, len(candidates))} passages to {out}")


if __name__ == "__main__":
    main()
