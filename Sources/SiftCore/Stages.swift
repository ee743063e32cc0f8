/// The stages of a pipeline, as errors, timings, `stages` and `--explain` name them.
///
/// Indexing runs reader → chunker → embedder → index; asking runs embedder (the questions) → the retrievers (dense,
/// bm25) → fusion → rerank → answers (grouping, reading the chunks from the index) → highlight.
public enum Stage: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    case reader
    case chunker
    /// The bi-encoder (with its tokenizer), for chunks and for questions.
    case embedder
    /// The collection store: document store, vector index and lexical index.
    case index
    /// Dense retrieval: nearest chunk vectors.
    case dense
    /// Lexical retrieval: BM25 over the chunk text.
    case bm25
    case fusion
    /// The cross-encoder.
    case rerank
    /// Grouping, counting and assembling the answers.
    case answers
    case highlight

    public var description: String { rawValue }
}

extension RetrievalStage {
    /// The pipeline stage that produces this list.
    public var stage: Stage {
        switch self {
        case .dense: .dense
        case .bm25: .bm25
        case .hybrid: .fusion
        case .rerank: .rerank
        }
    }
}

/// A chunk id with a score from one retriever (higher is better).
public struct ScoredChunk: Sendable, Hashable {
    public var chunkID: String
    public var score: Float

    public init(chunkID: String, score: Float) {
        self.chunkID = chunkID
        self.score = score
    }
}

extension Candidate {
    /// A retriever's ranked list as candidates carrying that stage's score and 1-based rank.
    public static func ranked(_ hits: [ScoredChunk], by stage: RetrievalStage) -> [Candidate] {
        hits.enumerated().map { i, hit in
            Candidate(chunkID: hit.chunkID, score: hit.score, stageScores: [stage: hit.score], stageRanks: [stage: i + 1])
        }
    }
}

/// The questions of one request, with their vectors once the embedder stage has run.
public struct QueryBatch: Sendable {
    public var texts: [String]
    /// One vector per text (the bi-encoder's, not yet normalised), or nil when no stage needed them.
    public var vectors: [[Float]]?

    public init(texts: [String], vectors: [[Float]]? = nil) {
        self.texts = texts
        self.vectors = vectors
    }
}

/// A first-stage retriever: questions → ranked chunk ids. One conformer per kind of evidence (dense vectors,
/// BM25); the runner runs every configured one and fuses their lists.
public protocol Retriever: Sendable {
    /// Which list this is (`dense`, `bm25`): the key of its scores and ranks on each `Candidate`.
    var kind: RetrievalStage { get }
    /// True when `retrieve` reads `QueryBatch.vectors`; the runner then embeds the questions first.
    var needsQueryVectors: Bool { get }
    /// For each question in `queries`, up to `depth` chunks, best first.
    func retrieve(_ queries: QueryBatch, depth: Int) throws -> [[ScoredChunk]]
}

/// Merges several retrievers' ranked lists into one candidate list.
public protocol RankFusion: Sendable {
    /// Names the method in `stages`, e.g. `rrf` (shown as `fusion:rrf`).
    var name: String { get }
    /// The best `topK` candidates, best first, each carrying its per-list scores and ranks and the fused score
    /// (as `.hybrid`). A list may be empty; a list absent from `lists` counts as empty.
    func fuse(_ lists: [RetrievalStage: [ScoredChunk]], topK: Int) -> [Candidate]
}

/// Scores (question, passage) pairs: the re-ranking stage (a cross-encoder).
public protocol PassageScorer: Sendable {
    /// One relevance score per passage, in input order (higher is better).
    func scores(query: String, passages: [String]) throws -> [Float]
}

/// Notes a store leaves while searching that the answer must carry: a sharded store answering without a shard
/// that is down says so here. The caller collects them around its searches; a store records them from the call
/// (not from threads it starts). Without a collector, `record` does nothing. A task-local value, so it also works
/// from synchronous code (Swift keeps it per thread outside tasks).
public enum SearchNotes {
    // Only the thread that runs `collecting`'s body appends, so the collector needs no lock.
    final class Collector: @unchecked Sendable { var notes: [String] = [] }
    @TaskLocal static var current: Collector?

    /// Runs `body` and returns what it returned with the notes recorded meanwhile (each note once, in order).
    public static func collecting<T>(_ body: () throws -> T) rethrows -> (value: T, notes: [String]) {
        let collector = Collector()
        let value = try $current.withValue(collector) { try body() }
        var seen = Set<String>()
        return (value, collector.notes.filter { seen.insert($0).inserted })
    }

    public static func record(_ note: String) {
        current?.notes.append(note)
    }
}
