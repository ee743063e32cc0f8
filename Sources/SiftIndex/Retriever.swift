import SiftCore

/// Dense retrieval: the questions' bi-encoder vectors (embedded by the runner's embedder stage) against a
/// `VectorIndex`.
public struct DenseRetriever: Retriever {
    public let index: any VectorIndex
    public var kind: RetrievalStage { .dense }
    public var needsQueryVectors: Bool { true }

    public init(index: any VectorIndex) { self.index = index }

    public func retrieve(_ queries: QueryBatch, depth: Int) throws -> [[ScoredChunk]] {
        guard let vectors = queries.vectors, vectors.count == queries.texts.count else {
            throw IndexError.invalidRequest(reason: "dense retrieval needs one vector per question; the questions were not embedded")
        }
        if queries.texts.isEmpty { return [] }
        return try index.search(vectors, topK: depth)
    }
}

/// Lexical retrieval: BM25 over a `LexicalIndex`, one question at a time.
public struct LexicalRetriever: Retriever {
    public let index: any LexicalIndex
    public var kind: RetrievalStage { .bm25 }
    public var needsQueryVectors: Bool { false }

    public init(index: any LexicalIndex) { self.index = index }

    public func retrieve(_ queries: QueryBatch, depth: Int) throws -> [[ScoredChunk]] {
        try queries.texts.map { try index.search($0, topK: depth) }
    }
}
