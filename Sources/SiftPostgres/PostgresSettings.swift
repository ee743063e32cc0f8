import SiftCore

/// Where and how a collection is stored in PostgreSQL with pgvector: one or more shards, each a primary with
/// optional read replicas, all holding the same schema. Built by the pipeline from `index: { type: postgres, … }`.
public struct PostgresSettings: Sendable, Hashable {
    /// Documents go to shard `StableHash(document id) % shards.count`; at least one.
    public var shards: [PostgresShard]
    /// The schema that holds Sift's tables on every node; a plain lower-case identifier (checked by `validate`).
    public var schema: String
    public var vectorIndex: VectorIndexKind
    public var hnsw: HNSWSettings
    /// Every statement is cancelled after this many milliseconds (0: no limit). Index builds lift it for the
    /// HNSW build only.
    public var statementTimeoutMilliseconds: Int
    /// Seconds to wait for a connection before the node counts as down.
    public var connectTimeoutSeconds: Int
    /// What a question does when a shard (its primary and every replica) cannot answer.
    public var onShardFailure: ShardFailurePolicy
    /// How term-based retrieval scores.
    public var lexical: LexicalScoring

    public init(shards: [PostgresShard], schema: String = "sift", vectorIndex: VectorIndexKind = .hnsw, hnsw: HNSWSettings = HNSWSettings(),
                statementTimeoutMilliseconds: Int = 30_000, connectTimeoutSeconds: Int = 5, onShardFailure: ShardFailurePolicy = .fail,
                lexical: LexicalScoring = .bm25) {
        self.lexical = lexical
        self.shards = shards
        self.schema = schema
        self.vectorIndex = vectorIndex
        self.hnsw = hnsw
        self.statementTimeoutMilliseconds = statementTimeoutMilliseconds
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.onShardFailure = onShardFailure
    }

    /// A schema name Sift accepts: it is spliced into SQL as an identifier (bind parameters cannot name tables),
    /// so only `[a-z_][a-z0-9_]{0,47}` passes, and never a `pg_` name.
    public static func isValidSchema(_ name: String) -> Bool {
        guard (1...48).contains(name.utf8.count), !name.hasPrefix("pg_") else { return false }
        for (i, byte) in name.utf8.enumerated() {
            let lower = byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")
            let digit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
            if !(lower || byte == UInt8(ascii: "_") || (digit && i > 0)) { return false }
        }
        return true
    }
}

/// One shard: the primary that takes writes, and replicas that take reads in turn.
public struct PostgresShard: Sendable, Hashable {
    public var primary: PostgresEndpoint
    public var replicas: [PostgresEndpoint]

    public init(primary: PostgresEndpoint, replicas: [PostgresEndpoint] = []) {
        self.primary = primary
        self.replicas = replicas
    }
}

/// A server to connect to: a libpq connection URI (`postgresql://user@host:port/database?sslmode=require`) and,
/// separately, a password. Only `redacted` (host, port, database) ever appears in messages.
public struct PostgresEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// May hold a password (`postgresql://user:pw@host/db`, typically through `${VAR}`); never printed.
    public var url: String
    /// From a password file; passed to libpq as its `password` parameter.
    public var password: String?

    public init(url: String, password: String? = nil) {
        self.url = url
        self.password = password
    }

    /// `host:port/database`, with user information and query parameters removed: safe for errors and logs.
    public var redacted: String {
        var rest = Substring(url)
        for scheme in ["postgresql://", "postgres://"] where rest.hasPrefix(scheme) { rest = rest.dropFirst(scheme.count) }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        if let query = rest.firstIndex(of: "?") { rest = rest[..<query] }
        var hostPort = rest, database = Substring("")
        if let slash = rest.firstIndex(of: "/") { hostPort = rest[..<slash]; database = rest[rest.index(after: slash)...] }
        if hostPort.isEmpty { hostPort = "localhost" }
        if !hostPort.contains(":") || hostPort.hasSuffix("]") { hostPort += ":5432" }
        return database.isEmpty ? String(hostPort) : "\(hostPort)/\(database)"
    }

    public var description: String { redacted }
}

/// How `VectorIndex.search` finds neighbours.
public enum VectorIndexKind: String, Sendable, Hashable, CaseIterable {
    /// pgvector's HNSW graph (`vector_ip_ops`): approximate, fast; recall set by `hnsw.ef_search`.
    case hnsw
    /// A full scan: every stored vector is compared, as Sift's local flat index does. Exact.
    case exact
}

/// pgvector HNSW parameters (pgvector's defaults are m 16, ef_construction 64, ef_search 40; Sift searches with 400,
/// which matched exact search on the Python docs where 100 lost 0.017 dense nDCG@10).
public struct HNSWSettings: Sendable, Hashable {
    /// Links per node; more raises recall, memory and build time. 2...100.
    public var m: Int
    /// Candidate list while building; at least 2·m. 4...1000.
    public var efConstruction: Int
    /// Candidate list while searching; more raises recall and latency. 1...1000; at least the depth asked for.
    public var efSearch: Int

    public init(m: Int = 16, efConstruction: Int = 64, efSearch: Int = 400) {
        self.m = m
        self.efConstruction = efConstruction
        self.efSearch = efSearch
    }
}

/// What a question does when a whole shard is down.
public enum ShardFailurePolicy: String, Sendable, Hashable, CaseIterable {
    /// The question fails with an error naming the shard.
    case fail
    /// The question is answered from the shards that answered, and the answer says it is partial.
    case partial
}

/// How the PostgreSQL store scores term-based retrieval (the pipeline's `bm25` list).
public enum LexicalScoring: String, Sendable, Hashable, CaseIterable {
    /// Okapi BM25 (k1 1.2, b 0.75) computed in SQL from the document frequencies and lengths each update keeps, over
    /// PostgreSQL's English full-text lexemes; heading, title and body occurrences weigh 2, 1.5 and 1, like the
    /// embedded store's FTS5 BM25. Statistics are summed over shards, so shard lists merge exactly.
    case bm25
    /// PostgreSQL's own `ts_rank_cd` (cover density) with the same weights: no inverse document frequency.
    case tsRankCD = "ts_rank_cd"
}
