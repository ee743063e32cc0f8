import Foundation
import SiftTestSupport
import Testing
@testable import SiftEval

/// Compares against Tests/Fixtures/eval/metric_reference.json, written by Scripts/eval/make_metric_fixture.py
/// from pytrec_eval 0.5 (trec_eval 9) and sentence-transformers' InformationRetrievalEvaluator.
/// Tolerance 1e-9: both sides compute in double precision; only summation order differs.
@Suite struct ReferenceMetricsTests {
    struct Reference: Decodable {
        struct PerQuery: Decodable {
            var per_query: [String: [String: Double]]
            var mean: [String: Double]
        }
        struct MRRCut: Decodable {
            var per_query: [String: Double]
            var mean: Double
        }
        struct ST: Decodable {
            var evaluated_queries: Int
            var mean: [String: Double]
        }
        var qrels: [String: [String: Int]]
        var run: [String: [String: Double]]
        var pytrec_eval: PerQuery
        var mrr_cut: [String: MRRCut]
        var sentence_transformers: ST
    }

    let tolerance = 1e-9

    func load() throws -> (Reference, Rankings) {
        let url = TestPaths.fixtures.appendingPathComponent("eval/metric_reference.json")
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        let rankings = reference.run.mapValues { $0.map { ScoredID($0.key, $0.value) } }
        return (reference, rankings)
    }

    /// pytrec_eval measure name → SiftEval metric (`recip_rank` has no cutoff: any k ≥ the longest ranking).
    func metric(_ name: String) -> Metric? {
        let prefixes: [(String, (Int) -> Metric)] = [
            ("ndcg_cut_", Metric.ndcg), ("map_cut_", Metric.map), ("recall_", Metric.recall),
            ("P_", Metric.precision), ("success_", Metric.hits), ("recip_rank_cut_", Metric.mrr),
        ]
        if name == "recip_rank" { return .mrr(1_000_000) }
        for (prefix, make) in prefixes where name.hasPrefix(prefix) {
            return Int(name.dropFirst(prefix.count)).map(make)
        }
        return nil
    }

    @Test func matchesPytrecEvalPerQueryAndMean() throws {
        let (reference, rankings) = try load()
        let names = Array(reference.pytrec_eval.mean.keys) + Array(reference.mrr_cut.keys)
        let metrics = try names.map { try #require(metric($0), "unmapped measure \($0)") }
        // pytrec_eval evaluates the judged queries present in the run.
        let result = evaluate(rankings: rankings, qrels: Qrels(reference.qrels), metrics: metrics,
                              options: EvaluationOptions(missingRankings: .skip))
        #expect(result.evaluatedQueryCount == reference.pytrec_eval.per_query.count)
        #expect(Set(result.perQuery.keys) == Set(reference.pytrec_eval.per_query.keys))
        for (name, expected) in reference.pytrec_eval.mean {
            #expect(abs(result.mean[metric(name)!]! - expected) < tolerance, "\(name)")
            for (query, values) in reference.pytrec_eval.per_query {
                #expect(abs(result.perQuery[query]![metric(name)!]! - values[name]!) < tolerance, "\(name) \(query)")
            }
        }
        for (name, expected) in reference.mrr_cut {
            #expect(abs(result.mean[metric(name)!]! - expected.mean) < tolerance, "\(name)")
        }
    }

    @Test func matchesSentenceTransformersEvaluator() throws {
        let (reference, rankings) = try load()
        let stNames: [String: (Int) -> Metric] = [
            "ndcg": Metric.ndcg, "map": Metric.map, "recall": Metric.recall, "precision": Metric.precision,
            "accuracy": Metric.hits, "mrr": Metric.mrr,
        ]
        var expected: [Metric: Double] = [:]
        for (name, value) in reference.sentence_transformers.mean {
            let parts = name.split(separator: "@")
            let make = try #require(stNames[String(parts[0])], "unmapped ST metric \(name)")
            expected[make(Int(parts[1])!)] = value
        }
        // ST evaluates every judged query with a relevant document, an absent ranking counting as empty.
        let result = evaluate(rankings: rankings, qrels: Qrels(reference.qrels), metrics: Array(expected.keys),
                              options: EvaluationOptions(convention: .sentenceTransformers, missingRankings: .countAsZero))
        #expect(result.evaluatedQueryCount == reference.sentence_transformers.evaluated_queries)
        for (metric, value) in expected {
            #expect(abs(result.mean[metric]! - value) < tolerance, "\(metric)")
        }
    }
}
