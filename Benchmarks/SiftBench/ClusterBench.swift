import ArgumentParser
import Foundation
import SiftCluster
import SiftIndex

/// `sift-bench cluster`: k-means Lloyd iterations from given centres, or community detection, on a float32 matrix
/// written by Benchmarks/cluster (the same file scikit-learn and sentence-transformers read). Prints one JSON line.
struct ClusterBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "k-means time per iteration (from given centres) or community detection time, with peak RSS; one JSON line.")

    enum Task: String, ExpressibleByArgument { case kmeans, community }

    @Option(help: "kmeans or community.")
    var task: Task = .kmeans
    @Option(help: "Row-major little-endian float32 matrix.")
    var data: String
    @Option(help: "Vector dimension.")
    var dim = 384
    @Option(help: "kmeans: initial centres (float32 matrix [k × dim]).")
    var initial: String?
    @Option(help: "kmeans: Lloyd iterations (tolerance 0, so every run does the same number unless labels stop changing).")
    var iterations = 20
    @Option(help: "Worker threads.")
    var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "community: cosine threshold.")
    var threshold: Float = 0.75
    @Option(name: .customLong("min-size"), help: "community: smallest community.")
    var minSize = 10

    static func matrix(_ path: String, dim: Int) throws -> VectorMatrix {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        guard bytes.count % (4 * dim) == 0 else { throw ValidationError("\(path): \(bytes.count) bytes is not a multiple of 4 × \(dim)") }
        var values = [Float](repeating: 0, count: bytes.count / 4)
        _ = values.withUnsafeMutableBytes { bytes.copyBytes(to: $0) }
        return VectorMatrix(rows: values.count / dim, dimension: dim, values: values)
    }

    func run() throws {
        let x = try Self.matrix(data, dim: dim)
        var record: [String: Double] = ["rows": Double(x.rows), "dim": Double(dim), "threads": Double(threads)]
        switch task {
        case .kmeans:
            guard let initial else { throw ValidationError("--initial is required for kmeans") }
            let centres = try Self.matrix(initial, dim: dim)
            // Time 1 iteration and N + 1 iterations: the difference is N Lloyd iterations without the fixed costs
            // (norms, tolerance, final inertia), measured the same way as the scikit-learn peer.
            let t0 = Date()
            _ = try KMeans.fit(x, initialCenters: centres, maxIterations: 1, tolerance: 0, threads: threads)
            let t1 = Date()
            let result = try KMeans.fit(x, initialCenters: centres, maxIterations: iterations + 1, tolerance: 0, threads: threads)
            let t2 = Date()
            let one = t1.timeIntervalSince(t0), many = t2.timeIntervalSince(t1)
            record["k"] = Double(centres.rows)
            record["iterations"] = Double(result.iterations)
            record["seconds_per_iteration"] = (many - one) / Double(max(1, result.iterations - 1))
            record["seconds_total"] = many
            record["inertia"] = result.inertia
        case .community:
            let rows = (0..<x.rows).map { Array(x.row($0)) }
            let t0 = Date()
            let communities = SentenceTransformersUtil.communityDetection(embeddings: rows, threshold: threshold, minCommunitySize: minSize)
            record["seconds"] = Date().timeIntervalSince(t0)
            record["communities"] = Double(communities.count)
            record["clustered"] = Double(communities.reduce(0) { $0 + $1.count })
        }
        record["peak_rss_mib"] = SearchBench.memory().peak
        let json = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
        print(String(decoding: json, as: UTF8.self))
    }
}
