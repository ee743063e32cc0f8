"""Reference metric values for SiftEval's unit tests, from pytrec_eval and sentence-transformers.

Builds a small synthetic run (graded qrels, tied scores, short rankings, queries without relevant
documents, judged queries without a ranking, ranked queries without qrels, mixed-case ids) and
writes Tests/Fixtures/eval/metric_reference.json with:
  - "pytrec_eval": per-query and mean values (trec_eval convention; pytrec_eval evaluates only the
    queries present in the run, i.e. SiftEval's missingRankings = .skip);
  - "mrr_cut": MRR@k computed here, because trec_eval's recip_rank has no cutoff: the run is sorted
    the way trec_eval sorts it (score descending, ties by docno descending) and the first relevant
    rank r gives 1/r if r <= k else 0;
  - "sentence_transformers": means from InformationRetrievalEvaluator.compute_metrics on the same run
    (binary relevance, ties by corpus id ascending, MAP@k / min(k, R), queries without relevant docs skipped;
    judged queries missing from the run get an empty ranking).

Run: /work/venv/bin/python Scripts/eval/make_metric_fixture.py
"""
import json
import pathlib
import random

import pytrec_eval
from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests/Fixtures/eval/metric_reference.json"
CUTS = [1, 5, 10, 100]


def synthetic():
    rng = random.Random(20261129)
    docs = [f"d{i}" for i in range(60)] + ["D1", "D2", "a10", "a9", "B", "b"]
    qrels, run = {}, {}
    for q in range(40):
        qid = f"q{q}"
        judged = rng.sample(docs, rng.randint(1, 6))
        if q % 9 == 4:  # judged, but nothing relevant
            qrels[qid] = {d: 0 for d in judged}
        else:
            qrels[qid] = {d: rng.choice([0, 1, 1, 2, 3]) for d in judged}
            if all(g == 0 for g in qrels[qid].values()):
                qrels[qid][judged[0]] = 1
        if q % 13 == 7:  # judged query the run lacks
            continue
        length = 0 if q % 17 == 11 else rng.choice([3, 8, 15, 40, 120])
        pool = list(set(judged) | set(rng.sample(docs, min(len(docs), length))))
        rng.shuffle(pool)
        # Scores on a coarse grid so ties are common.
        run[qid] = {d: round(rng.choice([0.5, 0.75, 1.0, 1.25, 1.5, 2.0, rng.random() * 3]), 2) for d in pool[:length]}
    run["unjudged"] = {"d1": 1.0, "d2": 0.5}
    return qrels, run


def trec_sorted(ranking):
    # trec_eval: score descending, then docno descending (strcmp), i.e. reverse of (score, docno) order.
    return sorted(ranking.items(), key=lambda item: (item[1], item[0]), reverse=True)


def main():
    qrels, run = synthetic()
    measures = {"ndcg_cut", "map_cut", "recall", "P", "success", "recip_rank"}
    measure_args = {f"{m}.{','.join(map(str, CUTS))}" if m != "recip_rank" else m for m in measures}
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, measure_args)
    per_query = evaluator.evaluate(run)
    names = sorted(next(iter(per_query.values())).keys())
    mean = {n: sum(v[n] for v in per_query.values()) / len(per_query) for n in names}

    mrr_cut = {}
    for k in CUTS:
        values = {}
        for qid in per_query:
            rank = next((i + 1 for i, (d, _) in enumerate(trec_sorted(run[qid])) if qrels[qid].get(d, 0) > 0), None)
            values[qid] = 1.0 / rank if rank is not None and rank <= k else 0.0
        mrr_cut[f"recip_rank_cut_{k}"] = {"per_query": values, "mean": sum(values.values()) / len(values)}

    relevant = {q: {d for d, g in j.items() if g > 0} for q, j in qrels.items()}
    all_docs = sorted({d for j in qrels.values() for d in j} | {d for r in run.values() for d in r})
    st = InformationRetrievalEvaluator(
        queries={q: q for q in qrels}, corpus={d: d for d in all_docs}, relevant_docs=relevant,
        mrr_at_k=CUTS, ndcg_at_k=CUTS, accuracy_at_k=CUTS, precision_recall_at_k=CUTS, map_at_k=CUTS,
        show_progress_bar=False)
    results = [[{"corpus_id": d, "score": s} for d, s in run.get(q, {}).items()] for q in st.queries_ids]
    st_scores = st.compute_metrics(results)
    st_mean = {f"{name.removesuffix('@k')}@{k}": float(v) for name, by_k in st_scores.items() for k, v in by_k.items()}

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "notes": __doc__.strip(),
        "qrels": qrels,
        "run": run,
        "pytrec_eval": {"per_query": per_query, "mean": mean},
        "mrr_cut": mrr_cut,
        "sentence_transformers": {"evaluated_queries": len(st.queries_ids), "mean": st_mean},
    }, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes); {len(per_query)} queries evaluated by pytrec_eval, "
          f"{len(st.queries_ids)} by ST")


if __name__ == "__main__":
    main()
