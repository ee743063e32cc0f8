/// Every failure SiftPostgres reports. Servers are named by `host:port/database` only: no user, password or
/// query parameter of a connection URI ever appears here.
public enum PostgresError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No connection: the server is down, refuses us, or the URI is malformed.
    case connection(server: String, reason: String)
    /// A statement failed; `sqlState` is PostgreSQL's five-character code when the server sent one.
    case query(server: String, operation: String, sqlState: String?, reason: String)
    /// The server answered but cannot hold a Sift index (no pgvector, too old, not writable).
    case unsupported(server: String, reason: String)
    /// A setting is unusable (a schema name that is not a plain identifier, no shards, …).
    case invalidSettings(reason: String)
    /// Nothing has been indexed into this schema yet.
    case missingIndex(server: String, schema: String)
    /// The stored index was built with other settings (`field` says which).
    case incompatible(field: String, index: String, requested: String)
    /// Stored data is inconsistent (shards disagree, a document on the wrong shard, a broken update).
    case damaged(server: String, reason: String)
    /// Another process is updating this index.
    case locked(server: String, schema: String, holder: String?)
    /// A shard could not answer and `on_shard_failure` is `fail`.
    case shardUnavailable(shard: Int, servers: [String], reason: String)

    public var description: String {
        switch self {
        case let .connection(server, reason):
            return "cannot connect to PostgreSQL at \(server): \(reason)"
        case let .query(server, operation, sqlState, reason):
            return "PostgreSQL at \(server) failed \(operation)\(sqlState.map { " (SQLSTATE \($0))" } ?? ""): \(reason)"
        case let .unsupported(server, reason):
            return "PostgreSQL at \(server) cannot hold a Sift index: \(reason)"
        case let .invalidSettings(reason):
            return "invalid PostgreSQL index settings: \(reason)"
        case let .missingIndex(server, schema):
            return "no Sift index in schema \(schema) at \(server); build one with `sift index`"
        case let .incompatible(field, index, requested):
            return "index was built with \(field) '\(index)', but '\(requested)' was requested; rebuild the index or use the matching settings"
        case let .damaged(server, reason):
            return "the index at \(server) is inconsistent: \(reason)"
        case let .locked(server, schema, holder):
            return "index \(schema) at \(server) is being updated by another process\(holder.map { " (\($0))" } ?? ""); wait for it to finish or pass --wait"
        case let .shardUnavailable(shard, servers, reason):
            return "shard \(shard + 1) (\(servers.joined(separator: ", "))) is unavailable: \(reason)"
        }
    }
}
