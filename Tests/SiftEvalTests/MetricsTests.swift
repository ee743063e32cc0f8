import Foundation
import Testing
@testable import SiftEval

/// Hand-computed cases. Tolerance 1e-12: every value is a short sum of exact-ish doubles.
@Suite struct MetricsTests {
    let tolerance = 1e-12

    func ids(_ items: [(String, Double)]) -> [ScoredID] { items.map { ScoredID($0.0, $0.1) } }

    @Test func tiesAreBrokenByDescendingIDLikeTrecEvalAndAscendingLikeST() {
        let ranking = ids([("a", 1), ("b", 1), ("c", 1)])
        let trec = evaluateQuery(ranking: ranking, judgements: ["a": 1], metrics: [.mrr(10), .ndcg(10), .hits(1)])
        // trec_eval order c, b, a: the relevant "a" is third.
        #expect(abs(trec[.mrr(10)]! - 1.0 / 3) < tolerance)
        #expect(abs(trec[.ndcg(10)]! - 1 / log2(4.0)) < tolerance)
        #expect(trec[.hits(1)] == 0)
        let st = evaluateQuery(ranking: ranking, judgements: ["a": 1], metrics: [.mrr(10)], convention: .sentenceTransformers)
        #expect(st[.mrr(10)] == 1)
        // Byte order, not Unicode collation: "a" (0x61) > "B" (0x42) > "A" (0x41); "a9" > "a10".
        #expect(sortRanking(ids([("A", 1), ("a", 1), ("B", 1)]), convention: .trecEval).map(\.id) == ["a", "B", "A"])
        #expect(sortRanking(ids([("a10", 1), ("a9", 1)]), convention: .trecEval).map(\.id) == ["a9", "a10"])
        // Higher score always wins over id order.
        #expect(sortRanking(ids([("z", 1), ("a", 2)]), convention: .trecEval).map(\.id) == ["a", "z"])
    }

    @Test func gradedRelevance() {
        let values = evaluateQuery(ranking: ids([("b", 4), ("a", 3), ("c", 2), ("x", 1)]),
                                   judgements: ["a": 3, "b": 1, "c": 0],
                                   metrics: [.ndcg(10), .ndcg(1), .map(100), .recall(1), .precision(5), .mrr(10)])
        let dcg = 1.0 / log2(2.0) + 3.0 / log2(3.0)
        let ideal = 3.0 / log2(2.0) + 1.0 / log2(3.0)
        #expect(abs(values[.ndcg(10)]! - dcg / ideal) < tolerance)
        #expect(abs(values[.ndcg(1)]! - 1.0 / 3.0) < tolerance) // gain 1 at rank 1, ideal gain 3
        #expect(values[.map(100)] == 1) // relevant at ranks 1 and 2: (1/1 + 2/2) / 2
        #expect(values[.recall(1)] == 0.5)
        #expect(values[.precision(5)] == 0.4)
        #expect(values[.mrr(10)] == 1)
        // ST ignores grades: binary nDCG@10 = (1 + 1/log2 3) / (1 + 1/log2 3) = 1.
        let st = evaluateQuery(ranking: ids([("b", 4), ("a", 3)]), judgements: ["a": 3, "b": 1],
                               metrics: [.ndcg(10)], convention: .sentenceTransformers)
        #expect(abs(st[.ndcg(10)]! - 1) < tolerance)
    }

    @Test func cutoffLargerThanRanking() {
        let values = evaluateQuery(ranking: ids([("a", 1)]), judgements: ["a": 1, "b": 1],
                                   metrics: [.precision(10), .recall(100), .ndcg(10), .map(100), .hits(100)])
        #expect(abs(values[.precision(10)]! - 0.1) < tolerance) // divided by k, not by the ranking length
        #expect(values[.recall(100)] == 0.5)
        #expect(abs(values[.ndcg(10)]! - 1 / (1 + 1 / log2(3.0))) < tolerance)
        #expect(values[.map(100)] == 0.5) // trec_eval divides by all relevant documents
        #expect(values[.hits(100)] == 1)
        let st = evaluateQuery(ranking: ids([("x", 2), ("a", 1)]), judgements: ["a": 1, "b": 1],
                               metrics: [.map(1), .map(10)], convention: .sentenceTransformers)
        #expect(st[.map(1)] == 0) // relevant item at rank 2 is outside k = 1
        #expect(st[.map(10)] == 0.25) // (1/2) / min(10, 2)
    }

    @Test func queriesWithoutRelevantDocumentsFollowTheConvention() {
        let qrels = Qrels(["none": ["a": 0], "some": ["a": 1]])
        let rankings: Rankings = ["none": ids([("a", 1)]), "some": ids([("a", 1)])]
        let trec = evaluate(rankings: rankings, qrels: qrels, metrics: [.ndcg(10), .recall(10), .map(10)])
        #expect(trec.evaluatedQueryCount == 2) // pytrec_eval evaluates it, with zeros
        #expect(trec.perQuery["none"]![.ndcg(10)] == 0 && trec.perQuery["none"]![.recall(10)] == 0)
        #expect(trec.mean[.ndcg(10)] == 0.5)
        let st = evaluate(rankings: rankings, qrels: qrels, metrics: [.ndcg(10)],
                          options: EvaluationOptions(convention: .sentenceTransformers))
        #expect(st.skippedQueries == ["none"])
        #expect(st.mean[.ndcg(10)] == 1)
    }

    @Test func missingRankingsAndMissingQrels() {
        let qrels = Qrels(["q1": ["a": 1], "q2": ["b": 1]])
        let rankings: Rankings = ["q1": ids([("a", 1)]), "unjudged": ids([("a", 1)])]
        let zero = evaluate(rankings: rankings, qrels: qrels, metrics: [.mrr(10)])
        #expect(zero.evaluatedQueryCount == 2)
        #expect(zero.mean[.mrr(10)] == 0.5)
        #expect(zero.unjudgedQueries == ["unjudged"])
        let skip = evaluate(rankings: rankings, qrels: qrels, metrics: [.mrr(10)],
                            options: EvaluationOptions(missingRankings: .skip))
        #expect(skip.skippedQueries == ["q2"])
        #expect(skip.mean[.mrr(10)] == 1)
        let nothing = evaluate(rankings: [:], qrels: Qrels(), metrics: [.mrr(10)])
        #expect(nothing.mean[.mrr(10)] == 0 && nothing.evaluatedQueryCount == 0)
    }

    @Test func identicalIDsCanBeIgnored() {
        let qrels = Qrels(["q1": ["a": 1]])
        let rankings: Rankings = ["q1": ids([("q1", 2), ("a", 1)])]
        #expect(evaluate(rankings: rankings, qrels: qrels, metrics: [.mrr(10)]).mean[.mrr(10)] == 0.5)
        let ignoring = evaluate(rankings: rankings, qrels: qrels, metrics: [.mrr(10)],
                                options: EvaluationOptions(ignoreIdenticalIDs: true))
        #expect(ignoring.mean[.mrr(10)] == 1)
    }

    @Test func duplicateIDsKeepTheirBestScore() {
        let sorted = sortRanking(ids([("a", 0.1), ("b", 0.5), ("a", 0.9)]), convention: .trecEval)
        #expect(sorted == ids([("a", 0.9), ("b", 0.5)]))
    }

    @Test func metricNamesRoundTrip() {
        for metric in Metric.standard { #expect(Metric(name: metric.description) == metric) }
        #expect(Metric(name: "success@5") == .hits(5))
        #expect(Metric(name: "ndcg@0") == nil)
        #expect(Metric(name: "bleu@4") == nil)
    }

    @Test func percentilesInterpolateLinearly() {
        #expect(percentile([], 0.5) == nil)
        #expect(percentile([4, 1, 3, 2], 0.5) == 2.5)
        #expect(abs(percentile(Array(1...20).map(Double.init), 0.95)! - 19.05) < tolerance)
        #expect(percentile([7], 0.95) == 7)
    }
}

@Suite struct PageLevelLabelTests {
    @Test func sectionTargetsBecomeTheirPagesWithTheBestGrade() {
        let set = LabeledQuestionSet(questions: [
            LabeledQuestion(id: "q", question: "?", relevant: [LabelTarget("a.html#x"): 1, LabelTarget("a.html#y"): 2, LabelTarget("b.html"): 1]),
        ])
        #expect(set.pageLevel.questions[0].relevant == [LabelTarget("a.html"): 2, LabelTarget("b.html"): 1])
        #expect(set.pageLevel.questions[0].id == "q")
        // A passage anywhere on a relevant page now matches.
        let ranked = aggregateMaxP(chunkRanking: [RetrievedChunk(documentID: "a.html", anchor: "z", score: 1)], labels: set.pageLevel.questions[0])
        #expect(ranked.map(\.id) == ["a.html"])
    }
}
