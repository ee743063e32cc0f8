#!/usr/bin/env python3
"""Hits@k and MRR of the answers `sift batch` prints, judged by page: what a user reading the printed list sees.

Usage: Scripts/eval/printed_answers.py LABELS.jsonl ANSWERS.jsonl [k=5]
LABELS is an eval labels file ({"id", "question", "relevant"}); ANSWERS is `sift batch` output for the same ids
(e.g. `sift batch -p P LABELS.jsonl -o ANSWERS.jsonl --set answers.group_by=none`). A question counts as a hit when
a relevant page is among the first k printed answers; MRR uses the first printed answer from a relevant page.
"""
import json
import sys


def pages(relevant):
    targets = relevant if isinstance(relevant, list) else [t for t, g in relevant.items() if g > 0]
    return {t.split("#", 1)[0] for t in targets}


def main():
    labels_path, answers_path = sys.argv[1], sys.argv[2]
    k = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    labels = {}
    with open(labels_path) as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                labels[d["id"]] = pages(d["relevant"])
    hits = rr = n = distinct = 0
    with open(answers_path) as f:
        for line in f:
            d = json.loads(line)
            if d.get("id") not in labels:
                continue
            n += 1
            shown = [a["document_id"] for a in d["answers"][:k]]
            distinct += len(set(shown))
            rank = next((i + 1 for i, p in enumerate(shown) if p in labels[d["id"]]), None)
            hits += rank is not None
            rr += 1 / rank if rank else 0
    if n == 0:
        sys.exit("no answered question matches a label id")
    print(f"questions {n}  printed Hits@{k} {hits / n:.3f}  MRR@{k} {rr / n:.3f}  distinct pages per list {distinct / n:.2f}")


if __name__ == "__main__":
    main()
