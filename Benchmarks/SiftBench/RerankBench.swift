import ArgumentParser
import Foundation
import SiftModels

/// `sift-bench rerank`: cross-encoder latency in ms per 100 (question, passage) pairs.
/// The default model is the randomly initialised ms-marco-MiniLM-L-6-v2-shaped checkpoint that
/// Scripts/fixtures/make_model_fixtures.py writes (same shapes, so the same cost).
struct RerankBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rerank", abstract: "Cross-encoder milliseconds per 100 pairs.")

    @Option(help: "BertForSequenceClassification folder.") var model: String = "Tests/Fixtures/generated/random-cross-encoder"
    @Option(help: "JSONL passages ({\"id\", \"text\"} per line).") var passages: String = "Benchmarks/results/passages.jsonl"
    @Option(help: "Number of (question, passage) pairs.") var pairs: Int = 100
    @Option(help: "Pairs per forward pass.") var batchSize: Int = 32
    @Option(help: "Token limit per pair.") var maxLength: Int = 512

    /// The same questions as Benchmarks/peers/st_bench.py; pair i is (questions[i % 10], passages[i]).
    static let questions = [
        "How do I read a file line by line?", "What does the with statement do?", "How can I sort a list of dictionaries by a key?",
        "What is a generator?", "How do I handle exceptions?", "What is the difference between a list and a tuple?",
        "How do I create a virtual environment?", "what is the GIL", "How are reference counts managed in the C API?",
        "How do I format strings with f-strings?",
    ]

    @Option(help: "Linear-layer precision: fp32, bf16 or int8.") var precision: String = "fp32"
    @Option(help: ArgumentHelp("Write the timed pass's raw logits as a float32 .npy [pairs × labels] (for Benchmarks/peers/compare.py).",
                               valueName: "file.npy")) var output: String?

    func run() throws {
        let texts = try loadPassageTexts(passages, limit: pairs)
        let list = (0..<pairs).map { (Self.questions[$0 % Self.questions.count], texts[$0 % texts.count]) }
        let loadStart = Date()
        let encoder = try CrossEncoder(directory: URL(fileURLWithPath: model), maxLength: maxLength, precision: try parsePrecision(precision))
        print(String(format: "sift load: %.3f s", Date().timeIntervalSince(loadStart)) + ", kernel \(encoder.kernel)")
        _ = try encoder.predict(Array(list.prefix(batchSize)), batchSize: batchSize)  // warm-up
        let start = Date(), cpuStart = processCPUSeconds()
        let scores = try encoder.predict(list, batchSize: batchSize)
        let seconds = Date().timeIntervalSince(start), cpu = processCPUSeconds() - cpuStart
        precondition(scores.count == pairs)
        print(String(format: "sift rerank: %d pairs in %.3f s = %.0f ms per 100 pairs, batch %d, cpu %.3f s", pairs, seconds,
                     seconds * 1000 * 100 / Double(pairs), batchSize, cpu))
        if let output { try writeNPY(scores, columns: scores.first?.count ?? 1, to: output) }
    }
}
