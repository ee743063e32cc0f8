import Foundation

/// The servers of one shard and the connections to them. Reads go to the replicas in turn and fall back to the
/// primary when every replica is down; writes go to the primary only. A server that failed is skipped for a few
/// seconds, then tried again.
final class ShardNodes: @unchecked Sendable {
    let index: Int
    let shard: PostgresShard
    private let settings: PostgresSettings
    private let lock = NSLock()
    /// Idle connections by endpoint, ready for the next statement (a small pool: concurrent questions each take one).
    private var idle: [PostgresEndpoint: [Connection]] = [:]
    private var downUntil: [PostgresEndpoint: Date] = [:]
    private var nextReplica = 0
    static let retryAfter: TimeInterval = 5
    static let maxIdle = 4

    init(index: Int, shard: PostgresShard, settings: PostgresSettings) {
        self.index = index
        self.shard = shard
        self.settings = settings
    }

    var servers: [String] { ([shard.primary] + shard.replicas).map(\.redacted) }

    /// A new connection to `endpoint` (not pooled): the writer's, which holds the session's advisory lock.
    func connect(_ endpoint: PostgresEndpoint) throws -> Connection {
        try Connection(endpoint, connectTimeoutSeconds: settings.connectTimeoutSeconds,
                       statementTimeoutMilliseconds: settings.statementTimeoutMilliseconds)
    }

    /// Runs `body` on a connection to a server that answers reads: each replica in turn, then the primary. A
    /// connection failure moves on to the next server; any other error (a bad statement) is thrown at once.
    func read<T>(_ body: (Connection) throws -> T) throws -> T {
        var lastError: Error?
        for endpoint in readOrder() {
            do {
                let connection = try checkOut(endpoint)
                do {
                    let value = try body(connection)
                    checkIn(connection)
                    return value
                } catch let error as PostgresError {
                    if case .connection = error { markDown(endpoint); lastError = error; continue }
                    if connection.isAlive { checkIn(connection) }
                    throw error
                }
            } catch let error as PostgresError {
                guard case .connection = error else { throw error }
                markDown(endpoint)
                lastError = error
            }
        }
        let reason = (lastError as? PostgresError).map { error -> String in
            if case let .connection(_, reason) = error { return reason }
            return error.description
        } ?? "no server"
        throw PostgresError.shardUnavailable(shard: index, servers: servers, reason: reason)
    }

    /// Replicas from the next in turn, skipping those marked down, then the primary; servers marked down come last
    /// (when everything is down, everything is tried again).
    private func readOrder() -> [PostgresEndpoint] {
        lock.lock(); defer { lock.unlock() }
        let now = Date()
        var replicas = shard.replicas
        if !replicas.isEmpty {
            let start = nextReplica % replicas.count
            replicas = Array(replicas[start...] + replicas[..<start])
            nextReplica &+= 1
        }
        let all = replicas + [shard.primary]
        let up = all.filter { (downUntil[$0] ?? .distantPast) <= now }
        return up + all.filter { !up.contains($0) }
    }

    private func markDown(_ endpoint: PostgresEndpoint) {
        lock.lock(); downUntil[endpoint] = Date().addingTimeInterval(Self.retryAfter); lock.unlock()
    }

    private func checkOut(_ endpoint: PostgresEndpoint) throws -> Connection {
        lock.lock()
        while var pool = idle[endpoint], let connection = pool.popLast() {
            idle[endpoint] = pool
            if connection.isAlive { lock.unlock(); return connection }
        }
        lock.unlock()
        let connection = try connect(endpoint)
        lock.lock(); downUntil[endpoint] = nil; lock.unlock()
        return connection
    }

    private func checkIn(_ connection: Connection) {
        lock.lock(); defer { lock.unlock() }
        var pool = idle[connection.endpoint] ?? []
        if pool.count < Self.maxIdle { pool.append(connection) }
        idle[connection.endpoint] = pool
    }
}
