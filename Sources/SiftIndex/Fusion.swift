import SiftCore

/// How dense and BM25 result lists are merged in hybrid search.
///
/// - `reciprocalRank` (RRF, score = Σ 1/(k + rank)) uses only ranks, so it needs no calibration between
///   cosine similarities and unbounded BM25 scores and is robust when one retriever's scores are badly
///   scaled or the score distributions vary per query. It is the safe default. Weighted RRF gives each list
///   its own say (`2·(w/(k + rank_dense) + (1 − w)/(k + rank_bm25))`; w = 0.5 is plain RRF), for collections
///   where one retriever is clearly weaker.
/// - `weighted` min-max normalises each list's scores to [0, 1] per query and mixes them
///   (`denseWeight·dense + (1 − denseWeight)·bm25`; a chunk missing from a list gets 0 there). It keeps
///   score margins — a chunk that one retriever ranks far above the rest wins — and can beat RRF once the
///   weight is tuned on labelled queries for a collection; untuned, or with a single-hit list (min = max), it
///   is more erratic.
public enum Fusion: RankFusion, Hashable {
    /// Reciprocal rank fusion; `k` damps the influence of top ranks (60 in the original paper); `denseWeight`
    /// in 0...1 is the dense list's share (0.5: both lists count the same, plain RRF).
    case reciprocalRank(k: Double = 60, denseWeight: Double = 0.5)
    /// Weighted sum of min-max-normalised scores; `denseWeight` in 0...1.
    case weighted(denseWeight: Double = 0.5)

    public var name: String {
        switch self {
        case .reciprocalRank: "rrf"
        case .weighted: "weighted"
        }
    }

    /// Fuses the dense and BM25 lists (other kinds carry no weight here and are ignored).
    public func fuse(_ lists: [RetrievalStage: [ScoredChunk]], topK: Int) -> [Candidate] {
        fuse(dense: lists[.dense] ?? [], bm25: lists[.bm25] ?? [], topK: topK)
    }

    /// Fuses two ranked lists (best first) into candidates carrying per-stage scores and 1-based ranks.
    /// Ties in the fused score go to the better dense rank, then the better BM25 rank, then the chunk id.
    public func fuse(dense: [ScoredChunk], bm25: [ScoredChunk], topK: Int) -> [Candidate] {
        var byID = [String: Candidate]()
        var order = [String]()
        func add(_ list: [ScoredChunk], stage: RetrievalStage) {
            for (i, hit) in list.enumerated() where byID[hit.chunkID]?.stageRanks[stage] == nil {
                if byID[hit.chunkID] == nil {
                    byID[hit.chunkID] = Candidate(chunkID: hit.chunkID, score: 0)
                    order.append(hit.chunkID)
                }
                byID[hit.chunkID]!.stageScores[stage] = hit.score
                byID[hit.chunkID]!.stageRanks[stage] = i + 1
            }
        }
        add(dense, stage: .dense)
        add(bm25, stage: .bm25)

        switch self {
        case .reciprocalRank(let k, let w):
            precondition(k >= 0, "RRF k must not be negative")
            precondition((0...1).contains(w), "denseWeight must be in 0...1")
            for id in order {
                var s = 0.0
                for (stage, weight) in [(RetrievalStage.dense, w), (.bm25, 1 - w)] {
                    if let r = byID[id]!.stageRanks[stage] { s += 2 * weight / (k + Double(r)) }
                }
                byID[id]!.score = Float(s)
            }
        case .weighted(let w):
            precondition((0...1).contains(w), "denseWeight must be in 0...1")
            let dn = Self.minMax(dense.map(\.score)), bn = Self.minMax(bm25.map(\.score))
            for id in order {
                let c = byID[id]!
                let d = c.stageScores[.dense].map { dn($0) } ?? 0
                let b = c.stageScores[.bm25].map { bn($0) } ?? 0
                byID[id]!.score = Float(w * d + (1 - w) * b)
            }
        }
        let big = Int.max
        var fused = order.map { byID[$0]! }
        fused.sort { a, b in
            if a.score != b.score { return a.score > b.score }
            let ad = a.stageRanks[.dense] ?? big, bd = b.stageRanks[.dense] ?? big
            if ad != bd { return ad < bd }
            let ab = a.stageRanks[.bm25] ?? big, bb = b.stageRanks[.bm25] ?? big
            if ab != bb { return ab < bb }
            return a.chunkID < b.chunkID
        }
        fused = Array(fused.prefix(max(0, topK)))
        for i in fused.indices {
            fused[i].stageScores[.hybrid] = fused[i].score
            fused[i].stageRanks[.hybrid] = i + 1
        }
        return fused
    }

    /// Maps scores to [0, 1]; when all are equal every score maps to 1 (each is the best of its list).
    static func minMax(_ scores: [Float]) -> (Float) -> Double {
        guard let lo = scores.min(), let hi = scores.max(), hi > lo else { return { _ in 1 } }
        return { Double(($0 - lo) / (hi - lo)) }
    }
}
