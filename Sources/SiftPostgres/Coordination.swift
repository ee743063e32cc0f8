import Foundation
import SiftCore

/// The `sift_meta` table of one shard: format, configuration, shard position and generation.
struct Meta: Equatable {
    var format: String
    var configuration: IndexConfiguration
    var shard: Int
    var shardCount: Int
    var generation: Int

    /// Nil when the schema holds no Sift index (no meta table, or an empty one).
    static func read(_ connection: Connection, schema: Schema) throws -> Meta? {
        let exists = try connection.query("SELECT to_regclass($1) IS NOT NULL", ["\(schema.name).sift_meta"], operation: "looking for the index")
        guard exists.text(0, 0) == "t" else { return nil }
        let rows = try connection.query("SELECT key, value FROM \(schema.meta)", operation: "reading the index settings")
        var values: [String: String] = [:]
        for row in 0..<rows.count { values[rows.text(row, 0)] = rows.text(row, 1) }
        guard let format = values["format"], let json = values["configuration"] else { return nil }
        let server = connection.endpoint.redacted
        guard format == Schema.format else {
            throw PostgresError.incompatible(field: "storage format", index: format, requested: Schema.format)
        }
        guard let configuration = try? JSONDecoder().decode(IndexConfiguration.self, from: Data(json.utf8)),
              let shard = Int(values["shard"] ?? ""), let shardCount = Int(values["shard_count"] ?? ""),
              let generation = Int(values["generation"] ?? "") else {
            throw PostgresError.damaged(server: server, reason: "the index settings in \(schema.plain).sift_meta cannot be read")
        }
        return Meta(format: format, configuration: configuration, shard: shard, shardCount: shardCount, generation: generation)
    }

    /// Writes a fresh meta table's rows (generation 0; the update sets its own).
    static func write(_ connection: Connection, schema: Schema, configuration: IndexConfiguration, shard: Int, of count: Int) throws {
        let json = String(decoding: try JSONEncoder().encode(configuration), as: UTF8.self)
        try connection.query("DELETE FROM \(schema.meta)", operation: "writing the index settings")
        try connection.query("""
            INSERT INTO \(schema.meta) (key, value) VALUES ('format', $1), ('configuration', $2), ('shard', $3), ('shard_count', $4),
                                                           ('generation', '0')
            """, [Schema.format, json, String(shard), String(count)], operation: "writing the index settings")
    }

    /// The shard must sit where the pipeline lists it: documents were placed by hash over `shardCount` shards.
    func check(shard expected: Int, of count: Int, server: String) throws {
        if shardCount != count {
            throw PostgresError.incompatible(field: "shard count", index: String(shardCount), requested: String(count))
        }
        if shard != expected {
            throw PostgresError.damaged(server: server, reason: "this server holds shard \(shard + 1) of \(shardCount), but the pipeline lists it as shard \(expected + 1); keep the shards in their order")
        }
    }
}

/// The writer lock: a session-level advisory lock on the shard's primary, keyed by the schema. PostgreSQL drops it
/// when the session ends, so a killed writer never leaves a stale lock.
enum Lock {
    /// The two-key form keeps Sift's locks apart from an application's own single-key locks.
    static let namespace = "1936287348"  // "sift" as a 32-bit integer

    static func acquire(_ connection: Connection, schema: Schema, wait: Bool, onWait: ((String?) -> Void)?) throws {
        var told = false
        while true {
            let rows = try connection.query("SELECT pg_try_advisory_lock(\(namespace), hashtext($1))", [schema.plain], operation: "taking the writer lock")
            if rows.text(0, 0) == "t" { return }
            let holder = try? holderName(connection, schema: schema)
            guard wait else { throw PostgresError.locked(server: connection.endpoint.redacted, schema: schema.plain, holder: holder ?? nil) }
            if !told { onWait?(holder ?? nil); told = true }
            Thread.sleep(forTimeInterval: 0.25)
        }
    }

    static func release(_ connection: Connection, schema: Schema) {
        _ = try? connection.query("SELECT pg_advisory_unlock(\(namespace), hashtext($1))", [schema.plain], operation: "releasing the writer lock")
    }

    /// The holder's `application_name` ("sift pid N") and client address, when visible.
    private static func holderName(_ connection: Connection, schema: Schema) throws -> String? {
        let rows = try connection.query("""
            SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.classid = \(namespace)::oid AND l.objid = hashtext($1)::oid LIMIT 1
            """, [schema.plain], operation: "finding the lock holder")
        return rows.count > 0 && !rows.text(0, 0).isEmpty ? rows.text(0, 0) : nil
    }
}

/// Two-phase commit across shards. An update prepares `sift:<schema>:<generation>` on every shard, then commits
/// them all. If the writer died between the two phases, the next writer (holding every lock) finds the prepared
/// transactions and finishes the decision: if any shard already committed that generation, the commit phase had
/// begun, so every prepared one is committed; otherwise none had, and every one is rolled back.
enum TwoPhase {
    static func prefix(schema: Schema) -> String { "sift:\(schema.plain):" }
    static func id(schema: Schema, generation: Int) -> String { "\(prefix(schema: schema))\(generation)" }

    static func resolve(_ writers: [Connection], schema: Schema) throws {
        var pending: [(Connection, String, Int)] = []
        for connection in writers {
            let rows = try connection.query("SELECT gid FROM pg_prepared_xacts WHERE gid LIKE $1 AND database = current_database()",
                                            [prefix(schema: schema) + "%"], operation: "looking for an interrupted update")
            for row in 0..<rows.count {
                let gid = rows.text(row, 0)
                if let generation = Int(gid.dropFirst(prefix(schema: schema).count)) { pending.append((connection, gid, generation)) }
            }
        }
        if pending.isEmpty { return }
        var committed = Set<Int>()
        for connection in writers {
            if let meta = try Meta.read(connection, schema: schema) { committed.insert(meta.generation) }
        }
        for (connection, gid, generation) in pending {
            // gid holds only the validated schema and digits, so it is safe to splice.
            let verb = committed.contains(generation) ? "COMMIT PREPARED" : "ROLLBACK PREPARED"
            try connection.query("\(verb) '\(gid)'", operation: "finishing an interrupted update (\(verb))")
        }
    }
}
