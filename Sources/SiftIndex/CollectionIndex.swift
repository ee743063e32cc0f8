import Foundation
import GRDB
import SiftCore

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
    public var isEmpty: Bool { new.isEmpty && changed.isEmpty && deleted.isEmpty }
}

/// One document's new state for `CollectionIndex.update`.
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

/// Progress of `update`, for a progress bar.
public struct IndexProgress: Sendable, Hashable {
    public enum Phase: String, Sendable, Hashable { case embedding, writing, done }
    public var phase: Phase
    /// Chunks embedded so far (embedding), else equal to `total`.
    public var completed: Int
    public var total: Int
}

/// What one `update` did.
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
}

/// Size figures of an index.
public struct IndexStats: Sendable, Hashable {
    public var documents: Int
    public var chunks: Int
    public var tokens: Int
    public var dimension: Int
    public var generation: Int
    public var modelIdentity: String
    public var vectorsBytes: Int
}

/// A persistent collection index in a folder: `manifest.json` + `chunks.<gen>.sqlite` + `vectors.<gen>.f32`.
///
/// Crash safety: an update writes the next generation's database (a copy of the current one, changed in a
/// transaction) and vectors file beside the current ones, fsyncs them, then renames a new `manifest.json`
/// into place. The manifest rename is the commit; killing the process at any earlier moment leaves the previous
/// generation untouched and in use. Leftover files of unfinished generations are removed by the next update.
/// The cost is a copy of the database per update.
///
/// Thread safety: searches may run concurrently; `update` swaps the state under a lock.
public final class CollectionIndex: @unchecked Sendable {
    public let folder: URL
    /// Guards `state`; held only to read or swap it, so searches never wait for an update's embedding.
    private let lock = NSLock()
    /// Serialises updates.
    private let updateLock = NSLock()
    private var state: State

    struct State {
        var manifest: IndexManifest
        var store: ChunkStore
        var vectors: FlatVectorStore
    }

    private init(folder: URL, state: State) {
        self.folder = folder
        self.state = state
    }

    private var current: State {
        lock.lock(); defer { lock.unlock() }
        return state
    }

    public var manifest: IndexManifest { current.manifest }
    public var configuration: IndexConfiguration { current.manifest.configuration }
    /// The vector store of the current generation.
    public var vectorStore: any VectorStore { current.vectors }

    public var stats: IndexStats {
        let m = current.manifest
        return IndexStats(documents: m.documentCount, chunks: m.chunkCount, tokens: m.tokenCount, dimension: m.configuration.dimension,
                          generation: m.generation, modelIdentity: m.configuration.modelIdentity, vectorsBytes: m.vectorsByteCount)
    }

    // MARK: Opening

    /// Opens an existing index. With `expecting`, refuses (`IndexError.incompatible`) an index built with another
    /// model, dimension, chunker or reader configuration. `verify` re-checksums the vectors file (reads it whole).
    public static func open(at folder: URL, expecting: IndexConfiguration? = nil, verify: Bool = false) throws -> CollectionIndex {
        let manifest = try ManifestIO.read(folder: folder)
        if let expecting { try manifest.configuration.check(against: expecting) }
        let state = try load(manifest, folder: folder, verify: verify)
        return CollectionIndex(folder: folder, state: state)
    }

    /// Creates an empty index (generation 1). Fails if the folder already holds an index; files left by an
    /// interrupted creation (no manifest) are replaced.
    public static func create(at folder: URL, configuration: IndexConfiguration) throws -> CollectionIndex {
        precondition(configuration.dimension > 0, "index dimension must be positive")
        let fm = FileManager.default
        if fm.fileExists(atPath: folder.appendingPathComponent(ManifestIO.fileName).path) {
            throw IndexError.alreadyExists(path: folder.path)
        }
        do { try fm.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw IndexError.storage(operation: "creating index folder", path: folder.path, underlying: error.localizedDescription)
        }
        let names = IndexManifest.fileNames(generation: 1)
        let dbURL = folder.appendingPathComponent(names.database), vecURL = folder.appendingPathComponent(names.vectors)
        FileIO.removeIfPresent(dbURL)
        FileIO.removeIfPresent(dbURL.appendingPathExtension("journal"))
        let store = try ChunkStore(url: dbURL, readonly: false, create: true)
        try store.close()
        let writer = try SyncedWriter(url: vecURL)
        try writer.close()
        let now = Date()
        let manifest = IndexManifest(formatVersion: IndexManifest.currentFormatVersion, configuration: configuration, generation: 1,
                                     databaseFile: names.database, vectorsFile: names.vectors, documentCount: 0, chunkCount: 0,
                                     tokenCount: 0, vectorsByteCount: 0, vectorsChecksum: writer.checksum.hexDigest,
                                     created: now, updated: now)
        try ManifestIO.write(manifest, folder: folder)
        return CollectionIndex(folder: folder, state: try load(manifest, folder: folder, verify: false))
    }

    /// Opens the index in `folder` if it has a manifest (checking `configuration`), else creates it.
    public static func openOrCreate(at folder: URL, configuration: IndexConfiguration) throws -> CollectionIndex {
        if FileManager.default.fileExists(atPath: folder.appendingPathComponent(ManifestIO.fileName).path) {
            return try open(at: folder, expecting: configuration)
        }
        return try create(at: folder, configuration: configuration)
    }

    private static func load(_ manifest: IndexManifest, folder: URL, verify: Bool) throws -> State {
        let dim = manifest.configuration.dimension
        let vecURL = folder.appendingPathComponent(manifest.vectorsFile)
        let vectors = try FlatVectorStore(url: vecURL, count: manifest.chunkCount, dimension: dim)
        if verify {
            let sum = vectors.checksum()
            guard sum == manifest.vectorsChecksum else {
                throw IndexError.corrupted(path: vecURL.path, reason: "checksum \(sum) does not match the manifest's \(manifest.vectorsChecksum)")
            }
        }
        let store = try ChunkStore(url: folder.appendingPathComponent(manifest.databaseFile), readonly: true)
        return State(manifest: manifest, store: store, vectors: vectors)
    }

    // MARK: Reading

    public func documentIDs() throws -> [String] { try current.store.documentIDs() }

    public func chunk(id: String) throws -> Chunk? { try current.store.chunks(ids: [id]).first }

    /// Chunks in the order of `ids`; unknown ids are skipped.
    public func chunks(ids: [String]) throws -> [Chunk] { try current.store.chunks(ids: ids) }

    /// Dense top-k for query vectors (each normalised here), as (chunk id, inner product), best first.
    public func denseSearch(queryVectors: [[Float]], topK: Int) throws -> [[(chunkID: String, score: Float)]] {
        let s = current
        let dim = s.manifest.configuration.dimension
        var flat = [Float]()
        flat.reserveCapacity(queryVectors.count * dim)
        for (i, q) in queryVectors.enumerated() {
            guard q.count == dim else {
                throw IndexError.invalidRequest(reason: "query vector \(i) has \(q.count) dimensions, the index has \(dim)")
            }
            flat.append(contentsOf: q)
        }
        normalizeRows(&flat, dimension: dim)
        let hits = flat.withUnsafeBufferPointer { qs in
            s.vectors.withVectors { corpus in
                ExactSearch.topK(queries: qs, queryCount: queryVectors.count, corpus: corpus, corpusCount: s.vectors.count,
                                 dimension: dim, k: max(0, topK))
            }
        }
        let ids = try s.store.chunkIDs(slots: Array(Set(hits.joined().map(\.slot))))
        return hits.map { list in list.compactMap { hit in ids[hit.slot].map { (chunkID: $0, score: hit.score) } } }
    }

    /// BM25 top-k for a free-text query; empty when the query has no searchable term.
    public func bm25Search(_ query: String, topK: Int) throws -> [(chunkID: String, score: Float)] {
        guard topK > 0, let match = LexicalQuery.matchExpression(query) else { return [] }
        return try current.store.bm25(match: match, limit: topK)
    }

    // MARK: Updating

    /// Compares the caller's files with the index: new, changed, unchanged and deleted documents.
    public func plan(for files: [DocumentFingerprint]) throws -> UpdatePlan {
        let indexed = try current.store.documentHashes()
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

    /// Replaces (or adds) the given documents and removes `deleting`, then commits a new generation atomically
    /// (see the type's documentation). Only the given documents' chunks are embedded, and of those only the ones
    /// whose id or text changed. Use `plan(for:)` first to know which documents to read and chunk.
    /// The embedder must match the index's model identity and dimension. `progress` counts embedded chunks.
    @discardableResult
    public func update(upserting documents: [DocumentUpdate], deleting: [String] = [], embedder: any TextEmbedder,
                       batchSize: Int = 32, progress: (@Sendable (IndexProgress) -> Void)? = nil) throws -> IndexSummary {
        precondition(batchSize > 0, "batchSize must be positive")
        let started = Date()
        updateLock.lock(); defer { updateLock.unlock() }
        let old = current
        let config = old.manifest.configuration
        try config.check(against: IndexConfiguration(modelIdentity: embedder.modelIdentity, dimension: embedder.dimension,
                                                     chunkerFingerprint: config.chunkerFingerprint, readerFingerprint: config.readerFingerprint))
        let dim = config.dimension
        let upsertIDs = Set(documents.map(\.id))
        precondition(upsertIDs.count == documents.count, "update: a document is listed twice")

        // 1. Embed first: nothing on disk changes until every vector exists. A chunk that keeps its id and
        //    text in a re-indexed document keeps its vector (same model input, same output).
        let allChunks = documents.flatMap(\.chunks)
        let previous = try old.store.existingChunks(documentPaths: documents.map(\.id))
        var reusedSlot = [Int?](repeating: nil, count: allChunks.count)
        for (i, chunk) in allChunks.enumerated() {
            if let p = previous[chunk.id], p.text == chunk.text { reusedSlot[i] = p.slot }
        }
        let embedIndices = allChunks.indices.filter { reusedSlot[$0] == nil }
        let texts = embedIndices.map { allChunks[$0].text }
        var embedded = [Float]()
        embedded.reserveCapacity(texts.count * dim)
        progress?(IndexProgress(phase: .embedding, completed: 0, total: texts.count))
        for start in stride(from: 0, to: texts.count, by: batchSize) {
            let batch = Array(texts[start..<min(texts.count, start + batchSize)])
            let vectors: [[Float]]
            do { vectors = try embedder.embed(batch) } catch {
                throw IndexError.embedding(reason: "\(error)")
            }
            guard vectors.count == batch.count, vectors.allSatisfy({ $0.count == dim }) else {
                throw IndexError.embedding(reason: "embedder returned \(vectors.count) vectors of sizes \(Set(vectors.map(\.count)).sorted()) for \(batch.count) texts, expected dimension \(dim)")
            }
            for v in vectors { embedded.append(contentsOf: v) }
            progress?(IndexProgress(phase: .embedding, completed: start + batch.count, total: texts.count))
        }
        normalizeRows(&embedded, dimension: dim)
        // newVectors[allChunks.count × dim]: embedded rows, or the stored (already normalised) row of a reused chunk.
        var newVectors = [Float]()
        newVectors.reserveCapacity(allChunks.count * dim)
        var nextEmbedded = 0
        old.vectors.withVectors { stored in
            for slot in reusedSlot {
                if let slot {
                    newVectors.append(contentsOf: stored[(slot * dim)..<((slot + 1) * dim)])
                } else {
                    newVectors.append(contentsOf: embedded[(nextEmbedded * dim)..<((nextEmbedded + 1) * dim)])
                    nextEmbedded += 1
                }
            }
        }
        progress?(IndexProgress(phase: .writing, completed: texts.count, total: texts.count))

        // 2. Stage the next generation beside the current one.
        let generation = old.manifest.generation + 1
        let names = IndexManifest.fileNames(generation: generation)
        let dbURL = folder.appendingPathComponent(names.database), vecURL = folder.appendingPathComponent(names.vectors)
        removeLeftovers(keeping: old.manifest)
        do { try FileManager.default.copyItem(at: folder.appendingPathComponent(old.manifest.databaseFile), to: dbURL) } catch {
            throw IndexError.storage(operation: "staging database copy", path: dbURL.path, underlying: error.localizedDescription)
        }
        CrashPoint.reached("database-copied")

        let staging = try ChunkStore(url: dbURL, readonly: false)
        defer { try? staging.close() }
        let counts: (oldSlots: [Int], documents: Int, tokens: Int) = try staging.write("updating database") { db in
            try ChunkStore.deleteDocuments(Array(upsertIDs) + deleting.filter { !upsertIDs.contains($0) }, in: db)
            let oldSlots = try ChunkStore.compactSlots(in: db)
            var slot = oldSlots.count
            for doc in documents {
                try ChunkStore.insert(doc, firstSlot: slot, in: db)
                slot += doc.chunks.count
            }
            let documentCount = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM documents") ?? 0
            let tokens = try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(token_count), 0) FROM documents") ?? 0
            return (oldSlots, documentCount, tokens)
        }
        try staging.close()
        CrashPoint.reached("database-written")

        // 3. New vectors file: kept vectors in their new slot order, then the new ones.
        let writer = try SyncedWriter(url: vecURL)
        try old.vectors.withVectors { corpus in
            let rowBytes = dim * MemoryLayout<Float>.size
            let raw = UnsafeRawBufferPointer(corpus)
            var runStart = 0
            // Copy runs of consecutive old slots in one write.
            while runStart < counts.oldSlots.count {
                var runEnd = runStart + 1
                while runEnd < counts.oldSlots.count && counts.oldSlots[runEnd] == counts.oldSlots[runEnd - 1] + 1 { runEnd += 1 }
                let first = counts.oldSlots[runStart]
                try writer.write(UnsafeRawBufferPointer(rebasing: raw[(first * rowBytes)..<((first + runEnd - runStart) * rowBytes)]))
                if runStart == 0 { CrashPoint.reached("vectors-partly-written") }
                runStart = runEnd
            }
        }
        try newVectors.withUnsafeBytes { try writer.write($0) }
        try writer.close()
        CrashPoint.reached("vectors-written")

        // 4. Commit: the manifest rename.
        let chunkCount = counts.oldSlots.count + allChunks.count
        var manifest = old.manifest
        manifest.generation = generation
        manifest.databaseFile = names.database
        manifest.vectorsFile = names.vectors
        manifest.documentCount = counts.documents
        manifest.chunkCount = chunkCount
        manifest.tokenCount = counts.tokens
        manifest.vectorsByteCount = writer.byteCount
        manifest.vectorsChecksum = writer.checksum.hexDigest
        manifest.updated = Date()
        precondition(writer.byteCount == chunkCount * dim * MemoryLayout<Float>.size, "vectors file size disagrees with chunk count")
        try ManifestIO.write(manifest, folder: folder)
        CrashPoint.reached("manifest-written")

        let next = try Self.load(manifest, folder: folder, verify: false)
        lock.lock(); state = next; lock.unlock()
        // Searches still holding the old state keep working: its files stay readable until closed/unmapped.
        removeLeftovers(keeping: manifest)
        let summary = IndexSummary(documents: counts.documents, chunks: chunkCount, tokens: counts.tokens,
                                   documentsWritten: documents.count,
                                   documentsDeleted: deleting.filter { !upsertIDs.contains($0) }.count,
                                   chunksEmbedded: texts.count, chunksReused: allChunks.count - texts.count,
                                   seconds: Date().timeIntervalSince(started))
        progress?(IndexProgress(phase: .done, completed: texts.count, total: texts.count))
        return summary
    }

    /// Deletes data files of other generations (finished older ones, or ones an interrupted update left).
    private func removeLeftovers(keeping manifest: IndexManifest) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return }
        for name in names where (name.hasPrefix("chunks.") || name.hasPrefix("vectors."))
            && name != manifest.databaseFile && name != manifest.vectorsFile {
            FileIO.removeIfPresent(folder.appendingPathComponent(name))
        }
    }
}

/// Crash-injection points for the crash-safety test: when the environment variable `SIFT_INDEX_CRASH_AT`
/// names a point, the process exits there immediately (no cleanup), as if killed.
enum CrashPoint {
    static let target = ProcessInfo.processInfo.environment["SIFT_INDEX_CRASH_AT"]

    @inline(__always) static func reached(_ name: String) {
        if let target, target == name { _exit(86) }
    }
}
