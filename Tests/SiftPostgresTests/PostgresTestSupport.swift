import Foundation
import SiftCore
import SiftIndex
import SiftTestSupport
import Testing
@testable import SiftPostgres

/// The real servers the tests use: `SIFT_TEST_POSTGRES_PORTS="P1 P2 R1"` (two primaries, i.e. two shards, and a
/// streaming replica of the first), set by Scripts/test after `Scripts/postgres start`. Without it the suites are
/// skipped with that reason; CI always sets it.
enum Servers {
    static let ports: [Int] = (ProcessInfo.processInfo.environment["SIFT_TEST_POSTGRES_PORTS"] ?? "")
        .split(whereSeparator: { $0 == " " || $0 == "," }).compactMap { Int($0) }
    static var available: Bool { ports.count >= 3 }
    static let skipReason: Comment = "needs SIFT_TEST_POSTGRES_PORTS (two primaries and a replica; Scripts/test starts them)"

    static func endpoint(_ port: Int, password: String? = nil) -> PostgresEndpoint {
        PostgresEndpoint(url: "postgresql://postgres@127.0.0.1:\(port)/sift", password: password)
    }
    static var primary: PostgresEndpoint { endpoint(ports[0]) }
    static var secondPrimary: PostgresEndpoint { endpoint(ports[1]) }
    static var replica: PostgresEndpoint { endpoint(ports[2]) }
    /// A port nothing listens on.
    static var deadPort: Int { 54398 }

    /// A schema of its own for each test, so suites run in parallel without meeting.
    static func schema(_ name: String) -> String {
        "t_\(name)_\(getpid() % 100_000)_\(UInt32.random(in: 0...999_999))"
    }

    static func settings(_ schema: String, shards: [PostgresShard]? = nil, vectorIndex: VectorIndexKind = .exact,
                         onShardFailure: ShardFailurePolicy = .fail) -> PostgresSettings {
        PostgresSettings(shards: shards ?? [PostgresShard(primary: primary)], schema: schema, vectorIndex: vectorIndex,
                         hnsw: HNSWSettings(m: 8, efConstruction: 32, efSearch: 200), statementTimeoutMilliseconds: 30_000,
                         connectTimeoutSeconds: 2, onShardFailure: onShardFailure)
    }

    static var twoShards: [PostgresShard] { [PostgresShard(primary: primary), PostgresShard(primary: secondPrimary)] }

    /// Drops the test's schema on both primaries (replicas follow).
    static func drop(_ schema: String) {
        for endpoint in [primary, secondPrimary] {
            guard let connection = try? Connection(endpoint, connectTimeoutSeconds: 2, statementTimeoutMilliseconds: 30_000) else { continue }
            _ = try? connection.query("DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE", operation: "dropping a test schema")
        }
    }

    static func connect(_ endpoint: PostgresEndpoint) throws -> Connection {
        try Connection(endpoint, connectTimeoutSeconds: 2, statementTimeoutMilliseconds: 30_000)
    }
}

/// A deterministic synthetic collection: `documents` pages of `chunksPerDocument` chunks with random unit vectors.
struct SyntheticCollection {
    let updates: [DocumentUpdate]
    let vectors: [String: [Float]]
    let configuration: IndexConfiguration

    init(documents: Int, chunksPerDocument: Int = 3, dimension: Int = 32, seed: UInt64 = 7, model: String = "synthetic-v1") {
        var rng = SplitMix64(state: seed)
        var updates: [DocumentUpdate] = []
        var vectors: [String: [Float]] = [:]
        let words = ["vacuum", "index", "planner", "replica", "shard", "tuple", "lock", "wal", "backup", "query", "join", "cursor"]
        for d in 0..<documents {
            let id = "dir\(d % 7)/page\(d).html"
            let chunks = (0..<chunksPerDocument).map { n -> Chunk in
                let text = (0..<12).map { _ in words[rng.below(words.count)] }.joined(separator: " ") + " page\(d) part\(n)"
                return Chunk(id: "\(id)#\(n)", documentID: id, anchor: n == 0 ? nil : "s\(n)", headingPath: ["Page \(d)", "Part \(n)"],
                             range: (n * 100)..<(n * 100 + 80), text: text, tokenCount: 14)
            }
            for chunk in chunks {
                vectors[chunk.id] = Self.randomUnitVector(dimension, &rng)
            }
            updates.append(DocumentUpdate(id: id, title: "Page \(d)", language: d % 2 == 0 ? "en" : nil, contentHash: "h\(d)", chunks: chunks))
        }
        self.updates = updates
        self.vectors = vectors
        configuration = IndexConfiguration(modelIdentity: model, dimension: dimension, chunkerFingerprint: "chunker-x", readerFingerprint: "reader-x")
    }

    /// Query vectors (unit length, random).
    func queries(_ count: Int, seed: UInt64 = 99) -> [[Float]] {
        var rng = SplitMix64(state: seed)
        return (0..<count).map { _ in Self.randomUnitVector(configuration.dimension, &rng) }
    }

    static func randomUnitVector(_ dimension: Int, _ rng: inout SplitMix64) -> [Float] {
        let v = (0..<dimension).map { _ in Float(Double(rng.next() % 20_001) / 10_000 - 1) }
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return v.map { $0 / norm }
    }

    var change: CollectionChange { CollectionChange(upserting: updates, vectors: vectors) }
}
