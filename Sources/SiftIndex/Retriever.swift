import SiftCore

/// Which retriever(s) a search uses.
public enum SearchMode: Sendable, Hashable {
    /// Bi-encoder vectors, exact inner product.
    case dense
    /// SQLite FTS5 BM25 over chunk text, headings and title.
    case bm25
    /// Both, each taking `depth` candidates, merged by `fusion`.
    case hybrid(Fusion = .reciprocalRank(), depth: Int = 100)
}

/// Searches a `CollectionIndex`, embedding questions with the index's model.
public struct Retriever: Sendable {
    public let index: CollectionIndex
    /// Needed for dense and hybrid search of text queries; nil allows BM25 only.
    public let embedder: (any TextEmbedder)?

    /// Refuses an embedder whose model or dimension differs from the index's.
    public init(index: CollectionIndex, embedder: (any TextEmbedder)?) throws {
        if let embedder {
            let c = index.configuration
            try c.check(against: IndexConfiguration(modelIdentity: embedder.modelIdentity, dimension: embedder.dimension,
                                                    chunkerFingerprint: c.chunkerFingerprint, readerFingerprint: c.readerFingerprint))
        }
        self.index = index
        self.embedder = embedder
    }

    /// The `topK` best chunks for `query`, best first. An empty or unsearchable query gives no candidates.
    public func search(_ query: String, mode: SearchMode = .hybrid(), topK: Int = 10) throws -> [Candidate] {
        try search([query], mode: mode, topK: topK)[0]
    }

    /// Batch variant: queries are embedded together and scored against the corpus in one pass.
    public func search(_ queries: [String], mode: SearchMode = .hybrid(), topK: Int = 10) throws -> [[Candidate]] {
        precondition(topK >= 0, "topK must not be negative")
        switch mode {
        case .bm25:
            return try queries.map { try Self.candidates(index.bm25Search($0, topK: topK), stage: .bm25) }
        case .dense:
            return try dense(queries, topK: topK).map { Self.candidates($0, stage: .dense) }
        case .hybrid(let fusion, let depth):
            let n = max(depth, topK)
            let denseHits = try dense(queries, topK: n)
            return try queries.indices.map { i in
                fusion.fuse(dense: denseHits[i], bm25: try index.bm25Search(queries[i], topK: n), topK: topK)
            }
        }
    }

    /// Dense search for a query vector that is already embedded (normalised here).
    public func search(queryVector: [Float], topK: Int = 10) throws -> [Candidate] {
        Self.candidates(try index.denseSearch(queryVectors: [queryVector], topK: topK)[0], stage: .dense)
    }

    private func dense(_ queries: [String], topK: Int) throws -> [[(chunkID: String, score: Float)]] {
        guard let embedder else {
            throw IndexError.invalidRequest(reason: "dense and hybrid search need an embedder; none was given")
        }
        // Whitespace-only questions carry nothing to embed; they get no candidates rather than noise.
        let searchable = queries.indices.filter { !queries[$0].allSatisfy(\.isWhitespace) }
        var out = Array(repeating: [(chunkID: String, score: Float)](), count: queries.count)
        if searchable.isEmpty || topK == 0 { return out }
        let vectors: [[Float]]
        do { vectors = try embedder.embed(searchable.map { queries[$0] }) } catch {
            throw IndexError.embedding(reason: "\(error)")
        }
        guard vectors.count == searchable.count else {
            throw IndexError.embedding(reason: "embedder returned \(vectors.count) vectors for \(searchable.count) queries")
        }
        let hits = try index.denseSearch(queryVectors: vectors, topK: topK)
        for (k, i) in searchable.enumerated() { out[i] = hits[k] }
        return out
    }

    private static func candidates(_ hits: [(chunkID: String, score: Float)], stage: RetrievalStage) -> [Candidate] {
        hits.enumerated().map { i, h in
            Candidate(chunkID: h.chunkID, score: h.score, stageScores: [stage: h.score], stageRanks: [stage: i + 1])
        }
    }
}
