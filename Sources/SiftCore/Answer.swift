/// Which stage produced a score.
public enum RetrievalStage: String, Sendable, Hashable, Codable, CaseIterable {
    case dense
    case bm25
    case hybrid
    case rerank
}

/// A retrieved chunk with the scores and ranks each stage gave it.
public struct Candidate: Sendable, Hashable, Codable {
    public var chunkID: String
    /// The score the final ordering used (fused score, or re-rank score when re-ranked).
    public var score: Float
    /// Per-stage scores, e.g. [.dense: 0.71, .bm25: 12.3].
    public var stageScores: [RetrievalStage: Float]
    /// Per-stage 1-based ranks.
    public var stageRanks: [RetrievalStage: Int]

    public init(chunkID: String, score: Float, stageScores: [RetrievalStage: Float] = [:], stageRanks: [RetrievalStage: Int] = [:]) {
        self.chunkID = chunkID
        self.score = score
        self.stageScores = stageScores
        self.stageRanks = stageRanks
    }
}

/// A ranked answer as emitted to users.
/// A passage folded into a grouped answer (same section or page), with the score it ranked by.
public struct RelatedPassage: Sendable, Hashable, Codable {
    public var chunkID: String
    /// `page.html#anchor`.
    public var source: String
    public var score: Float

    public init(chunkID: String, source: String, score: Float) {
        self.chunkID = chunkID
        self.source = source
        self.score = score
    }
}

public struct Answer: Sendable, Hashable, Codable {
    public var rank: Int
    public var chunk: Chunk
    /// Cross-encoder score, when a re-ranker ran.
    public var rerankScore: Float?
    /// Score from retrieval (fused when hybrid).
    public var retrievalScore: Float
    /// The sentence of the chunk that best matches the question, as a Unicode-scalar range within `chunk.text`.
    public var highlight: Range<Int>?
    /// With grouped answers: the other passages of this answer's section or page, best first, below `chunk`.
    public var related: [RelatedPassage] = []

    public init(rank: Int, chunk: Chunk, rerankScore: Float?, retrievalScore: Float, highlight: Range<Int>? = nil) {
        self.rank = rank
        self.chunk = chunk
        self.rerankScore = rerankScore
        self.retrievalScore = retrievalScore
        self.highlight = highlight
    }
}
