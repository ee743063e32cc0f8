"""Reference dense-retrieval numbers on Tests/Fixtures/eval/beir-mini, for SiftEval's end-to-end test.

Retrieval: sentence-transformers + all-MiniLM-L6-v2 (its modules: mean pooling, L2 normalisation, max_seq_length
256), corpus text = BEIR's `(title + " " + text).strip()`, exact cosine top-100 with util.semantic_search.
Evaluation:
  - "pytrec_eval" (trec_eval 9 via pytrec_eval-terrier; the numbers BEIR reports, unrounded): nDCG@10 (graded
    gains: grade 2 for a section's first passage, 1 for the rest), Recall@100, MAP@100 (`map_cut.100`: divided by
    all relevant passages), P@10, success@1/@10 (Hits). All 100 retrieved passages per query form the run.
  - MRR@10 is computed here: trec_eval's `recip_rank` has no cutoff, so the run is sorted as trec_eval sorts it
    (score descending, ties by docno descending) and 1/rank of the first relevant passage counts if rank <= 10.
  - "sentence_transformers": InformationRetrievalEvaluator on the same model and data (its own exact cosine
    search; binary relevance, so its nDCG@10 differs from the graded one; MAP@100 divides by min(100, R)).
Every query of the folder has qrels with a relevant passage, so the query-set conventions agree here.

Writes Tests/Fixtures/eval/beir-mini-reference.json.
Run: HF_HUB_OFFLINE=1 /work/venv/bin/python Scripts/eval/beir_reference.py
"""
import json
import os
import pathlib
import platform
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytrec_eval
import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer, util
from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

ROOT = pathlib.Path(__file__).resolve().parents[2]
FOLDER = ROOT / "Tests/Fixtures/eval/beir-mini"
MODEL = ROOT / "Models/all-MiniLM-L6-v2"
OUT = ROOT / "Tests/Fixtures/eval/beir-mini-reference.json"
TOP_K = 100


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    corpus = {d["_id"]: d for d in read_jsonl(FOLDER / "corpus.jsonl")}
    queries = {q["_id"]: q["text"] for q in read_jsonl(FOLDER / "queries.jsonl")}
    qrels = {}
    with open(FOLDER / "qrels/test.tsv") as f:
        next(f)
        for line in f:
            qid, cid, grade = line.rstrip("\n").split("\t")
            qrels.setdefault(qid, {})[cid] = int(grade)

    torch.manual_seed(0)
    model = SentenceTransformer(str(MODEL), device="cpu")
    corpus_ids = list(corpus)
    texts = [(corpus[c].get("title", "") + " " + corpus[c]["text"]).strip() for c in corpus_ids]
    query_ids = [q for q in queries if q in qrels]
    start = time.perf_counter()
    corpus_embeddings = model.encode(texts, batch_size=32, convert_to_tensor=True)
    encode_seconds = time.perf_counter() - start
    query_embeddings = model.encode([queries[q] for q in query_ids], batch_size=32, convert_to_tensor=True)
    hits = util.semantic_search(query_embeddings, corpus_embeddings, top_k=TOP_K)
    run = {q: {corpus_ids[h["corpus_id"]]: float(h["score"]) for h in hs} for q, hs in zip(query_ids, hits)}

    measures = {"ndcg_cut.10", "recall.1,5,10,100", "map_cut.100", "P.10", "success.1,10", "recip_rank"}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    names = sorted(next(iter(per_query.values())))
    trec = {n: sum(v[n] for v in per_query.values()) / len(per_query) for n in names}
    mrr10 = {}
    for q, ranking in run.items():
        ordered = sorted(ranking.items(), key=lambda item: (item[1], item[0]), reverse=True)
        rank = next((i + 1 for i, (d, _) in enumerate(ordered) if qrels[q].get(d, 0) > 0), None)
        mrr10[q] = 1.0 / rank if rank is not None and rank <= 10 else 0.0
    trec["recip_rank_cut_10"] = sum(mrr10.values()) / len(mrr10)

    evaluator = InformationRetrievalEvaluator(
        queries=queries, corpus={c: t for c, t in zip(corpus_ids, texts)},
        relevant_docs={q: {d for d, g in j.items() if g > 0} for q, j in qrels.items()},
        mrr_at_k=[10], ndcg_at_k=[10], accuracy_at_k=[1, 10], precision_recall_at_k=[10, 100], map_at_k=[100],
        show_progress_bar=False, name="beir-mini")
    st = {k.removeprefix("beir-mini_"): float(v) for k, v in evaluator(model).items()}

    top10 = {q: [d for d, _ in sorted(r.items(), key=lambda item: (item[1], item[0]), reverse=True)[:10]]
             for q, r in run.items()}
    OUT.write_text(json.dumps({
        "notes": __doc__.strip(),
        "model": "all-MiniLM-L6-v2 (Models/all-MiniLM-L6-v2)",
        "versions": {"sentence_transformers": sentence_transformers.__version__, "torch": torch.__version__,
                     "pytrec_eval": "pytrec_eval-terrier", "python": platform.python_version()},
        "corpus_size": len(corpus), "queries": len(query_ids), "top_k": TOP_K,
        "corpus_encode_seconds": round(encode_seconds, 2),
        "pytrec_eval": trec,
        "sentence_transformers": st,
        "top10": top10,
    }, indent=1, sort_keys=True) + "\n")
    print(json.dumps({"pytrec_eval": trec, "sentence_transformers": st, "encode_seconds": encode_seconds}, indent=1))


if __name__ == "__main__":
    main()
