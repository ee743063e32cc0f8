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

    public init(new: [String], changed: [String], unchanged: [String], deleted: [String]) {
        self.new = new
        self.changed = changed
        self.unchanged = unchanged
        self.deleted = deleted
    }
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

/// A persistent collection index in a folder: `sift-index.json` (marker), `manifest.json` (the commit point),
/// `chunks.<gen>.sqlite`, `vectors.<gen>.f32`, and while a writer runs `sift.lock` and `staging.json`.
///
/// Crash safety: an update or a rebuild writes the next generation's database and vectors file beside the current
/// ones, fsyncs them, then renames a new `manifest.json` into place. The manifest rename is the commit; killing the
/// process at any earlier moment leaves the previous generation untouched and in use. Before creating any file a
/// writer records it in `staging.json`, so the next writer removes exactly the files an interrupted one left, and
/// nothing else (see `IndexFolder`).
///
/// Concurrency: one writer process at a time, by `flock` on `sift.lock` (`IndexLock`); readers take no lock.
/// Within a process, searches may run concurrently with an update, which swaps the state under a lock.
public final class CollectionIndex: @unchecked Sendable {
    public let folder: URL
    /// Guards `state`; held only to read or swap it, so searches never wait for an update's embedding.
    private let lock = NSLock()
    /// Serialises updates within the process.
    private let updateLock = NSLock()
    private var state: State
    /// The inter-process writer lock, when this instance was opened for writing.
    private var writerLock: IndexLock?

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

    /// Opens an existing index for reading (no lock). With `expecting`, refuses (`IndexError.incompatible`) an index
    /// built with another model, dimension, chunker or reader configuration. `verify` re-checksums the vectors file
    /// (reads it whole) and checks the database (`verify()` checks more).
    public static func open(at folder: URL, expecting: IndexConfiguration? = nil, verify: Bool = false) throws -> CollectionIndex {
        // A writer may commit and retire the generation between reading the manifest and opening its files;
        // then the manifest names a newer generation and reading it again succeeds.
        var attempt = 0
        while true {
            let manifest = try ManifestIO.read(folder: folder)
            if let expecting { try manifest.configuration.check(against: expecting) }
            do {
                return CollectionIndex(folder: folder, state: try load(manifest, folder: folder, verify: verify))
            } catch let error as IndexError {
                attempt += 1
                guard attempt < 5, let now = try? ManifestIO.read(folder: folder), now.generation != manifest.generation else { throw error }
            }
        }
    }

    /// Opens the index in `folder` for writing, creating it (with an empty first generation) when the folder is
    /// absent or empty. Takes the writer lock first: when another process holds it, waits with `wait` (calling
    /// `onWait` with its pid) or throws `IndexError.locked`. Refuses a path that is not Sift's (`notAnIndex`).
    /// Cleans up what an interrupted writer left, then verifies the current generation (vectors checksum, database
    /// and full-text index) and its configuration against `configuration`. With `rebuild`, neither the old
    /// configuration nor damage in the old generation matters: `update(rebuildingWith:)` replaces it.
    /// The lock is held until `releaseWriterLock()` or deinit.
    public static func openForWriting(at folder: URL, configuration: IndexConfiguration, rebuild: Bool = false,
                                      wait: Bool = false, onWait: ((Int?) -> Void)? = nil) throws -> CollectionIndex {
        precondition(configuration.dimension > 0, "index dimension must be positive")
        _ = try IndexFolder.classify(folder)
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw IndexError.storage(operation: "creating index folder", path: folder.path, underlying: error.localizedDescription)
        }
        let writerLock = try IndexLock.acquire(folder: folder, wait: wait, onWait: onWait)
        // Classify again under the lock: another writer may have finished meanwhile.
        let kind = try IndexFolder.classify(folder)
        if kind != .index(hasMarker: true) { try IndexFolder.writeMarker(in: folder) }
        let hasManifest = FileManager.default.fileExists(atPath: folder.appendingPathComponent(ManifestIO.fileName).path)
        // An unreadable manifest stops an update; a rebuild replaces it.
        let committed: IndexManifest? = !hasManifest ? nil : rebuild ? try? ManifestIO.read(folder: folder) : try ManifestIO.read(folder: folder)
        StagingRecord.clean(folder: folder, keeping: committed)

        let index: CollectionIndex
        if let committed, !rebuild {
            try committed.configuration.check(against: configuration)
            index = CollectionIndex(folder: folder, state: try load(committed, folder: folder, verify: true))
        } else if let committed, let state = try? load(committed, folder: folder, verify: false) {
            index = CollectionIndex(folder: folder, state: state)
        } else {
            // Nothing committed, or a rebuild of a generation too damaged to open: start from an empty generation
            // numbered past every generation file present, so no file is overwritten.
            index = try createEmptyGeneration(in: folder, configuration: configuration,
                                              generation: nextFreeGeneration(in: folder, after: committed?.generation ?? 0),
                                              retiring: committed.map { [$0.databaseFile, $0.vectorsFile] } ?? [])
        }
        index.writerLock = writerLock
        return index
    }

    /// Creates an empty index (generation 1) in an absent or empty folder. Fails if the folder already holds an index.
    public static func create(at folder: URL, configuration: IndexConfiguration) throws -> CollectionIndex {
        if case .index = try IndexFolder.classify(folder),
           FileManager.default.fileExists(atPath: folder.appendingPathComponent(ManifestIO.fileName).path) {
            throw IndexError.alreadyExists(path: folder.path)
        }
        let index = try openForWriting(at: folder, configuration: configuration)
        index.releaseWriterLock()
        return index
    }

    /// Releases the inter-process writer lock taken by `openForWriting`; reading stays possible.
    public func releaseWriterLock() {
        lock.lock(); let held = writerLock; writerLock = nil; lock.unlock()
        held?.release()
    }

    private static func nextFreeGeneration(in folder: URL, after committed: Int) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let used = names.compactMap { name -> Int? in
            let parts = name.split(separator: ".")
            guard parts.count >= 3, parts[0] == "chunks" || parts[0] == "vectors" else { return nil }
            return Int(parts[1])
        }
        return max(committed, used.max() ?? 0) + 1
    }

    /// Writes and commits an empty generation (under the writer lock, with a staging record like any update).
    private static func createEmptyGeneration(in folder: URL, configuration: IndexConfiguration, generation: Int,
                                              retiring: [String]) throws -> CollectionIndex {
        let names = IndexManifest.fileNames(generation: generation)
        try StagingRecord(generation: generation, creating: [names.database, names.vectors], retiring: retiring).write(folder: folder)
        let dbURL = folder.appendingPathComponent(names.database), vecURL = folder.appendingPathComponent(names.vectors)
        let store = try ChunkStore(url: dbURL, readonly: false, create: true)
        try store.close()
        let writer = try SyncedWriter(url: vecURL)
        try writer.close()
        let now = Date()
        let manifest = IndexManifest(formatVersion: IndexManifest.currentFormatVersion, configuration: configuration, generation: generation,
                                     databaseFile: names.database, vectorsFile: names.vectors, documentCount: 0, chunkCount: 0,
                                     tokenCount: 0, vectorsByteCount: 0, vectorsChecksum: writer.checksum.hexDigest,
                                     created: now, updated: now)
        try ManifestIO.write(manifest, folder: folder)
        StagingRecord.clean(folder: folder, keeping: manifest)
        return CollectionIndex(folder: folder, state: try load(manifest, folder: folder, verify: false))
    }

    private static func load(_ manifest: IndexManifest, folder: URL, verify: Bool) throws -> State {
        let dim = manifest.configuration.dimension
        let vecURL = folder.appendingPathComponent(manifest.vectorsFile)
        let vectors = try FlatVectorStore(url: vecURL, count: manifest.chunkCount, dimension: dim)
        let store = try ChunkStore(url: folder.appendingPathComponent(manifest.databaseFile), readonly: true)
        if verify {
            try checkChecksum(vectors, manifest: manifest, url: vecURL)
            try store.checkConsistency(chunkCount: manifest.chunkCount, thorough: false)
        }
        return State(manifest: manifest, store: store, vectors: vectors)
    }

    private static func checkChecksum(_ vectors: FlatVectorStore, manifest: IndexManifest, url: URL) throws {
        let sum = vectors.checksum()
        guard sum == manifest.vectorsChecksum else {
            throw IndexError.corrupted(path: url.path, reason: "checksum \(sum) does not match the manifest's \(manifest.vectorsChecksum)")
        }
    }

    /// Everything that can be checked without the documents: the vectors file's size and checksum, that every
    /// vector is finite and unit length, SQLite's integrity check, the full-text index's own integrity check, and
    /// that database, full-text index and manifest agree on the chunk count. Returns the problems found (empty when
    /// the index is sound). Reads every file whole.
    public func verify() -> [String] {
        let s = current
        var problems: [String] = []
        let vecURL = folder.appendingPathComponent(s.manifest.vectorsFile)
        do { try Self.checkChecksum(s.vectors, manifest: s.manifest, url: vecURL) } catch { problems.append("\(error)") }
        let dim = s.vectors.dimension
        let bad = s.vectors.withVectors { all -> (nonFinite: Int?, notUnit: Int?) in
            var nonFinite: Int?, notUnit: Int?
            for slot in 0..<s.vectors.count {
                var norm: Float = 0
                for x in all[(slot * dim)..<((slot + 1) * dim)] {
                    if !x.isFinite { nonFinite = nonFinite ?? slot }
                    norm += x * x
                }
                if norm.isFinite, abs(norm - 1) > 1e-3 { notUnit = notUnit ?? slot }
            }
            return (nonFinite, notUnit)
        }
        if let slot = bad.nonFinite { problems.append("index file \(vecURL.path) is damaged: vector \(slot) holds NaN or infinity") }
        if let slot = bad.notUnit { problems.append("index file \(vecURL.path) is damaged: vector \(slot) is not unit length") }
        do { try s.store.checkConsistency(chunkCount: s.manifest.chunkCount, thorough: true) } catch { problems.append("\(error)") }
        return problems
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
        let hits = try s.vectors.searchFlat(flat, queryCount: queryVectors.count, k: max(0, topK))
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
    /// With `rebuildingWith`, the new generation holds only `documents`, all embedded afresh, and carries that
    /// configuration; the old generation keeps answering until the commit and survives any failure.
    /// The embedder must match the (new) configuration's model identity and dimension. `progress` counts embedded
    /// chunks. Takes the writer lock for the update unless this instance holds it (`openForWriting`).
    @discardableResult
    public func update(upserting documents: [DocumentUpdate], deleting: [String] = [], rebuildingWith newConfiguration: IndexConfiguration? = nil,
                       embedder: any TextEmbedder, batchSize: Int = 32,
                       progress: (@Sendable (IndexProgress) -> Void)? = nil) throws -> IndexSummary {
        precondition(batchSize > 0, "batchSize must be positive")
        let started = Date()
        updateLock.lock(); defer { updateLock.unlock() }
        lock.lock(); let holdsLock = writerLock != nil; lock.unlock()
        let updateOnlyLock = holdsLock ? nil : try IndexLock.acquire(folder: folder, wait: false)
        defer { updateOnlyLock?.release() }
        // Under the lock, the manifest on disk is the truth: another process may have committed since this
        // instance was opened, and the next generation must follow that one.
        var old = current
        let onDisk = try ManifestIO.read(folder: folder)
        if onDisk.generation != old.manifest.generation {
            old = try Self.load(onDisk, folder: folder, verify: false)
        }
        if updateOnlyLock != nil { StagingRecord.clean(folder: folder, keeping: old.manifest) }

        let rebuilding = newConfiguration != nil
        let config = newConfiguration ?? old.manifest.configuration
        try config.check(against: IndexConfiguration(modelIdentity: embedder.modelIdentity, dimension: embedder.dimension,
                                                     chunkerFingerprint: config.chunkerFingerprint, readerFingerprint: config.readerFingerprint))
        // Kept vectors are copied from the old generation, so it must be intact.
        if !rebuilding { try Self.checkChecksum(old.vectors, manifest: old.manifest, url: folder.appendingPathComponent(old.manifest.vectorsFile)) }
        let dim = config.dimension
        let upsertIDs = Set(documents.map(\.id))
        precondition(upsertIDs.count == documents.count, "update: a document is listed twice")

        // 1. Embed first: nothing on disk changes until every vector exists. A chunk that keeps its id and
        //    text in a re-indexed document keeps its vector (same model input, same output).
        let allChunks = documents.flatMap(\.chunks)
        let previous = rebuilding ? [:] : try old.store.existingChunks(documentPaths: documents.map(\.id))
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
            // A non-finite vector would poison every search's scores; refuse it before anything is written.
            if let bad = vectors.firstIndex(where: { !$0.allSatisfy(\.isFinite) }) {
                let chunk = allChunks[embedIndices[start + bad]]
                throw IndexError.embedding(reason: "the embedder returned NaN or infinity for chunk \(chunk.id); nothing was written")
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

        // 2. Stage the next generation beside the current one, recorded before any of its files exists.
        let generation = Self.nextFreeGeneration(in: folder, after: old.manifest.generation)
        let names = IndexManifest.fileNames(generation: generation)
        let dbURL = folder.appendingPathComponent(names.database), vecURL = folder.appendingPathComponent(names.vectors)
        try StagingRecord(generation: generation, creating: [names.database, names.vectors],
                          retiring: [old.manifest.databaseFile, old.manifest.vectorsFile]).write(folder: folder)
        let manifest: IndexManifest
        let counts: (oldSlots: [Int], documents: Int, tokens: Int)
        do {
            if !rebuilding {
                do { try FileManager.default.copyItem(at: folder.appendingPathComponent(old.manifest.databaseFile), to: dbURL) } catch {
                    throw IndexError.storage(operation: "staging database copy", path: dbURL.path, underlying: error.localizedDescription)
                }
            }
            let staging = try ChunkStore(url: dbURL, readonly: false, create: rebuilding)
            defer { try? staging.close() }
            counts = try staging.write("updating database") { db in
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
                    runStart = runEnd
                }
            }
            try newVectors.withUnsafeBytes { try writer.write($0) }
            try writer.close()

            // 4. Commit: the manifest rename.
            let chunkCount = counts.oldSlots.count + allChunks.count
            precondition(writer.byteCount == chunkCount * dim * MemoryLayout<Float>.size, "vectors file size disagrees with chunk count")
            let now = Date()
            manifest = IndexManifest(formatVersion: IndexManifest.currentFormatVersion, configuration: config, generation: generation,
                                     databaseFile: names.database, vectorsFile: names.vectors, documentCount: counts.documents,
                                     chunkCount: chunkCount, tokenCount: counts.tokens, vectorsByteCount: writer.byteCount,
                                     vectorsChecksum: writer.checksum.hexDigest, created: rebuilding ? now : old.manifest.created, updated: now)
            try ManifestIO.write(manifest, folder: folder)
        } catch {
            // Not committed: remove what this run created; the old generation stays current and whole.
            StagingRecord.clean(folder: folder, keeping: old.manifest)
            throw error
        }

        let next = try Self.load(manifest, folder: folder, verify: false)
        lock.lock(); state = next; lock.unlock()
        // Searches still holding the old state keep working: its files stay readable until closed/unmapped.
        StagingRecord.clean(folder: folder, keeping: manifest)
        let summary = IndexSummary(documents: counts.documents, chunks: manifest.chunkCount, tokens: counts.tokens,
                                   documentsWritten: documents.count,
                                   documentsDeleted: rebuilding ? old.manifest.documentCount : deleting.filter { !upsertIDs.contains($0) }.count,
                                   chunksEmbedded: texts.count, chunksReused: allChunks.count - texts.count,
                                   seconds: Date().timeIntervalSince(started))
        progress?(IndexProgress(phase: .done, completed: texts.count, total: texts.count))
        return summary
    }
}
