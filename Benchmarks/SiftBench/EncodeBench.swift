import ArgumentParser
import Foundation
import SiftModels

/// `sift-bench encode`: bi-encoder throughput (passages/s) on a JSONL file of {"id", "text"}.
struct EncodeBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "encode", abstract: "Bi-encoder throughput in passages per second.")

    @Option(help: "sentence-transformers model folder.") var model: String = "Models/all-MiniLM-L6-v2"
    @Option(help: "JSONL passages ({\"id\", \"text\"} per line); Benchmarks/make_passages.py writes 1,000.") var passages: String = "Benchmarks/results/passages.jsonl"
    @Option(help: "Token limit per passage.") var maxSeqLength: Int = 256
    @Option(help: "Texts per forward pass.") var batchSize: Int = 32
    @Option(help: "Use only the first N passages.") var limit: Int?

    func run() throws {
        let texts = try loadPassageTexts(passages, limit: limit)
        let encoder = try BiEncoder(directory: URL(fileURLWithPath: model), maxSequenceLength: maxSeqLength)
        _ = try encoder.encode(Array(texts.prefix(batchSize)), batchSize: batchSize)  // warm-up: buffers, page cache
        let tokens = texts.reduce(0) { $0 + ((try? encoder.tokenize($1).ids.count) ?? 0) }
        let start = Date()
        let vectors = try encoder.encode(texts, batchSize: batchSize)
        let seconds = Date().timeIntervalSince(start)
        precondition(vectors.count == texts.count)
        print(String(format: "sift encode: %d passages (%d tokens, max %d) in %.2f s = %.1f passages/s (%.0f tokens/s), batch %d",
                     texts.count, tokens, maxSeqLength, seconds, Double(texts.count) / seconds, Double(tokens) / seconds, batchSize))
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
