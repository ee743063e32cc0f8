import Foundation

/// A retrieved item (document, passage or label target) with the score that orders it.
public struct ScoredID: Sendable, Hashable, Codable {
    public var id: String
    public var score: Double

    public init(_ id: String, _ score: Double) {
        self.id = id
        self.score = score
    }
}

/// Retrieval results: query id → retrieved items. Order inside each list does not matter:
/// evaluation sorts by score (see `MetricConvention` for tie-breaking).
public typealias Rankings = [String: [ScoredID]]

/// Graded relevance judgements: query id → (document id → grade). Grades > 0 are relevant.
public struct Qrels: Sendable, Hashable {
    public var judgements: [String: [String: Int]]

    public init(_ judgements: [String: [String: Int]] = [:]) {
        self.judgements = judgements
    }

    /// Query ids with at least one judgement, sorted.
    public var queryIDs: [String] { judgements.keys.sorted() }

    /// Number of documents with grade > 0 for a query.
    public func relevantCount(_ queryID: String) -> Int {
        judgements[queryID]?.values.count(where: { $0 > 0 }) ?? 0
    }
}

/// An IR metric at a cutoff k (k ≥ 1).
public enum Metric: Sendable, Hashable, CustomStringConvertible {
    /// Normalised DCG with graded gains (gain = grade, discount log2(rank + 1), ideal from the qrels).
    case ndcg(Int)
    /// Reciprocal rank of the first relevant item if it is within the top k, else 0.
    case mrr(Int)
    /// Average precision over the top k (trec_eval `map_cut`: divided by all relevant documents).
    case map(Int)
    /// Relevant items in the top k / relevant documents judged.
    case recall(Int)
    /// 1 if any relevant item is in the top k (trec_eval `success`, ST `accuracy`).
    case hits(Int)
    /// Relevant items in the top k / k (k, not the ranking length, even when fewer were retrieved).
    case precision(Int)

    public var cutoff: Int {
        switch self {
        case let .ndcg(k), let .mrr(k), let .map(k), let .recall(k), let .hits(k), let .precision(k): k
        }
    }

    /// Display and JSON name, e.g. `nDCG@10`; `init?(name:)` parses it back (case-insensitively).
    public var description: String {
        switch self {
        case let .ndcg(k): "nDCG@\(k)"
        case let .mrr(k): "MRR@\(k)"
        case let .map(k): "MAP@\(k)"
        case let .recall(k): "Recall@\(k)"
        case let .hits(k): "Hits@\(k)"
        case let .precision(k): "P@\(k)"
        }
    }

    /// Parses `nDCG@10`, `mrr@10`, `MAP@100`, `recall@5`, `hits@1`, `P@10` (also `precision@10`, `success@1`).
    public init?(name: String) {
        let parts = name.lowercased().split(separator: "@")
        guard parts.count == 2, let k = Int(parts[1]), k >= 1 else { return nil }
        switch parts[0] {
        case "ndcg": self = .ndcg(k)
        case "mrr": self = .mrr(k)
        case "map": self = .map(k)
        case "recall": self = .recall(k)
        case "hits", "success", "accuracy": self = .hits(k)
        case "p", "precision": self = .precision(k)
        default: return nil
        }
    }

    /// The default report: nDCG@10, MRR@10, MAP@100, Recall@1/5/10/100, Hits@1/10, P@10.
    public static let standard: [Metric] = [
        .ndcg(10), .mrr(10), .map(100), .recall(1), .recall(5), .recall(10), .recall(100), .hits(1), .hits(10), .precision(10),
    ]
}

/// Which reference implementation the numbers must agree with.
public enum MetricConvention: String, Sendable, Hashable, Codable {
    /// trec_eval / pytrec_eval (and therefore BEIR):
    /// - ties in score are broken by document id in *descending* byte order (trec_eval's `strcmp(b, a)`);
    /// - graded gains in nDCG, grade > 0 is relevant;
    /// - MAP@k divides by all relevant documents; recall and MAP are 0 when a query has none;
    /// - queries that have qrels but no relevant document are evaluated (all metrics 0).
    case trecEval = "trec_eval"
    /// sentence-transformers' `InformationRetrievalEvaluator`:
    /// - ties broken by document id in *ascending* order;
    /// - binary relevance (grade > 0), also in nDCG;
    /// - MAP@k divides by min(k, relevant documents);
    /// - queries without a relevant document are skipped.
    case sentenceTransformers = "sentence_transformers"
}

/// What to do with a query that has qrels but no entry in the rankings.
public enum MissingRankingPolicy: String, Sendable, Hashable, Codable {
    /// Evaluate it as an empty ranking (every metric 0), like `trec_eval -c`. Right for a pipeline that ran every query.
    case countAsZero = "zero"
    /// Leave it out of the averages, like trec_eval/pytrec_eval by default (they evaluate the queries present in the run).
    case skip
}

/// Knobs of an evaluation; the defaults follow trec_eval except that missing rankings count as zero.
public struct EvaluationOptions: Sendable, Hashable {
    public var convention: MetricConvention
    /// Drop retrieved ids equal to the query id before evaluating (BEIR's `ignore_identical_ids`,
    /// for corpora such as ArguAna/Quora where queries are also documents).
    public var ignoreIdenticalIDs: Bool
    public var missingRankings: MissingRankingPolicy

    public init(convention: MetricConvention = .trecEval, ignoreIdenticalIDs: Bool = false,
                missingRankings: MissingRankingPolicy = .countAsZero) {
        self.convention = convention
        self.ignoreIdenticalIDs = ignoreIdenticalIDs
        self.missingRankings = missingRankings
    }
}

/// Metric values per query and their means over the evaluated queries.
public struct EvaluationResult: Sendable, Hashable {
    public var metrics: [Metric]
    /// query id → metric → value, for every evaluated query.
    public var perQuery: [String: [Metric: Double]]
    /// Arithmetic mean over `perQuery` (0 when no query was evaluated).
    public var mean: [Metric: Double]
    /// Queries in the qrels that were left out (no ranking with `.skip`, or no relevant document under the ST convention), sorted.
    public var skippedQueries: [String]
    /// Ranked queries that have no qrels at all; they never count (trec_eval ignores them too), sorted.
    public var unjudgedQueries: [String]

    public var evaluatedQueryCount: Int { perQuery.count }
}

/// Orders retrieved items the way the chosen reference implementation does:
/// score descending, ties by id in byte order (descending for trec_eval, ascending for ST).
/// Duplicate ids keep their highest score. Byte order of UTF-8 equals C `strcmp` and Python `str` ordering.
public func sortRanking(_ ranking: [ScoredID], convention: MetricConvention) -> [ScoredID] {
    var best: [String: Double] = [:]
    best.reserveCapacity(ranking.count)
    for item in ranking {
        if let existing = best[item.id], existing >= item.score { continue }
        best[item.id] = item.score
    }
    let descendingIDs = convention == .trecEval
    return best.map { ScoredID($0.key, $0.value) }.sorted { a, b in
        if a.score != b.score { return a.score > b.score }
        return descendingIDs
            ? b.id.utf8.lexicographicallyPrecedes(a.id.utf8)
            : a.id.utf8.lexicographicallyPrecedes(b.id.utf8)
    }
}

/// Computes `metrics` for one query from its ranking and judgements (doc id → grade).
/// `ranking` is sorted here; pass the raw list.
public func evaluateQuery(ranking: [ScoredID], judgements: [String: Int], metrics: [Metric],
                          convention: MetricConvention = .trecEval) -> [Metric: Double] {
    let sorted = sortRanking(ranking, convention: convention)
    let binary = convention == .sentenceTransformers
    // Gains by rank (0-based), only as deep as the largest cutoff.
    let depth = min(sorted.count, metrics.map(\.cutoff).max() ?? 0)
    let gains: [Int] = sorted.prefix(depth).map { item in
        let grade = judgements[item.id] ?? 0
        return grade > 0 ? (binary ? 1 : grade) : 0
    }
    let relevantGrades = judgements.values.filter { $0 > 0 }.map { binary ? 1 : $0 }.sorted(by: >)
    let relevantTotal = relevantGrades.count

    var values: [Metric: Double] = [:]
    for metric in metrics {
        let k = metric.cutoff
        let top = gains.prefix(k)
        let value: Double
        switch metric {
        case .ndcg:
            let dcg = discountedGain(top)
            let ideal = discountedGain(relevantGrades.prefix(k))
            value = ideal > 0 ? dcg / ideal : 0
        case .mrr:
            value = top.firstIndex(where: { $0 > 0 }).map { 1 / Double($0 + 1) } ?? 0
        case .map:
            var found = 0
            var precisionSum = 0.0
            for (rank, gain) in top.enumerated() where gain > 0 {
                found += 1
                precisionSum += Double(found) / Double(rank + 1)
            }
            let denominator = binary ? min(k, relevantTotal) : relevantTotal
            value = denominator > 0 ? precisionSum / Double(denominator) : 0
        case .recall:
            value = relevantTotal > 0 ? Double(top.count(where: { $0 > 0 })) / Double(relevantTotal) : 0
        case .hits:
            value = top.contains(where: { $0 > 0 }) ? 1 : 0
        case .precision:
            value = Double(top.count(where: { $0 > 0 })) / Double(k)
        }
        values[metric] = value
    }
    return values
}

/// Σ gain / log2(rank + 1) over 1-based ranks.
private func discountedGain<C: Collection>(_ gains: C) -> Double where C.Element == Int {
    var total = 0.0
    for (index, gain) in gains.enumerated() where gain > 0 {
        total += Double(gain) / log2(Double(index + 2))
    }
    return total
}

/// Evaluates every judged query and averages.
///
/// Which queries count: those in `qrels` (trec_eval/BEIR). A judged query with no ranking counts as 0 or is
/// skipped per `options.missingRankings`; under the ST convention judged queries without a relevant document
/// are skipped. Ranked queries without qrels are reported in `unjudgedQueries` and ignored.
public func evaluate(rankings: Rankings, qrels: Qrels, metrics: [Metric] = Metric.standard,
                     options: EvaluationOptions = EvaluationOptions()) -> EvaluationResult {
    precondition(!metrics.isEmpty, "evaluate needs at least one metric")
    var perQuery: [String: [Metric: Double]] = [:]
    var skipped: [String] = []
    for (queryID, judgements) in qrels.judgements {
        if options.convention == .sentenceTransformers, !judgements.values.contains(where: { $0 > 0 }) {
            skipped.append(queryID)
            continue
        }
        guard var ranking = rankings[queryID] ?? (options.missingRankings == .countAsZero ? [] : nil) else {
            skipped.append(queryID)
            continue
        }
        if options.ignoreIdenticalIDs { ranking.removeAll { $0.id == queryID } }
        perQuery[queryID] = evaluateQuery(ranking: ranking, judgements: judgements, metrics: metrics,
                                          convention: options.convention)
    }
    var mean: [Metric: Double] = [:]
    for metric in metrics {
        // Sum in sorted query order so the mean is bit-for-bit reproducible.
        let total = perQuery.keys.sorted().reduce(0.0) { $0 + perQuery[$1]![metric]! }
        mean[metric] = perQuery.isEmpty ? 0 : total / Double(perQuery.count)
    }
    let unjudged = rankings.keys.filter { qrels.judgements[$0] == nil }.sorted()
    return EvaluationResult(metrics: metrics, perQuery: perQuery, mean: mean,
                            skippedQueries: skipped.sorted(), unjudgedQueries: unjudged)
}
