import ArgumentParser
import Foundation
import SiftModels
import SiftPipeline

/// `sift-bench encode`: bi-encoder throughput (passages/s) on a JSONL file of {"id", "text"}.
struct EncodeBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "encode", abstract: "Bi-encoder throughput in passages per second.")

    @Option(help: "sentence-transformers model folder.") var model: String = "Models/all-MiniLM-L6-v2"
    @Option(help: "JSONL passages ({\"id\", \"text\"} per line); Benchmarks/make_passages.py writes 1,000.") var passages: String = "Benchmarks/results/passages.jsonl"
    @Option(help: "Token limit per passage.") var maxSeqLength: Int = 256
    @Option(help: "Texts per forward pass.") var batchSize: Int = 32
    @Option(help: "Use only the first N passages.") var limit: Int?

    @Option(help: "Linear-layer precision: fp32, bf16 or int8.") var precision: String = "fp32"
    @Option(help: ArgumentHelp("Write the timed pass's embeddings as a float32 .npy [passages × dimension] (for Benchmarks/peers/compare.py).",
                               valueName: "file.npy")) var output: String?

    func run() throws {
        let texts = try loadPassageTexts(passages, limit: limit)
        let loadStart = Date()
        let encoder = try BiEncoder(directory: URL(fileURLWithPath: model), maxSequenceLength: maxSeqLength,
                                    precision: try parsePrecision(precision))
        print(String(format: "sift load: %.3f s", Date().timeIntervalSince(loadStart)) + ", kernel \(encoder.kernel)")
        _ = try encoder.encode(Array(texts.prefix(batchSize)), batchSize: batchSize)  // warm-up: buffers, page cache
        let tokens = texts.reduce(0) { $0 + ((try? encoder.tokenize($1).ids.count) ?? 0) }
        let start = Date(), cpuStart = processCPUSeconds()
        let vectors = try encoder.encode(texts, batchSize: batchSize)
        let seconds = Date().timeIntervalSince(start), cpu = processCPUSeconds() - cpuStart
        precondition(vectors.count == texts.count)
        print(String(format: "sift encode: %d passages (%d tokens, max %d) in %.3f s = %.1f passages/s (%.0f tokens/s), batch %d, cpu %.3f s",
                     texts.count, tokens, maxSeqLength, seconds, Double(texts.count) / seconds, Double(tokens) / seconds, batchSize, cpu))
        if let output { try writeNPY(vectors, columns: encoder.dimension, to: output) }
    }
}

/// The `text` of each line of a JSONL file.
func loadPassageTexts(_ path: String, limit: Int?) throws -> [String] {
    guard let content = try? String(contentsOfFile: path, encoding: .utf8) else {
        throw ValidationError("cannot read \(path) (generate it with /work/venv/bin/python Benchmarks/make_passages.py)")
    }
    var texts: [String] = []
    for line in content.split(separator: "\n") where !line.isEmpty {
        guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let text = object["text"] as? String else {
            throw ValidationError("\(path): a line without a \"text\" string")
        }
        texts.append(text)
        if let limit, texts.count == limit { break }
    }
    return texts
}

/// Writes a [rows × columns] float32 matrix as .npy (after the timed pass, so it is not measured).
func writeNPY(_ rows: [[Float]], columns: Int, to path: String) throws {
    guard FileManager.default.createFile(atPath: path, contents: NPYFile.data(rows, columns: columns)) else {
        throw ValidationError("cannot write \(path)")
    }
}

/// CPU time of the whole process (all threads), seconds: on a shared machine wall time also measures
/// other people's load, CPU time does not.
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
