import Foundation
import SiftCore
import SiftTestSupport
import Testing
@testable import SiftPipeline

/// The PostgreSQL store through whole pipelines with the real model and real servers: in exact mode, one node and
/// two shards give the embedded store's dense results (the same chunk ids, scores within 1e-5) on every labelled
/// question of the handbook and of python-faq-eval; indexes move between the stores with `copyIndex`, vectors
/// kept, and back.
@Suite(.enabled(if: PostgresTestServers.ports.count >= 3,
                "needs SIFT_TEST_POSTGRES_PORTS (two primaries and a replica; Scripts/test starts them)"),
       .serialized)
struct PostgresPipelineTests {
    static var ports: [Int] { PostgresTestServers.ports }
    static func url(_ port: Int) -> String { "postgresql://postgres@127.0.0.1:\(port)/sift" }

    static func pipeline(_ name: String, index: IndexConfig? = nil, scratch: URL) throws -> PipelineRunner {
        var config = try PipelineConfig.load(contentsOf: TestPaths.repositoryRoot.appendingPathComponent("Pipelines/\(name).yaml"))
        config.index = index ?? IndexConfig(path: scratch.appendingPathComponent("local-\(UUID().uuidString)"))
        return try PipelineRunner(config: config)
    }

    static func postgres(schema: String, shards: Int) -> IndexConfig {
        var settings = PostgresIndexConfig(schema: schema, vectorIndex: .exact)
        if shards == 1 {
            settings.url = url(ports[0])
            settings.replicas = [url(ports[2])]
        } else {
            settings.shards = [PostgresShardConfig(url: url(ports[0]), replicas: [url(ports[2])]), PostgresShardConfig(url: url(ports[1]))]
        }
        return IndexConfig(postgres: settings)
    }

    static func questions(_ file: String) throws -> [String] {
        let text = try String(contentsOf: TestPaths.repositoryRoot.appendingPathComponent(file), encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return try #require(object?["question"] as? String)
        }
    }

    @Test(arguments: [("handbook", "Corpora/handbook/labels.jsonl"), ("python-faq-eval", "Pipelines/python-faq-eval.labels.jsonl")])
    func exactDenseResultsEqualTheEmbeddedStoreOnOneNodeAndTwoShards(name: String, labels: String) throws {
        _ = try #require(TestPaths.miniLMModel, "Models/all-MiniLM-L6-v2 is missing: run Scripts/setup")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sift-pg-pipeline-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let schema = "t_pipeline_\(name.replacingOccurrences(of: "-", with: "_"))_\(getpid() % 100_000)"
        let local = try Self.pipeline(name, scratch: scratch)
        _ = try local.index()
        let one = try Self.pipeline(name, index: Self.postgres(schema: schema + "_1", shards: 1), scratch: scratch)
        let two = try Self.pipeline(name, index: Self.postgres(schema: schema + "_2", shards: 2), scratch: scratch)
        defer {
            for runner in [one, two] { if case let backend as PostgresStoreBackend = try? runner.storeBackend() { try? backend.drop() } }
        }
        let localStore = try local.openIndex()
        let copied = try one.copyIndex(from: localStore, sourceLocation: "local")
        #expect(copied.chunks == localStore.stats.chunks && copied.documents == localStore.stats.documents)
        _ = try two.copyIndex(from: try one.openIndex(), sourceLocation: "one node")
        // And back: the two-shard index copied into a new local folder holds the same documents.
        let back = try Self.pipeline(name, scratch: scratch)
        _ = try back.copyIndex(from: try two.openIndex(), sourceLocation: "two shards")
        let ids = try localStore.documents.documentIDs()
        #expect(try back.openIndex().documents.export(documentIDs: ids) == localStore.documents.export(documentIDs: ids))

        let questions = try Self.questions(labels)
        let vectors = try local.embedder().embed(questions)
        let expected = try localStore.vectors.search(vectors, topK: 20)
        for runner in [one, two, back] {
            let got = try runner.openIndex().vectors.search(vectors, topK: 20)
            var mismatches = 0
            for (q, (a, b)) in zip(got, expected).enumerated() {
                if a.map(\.chunkID) != b.map(\.chunkID) || zip(a, b).contains(where: { abs($0.score - $1.score) > 1e-5 }) {
                    mismatches += 1
                    Issue.record("\(runner.indexLocation): question \(q) '\(questions[q])' differs")
                }
            }
            #expect(mismatches == 0)
        }
        // `sift cluster` reads any store: two shards give the local index's items, vectors and topics.
        let (localItems, localVectors) = try local.clusterItems(level: .document)
        let (shardItems, shardVectors) = try two.clusterItems(level: .document)
        #expect(shardItems == localItems)
        #expect(zip(shardVectors.values, localVectors.values).allSatisfy { abs($0 - $1) <= 1e-6 })
        let request = ClusterRequest(method: .kMeans(k: 4, restarts: 2), seed: 3)
        #expect(try Clustering.run(items: shardItems, vectors: shardVectors, level: "document", request: request).labels
                == Clustering.run(items: localItems, vectors: localVectors, level: "document", request: request).labels)
        // Whole answers agree too (dense only: BM25 is scored differently in PostgreSQL).
        let options = AskOptions(bm25: false)
        for question in questions.prefix(5) {
            let reference = try local.ask(question, options: options).answers.map(\.chunk.id)
            #expect(try two.ask(question, options: options).answers.map(\.chunk.id) == reference)
        }
    }

    /// A long-running reader (`sift serve`) sees another writer's commit: rows are read live, and
    /// `reloadIndexIfChanged()` re-reads the statistics and generation the open store caches.
    @Test func aReaderPicksUpAnotherWritersCommit() throws {
        _ = try #require(TestPaths.miniLMModel, "Models/all-MiniLM-L6-v2 is missing: run Scripts/setup")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sift-pg-reload-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let index = Self.postgres(schema: "t_reload_\(getpid() % 100_000)", shards: 2)
        let firstWriter = try Self.pipeline("handbook", index: index, scratch: scratch)
        defer { if case let backend as PostgresStoreBackend = try? firstWriter.storeBackend() { try? backend.drop() } }
        var gitOnly = firstWriter.config
        gitOnly.source.include = ["git-*.html"]
        _ = try PipelineRunner(config: gitOnly).index()

        let reader = try Self.pipeline("handbook", index: index, scratch: scratch)
        try reader.preload()
        let before = try #require(reader.indexGeneration)
        let question = "What does exit status 137 mean?"
        #expect(try reader.ask(question).answers.allSatisfy { $0.chunk.documentID.hasPrefix("git-") })
        #expect(try reader.reloadIndexIfChanged() == false)

        _ = try firstWriter.index()
        #expect(try reader.reloadIndexIfChanged() == true)
        #expect(reader.indexGeneration == before + 1)
        #expect(try reader.openIndex().stats.documents == 31)
        #expect(try reader.ask(question).answers.first?.chunk.documentID == "processes.html")
        #expect(try reader.reloadIndexIfChanged() == false)
    }

    @Test func aServerThatIsDownGivesOneLineNamingHostAndPort() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sift-pg-down-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("down.yaml")
        try """
            source: { root: \(TestPaths.repositoryRoot.appendingPathComponent("Corpora/handbook").path) }
            embedder: { model: \(TestPaths.repositoryRoot.appendingPathComponent("Models/all-MiniLM-L6-v2").path) }
            index: { type: postgres, url: "postgresql://postgres:s3cretpw@127.0.0.1:54398/sift", schema: down }
            """.write(to: file, atomically: true, encoding: .utf8)
        for arguments in [["ask", "-p", file.path, "what is a pipe"], ["index", "-p", file.path]] {
            let process = Process()
            process.executableURL = TestPaths.siftBinary
            process.arguments = arguments
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 1)
            let lines = text.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("sift: error:") && text.contains("127.0.0.1:54398/sift"), "\(text)")
            #expect(!text.contains("s3cretpw"))
        }
    }
}

/// The servers Scripts/test starts: `SIFT_TEST_POSTGRES_PORTS="P1 P2 R1"` (two primaries and a replica of the first).
enum PostgresTestServers {
    static let ports: [Int] = (ProcessInfo.processInfo.environment["SIFT_TEST_POSTGRES_PORTS"] ?? "")
        .split(whereSeparator: { $0 == " " || $0 == "," }).compactMap { Int($0) }
}
