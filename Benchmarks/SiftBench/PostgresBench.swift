import ArgumentParser
import Foundation
import SiftCore
import SiftIndex
import SiftPostgres

/// `sift-bench postgres`: the PostgreSQL store on synthetic unit vectors: ingest rate, single-question p50/p95 with
/// HNSW (per ef_search, with recall@k against exact) and exact in PostgreSQL, against Sift's flat exact search on the
/// same vectors, and this process's RSS while it asks (the vectors live in the server).
struct PostgresBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postgres",
        abstract: "PostgreSQL store: ingest, HNSW vs exact vs Sift flat search latency and recall on synthetic vectors.",
        discussion: """
        Needs running servers (Scripts/postgres start [--port N]). Writes schema bench_<n> on each shard and drops
        it afterwards unless --keep.

        Example:
          Scripts/postgres start && swift run -c release sift-bench postgres --vectors 100000 --ef-search 40,100,200
        """)

    @Option(help: "Ports of the shard primaries on 127.0.0.1, comma separated (one port: one node).")
    var ports: String = "54329"
    @Option(help: "Number of vectors.")
    var vectors: Int = 100_000
    @Option(help: "Vector dimension.")
    var dim: Int = 384
    @Option(help: "Questions timed one by one.")
    var queries: Int = 200
    @Option(help: "Results per question.")
    var k: Int = 10
    @Option(help: "hnsw.ef_search values to measure, comma separated.")
    var efSearch: String = "40,100,200"
    @Option(help: "HNSW m.")
    var m: Int = 16
    @Option(help: "HNSW ef_construction.")
    var efConstruction: Int = 64
    @Option(help: "Documents per ingest transaction.")
    var batch: Int = 5_000
    @Option(help: "clustered: points around 2,000 random centres, questions near stored points (like embeddings of real text); uniform: independent random directions (the hardest case for HNSW: every point is nearly equally far).")
    var distribution: String = "clustered"
    @Flag(help: "Keep the schema (skip ingest next time when it is complete).")
    var keep = false

    func run() throws {
        let portList = ports.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let shards = portList.map { PostgresShard(primary: PostgresEndpoint(url: "postgresql://postgres@127.0.0.1:\($0)/sift")) }
        guard ["clustered", "uniform"].contains(distribution) else { throw ValidationError("--distribution is clustered or uniform") }
        let schema = "bench_\(distribution)_\(vectors)_\(dim)"
        func settings(_ kind: VectorIndexKind, ef: Int = 40) -> PostgresSettings {
            PostgresSettings(shards: shards, schema: schema, vectorIndex: kind, hnsw: HNSWSettings(m: m, efConstruction: efConstruction, efSearch: ef),
                             statementTimeoutMilliseconds: 0)
        }
        let configuration = IndexConfiguration(modelIdentity: "synthetic-unit-\(dim)", dimension: dim, chunkerFingerprint: "bench", readerFingerprint: "bench")
        var random = SplitMix64(state: 7)
        let data: [[Float]], questions: [[Float]]
        if distribution == "uniform" {
            data = (0..<vectors).map { _ in SearchBench.unitVector(dim, &random) }
            questions = (0..<queries).map { _ in SearchBench.unitVector(dim, &random) }
        } else {
            let centres = (0..<2_000).map { _ in SearchBench.unitVector(dim, &random) }
            func near(_ v: [Float], _ spread: Float) -> [Float] {
                let noise = SearchBench.unitVector(dim, &random)
                let mixed = zip(v, noise).map { $0 + spread * $1 }
                let norm = mixed.reduce(0) { $0 + $1 * $1 }.squareRoot()
                return mixed.map { $0 / norm }
            }
            data = (0..<vectors).map { _ in near(centres[Int(random.next() % 2_000)], 0.8) }
            questions = (0..<queries).map { _ in near(data[Int(random.next() % UInt64(vectors))], 0.5) }
        }
        print("PostgreSQL store bench: \(vectors) × \(dim) \(distribution) unit vectors, \(shards.count) shard(s) on ports \(portList), \(queries) questions, top-\(k)")

        // Ingest without the HNSW index (exact), then build the index once in bulk, as `sift index` does.
        let existing = try? PostgresStore.open(settings(.exact))
        if existing?.stats.chunks != vectors {
            let writer = try PostgresStore.openForWriting(settings(.exact), configuration: configuration, rebuild: true)
            let started = Date()
            for start in stride(from: 0, to: vectors, by: batch) {
                let ids = start..<min(vectors, start + batch)
                let updates = ids.map { i in
                    DocumentUpdate(id: "doc\(i).html", title: "Doc \(i)", contentHash: "h\(i)",
                                   chunks: [Chunk(id: "doc\(i).html#0", documentID: "doc\(i).html", anchor: nil, headingPath: ["Doc \(i)"],
                                                  range: 0..<20, text: "synthetic passage \(i)", tokenCount: 6)])
                }
                let vectorsByID = Dictionary(uniqueKeysWithValues: ids.map { ("doc\($0).html#0", data[$0]) })
                try writer.apply(CollectionChange(upserting: updates, vectors: vectorsByID, rebuildingWith: start == 0 ? configuration : nil))
            }
            let seconds = Date().timeIntervalSince(started)
            print(String(format: "ingest: %d chunks in %.1f s = %.0f chunks/s (batches of %d, one transaction each)", vectors, seconds, Double(vectors) / seconds, batch))
            writer.releaseWriterLock()
        } else {
            print("ingest: schema \(schema) already complete, reused")
        }
        let buildStarted = Date()
        let builder = try PostgresStore.openForWriting(settings(.hnsw), configuration: configuration)  // builds the HNSW index
        builder.releaseWriterLock()
        print(String(format: "HNSW build (m %d, ef_construction %d): %.1f s", m, efConstruction, Date().timeIntervalSince(buildStarted)))

        func time(_ store: PostgresStore) throws -> (p50: Double, p95: Double, results: [[ScoredChunk]]) {
            _ = try store.vectors.search([questions[0]], topK: k)
            var times: [Double] = [], results: [[ScoredChunk]] = []
            for q in questions {
                let t = DispatchTime.now().uptimeNanoseconds
                results.append(try store.vectors.search([q], topK: k)[0])
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
            }
            return (SearchBench.percentile(times, 0.5), SearchBench.percentile(times, 0.95), results)
        }
        let exact = try time(try PostgresStore.open(settings(.exact)))
        print("method                 | p50 ms  | p95 ms  | recall@\(k) vs exact")
        print(String(format: "postgres exact         | %7.2f | %7.2f | 1 (reference)", exact.p50, exact.p95))
        let truth = exact.results.map { Set($0.map(\.chunkID)) }
        for ef in efSearch.split(separator: ",").compactMap({ Int($0) }) {
            let run = try time(try PostgresStore.open(settings(.hnsw, ef: ef)))
            let recall = Double(zip(run.results, truth).map { r, t in Set(r.map(\.chunkID)).intersection(t).count }.reduce(0, +)) / Double(queries * k)
            print(String(format: "postgres hnsw ef %-5d | %7.2f | %7.2f | %.4f", ef, run.p50, run.p95, recall))
        }

        // Sift's own exact flat search on the same vectors, and that it agrees with PostgreSQL's exact search.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sift-pg-bench-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("vectors.f32")
        var bytes = Data(capacity: vectors * dim * 4)
        for v in data { v.withUnsafeBytes { bytes.append(contentsOf: $0) } }
        try bytes.write(to: url)
        let flat = try FlatVectorStore(url: url, count: vectors, dimension: dim)
        _ = try flat.search(queries: [questions[0]], k: k)
        var times: [Double] = [], agree = 0
        for (i, q) in questions.enumerated() {
            let t = DispatchTime.now().uptimeNanoseconds
            let hits = try flat.search(queries: [q], k: k)[0]
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
            if Set(hits.map { "doc\($0.slot).html#0" }) == truth[i] { agree += 1 }
        }
        print(String(format: "sift flat exact        | %7.2f | %7.2f | same top-%d as postgres exact on %d of %d questions",
                     SearchBench.percentile(times, 0.5), SearchBench.percentile(times, 0.95), k, agree, queries))
        if !keep { try PostgresStore.dropIndex(settings(.exact)) }
    }
}
