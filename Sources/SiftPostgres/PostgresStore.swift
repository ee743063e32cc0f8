import Foundation
import SiftCore

/// A collection stored in PostgreSQL with pgvector: documents, chunks with their vectors (HNSW or exact search)
/// and a full-text index, in one schema on every shard. Documents are assigned to shards by a stable hash of
/// their id; questions fan out to every shard at once and the per-shard top-k lists are merged exactly.
///
/// Updates keep the embedded store's semantics: incremental by content hash (planned by `CollectionStore.plan`),
/// bound to one model/chunker/reader configuration, one writer at a time (a PostgreSQL advisory lock held by the
/// writer's session, so a killed writer releases it), and atomic: one transaction, and across several shards a
/// two-phase commit whose leftovers the next writer resolves.
public final class PostgresStore: WritableCollectionStore, @unchecked Sendable {
    public let settings: PostgresSettings
    let schema: Schema
    let nodes: [ShardNodes]
    private let lock = NSLock()
    private var state: State
    /// The writer's sessions, one per shard primary, holding the advisory lock; empty when opened for reading.
    private var writers: [Connection] = []

    struct State {
        var configuration: IndexConfiguration
        var stats: IndexStats
    }

    /// `host:port/db` of each shard's primary (replicas counted), and the schema: for messages.
    public static func describe(_ settings: PostgresSettings) -> String {
        let shards = settings.shards.map { shard in
            shard.primary.redacted + (shard.replicas.isEmpty ? "" : " (+\(shard.replicas.count) replica\(shard.replicas.count == 1 ? "" : "s"))")
        }
        return "postgres \(shards.joined(separator: ", ")) schema \(settings.schema)"
    }

    private init(settings: PostgresSettings, schema: Schema, nodes: [ShardNodes], state: State) {
        self.settings = settings
        self.schema = schema
        self.nodes = nodes
        self.state = state
    }

    private static func nodes(for settings: PostgresSettings) throws -> (Schema, [ShardNodes]) {
        guard !settings.shards.isEmpty else { throw PostgresError.invalidSettings(reason: "no shard is configured") }
        let schema = try Schema(settings.schema)
        return (schema, settings.shards.enumerated().map { ShardNodes(index: $0.offset, shard: $0.element, settings: settings) })
    }

    // MARK: Opening

    /// Opens an existing index for reading. Throws `missingIndex` when nothing was indexed into the schema.
    public static func open(_ settings: PostgresSettings) throws -> PostgresStore {
        let (schema, nodes) = try nodes(for: settings)
        // With partial answers allowed, a shard that is down does not stop the others from answering.
        let results = fanOutResults(nodes) { node in try node.read { try Meta.read($0, schema: schema) } }
        var metas: [Meta?] = []
        var live: [Int] = []
        for (i, result) in results.enumerated() {
            if case let .failure(error) = result, settings.onShardFailure == .partial, case PostgresError.shardUnavailable = error { continue }
            metas.append(try result.get())
            live.append(i)
        }
        var configuration: IndexConfiguration?
        for (meta, i) in zip(metas, live) {
            guard let meta else { throw PostgresError.missingIndex(server: nodes[i].shard.primary.redacted, schema: schema.plain) }
            try meta.check(shard: i, of: nodes.count, server: nodes[i].shard.primary.redacted)
            if let configuration, configuration != meta.configuration {
                throw PostgresError.damaged(server: nodes[i].shard.primary.redacted,
                                            reason: "shard \(i + 1) was built with other settings than shard 1")
            }
            configuration = meta.configuration
        }
        guard let configuration else {
            throw PostgresError.shardUnavailable(shard: 0, servers: nodes.flatMap(\.servers), reason: "no shard answered")
        }
        let store = PostgresStore(settings: settings, schema: schema, nodes: nodes,
                                  state: State(configuration: configuration, stats: IndexStats(documents: 0, chunks: 0, tokens: 0,
                                                                                               dimension: configuration.dimension, generation: 0,
                                                                                               modelIdentity: configuration.modelIdentity, vectorsBytes: 0)))
        try store.refreshStats()
        return store
    }

    /// Opens for writing: takes the advisory lock on every shard's primary (waiting with `wait`, calling `onWait`
    /// with who holds it), resolves what an interrupted multi-shard commit left, checks pgvector, and creates the
    /// tables when the schema holds none. An existing index must match `configuration` unless `rebuild`.
    public static func openForWriting(_ settings: PostgresSettings, configuration: IndexConfiguration, rebuild: Bool = false,
                                      wait: Bool = false, onWait: ((String?) -> Void)? = nil) throws -> PostgresStore {
        precondition(configuration.dimension > 0, "index dimension must be positive")
        let (schema, nodes) = try nodes(for: settings)
        var writers: [Connection] = []
        for node in nodes {
            let connection = try node.connect(node.shard.primary)
            try Lock.acquire(connection, schema: schema, wait: wait, onWait: onWait)
            writers.append(connection)
        }
        for connection in writers { try checkServer(connection) }
        try TwoPhase.resolve(writers, schema: schema)

        var metas: [Meta?] = []
        for connection in writers {
            // A rebuild replaces whatever is there, even an index it cannot read (another format, damaged settings).
            metas.append(rebuild ? (try? Meta.read(connection, schema: schema)) ?? nil : try Meta.read(connection, schema: schema))
        }
        let existing = metas.compactMap { $0 }
        if !rebuild {
            if !existing.isEmpty && existing.count != metas.count {
                throw PostgresError.damaged(server: writers[metas.firstIndex(where: { $0 == nil })!].endpoint.redacted,
                                            reason: "some shards hold the index and others do not (shards added?); rebuild with --rebuild")
            }
            for (i, meta) in metas.enumerated() {
                guard let meta else { continue }
                try meta.check(shard: i, of: nodes.count, server: writers[i].endpoint.redacted)
                if let difference = meta.configuration.mismatch(with: configuration) {
                    throw PostgresError.incompatible(field: difference.field, index: difference.index, requested: difference.requested)
                }
            }
        }
        // A shard without tables (first build, or a rebuild of another dimension) gets them now, empty, in the
        // update's own transaction (see `apply`); here only the stored state is read.
        let stored = !rebuild && !existing.isEmpty ? existing[0].configuration : configuration
        let store = PostgresStore(settings: settings, schema: schema, nodes: nodes,
                                  state: State(configuration: stored, stats: IndexStats(documents: 0, chunks: 0, tokens: 0, dimension: stored.dimension,
                                                                                        generation: existing.map(\.generation).max() ?? 0,
                                                                                        modelIdentity: stored.modelIdentity, vectorsBytes: 0)))
        store.writers = writers
        // A shard with no index yet gets empty tables now (committed, generation 0), as the local store creates an
        // empty first generation: planning and reading work before the first update.
        for (i, connection) in writers.enumerated() where metas[i] == nil {
            try connection.query("BEGIN", operation: "creating the tables")
            do {
                for sql in schema.dropAll + schema.create(dimension: stored.dimension) { try connection.query(sql, operation: "creating the tables") }
                try Meta.write(connection, schema: schema, configuration: stored, shard: i, of: nodes.count)
                try connection.query(schema.recordLengths, operation: "creating the tables")
                try connection.query("COMMIT", operation: "creating the tables")
            } catch {
                _ = try? connection.query("ROLLBACK", operation: "rolling back")
                throw error
            }
        }
        store.needsTables = metas.map { $0 == nil }
        if !existing.isEmpty && !store.needsTables.contains(true) {
            try store.refreshStats()
            try store.matchVectorIndex()
        }
        return store
    }

    /// Tests stop a two-phase commit between its steps, as a killed writer would.
    enum Fault { case afterPrepare, afterFirstCommit }
    var testFault: Fault?

    /// Shards whose tables are created by the first `apply`.
    private var needsTables: [Bool] = []

    /// The server must have pgvector; one distance query proves it works on this CPU.
    private static func checkServer(_ connection: Connection) throws {
        try connection.query("CREATE EXTENSION IF NOT EXISTS vector", operation: "enabling pgvector (CREATE EXTENSION vector)")
        let rows = try connection.query("SELECT '[1,2,3]'::vector <=> '[3,2,1]'", operation: "checking pgvector")
        guard rows.count == 1, abs(rows.float(0, 0) - 0.2857143) < 1e-4 else {
            throw PostgresError.unsupported(server: connection.endpoint.redacted, reason: "pgvector returned \(rows.text(0, 0)) for a known distance")
        }
    }

    /// Builds or drops the HNSW index to match `vector_index` (and rebuilds it when m or ef_construction changed).
    private func matchVectorIndex() throws {
        for connection in writers {
            let options = try connection.query(schema.hnswOptions, [schema.plain], operation: "reading the vector index")
            let wanted = "m=\(settings.hnsw.m),ef_construction=\(settings.hnsw.efConstruction)"
            switch settings.vectorIndex {
            case .exact where options.count > 0:
                try connection.query(schema.dropHNSW, operation: "dropping the HNSW index (vector_index: exact)")
            case .hnsw where options.count == 0 || options.text(0, 0) != wanted:
                if options.count > 0 { try connection.query(schema.dropHNSW, operation: "dropping the HNSW index") }
                try buildHNSW(connection)
            default: break
            }
        }
    }

    private func buildHNSW(_ connection: Connection) throws {
        // The build can outlast statement_timeout; it runs with no limit, and with memory for the whole graph (a graph
        // that outgrows maintenance_work_mem makes pgvector build far slower): 2 GB holds about 1M 384-d vectors.
        try connection.query("SELECT set_config('statement_timeout', '0', false), set_config('maintenance_work_mem', '2GB', false)",
                             operation: "preparing the HNSW build")
        defer { _ = try? connection.query("SELECT set_config('statement_timeout', $1, false)", [String(settings.statementTimeoutMilliseconds)],
                                          operation: "restoring statement_timeout") }
        try connection.query(schema.createHNSW(settings.hnsw), operation: "building the HNSW index")
    }

    public func releaseWriterLock() {
        lock.lock(); let held = writers; writers = []; lock.unlock()
        for connection in held { Lock.release(connection, schema: schema) }
    }

    deinit { releaseWriterLock() }

    // MARK: CollectionStore

    public var configuration: IndexConfiguration { lock.lock(); defer { lock.unlock() }; return state.configuration }
    public var stats: IndexStats { lock.lock(); defer { lock.unlock() }; return state.stats }
    public var documents: any DocumentStore { PostgresDocuments(store: self) }
    public var vectors: any VectorIndex { PostgresVectors(store: self) }
    public var lexical: any LexicalIndex {
        switch settings.lexical {
        case .bm25: PostgresBM25(store: self)
        case .tsRankCD: PostgresFullText(store: self)
        }
    }

    /// The shard a document belongs to.
    func shard(of documentID: String) -> Int { Int(StableHash.fnv1a64(documentID) % UInt64(nodes.count)) }

    func refreshStats() throws {
        let schema = self.schema
        let parts = try tolerant(Self.fanOutResults(nodes) { node in
            try node.read { connection -> (Int, Int, Int, Int) in
                let rows = try connection.query("""
                    SELECT (SELECT count(*) FROM \(schema.documents)), (SELECT count(*) FROM \(schema.chunks)),
                           (SELECT coalesce(sum(token_count), 0) FROM \(schema.documents)),
                           (SELECT value FROM \(schema.meta) WHERE key = 'generation')
                    """, operation: "reading index statistics")
                return (rows.int(0, 0), rows.int(0, 1), rows.int(0, 2), rows.int(0, 3))
            }
        })
        lock.lock(); defer { lock.unlock() }
        let chunks = parts.reduce(0) { $0 + $1.1 }
        state.stats = IndexStats(documents: parts.reduce(0) { $0 + $1.0 }, chunks: chunks, tokens: parts.reduce(0) { $0 + $1.2 },
                                 dimension: state.configuration.dimension, generation: parts.map(\.3).max() ?? 0,
                                 modelIdentity: state.configuration.modelIdentity, vectorsBytes: chunks * state.configuration.dimension * 4)
    }

    /// The highest generation committed on any shard (one small query per shard).
    func committedGeneration() throws -> Int {
        let schema = self.schema
        return try tolerant(Self.fanOutResults(nodes) { node in
            try node.read { connection -> Int in
                try connection.query("SELECT value FROM \(schema.meta) WHERE key = 'generation'", operation: "reading the generation").int(0, 0)
            }
        }).max() ?? 0
    }

    /// Applies the change in one transaction per shard; across shards, every transaction is prepared before any
    /// commits (two-phase commit), so a failure before the commit phase leaves every shard as it was.
    @discardableResult
    public func apply(_ change: CollectionChange) throws -> IndexSummary {
        let started = Date()
        lock.lock(); let writers = self.writers; lock.unlock()
        precondition(!writers.isEmpty, "PostgresStore.apply needs a store opened with openForWriting")
        let target = change.rebuildingWith ?? configuration
        for document in change.upserting {
            for chunk in document.chunks {
                guard let vector = change.vectors[chunk.id] else {
                    throw PostgresError.invalidSettings(reason: "no vector was given for chunk \(chunk.id)")
                }
                precondition(vector.count == target.dimension, "vector of \(chunk.id) has \(vector.count) values, the index \(target.dimension)")
            }
        }
        let generation = stats.generation + 1
        var byShard = Array(repeating: [DocumentUpdate](), count: nodes.count)
        for document in change.upserting { byShard[shard(of: document.id)].append(document) }
        var deleting = Array(repeating: [String](), count: nodes.count)
        for id in change.deleting { deleting[shard(of: id)].append(id) }

        let twoPhase = nodes.count > 1
        var prepared: [Connection] = []
        do {
            for (i, connection) in writers.enumerated() {
                try connection.query("BEGIN", operation: "starting the update")
                try write(shard: i, connection: connection, upserting: byShard[i], deleting: deleting[i], vectors: change.vectors,
                          rebuildingWith: change.rebuildingWith, generation: generation)
                if twoPhase {
                    try connection.query("PREPARE TRANSACTION '\(TwoPhase.id(schema: schema, generation: generation))'",
                                         operation: "preparing the update (two-phase commit; the server needs max_prepared_transactions > 0)")
                    prepared.append(connection)
                } else {
                    try connection.query("COMMIT", operation: "committing the update")
                }
            }
        } catch {
            for connection in writers where !prepared.contains(where: { $0 === connection }) {
                _ = try? connection.query("ROLLBACK", operation: "rolling back")
            }
            for connection in prepared {
                _ = try? connection.query("ROLLBACK PREPARED '\(TwoPhase.id(schema: schema, generation: generation))'", operation: "rolling back")
            }
            throw error
        }
        // Commit phase: every shard is prepared. A failure from here on is resolved forward by the next writer.
        if testFault == .afterPrepare { throw PostgresError.invalidSettings(reason: "test fault after prepare") }
        for (i, connection) in prepared.enumerated() {
            if i == 1 && testFault == .afterFirstCommit { throw PostgresError.invalidSettings(reason: "test fault after the first commit") }
            try connection.query("COMMIT PREPARED '\(TwoPhase.id(schema: schema, generation: generation))'", operation: "committing the update")
        }
        lock.lock()
        if let rebuilt = change.rebuildingWith { state.configuration = rebuilt }
        let created = needsTables.contains(true)
        needsTables = Array(repeating: false, count: nodes.count)
        lock.unlock()
        // New tables get their HNSW index after the rows are in: one bulk build instead of row-by-row inserts.
        if created || change.rebuildingWith != nil { try matchVectorIndex() }
        for connection in writers {
            try connection.query("SELECT set_config('statement_timeout', '0', false)", operation: "preparing VACUUM")
            try connection.query(schema.vacuumAnalyze, operation: "VACUUM (ANALYZE) after the update")
            try connection.query("SELECT set_config('statement_timeout', $1, false)", [String(settings.statementTimeoutMilliseconds)],
                                 operation: "restoring statement_timeout")
        }
        try refreshStats()
        let after = stats
        return IndexSummary(documents: after.documents, chunks: after.chunks, tokens: after.tokens, documentsWritten: change.upserting.count,
                            documentsDeleted: change.deleting.count, chunksEmbedded: change.upserting.reduce(0) { $0 + $1.chunks.count },
                            chunksReused: 0, seconds: Date().timeIntervalSince(started))
    }

    /// One shard's part of an update, inside its open transaction.
    private func write(shard i: Int, connection: Connection, upserting: [DocumentUpdate], deleting: [String], vectors: [String: [Float]],
                       rebuildingWith: IndexConfiguration?, generation: Int) throws {
        lock.lock(); let create = needsTables.indices.contains(i) && needsTables[i]; lock.unlock()
        if let rebuilt = rebuildingWith {
            let meta = (try? Meta.read(connection, schema: schema)) ?? nil
            if create || meta == nil || meta?.configuration.dimension != rebuilt.dimension {
                // A new dimension needs new tables; readers wait for this transaction instead of seeing a half state.
                for sql in schema.dropAll + schema.create(dimension: rebuilt.dimension) { try connection.query(sql, operation: "creating the tables") }
            } else {
                // Same table shape: rows are replaced, and readers keep answering from the old rows until commit.
                try connection.query("DELETE FROM \(schema.documents)", operation: "clearing the index for the rebuild")
                try connection.query("DELETE FROM \(schema.terms)", operation: "clearing the term statistics for the rebuild")
                try connection.query("DELETE FROM \(schema.postings)", operation: "clearing the postings for the rebuild")
            }
            try Meta.write(connection, schema: schema, configuration: rebuilt, shard: i, of: nodes.count)
        } else if create {
            for sql in schema.dropAll + schema.create(dimension: configuration.dimension) { try connection.query(sql, operation: "creating the tables") }
            try Meta.write(connection, schema: schema, configuration: configuration, shard: i, of: nodes.count)
        }
        let replaced = deleting + upserting.map(\.id)
        if !replaced.isEmpty {
            for sql in schema.removePostings {
                try connection.query(sql, sql.contains("$1") ? [Literal.array(replaced)] : [], operation: "updating term statistics")
            }
            try connection.query("DELETE FROM \(schema.documents) WHERE id = ANY($1::text[])", [Literal.array(replaced)],
                                 operation: "deleting documents")
        }
        if !upserting.isEmpty {
            try connection.query(schema.insertDocuments, [
                Literal.array(upserting.map(\.id)), Literal.array(upserting.map(\.contentHash)), Literal.array(upserting.map(\.title)),
                Literal.array(upserting.map(\.language)), Literal.array(upserting.map { String($0.chunks.count) }),
                Literal.array(upserting.map { String($0.chunks.reduce(0) { $0 + $1.tokenCount }) }),
            ], operation: "writing documents")
        }
        var batch: [(Int, Chunk)] = []
        func flush() throws {
            guard !batch.isEmpty else { return }
            try connection.query(schema.insertChunks, [
                Literal.array(batch.map(\.1.id)), Literal.array(batch.map(\.1.documentID)), Literal.array(batch.map { String($0.0) }),
                Literal.array(batch.map(\.1.anchor)), Literal.array(batch.map { $0.1.headingPath.joined(separator: "\u{1f}") }),
                Literal.array(batch.map { String($0.1.range.lowerBound) }), Literal.array(batch.map { String($0.1.range.upperBound) }),
                Literal.array(batch.map(\.1.text)), Literal.array(batch.map { String($0.1.tokenCount) }),
                Literal.array(batch.map { Literal.vector(vectors[$0.1.id]!) }),
            ], operation: "writing chunks")
            batch.removeAll(keepingCapacity: true)
        }
        for document in upserting {
            for (ordinal, chunk) in document.chunks.enumerated() {
                batch.append((ordinal, chunk))
                if batch.count == 500 { try flush() }
            }
        }
        try flush()
        if !upserting.isEmpty {
            for sql in schema.addPostings {
                try connection.query(sql, [Literal.array(upserting.map(\.id))], operation: "updating term statistics")
            }
        }
        try connection.query(schema.recordLengths, operation: "recording collection lengths")
        try connection.query("UPDATE \(schema.meta) SET value = $1 WHERE key = 'generation'", [String(generation)],
                             operation: "recording the generation")
    }

    /// Problems found by checking every shard (empty when sound).
    public func verify() -> [String] {
        var problems: [String] = []
        var generations = Set<Int>()
        for node in nodes {
            let server = node.shard.primary.redacted
            do {
                try node.read { connection in
                    guard let meta = try Meta.read(connection, schema: schema) else { problems.append("\(server): no index in schema \(schema.plain)"); return }
                    do { try meta.check(shard: node.index, of: nodes.count, server: server) } catch { problems.append("\(error)") }
                    if meta.configuration != configuration { problems.append("\(server): built with other settings than shard 1") }
                    generations.insert(meta.generation)
                    let counts = try connection.query("""
                        SELECT d.id FROM \(schema.documents) d LEFT JOIN \(schema.chunks) c ON c.document_id = d.id
                        GROUP BY d.id, d.chunk_count HAVING count(c.id) <> d.chunk_count LIMIT 5
                        """, operation: "checking chunk counts")
                    for row in 0..<counts.count { problems.append("\(server): document \(counts.text(row, 0)) has a wrong number of chunks") }
                    let ids = try connection.query("SELECT id FROM \(schema.documents)", operation: "reading document ids")
                    let misplaced = (0..<ids.count).map { ids.text($0, 0) }.filter { shard(of: $0) != node.index }
                    if let first = misplaced.first { problems.append("\(server): \(misplaced.count) documents belong to another shard (first: \(first))") }
                    let vectors = try connection.query("SELECT count(*) FROM \(schema.chunks) WHERE vector_dims(embedding) <> $1::integer",
                                                       [String(configuration.dimension)], operation: "checking vector dimensions")
                    if vectors.int(0, 0) > 0 { problems.append("\(server): \(vectors.int(0, 0)) vectors of the wrong dimension") }
                    let terms = try connection.query("""
                        SELECT (SELECT count(*) FROM (SELECT u.lexeme, count(*) AS df FROM \(schema.chunks) c, unnest(c.search) u GROUP BY u.lexeme) x
                                FULL JOIN \(schema.terms) t ON t.lexeme = x.lexeme WHERE x.df IS DISTINCT FROM t.df)
                             + (SELECT count(*) FROM \(schema.postings) p LEFT JOIN \(schema.chunks) c ON c.id = p.chunk_id
                                WHERE c.id IS NULL OR c.length <> p.length)
                        """, operation: "checking term statistics")
                    if terms.int(0, 0) > 0 { problems.append("\(server): \(terms.int(0, 0)) term statistics disagree with the chunks") }
                    let pending = try connection.query("SELECT gid FROM pg_prepared_xacts WHERE gid LIKE $1",
                                                       [TwoPhase.prefix(schema: schema) + "%"], operation: "checking prepared transactions")
                    if pending.count > 0 { problems.append("\(server): an interrupted update is pending (\(pending.text(0, 0))); the next `sift index` resolves it") }
                }
            } catch {
                problems.append("\(error)")
            }
        }
        if generations.count > 1 { problems.append("shards are at different generations: \(generations.sorted())") }
        return problems
    }

    /// Drops the index's schema on every shard primary (everything in it), under the writer lock.
    public static func dropIndex(_ settings: PostgresSettings) throws {
        let (schema, nodes) = try nodes(for: settings)
        for node in nodes {
            let connection = try node.connect(node.shard.primary)
            try Lock.acquire(connection, schema: schema, wait: true, onWait: nil)
            defer { Lock.release(connection, schema: schema) }
            try connection.query("DROP SCHEMA IF EXISTS \(schema.name) CASCADE", operation: "dropping the index")
        }
    }

    // MARK: Fan-out

    /// `body` for every shard at once; results in shard order. The first error is thrown.
    static func fanOut<T>(_ nodes: [ShardNodes], _ body: @escaping @Sendable (ShardNodes) throws -> T) throws -> [T] {
        let results = fanOutResults(nodes, body)
        return try results.map { try $0.get() }
    }

    static func fanOutResults<T>(_ nodes: [ShardNodes], _ body: @escaping @Sendable (ShardNodes) throws -> T) -> [Result<T, Error>] {
        if nodes.count == 1 { return [Result { try body(nodes[0]) }] }
        let box = ResultBox<T>(count: nodes.count)
        DispatchQueue.concurrentPerform(iterations: nodes.count) { i in box.set(i, Result { try body(nodes[i]) }) }
        return box.values.map { $0! }
    }

    /// The shards' values; a shard that was unavailable is left out when partial answers are allowed.
    func tolerant<T>(_ results: [Result<T, Error>]) throws -> [T] {
        try results.compactMap { result in
            if case let .failure(error) = result, settings.onShardFailure == .partial, case PostgresError.shardUnavailable = error { return nil }
            return try result.get()
        }
    }

    /// Runs a search on every shard and merges the per-shard top-k lists (each sorted best first) into the global
    /// top-k, ties broken by chunk id. A shard that cannot answer fails the search, or with `partial` is left out.
    func searchShards(topK: Int, _ body: @escaping @Sendable (Connection) throws -> [[ScoredChunk]]) throws -> [[ScoredChunk]] {
        let results = Self.fanOutResults(nodes) { node in try node.read(body) }
        var lists: [[[ScoredChunk]]] = []
        for result in results {
            switch result {
            case let .success(value): lists.append(value)
            case let .failure(error):
                guard settings.onShardFailure == .partial, case PostgresError.shardUnavailable(let shard, _, _) = error else { throw error }
                SearchNotes.record("partial results: shard \(shard + 1) did not answer (\(error))")
            }
        }
        guard let first = lists.first else {
            throw PostgresError.shardUnavailable(shard: 0, servers: nodes.flatMap(\.servers), reason: "no shard answered")
        }
        if lists.count == 1 { return first }
        return first.indices.map { q in
            lists.flatMap { $0[q] }.sorted { $0.score != $1.score ? $0.score > $1.score : $0.chunkID < $1.chunkID }
                .prefix(topK).map { $0 }
        }
    }
}

private final class ResultBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [Result<T, Error>?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: Result<T, Error>) { lock.lock(); values[i] = value; lock.unlock() }
}

extension PostgresStore: RefreshableCollectionStore {
    /// Rows are read live by every query; what an open store caches is its statistics and generation, re-read here
    /// when another writer has committed since.
    public func refreshIfCommitted() throws -> Bool {
        guard try committedGeneration() != stats.generation else { return false }
        try refreshStats()
        return true
    }
}
