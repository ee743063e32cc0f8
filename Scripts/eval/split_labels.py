#!/usr/bin/env python3
"""Split an eval labels file into dev and test by a hash of each question's id, the rule the PostgreSQL and SQLite
question sets use (sha1(id) mod 5 < 2 -> dev, about 40 %), so `sift eval --tune` can choose on dev and report test.

Usage: Scripts/eval/split_labels.py LABELS.jsonl        writes LABELS.dev.jsonl and LABELS.test.jsonl beside it
The split depends only on the ids, so adding questions never moves an old one to the other side.
"""
import hashlib
import json
import sys
from pathlib import Path


def split_of(qid):
    return "dev" if int(hashlib.sha1(qid.encode()).hexdigest(), 16) % 5 < 2 else "test"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    source = Path(sys.argv[1])
    stem = source.name[:-len(".jsonl")] if source.name.endswith(".jsonl") else source.stem
    stem = stem[:-len(".labels")] if stem.endswith(".labels") else stem
    splits = {"dev": [], "test": []}
    with source.open() as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            record = json.loads(line)
            if "id" not in record:
                sys.exit(f"{source}:{number}: a question without an id cannot be split stably")
            splits[split_of(str(record["id"]))].append(line.rstrip("\n"))
    for name, lines in splits.items():
        target = source.with_name(f"{stem}.{name}.jsonl")
        target.write_text("".join(line + "\n" for line in lines))
        print(f"{target}: {len(lines)} questions")


if __name__ == "__main__":
    main()
