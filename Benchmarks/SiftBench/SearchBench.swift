import ArgumentParser
import Foundation
import SiftCore
import SiftIndex

/// `sift-bench search`: exact dense top-k latency and memory over synthetic normalised vectors
/// in a memory-mapped flat file (the same `FlatVectorStore` an index uses).
struct SearchBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Exact dense top-k over synthetic vectors: p50/p95 latency per single query and per batch, RSS.")

    @Option(help: "Corpus sizes, comma separated.")
    var vectors: String = "100000,1000000"
    @Option(help: "Vector dimension.")
    var dim: Int = 384
    @Option(help: "Queries (timed one by one, then as batches).")
    var queries: Int = 200
    @Option(help: "Queries per batch.")
    var batchSize: Int = 200
    @Option(help: "Results per query.")
    var k: Int = 10
    @Option(help: "Folder for the synthetic vector files (default: a temporary folder, removed afterwards).")
    var directory: String?

    func validate() throws {
        guard dim > 0, queries > 0, batchSize > 0, k > 0 else { throw ValidationError("dim, queries, batch-size and k must be positive") }
        guard !sizes.isEmpty, sizes.allSatisfy({ $0 > 0 }) else { throw ValidationError("--vectors needs positive integers, e.g. 100000,1000000") }
    }

    var sizes: [Int] { vectors.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func run() throws {
        let folder = directory.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("sift-search-bench-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { if directory == nil { try? FileManager.default.removeItem(at: folder) } }

        print("dense exact top-\(k), dim \(dim), \(queries) queries, batches of \(batchSize)")
        print("vectors    | single p50 ms | single p95 ms | batch p50 ms | batch p95 ms | per query in batch ms | RSS MiB | peak RSS MiB")
        var random = SplitMix64(state: 42)
        let queryVectors = (0..<queries).map { _ in Self.unitVector(dim, &random) }
        for n in sizes {
            let url = folder.appendingPathComponent("vectors-\(n)x\(dim).f32")
            try Self.writeVectors(url: url, count: n, dim: dim, seed: UInt64(n))
            let store = try FlatVectorStore(url: url, count: n, dimension: dim)
            _ = try store.search(queries: [queryVectors[0]], k: k)  // warm the page cache and the mapping

            var single = [Double]()
            for q in queryVectors {
                let t = DispatchTime.now().uptimeNanoseconds
                _ = try store.search(queries: [q], k: k)
                single.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
            }
            var batch = [Double]()
            let batches = stride(from: 0, to: queries, by: batchSize).map { Array(queryVectors[$0..<min(queries, $0 + batchSize)]) }
            for _ in 0..<max(1, 5 / batches.count) {
                for b in batches {
                    let t = DispatchTime.now().uptimeNanoseconds
                    _ = try store.search(queries: b, k: k)
                    batch.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
                }
            }
            let memory = Self.memory()
            let perQuery = Self.percentile(batch, 0.5) / Double(min(batchSize, queries))
            print(String(format: "%-10d | %13.2f | %13.2f | %12.1f | %12.1f | %21.3f | %7.0f | %12.0f",
                         n, Self.percentile(single, 0.5), Self.percentile(single, 0.95),
                         Self.percentile(batch, 0.5), Self.percentile(batch, 0.95), perQuery, memory.rss, memory.peak))
            try? FileManager.default.removeItem(at: url)
        }
        print("RSS counts the mapped vector pages that were touched (file-backed, reclaimable), from /proc/self/status.")
    }

    /// Streams `count` random unit vectors to `url` in 64 MiB pieces.
    static func writeVectors(url: URL, count: Int, dim: Int, seed: UInt64) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw ValidationError("cannot create \(url.path)")
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        var random = SplitMix64(state: seed)
        let rowsPerPiece = max(1, (64 << 20) / (dim * 4))
        var written = 0
        while written < count {
            let rows = min(rowsPerPiece, count - written)
            var piece = [Float]()
            piece.reserveCapacity(rows * dim)
            for _ in 0..<rows { piece.append(contentsOf: unitVector(dim, &random)) }
            try handle.write(contentsOf: piece.withUnsafeBytes { Data($0) })
            written += rows
        }
    }

    static func unitVector(_ dim: Int, _ random: inout SplitMix64) -> [Float] {
        var v = (0..<dim).map { _ in Float(random.nextUnit() * 2 - 1) }
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for i in v.indices { v[i] /= norm }
        return v
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }

    /// VmRSS and VmHWM in MiB.
    static func memory() -> (rss: Double, peak: Double) {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
        func value(_ key: String) -> Double {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return 0 }
            return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
        }
        return (value("VmRSS:"), value("VmHWM:"))
    }
}
