/// The storage side of a pipeline, split by what each part answers: a document store (documents and chunks by id),
/// a vector index (chunk vectors, searched by similarity) and a lexical index (BM25 over the chunk text). A
/// `CollectionStore` holds the three for one collection and changes them together, atomically.
///
/// Everything is keyed by chunk or document id, never by storage position, and nothing here assumes a local file:
/// the embedded store (SiftIndex's `CollectionIndex`: SQLite, FTS5 and a memory-mapped vector file) is one
/// conformer; a database server can be another.

/// Documents and their chunks, by id.
public protocol DocumentStore: Sendable {
    /// Chunks for `ids`, in the order of `ids`; unknown ids are left out.
    func chunks(ids: [String]) throws -> [Chunk]
    /// Every stored document id.
    func documentIDs() throws -> [String]
    /// The content hash of every stored document, by document id (what update plans compare against).
    func documentHashes() throws -> [String: String]
    /// The text of every stored chunk of these documents, by chunk id (to keep the vectors of unchanged chunks).
    func chunkTexts(documentIDs: [String]) throws -> [String: String]
    /// These documents as stored, each with its chunks in order (to copy a collection to another store); unknown
    /// ids are left out.
    func export(documentIDs: [String]) throws -> [DocumentUpdate]
}

/// Chunk vectors, searched by inner product (cosine, since stored vectors are unit length).
public protocol VectorIndex: Sendable {
    var dimension: Int { get }
    /// Vectors stored.
    var count: Int { get }
    /// For each query vector (normalised by the index), the `topK` chunks with the highest inner product, best first.
    func search(_ queryVectors: [[Float]], topK: Int) throws -> [[ScoredChunk]]
    /// The stored (unit-length) vectors of these chunks, by chunk id; unknown ids are left out.
    func vectors(chunkIDs: [String]) throws -> [String: [Float]]
}

/// Term-based search over the chunk text (with headings and title).
public protocol LexicalIndex: Sendable {
    /// How it scores, for `--explain` and stats (e.g. "BM25 (SQLite FTS5)").
    var scoring: String { get }
    /// The `topK` best chunks for a free-text query, best first; empty when the query has no searchable term.
    func search(_ query: String, topK: Int) throws -> [ScoredChunk]
}

/// One atomic change to a collection: documents replaced or added (with a vector for each of their chunks) and
/// documents removed (their chunks leave all three indexes).
public struct CollectionChange: Sendable {
    public var upserting: [DocumentUpdate]
    /// A unit-length vector for every chunk of `upserting`, by chunk id.
    public var vectors: [String: [Float]]
    /// Ids of documents to remove.
    public var deleting: [String]
    /// For a rebuild: the collection afterwards holds only `upserting`, bound to this configuration.
    public var rebuildingWith: IndexConfiguration?

    public init(upserting: [DocumentUpdate], vectors: [String: [Float]], deleting: [String] = [],
                rebuildingWith: IndexConfiguration? = nil) {
        self.upserting = upserting
        self.vectors = vectors
        self.deleting = deleting
        self.rebuildingWith = rebuildingWith
    }
}

/// A collection's document store, vector index and lexical index, changed together.
public protocol CollectionStore: AnyObject, Sendable {
    /// What the stored vectors and chunks were made with.
    var configuration: IndexConfiguration { get }
    var stats: IndexStats { get }
    var documents: any DocumentStore { get }
    var vectors: any VectorIndex { get }
    var lexical: any LexicalIndex { get }
    /// Applies `change` atomically: after it returns every reader sees all of it; when it throws, none of it.
    @discardableResult
    func apply(_ change: CollectionChange) throws -> IndexSummary
    /// Problems found by checking everything stored (empty when sound).
    func verify() -> [String]
}

/// A store whose committed contents can change under an open instance (another process commits to a database server)
/// and that can tell cheaply. A long-running reader calls `refreshIfCommitted()` before a batch of questions.
public protocol RefreshableCollectionStore: CollectionStore {
    /// Re-reads what the instance caches (statistics, the generation) when a newer generation has been committed
    /// since; returns true then.
    func refreshIfCommitted() throws -> Bool
}

/// A collection store opened for writing: it holds the collection's writer lock (one writer at a time, across
/// processes) until `releaseWriterLock()` or until it is released.
public protocol WritableCollectionStore: CollectionStore {
    func releaseWriterLock()
}

extension CollectionStore {
    /// Compares the caller's documents with the stored ones: new, changed, unchanged and deleted.
    public func plan(for files: [DocumentFingerprint]) throws -> UpdatePlan {
        let indexed = try documents.documentHashes()
        var plan = UpdatePlan(new: [], changed: [], unchanged: [], deleted: [])
        var seen = Set<String>()
        for f in files where seen.insert(f.documentID).inserted {
            switch indexed[f.documentID] {
            case nil: plan.new.append(f.documentID)
            case f.contentHash?: plan.unchanged.append(f.documentID)
            default: plan.changed.append(f.documentID)
            }
        }
        plan.deleted = indexed.keys.filter { !seen.contains($0) }.sorted()
        return plan
    }
}

/// Settings an index is bound to; opening with different values is refused.
public struct IndexConfiguration: Sendable, Hashable, Codable {
    /// `TextEmbedder.modelIdentity` of the model that produced the vectors.
    public var modelIdentity: String
    /// Vector length.
    public var dimension: Int
    /// Opaque fingerprint of the chunker settings (the caller defines it; compared for equality only).
    public var chunkerFingerprint: String
    /// Opaque fingerprint of the reader settings.
    public var readerFingerprint: String

    public init(modelIdentity: String, dimension: Int, chunkerFingerprint: String, readerFingerprint: String) {
        self.modelIdentity = modelIdentity
        self.dimension = dimension
        self.chunkerFingerprint = chunkerFingerprint
        self.readerFingerprint = readerFingerprint
    }

    /// The configuration for `embedder` with the given chunker/reader fingerprints.
    public init(embedder: any TextEmbedder, chunkerFingerprint: String, readerFingerprint: String) {
        self.init(modelIdentity: embedder.modelIdentity, dimension: embedder.dimension,
                  chunkerFingerprint: chunkerFingerprint, readerFingerprint: readerFingerprint)
    }

    /// The first setting that differs from `requested` (what the index holds, what was asked for), or nil.
    public func mismatch(with requested: IndexConfiguration) -> (field: String, index: String, requested: String)? {
        if modelIdentity != requested.modelIdentity { return ("model", modelIdentity, requested.modelIdentity) }
        if dimension != requested.dimension { return ("dimension", String(dimension), String(requested.dimension)) }
        if chunkerFingerprint != requested.chunkerFingerprint { return ("chunker settings", chunkerFingerprint, requested.chunkerFingerprint) }
        if readerFingerprint != requested.readerFingerprint { return ("reader settings", readerFingerprint, requested.readerFingerprint) }
        return nil
    }
}

/// A document's identity for update planning: its id (path) and a hash of its content.
public struct DocumentFingerprint: Sendable, Hashable {
    public var documentID: String
    public var contentHash: String

    public init(documentID: String, contentHash: String) {
        self.documentID = documentID
        self.contentHash = contentHash
    }
}

/// Which documents must be (re-)chunked and embedded, decided before any embedding happens.
public struct UpdatePlan: Sendable, Hashable {
    /// Not in the index yet.
    public var new: [String]
    /// In the index with a different content hash.
    public var changed: [String]
    /// In the index with the same hash: nothing to do.
    public var unchanged: [String]
    /// In the index but not among the given files: to delete.
    public var deleted: [String]

    /// `new + changed`: the documents to read, chunk and pass to `update`.
    public var toEmbed: [String] { new + changed }

    public init(new: [String], changed: [String], unchanged: [String], deleted: [String]) {
        self.new = new
        self.changed = changed
        self.unchanged = unchanged
        self.deleted = deleted
    }
    public var isEmpty: Bool { new.isEmpty && changed.isEmpty && deleted.isEmpty }
}

/// One document's new state, for `CollectionChange`.
public struct DocumentUpdate: Sendable, Hashable {
    public var id: String
    public var title: String
    public var language: String?
    public var contentHash: String
    /// Every chunk must have `documentID == id`; ids must be unique across the index.
    public var chunks: [Chunk]

    public init(id: String, title: String, language: String? = nil, contentHash: String, chunks: [Chunk]) {
        precondition(chunks.allSatisfy { $0.documentID == id }, "DocumentUpdate: chunks of another document given for \(id)")
        self.id = id
        self.title = title
        self.language = language
        self.contentHash = contentHash
        self.chunks = chunks
    }

    public init(document: Document, contentHash: String, chunks: [Chunk]) {
        self.init(id: document.id, title: document.title, language: document.language, contentHash: contentHash, chunks: chunks)
    }
}

/// Progress of embedding and writing an update, for a progress bar.
public struct IndexProgress: Sendable, Hashable {
    public enum Phase: String, Sendable, Hashable { case embedding, writing, done }
    public var phase: Phase
    /// Chunks embedded so far (embedding), else equal to `total`.
    public var completed: Int
    public var total: Int

    public init(phase: Phase, completed: Int, total: Int) {
        self.phase = phase
        self.completed = completed
        self.total = total
    }
}

/// What one update of a collection store did.
public struct IndexSummary: Sendable, Hashable {
    /// Documents and chunks in the index afterwards.
    public var documents: Int
    public var chunks: Int
    public var tokens: Int
    /// Documents written (new or changed) and removed by this update.
    public var documentsWritten: Int
    public var documentsDeleted: Int
    /// Chunks embedded by this update, and chunks of re-indexed documents whose vector was kept
    /// because their id and text did not change.
    public var chunksEmbedded: Int
    public var chunksReused: Int
    public var seconds: Double

    public init(documents: Int, chunks: Int, tokens: Int, documentsWritten: Int, documentsDeleted: Int, chunksEmbedded: Int,
                chunksReused: Int, seconds: Double) {
        self.documents = documents
        self.chunks = chunks
        self.tokens = tokens
        self.documentsWritten = documentsWritten
        self.documentsDeleted = documentsDeleted
        self.chunksEmbedded = chunksEmbedded
        self.chunksReused = chunksReused
        self.seconds = seconds
    }
}

/// Size figures of an index.
public struct IndexStats: Sendable, Hashable {
    public var documents: Int
    public var chunks: Int
    public var tokens: Int
    public var dimension: Int
    public var generation: Int
    public var modelIdentity: String
    /// Bytes of vector storage.
    public var vectorsBytes: Int

    public init(documents: Int, chunks: Int, tokens: Int, dimension: Int, generation: Int, modelIdentity: String, vectorsBytes: Int) {
        self.documents = documents
        self.chunks = chunks
        self.tokens = tokens
        self.dimension = dimension
        self.generation = generation
        self.modelIdentity = modelIdentity
        self.vectorsBytes = vectorsBytes
    }
}

