import Foundation
import SiftCore
import SiftTestSupport
import Testing
@testable import SiftIndex
@testable import SiftPostgres

/// The PostgreSQL store against real servers: the same answers as the embedded store, the same update semantics,
/// shards and replicas, and failures that come back as clear errors.
@Suite(.enabled(if: Servers.available, Servers.skipReason), .serialized)
struct PostgresStoreTests {
    /// Builds the collection into a fresh schema and returns the store opened for reading.
    func build(_ collection: SyntheticCollection, schema: String, shards: [PostgresShard]? = nil,
               vectorIndex: VectorIndexKind = .exact) throws -> PostgresStore {
        let settings = Servers.settings(schema, shards: shards, vectorIndex: vectorIndex)
        let writer = try PostgresStore.openForWriting(settings, configuration: collection.configuration)
        try writer.apply(collection.change)
        writer.releaseWriterLock()
        return try PostgresStore.open(settings)
    }

    /// The embedded store with the same collection, for comparison.
    func local(_ collection: SyntheticCollection) throws -> (CollectionIndex, URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sift-pg-local-\(UUID().uuidString)")
        let index = try CollectionIndex.openForWriting(at: folder, configuration: collection.configuration)
        try index.apply(collection.change)
        index.releaseWriterLock()
        return (index, folder)
    }

    static func assertSameLists(_ a: [[ScoredChunk]], _ b: [[ScoredChunk]], tolerance: Float = 1e-5) {
        #expect(a.count == b.count)
        for (x, y) in zip(a, b) {
            #expect(x.map(\.chunkID) == y.map(\.chunkID))
            for (p, q) in zip(x, y) { #expect(abs(p.score - q.score) <= tolerance, "\(p.chunkID): \(p.score) vs \(q.score)") }
        }
    }

    @Test func exactSearchEqualsTheEmbeddedStoreOnOneAndTwoShards() throws {
        let collection = SyntheticCollection(documents: 120)
        let one = Servers.schema("one"), two = Servers.schema("two")
        defer { Servers.drop(one); Servers.drop(two) }
        let single = try build(collection, schema: one)
        let sharded = try build(collection, schema: two, shards: Servers.twoShards)
        let (embedded, folder) = try local(collection)
        defer { try? FileManager.default.removeItem(at: folder) }

        let queries = collection.queries(12)
        let expected = try embedded.vectors.search(queries, topK: 10)
        Self.assertSameLists(try single.vectors.search(queries, topK: 10), expected)
        Self.assertSameLists(try sharded.vectors.search(queries, topK: 10), expected)
        #expect(single.stats.chunks == 360 && sharded.stats.chunks == 360 && sharded.stats.documents == 120)
        // Both shards hold part of the collection.
        let counts = try sharded.nodes.map { node in try node.read { try $0.query("SELECT count(*) FROM \(sharded.schema.documents)", operation: "count").int(0, 0) } }
        #expect(counts.allSatisfy { $0 > 20 } && counts.reduce(0, +) == 120, "\(counts)")
        #expect(single.verify().isEmpty && sharded.verify().isEmpty, "\(sharded.verify())")
    }

    @Test func documentsRoundTripExactly() throws {
        let collection = SyntheticCollection(documents: 10)
        let schema = Servers.schema("docs")
        defer { Servers.drop(schema) }
        let store = try build(collection, schema: schema, shards: Servers.twoShards)
        let ids = collection.updates.map(\.id)
        #expect(try store.documents.export(documentIDs: ids) == collection.updates)
        #expect(try store.documents.documentIDs() == ids.sorted())
        #expect(try store.documents.documentHashes() == Dictionary(uniqueKeysWithValues: collection.updates.map { ($0.id, $0.contentHash) }))
        let chunkIDs = collection.updates.flatMap { $0.chunks.map(\.id) }.reversed().map { $0 }
        #expect(try store.documents.chunks(ids: chunkIDs + ["missing#0"]).map(\.id) == chunkIDs)
        // Vectors cross the wire exactly (text in Swift's and pgvector's shortest round-trip form).
        #expect(try store.vectors.vectors(chunkIDs: chunkIDs) == collection.vectors)
    }

    @Test func incrementalUpdatesAndDeletesAreAtomic() throws {
        let collection = SyntheticCollection(documents: 20)
        let schema = Servers.schema("incr")
        defer { Servers.drop(schema) }
        let settings = Servers.settings(schema, shards: Servers.twoShards)
        _ = try build(collection, schema: schema, shards: Servers.twoShards)
        let writer = try PostgresStore.openForWriting(settings, configuration: collection.configuration)
        defer { writer.releaseWriterLock() }
        var changed = collection.updates[3]
        changed.contentHash = "changed"
        changed.chunks.removeLast()
        let plan = try writer.plan(for: collection.updates.dropLast().map { DocumentFingerprint(documentID: $0.id, contentHash: $0.id == changed.id ? "changed" : $0.contentHash) })
        #expect(plan.changed == [changed.id] && plan.deleted == [collection.updates.last!.id] && plan.new.isEmpty)
        let generation = writer.stats.generation
        let summary = try writer.apply(CollectionChange(upserting: [changed], vectors: collection.vectors, deleting: plan.deleted))
        #expect(summary.documents == 19 && summary.chunks == 19 * 3 - 1)
        let reader = try PostgresStore.open(settings)
        #expect(reader.stats.generation == generation + 1)
        #expect(try reader.documents.export(documentIDs: [changed.id]) == [changed])
        #expect(try reader.documents.chunks(ids: collection.updates.last!.chunks.map(\.id)).isEmpty)

        // A failing update leaves everything as it was: a NUL byte cannot be stored in a text column, and the
        // error comes after this shard's deletes and inserts began.
        var broken = collection.updates[5]
        broken.contentHash = "broken"
        broken.chunks[0].text = "bad \u{0} text"
        #expect(throws: PostgresError.self) { try writer.apply(CollectionChange(upserting: [collection.updates[0], broken], vectors: collection.vectors)) }
        #expect(try reader.documents.documentHashes()[broken.id] == collection.updates[5].contentHash)
        #expect(try PostgresStore.open(settings).stats.generation == generation + 1)
        #expect(reader.verify().isEmpty)
    }

    @Test func configurationAndShardMismatchesAreRefused() throws {
        let collection = SyntheticCollection(documents: 5)
        let schema = Servers.schema("mismatch")
        defer { Servers.drop(schema) }
        _ = try build(collection, schema: schema, shards: Servers.twoShards)
        var other = collection.configuration
        other.modelIdentity = "another-model"
        #expect(throws: PostgresError.incompatible(field: "model", index: "synthetic-v1", requested: "another-model")) {
            try PostgresStore.openForWriting(Servers.settings(schema, shards: Servers.twoShards), configuration: other)
        }
        #expect(throws: PostgresError.incompatible(field: "shard count", index: "2", requested: "1")) {
            try PostgresStore.openForWriting(Servers.settings(schema), configuration: collection.configuration)
        }
        // Shards listed in the wrong order are caught before anything is read from the wrong place.
        let swapped = [PostgresShard(primary: Servers.secondPrimary), PostgresShard(primary: Servers.primary)]
        #expect { try PostgresStore.open(Servers.settings(schema, shards: swapped)) } throws: { error in
            "\(error)".contains("holds shard 2 of 2")
        }
        // A rebuild with the other model replaces the index.
        let rebuilt = try PostgresStore.openForWriting(Servers.settings(schema, shards: Servers.twoShards), configuration: other, rebuild: true)
        try rebuilt.apply(CollectionChange(upserting: collection.updates, vectors: collection.vectors, rebuildingWith: other))
        rebuilt.releaseWriterLock()
        #expect(try PostgresStore.open(Servers.settings(schema, shards: Servers.twoShards)).configuration.modelIdentity == "another-model")
    }

    @Test func oneWriterAtATime() throws {
        let collection = SyntheticCollection(documents: 3)
        let schema = Servers.schema("lock")
        defer { Servers.drop(schema) }
        let settings = Servers.settings(schema)
        let first = try PostgresStore.openForWriting(settings, configuration: collection.configuration)
        #expect { try PostgresStore.openForWriting(settings, configuration: collection.configuration) } throws: { error in
            guard case let PostgresError.locked(_, lockedSchema, holder) = error else { return false }
            return lockedSchema == schema && holder == "sift pid \(getpid())"
                && "\(error)".contains("is being updated by another process")
        }
        first.releaseWriterLock()
        let second = try PostgresStore.openForWriting(settings, configuration: collection.configuration)
        second.releaseWriterLock()
    }

    @Test func aConnectionLostMidUpdateRollsBackAndTheNextRunCompletes() throws {
        let collection = SyntheticCollection(documents: 30)
        let schema = Servers.schema("lost")
        defer { Servers.drop(schema) }
        let settings = Servers.settings(schema)
        let writer = try PostgresStore.openForWriting(settings, configuration: collection.configuration)
        // Another session kills the writer's backend, as a server restart or network cut would.
        let admin = try Servers.connect(Servers.primary)
        try admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()",
                        ["sift pid \(getpid())"], operation: "terminating the writer")
        #expect(throws: PostgresError.self) { try writer.apply(collection.change) }
        writer.releaseWriterLock()
        // The lock died with the session; the next run starts from nothing and completes.
        let again = try PostgresStore.openForWriting(settings, configuration: collection.configuration)
        try again.apply(collection.change)
        again.releaseWriterLock()
        let reader = try PostgresStore.open(settings)
        #expect(reader.stats.documents == 30 && reader.verify().isEmpty)
    }

    @Test func anInterruptedTwoPhaseCommitIsFinishedByTheNextWriter() throws {
        let collection = SyntheticCollection(documents: 20)
        for fault in [PostgresStore.Fault.afterPrepare, .afterFirstCommit] {
            let schema = Servers.schema("twophase")
            defer { Servers.drop(schema) }
            let settings = Servers.settings(schema, shards: Servers.twoShards)
            _ = try build(collection, schema: schema, shards: Servers.twoShards)
            let writer = try PostgresStore.openForWriting(settings, configuration: collection.configuration)
            writer.testFault = fault
            let updated = collection.updates.map { update -> DocumentUpdate in var u = update; u.contentHash += "-v2"; return u }
            #expect(throws: PostgresError.self) { try writer.apply(CollectionChange(upserting: updated, vectors: collection.vectors)) }
            writer.releaseWriterLock()
            #expect(try PostgresStore.open(settings).verify().contains { $0.contains("interrupted update is pending") })
            // The next writer resolves it: nothing had committed → rolled back; one shard had → committed everywhere.
            let next = try PostgresStore.openForWriting(settings, configuration: collection.configuration)
            next.releaseWriterLock()
            let hashes = try PostgresStore.open(settings).documents.documentHashes()
            let expected = fault == .afterPrepare ? collection.updates : updated
            #expect(hashes == Dictionary(uniqueKeysWithValues: expected.map { ($0.id, $0.contentHash) }), "\(fault)")
            #expect(try PostgresStore.open(settings).verify().isEmpty)
        }
    }

    @Test func replicasServeReadsAndADeadReplicaFallsBackToThePrimary() throws {
        let collection = SyntheticCollection(documents: 40)
        let schema = Servers.schema("replica")
        defer { Servers.drop(schema) }
        _ = try build(collection, schema: schema)
        let queries = collection.queries(4)
        let expected = try PostgresStore.open(Servers.settings(schema)).vectors.search(queries, topK: 5)
        // The replica replays the primary's commit shortly after it.
        var viaReplica: PostgresStore?
        for _ in 0..<50 {
            if let store = try? PostgresStore.open(Servers.settings(schema, shards: [PostgresShard(primary: Servers.endpoint(Servers.deadPort), replicas: [Servers.replica])])),
               store.stats.documents == 40 { viaReplica = store; break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        let replicaOnly = try #require(viaReplica, "the replica never showed the index")
        Self.assertSameLists(try replicaOnly.vectors.search(queries, topK: 5), expected)
        // A replica that is down: reads go to the primary.
        let withDead = try PostgresStore.open(Servers.settings(schema, shards: [PostgresShard(primary: Servers.primary,
                                                                                                replicas: [Servers.endpoint(Servers.deadPort), Servers.replica])]))
        for _ in 0..<4 { Self.assertSameLists(try withDead.vectors.search(queries, topK: 5), expected) }
        // The replica refuses writes: the writer always goes to the primary.
        let replica = try Servers.connect(Servers.replica)
        #expect(try replica.query("SELECT pg_is_in_recovery()", operation: "recovery").text(0, 0) == "t")
    }

    @Test func aShardThatIsDownFailsTheQuestionOrGivesAFlaggedPartialAnswer() throws {
        let collection = SyntheticCollection(documents: 40)
        let schema = Servers.schema("partial")
        defer { Servers.drop(schema) }
        let full = try build(collection, schema: schema, shards: Servers.twoShards)
        let queries = collection.queries(3)
        let down = [PostgresShard(primary: Servers.primary), PostgresShard(primary: Servers.endpoint(Servers.deadPort))]
        #expect { try PostgresStore.open(Servers.settings(schema, shards: down)) } throws: { error in
            guard case PostgresError.shardUnavailable(1, _, _) = error else { return false }
            return "\(error)".contains("shard 2 (127.0.0.1:\(Servers.deadPort)/sift) is unavailable")
        }
        let partial = try PostgresStore.open(Servers.settings(schema, shards: down, onShardFailure: .partial))
        let (lists, notes) = try SearchNotes.collecting { try partial.vectors.search(queries, topK: 10) }
        #expect(notes.count == 1 && notes[0].contains("shard 2 did not answer"))
        // What came back is exactly shard 1's part of the full answer.
        let shardOne = Set(try full.documents.documentIDs().filter { full.shard(of: $0) == 0 })
        let expected = try full.vectors.search(queries, topK: 100).map { list in list.filter { shardOne.contains(String($0.chunkID.split(separator: "#")[0])) }.prefix(10).map { $0 } }
        Self.assertSameLists(lists, expected)
        #expect(try partial.documents.chunks(ids: lists[0].map(\.chunkID)).count == lists[0].count)
    }

    @Test func fullTextSearchFindsTermsAndMergesShards() throws {
        let collection = SyntheticCollection(documents: 30)
        let one = Servers.schema("fts1"), two = Servers.schema("fts2")
        defer { Servers.drop(one); Servers.drop(two) }
        let single = try build(collection, schema: one)
        let sharded = try build(collection, schema: two, shards: Servers.twoShards)
        for scoring in LexicalScoring.allCases {
            var settings = Servers.settings(one), shardedSettings = Servers.settings(two, shards: Servers.twoShards)
            settings.lexical = scoring
            shardedSettings.lexical = scoring
            let single = try PostgresStore.open(settings), sharded = try PostgresStore.open(shardedSettings)
            let hits = try single.lexical.search("What is on page17?", topK: 5)
            #expect(hits.count == 3 && hits.allSatisfy { $0.chunkID.hasPrefix("dir3/page17.html#") }, "\(scoring): \(hits)")
            // A rare word outranks a common one: "page17 vacuum" puts page17's chunks first (BM25's IDF).
            if scoring == .bm25 {
                let mixed = try single.lexical.search("vacuum page17", topK: 3)
                #expect(mixed.allSatisfy { $0.chunkID.hasPrefix("dir3/page17.html#") }, "\(mixed)")
                #expect(single.lexical.scoring.hasPrefix("BM25"))
            } else {
                #expect(single.lexical.scoring.contains("ts_rank_cd"))
            }
            for question in ["vacuum replica", "page3 part2", "shard lock wal"] {
                let a = try single.lexical.search(question, topK: 8), b = try sharded.lexical.search(question, topK: 8)
                Self.assertSameLists([a], [b], tolerance: 1e-4)
            }
            #expect(try single.lexical.search("the of and ???", topK: 5).isEmpty)
        }
        _ = (single, sharded)
    }

    @Test func injectionThroughQuestionsPathsAndSchemaNamesIsInert() throws {
        for bad in ["x; DROP TABLE y", "Sift", "pg_catalog", "a\"b", "", String(repeating: "a", count: 49), "1abc", "ab-c"] {
            #expect(!PostgresSettings.isValidSchema(bad), "\(bad)")
            #expect(throws: PostgresError.self) { try PostgresStore.open(Servers.settings(bad)) }
        }
        let schema = Servers.schema("inject")
        defer { Servers.drop(schema) }
        let evil = "a'b\"c\\d); DROP TABLE documents; --{x,y}.html"
        let chunk = Chunk(id: "\(evil)#0", documentID: evil, anchor: "'; DELETE FROM chunks; --", headingPath: ["{\"a\"}", "b,c", "NULL"],
                          range: 0..<10, text: "Robert'); DROP TABLE students;-- and ts & | ! ( ) : * operators", tokenCount: 5)
        let update = DocumentUpdate(id: evil, title: "Title ' \" \\", contentHash: "h", chunks: [chunk])
        var vector = [Float](repeating: 0, count: 32); vector[0] = 1
        let configuration = SyntheticCollection(documents: 1).configuration
        let writer = try PostgresStore.openForWriting(Servers.settings(schema), configuration: configuration)
        try writer.apply(CollectionChange(upserting: [update], vectors: [chunk.id: vector]))
        writer.releaseWriterLock()
        let store = try PostgresStore.open(Servers.settings(schema))
        #expect(try store.documents.export(documentIDs: [evil]) == [update])
        for question in ["'); DROP TABLE chunks; --", "students & | ! ( ) : * <-> operators", "\\' OR 1=1 --"] {
            _ = try store.lexical.search(question, topK: 5)
        }
        #expect(try store.lexical.search("Robert students", topK: 5).map(\.chunkID) == [chunk.id])
        #expect(store.stats.documents == 1 && store.verify().isEmpty)
    }

    @Test func serverDownAndSecretsInErrors() throws {
        let dead = PostgresEndpoint(url: "postgresql://sift:hunter2secret@127.0.0.1:\(Servers.deadPort)/sift?sslmode=disable", password: "file-secret-42")
        #expect(dead.redacted == "127.0.0.1:\(Servers.deadPort)/sift")
        #expect { try PostgresStore.open(Servers.settings("anything", shards: [PostgresShard(primary: dead)])) } throws: { error in
            let text = "\(error)"
            return text.contains("127.0.0.1:\(Servers.deadPort)/sift") && !text.contains("hunter2") && !text.contains("file-secret")
                && !text.contains("\n")
        }
        // A malformed URI that libpq echoes back still never shows the password.
        let malformed = PostgresEndpoint(url: "postgresql://sift:%zzhunter2@127.0.0.1:notaport/sift")
        #expect { _ = try Connection(malformed, connectTimeoutSeconds: 1, statementTimeoutMilliseconds: 1000) } throws: { error in
            !"\(error)".contains("hunter2")
        }
    }

    @Test func statementTimeoutCancelsLongStatements() throws {
        let connection = try Connection(Servers.primary, connectTimeoutSeconds: 2, statementTimeoutMilliseconds: 100)
        #expect { try connection.query("SELECT pg_sleep(2)", operation: "sleeping") } throws: { error in
            guard case let PostgresError.query(_, _, state, _) = error else { return false }
            return state == "57014"  // query_canceled
        }
        #expect(connection.isAlive)
    }

    @Test func hnswFindsTheExactNeighboursOnASmallCollection() throws {
        let collection = SyntheticCollection(documents: 200)
        let schema = Servers.schema("hnsw")
        defer { Servers.drop(schema) }
        let hnsw = try build(collection, schema: schema, vectorIndex: .hnsw)
        let exact = try PostgresStore.open(Servers.settings(schema, vectorIndex: .exact))
        let queries = collection.queries(20)
        let approximate = try hnsw.vectors.search(queries, topK: 10), truth = try exact.vectors.search(queries, topK: 10)
        let found = zip(approximate, truth).map { a, t in Set(a.map(\.chunkID)).intersection(t.map(\.chunkID)).count }.reduce(0, +)
        #expect(Double(found) / 200 >= 0.95, "recall@10 \(Double(found) / 200)")
        // The planner uses the HNSW index for the approximate query.
        let plan = try hnsw.nodes[0].read { connection in
            // At this size a scan costs about as little; the point is that the index exists and serves the ordering.
            try connection.query("SET enable_seqscan = off", operation: "planner setting")
            defer { _ = try? connection.query("RESET enable_seqscan", operation: "planner setting") }
            return try connection.query("EXPLAIN SELECT id FROM \(hnsw.schema.chunks) ORDER BY embedding <#> $1::vector LIMIT 10",
                                 [Literal.vector(queries[0])], operation: "explain")
        }
        #expect(plan.values.map { $0[0] ?? "" }.joined(separator: "\n").contains("chunks_embedding_hnsw"))
    }
}
