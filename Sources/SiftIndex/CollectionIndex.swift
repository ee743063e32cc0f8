import Foundation
import GRDB
import SiftCore

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
    /// The vectors file of the current generation.
    var flatVectors: FlatVectorStore { current.vectors }
    /// The database of the current generation.
    var currentStore: ChunkStore { current.store }

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

    // MARK: Reading: the three stores of the current generation

    /// The documents and chunks (SQLite tables).
    public var documents: any DocumentStore { LocalDocumentStore(index: self) }
    /// The chunk vectors (the memory-mapped vectors file, its slots mapped to chunk ids through the database).
    public var vectors: any VectorIndex { LocalVectorIndex(index: self) }
    /// BM25 over the chunks (SQLite FTS5).
    public var lexical: any LexicalIndex { LocalLexicalIndex(index: self) }

    public func documentIDs() throws -> [String] { try current.store.documentIDs() }

    public func chunk(id: String) throws -> Chunk? { try current.store.chunks(ids: [id]).first }

    /// Chunks in the order of `ids`; unknown ids are skipped.
    public func chunks(ids: [String]) throws -> [Chunk] { try current.store.chunks(ids: ids) }

    /// Dense top-k for query vectors (each normalised here), best first.
    func denseSearch(queryVectors: [[Float]], topK: Int) throws -> [[ScoredChunk]] {
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
        return hits.map { list in list.compactMap { hit in ids[hit.slot].map { ScoredChunk(chunkID: $0, score: hit.score) } } }
    }

    /// BM25 top-k for a free-text query; empty when the query has no searchable term.
    func bm25Search(_ query: String, topK: Int) throws -> [ScoredChunk] {
        guard topK > 0, let match = LexicalQuery.matchExpression(query) else { return [] }
        return try current.store.bm25(match: match, limit: topK)
    }

    /// The stored vectors of these chunks, by chunk id.
    func storedVectors(chunkIDs: [String]) throws -> [String: [Float]] {
        let s = current
        let slots = try s.store.slots(chunkIDs: chunkIDs)
        return slots.mapValues { s.vectors.vector(at: $0) }
    }

    // MARK: Updating

    /// Embeds what `documents` need (`ChunkEmbedding`: only chunks whose id or text changed) and applies the change:
    /// replaces (or adds) the given documents, removes `deleting`, and commits a new generation atomically. With
    /// `rebuildingWith`, the new generation holds only `documents`, all embedded afresh, and carries that
    /// configuration. The embedder must match the (new) configuration's model identity and dimension; `progress`
    /// counts embedded chunks. Takes the writer lock unless this instance holds it (`openForWriting`).
    @discardableResult
    public func update(upserting documents: [DocumentUpdate], deleting: [String] = [], rebuildingWith newConfiguration: IndexConfiguration? = nil,
                       embedder: any TextEmbedder, batchSize: Int = 32,
                       progress: (@Sendable (IndexProgress) -> Void)? = nil) throws -> IndexSummary {
        let config = newConfiguration ?? configuration
        try config.check(against: IndexConfiguration(modelIdentity: embedder.modelIdentity, dimension: embedder.dimension,
                                                     chunkerFingerprint: config.chunkerFingerprint, readerFingerprint: config.readerFingerprint))
        let embedded = try ChunkEmbedding.vectors(for: documents, reusingFrom: newConfiguration == nil ? self : nil,
                                                  embedder: embedder, batchSize: batchSize, progress: progress)
        progress?(IndexProgress(phase: .writing, completed: embedded.embedded, total: embedded.embedded))
        var summary = try apply(CollectionChange(upserting: documents, vectors: embedded.vectors, deleting: deleting,
                                                 rebuildingWith: newConfiguration))
        summary.chunksEmbedded = embedded.embedded
        summary.chunksReused = embedded.reused
        progress?(IndexProgress(phase: .done, completed: embedded.embedded, total: embedded.embedded))
        return summary
    }

    /// Applies `change` as the next generation (see the type's documentation): stage it beside the current one,
    /// then commit by the manifest rename. The old generation keeps answering until then and survives any failure.
    /// Takes the writer lock for the change unless this instance holds it (`openForWriting`).
    @discardableResult
    public func apply(_ change: CollectionChange) throws -> IndexSummary {
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

        let rebuilding = change.rebuildingWith != nil
        let config = change.rebuildingWith ?? old.manifest.configuration
        // Kept vectors are copied from the old generation, so it must be intact.
        if !rebuilding { try Self.checkChecksum(old.vectors, manifest: old.manifest, url: folder.appendingPathComponent(old.manifest.vectorsFile)) }
        let newVectors = try Self.vectorRows(for: change, dimension: config.dimension)

        // Stage the next generation beside the current one, recorded before any of its files exists.
        let generation = Self.nextFreeGeneration(in: folder, after: old.manifest.generation)
        let names = IndexManifest.fileNames(generation: generation)
        try StagingRecord(generation: generation, creating: [names.database, names.vectors],
                          retiring: [old.manifest.databaseFile, old.manifest.vectorsFile]).write(folder: folder)
        let manifest: IndexManifest
        let written: (documents: Int, tokens: Int, deleted: Int)
        do {
            let rows = try stageDatabase(change, from: old, as: folder.appendingPathComponent(names.database))
            let vectorBytes = try stageVectors(keeping: rows.oldSlots, from: old.vectors, appending: newVectors,
                                               as: folder.appendingPathComponent(names.vectors))
            let chunkCount = rows.oldSlots.count + newVectors.count / max(1, config.dimension)
            precondition(vectorBytes.count == chunkCount * config.dimension * MemoryLayout<Float>.size,
                         "vectors file size disagrees with chunk count")
            let now = Date()
            manifest = IndexManifest(formatVersion: IndexManifest.currentFormatVersion, configuration: config, generation: generation,
                                     databaseFile: names.database, vectorsFile: names.vectors, documentCount: rows.documents,
                                     chunkCount: chunkCount, tokenCount: rows.tokens, vectorsByteCount: vectorBytes.count,
                                     vectorsChecksum: vectorBytes.checksum, created: rebuilding ? now : old.manifest.created, updated: now)
            // The commit.
            try ManifestIO.write(manifest, folder: folder)
            written = (rows.documents, rows.tokens, rows.deleted)
        } catch {
            // Not committed: remove what this run created; the old generation stays current and whole.
            StagingRecord.clean(folder: folder, keeping: old.manifest)
            throw error
        }

        let next = try Self.load(manifest, folder: folder, verify: false)
        lock.lock(); state = next; lock.unlock()
        // Searches still holding the old state keep working: its files stay readable until closed/unmapped.
        StagingRecord.clean(folder: folder, keeping: manifest)
        return IndexSummary(documents: written.documents, chunks: manifest.chunkCount, tokens: written.tokens,
                            documentsWritten: change.upserting.count,
                            documentsDeleted: rebuilding ? old.manifest.documentCount : written.deleted,
                            chunksEmbedded: 0, chunksReused: 0, seconds: Date().timeIntervalSince(started))
    }

    /// The change's vectors as rows in chunk order, checked: one per chunk, of the index's dimension, finite.
    private static func vectorRows(for change: CollectionChange, dimension: Int) throws -> [Float] {
        let upsertIDs = Set(change.upserting.map(\.id))
        precondition(upsertIDs.count == change.upserting.count, "update: a document is listed twice")
        var rows = [Float]()
        rows.reserveCapacity(change.upserting.reduce(0) { $0 + $1.chunks.count } * dimension)
        for chunk in change.upserting.lazy.flatMap(\.chunks) {
            guard let vector = change.vectors[chunk.id] else {
                throw IndexError.embedding(reason: "no vector was given for chunk \(chunk.id); nothing was written")
            }
            guard vector.count == dimension else {
                throw IndexError.embedding(reason: "chunk \(chunk.id) has a vector of \(vector.count) dimensions, the index has \(dimension)")
            }
            // A non-finite vector would poison every search's scores; refuse it before anything is written.
            guard vector.allSatisfy(\.isFinite) else {
                throw IndexError.embedding(reason: "the embedder returned NaN or infinity for chunk \(chunk.id); nothing was written")
            }
            rows.append(contentsOf: vector)
        }
        return rows
    }

    /// Writes the next generation's database: a copy of the old one (empty for a rebuild) with the change's documents
    /// deleted and re-inserted. Returns the old vector slots kept (in their new order) and the new totals.
    private func stageDatabase(_ change: CollectionChange, from old: State, as url: URL)
        throws -> (oldSlots: [Int], documents: Int, tokens: Int, deleted: Int) {
        let rebuilding = change.rebuildingWith != nil
        if !rebuilding {
            do { try FileManager.default.copyItem(at: folder.appendingPathComponent(old.manifest.databaseFile), to: url) } catch {
                throw IndexError.storage(operation: "staging database copy", path: url.path, underlying: error.localizedDescription)
            }
        }
        let upsertIDs = Set(change.upserting.map(\.id))
        let deleting = change.deleting.filter { !upsertIDs.contains($0) }
        let staging = try ChunkStore(url: url, readonly: false, create: rebuilding)
        defer { try? staging.close() }
        let result = try staging.write("updating database") { db in
            try ChunkStore.deleteDocuments(Array(upsertIDs) + deleting, in: db)
            let oldSlots = try ChunkStore.compactSlots(in: db)
            var slot = oldSlots.count
            for doc in change.upserting {
                try ChunkStore.insert(doc, firstSlot: slot, in: db)
                slot += doc.chunks.count
            }
            let documentCount = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM documents") ?? 0
            let tokens = try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(token_count), 0) FROM documents") ?? 0
            return (oldSlots, documentCount, tokens, deleting.count)
        }
        try staging.close()
        return result
    }

    /// Writes the next generation's vectors file: the kept old rows in their new slot order, then the new rows.
    private func stageVectors(keeping oldSlots: [Int], from old: FlatVectorStore, appending newRows: [Float], as url: URL)
        throws -> (count: Int, checksum: String) {
        let writer = try SyncedWriter(url: url)
        try old.withVectors { corpus in
            let rowBytes = old.dimension * MemoryLayout<Float>.size
            let raw = UnsafeRawBufferPointer(corpus)
            var runStart = 0
            // Copy runs of consecutive old slots in one write.
            while runStart < oldSlots.count {
                var runEnd = runStart + 1
                while runEnd < oldSlots.count && oldSlots[runEnd] == oldSlots[runEnd - 1] + 1 { runEnd += 1 }
                let first = oldSlots[runStart]
                try writer.write(UnsafeRawBufferPointer(rebasing: raw[(first * rowBytes)..<((first + runEnd - runStart) * rowBytes)]))
                runStart = runEnd
            }
        }
        try newRows.withUnsafeBytes { try writer.write($0) }
        try writer.close()
        return (writer.byteCount, writer.checksum.hexDigest)
    }
}

extension CollectionIndex: WritableCollectionStore {}

/// The document store of a `CollectionIndex`'s current generation.
struct LocalDocumentStore: DocumentStore {
    let index: CollectionIndex
    func chunks(ids: [String]) throws -> [Chunk] { try index.chunks(ids: ids) }
    func documentIDs() throws -> [String] { try index.documentIDs() }
    func documentHashes() throws -> [String: String] { try index.currentStore.documentHashes() }
    func chunkTexts(documentIDs: [String]) throws -> [String: String] {
        try index.currentStore.existingChunks(documentPaths: documentIDs).mapValues(\.text)
    }
    func export(documentIDs: [String]) throws -> [DocumentUpdate] { try index.currentStore.export(documentIDs: documentIDs) }
}

/// The vector index of a `CollectionIndex`'s current generation.
struct LocalVectorIndex: VectorIndex {
    let index: CollectionIndex
    var dimension: Int { index.configuration.dimension }
    var count: Int { index.stats.chunks }
    func search(_ queryVectors: [[Float]], topK: Int) throws -> [[ScoredChunk]] { try index.denseSearch(queryVectors: queryVectors, topK: topK) }
    func vectors(chunkIDs: [String]) throws -> [String: [Float]] { try index.storedVectors(chunkIDs: chunkIDs) }
}

/// The lexical index of a `CollectionIndex`'s current generation.
struct LocalLexicalIndex: LexicalIndex {
    let index: CollectionIndex
    var scoring: String { "BM25 (SQLite FTS5)" }
    func search(_ query: String, topK: Int) throws -> [ScoredChunk] { try index.bm25Search(query, topK: topK) }
}
