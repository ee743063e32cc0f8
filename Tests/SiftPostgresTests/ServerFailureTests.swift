import Foundation
import SiftCore
import SiftTestSupport
import Testing
@testable import SiftPostgres

/// Servers that stop under Sift: a server of the test's own (started and stopped with Scripts/postgres, on a port
/// no other test uses) is stopped with `pg_ctl stop -m immediate` while a question or an update is running.
@Suite(.enabled(if: Servers.available, Servers.skipReason), .serialized)
struct ServerFailureTests {
    static let ownPort = 54352

    static func script(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = TestPaths.repositoryRoot.appendingPathComponent("Scripts/postgres")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "Scripts/postgres \(arguments.joined(separator: " "))")
    }
    static func start() throws { try script(["start", "--port", String(ownPort)]) }
    static let ownReplicaPort = 54353
    static func crash() throws { try script(["stop", "--port", String(ownPort), "--immediate"]) }

    @Test func aShardStoppedMidRunFailsClearlyOrAnswersPartially() throws {
        try Self.start()
        defer { try? Self.crash() }
        let collection = SyntheticCollection(documents: 40)
        let schema = Servers.schema("crashshard")
        defer { Servers.drop(schema); try? Self.start(); if let c = try? Servers.connect(Servers.endpoint(Self.ownPort)) {
            _ = try? c.query("DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE", operation: "cleanup") } }
        let shards = [PostgresShard(primary: Servers.primary), PostgresShard(primary: Servers.endpoint(Self.ownPort))]
        let writer = try PostgresStore.openForWriting(Servers.settings(schema, shards: shards), configuration: collection.configuration)
        try writer.apply(collection.change)
        writer.releaseWriterLock()
        let failing = try PostgresStore.open(Servers.settings(schema, shards: shards))
        let partial = try PostgresStore.open(Servers.settings(schema, shards: shards, onShardFailure: .partial))
        let queries = collection.queries(2)
        let complete = try failing.vectors.search(queries, topK: 10)

        try Self.crash()
        #expect { try failing.vectors.search(queries, topK: 10) } throws: { error in
            "\(error)".hasPrefix("shard 2 (127.0.0.1:\(Self.ownPort)/sift) is unavailable") && !"\(error)".contains("\n")
        }
        let (lists, notes) = try SearchNotes.collecting { try partial.vectors.search(queries, topK: 10) }
        #expect(notes.count == 1 && notes[0].contains("partial results: shard 2 did not answer"))
        #expect(lists[0].allSatisfy { partial.shard(of: String($0.chunkID.split(separator: "#")[0])) == 0 })

        // Back up: the next question is complete again, on the same store object.
        try Self.start()
        PostgresStoreTests.assertSameLists(try failing.vectors.search(queries, topK: 10), complete)
    }

    @Test func aReplicaStoppedMidRunLeavesTheAnswersToThePrimary() throws {
        try Self.start()
        defer { try? Self.crash(); try? Self.script(["stop", "--port", String(Self.ownReplicaPort)]) }
        try Self.script(["start", "--port", String(Self.ownReplicaPort), "--replica-of", String(Self.ownPort)])
        let collection = SyntheticCollection(documents: 30)
        let schema = Servers.schema("crashreplica")
        let primary = Servers.endpoint(Self.ownPort), replica = Servers.endpoint(Self.ownReplicaPort)
        defer { if let c = try? Servers.connect(primary) { _ = try? c.query("DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE", operation: "cleanup") } }
        let writer = try PostgresStore.openForWriting(Servers.settings(schema, shards: [PostgresShard(primary: primary)]),
                                                      configuration: collection.configuration)
        try writer.apply(collection.change)
        writer.releaseWriterLock()
        // Wait until the replica has replayed the update, so the replica really answers the first questions.
        let replicaConnection = try Servers.connect(replica)
        var replayed = false
        for _ in 0..<100 where !replayed {
            replayed = (try? replicaConnection.query("SELECT count(*) FROM \"\(schema)\".documents", operation: "replica").int(0, 0)) == 30
            if !replayed { Thread.sleep(forTimeInterval: 0.05) }
        }
        #expect(replayed)
        let store = try PostgresStore.open(Servers.settings(schema, shards: [PostgresShard(primary: primary, replicas: [replica])]))
        let queries = collection.queries(3)
        let before = try store.vectors.search(queries, topK: 10)
        try Self.script(["stop", "--port", String(Self.ownReplicaPort), "--immediate"])
        for _ in 0..<3 { PostgresStoreTests.assertSameLists(try store.vectors.search(queries, topK: 10), before) }
        #expect(try store.lexical.search("vacuum replica", topK: 5).count == 5)
    }

    @Test func theServerKilledDuringAnUpdateLeavesTheNextRunToFinishAndEqualACleanBuild() throws {
        try Self.start()
        defer { try? Self.crash() }
        let own = Servers.endpoint(Self.ownPort)
        let collection = SyntheticCollection(documents: 6_000, seed: 11)
        let schema = Servers.schema("crashindex"), clean = Servers.schema("crashclean")
        let settings = Servers.settings(schema, shards: [PostgresShard(primary: own)])
        defer {
            try? Self.start()
            if let c = try? Servers.connect(own) {
                for s in [schema, clean] { _ = try? c.query("DROP SCHEMA IF EXISTS \"\(s)\" CASCADE", operation: "cleanup") }
            }
        }
        let writer = try PostgresStore.openForWriting(settings, configuration: collection.configuration)
        let failure = ErrorBox()
        let updating = Thread {
            do { try writer.apply(collection.change) } catch { failure.set(error) }
            failure.finish()
        }
        updating.start()
        // Wait until the update's transaction has written (it holds a transaction id; the VACUUM after the commit
        // does not), then crash the server under it.
        let admin = try Servers.connect(own)
        var inTransaction = false
        for _ in 0..<2_000 where !inTransaction {
            let rows = try admin.query("""
                SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()
                AND state IN ('active', 'idle in transaction') AND backend_xid IS NOT NULL
                """, ["sift pid \(getpid())"], operation: "watching the writer")
            inTransaction = rows.int(0, 0) > 0
            if !inTransaction { Thread.sleep(forTimeInterval: 0.002) }
        }
        #expect(inTransaction, "the update never showed up in pg_stat_activity")
        try Self.crash()
        failure.wait()
        #expect(failure.error != nil, "the update finished before the crash; the test needs a larger change")
        writer.releaseWriterLock()

        // Restarted: nothing of the interrupted update is visible, and the next run completes.
        try Self.start()
        #expect(try PostgresStore.open(settings).stats.chunks == 0)  // only the empty tables the writer made first
        let again = try PostgresStore.openForWriting(settings, configuration: collection.configuration)
        try again.apply(collection.change)
        again.releaseWriterLock()
        let resumed = try PostgresStore.open(settings)
        #expect(resumed.verify().isEmpty)

        // It equals a clean build into a fresh schema on the same server.
        let cleanSettings = Servers.settings(clean, shards: [PostgresShard(primary: own)])
        let cleanWriter = try PostgresStore.openForWriting(cleanSettings, configuration: collection.configuration)
        try cleanWriter.apply(collection.change)
        cleanWriter.releaseWriterLock()
        let reference = try PostgresStore.open(cleanSettings)
        let ids = collection.updates.map(\.id)
        #expect(try resumed.documents.export(documentIDs: ids) == reference.documents.export(documentIDs: ids))
        let queries = collection.queries(5)
        PostgresStoreTests.assertSameLists(try resumed.vectors.search(queries, topK: 10), try reference.vectors.search(queries, topK: 10))
        #expect(resumed.stats.chunks == reference.stats.chunks && resumed.stats.documents == 6_000)
    }
}

/// The error a background update ended with, and a way to wait for it.
final class ErrorBox: @unchecked Sendable {
    private let lock = NSCondition()
    private var done = false
    private var stored: Error?
    var error: Error? { lock.lock(); defer { lock.unlock() }; return stored }
    func set(_ error: Error) { lock.lock(); stored = error; lock.unlock() }
    func finish() { lock.lock(); done = true; lock.broadcast(); lock.unlock() }
    func wait() { lock.lock(); while !done { lock.wait() }; lock.unlock() }
}
