import Foundation
import SiftKernels
import SiftTokenizer

/// A cross-encoder re-ranker: a Hugging Face `BertForSequenceClassification` folder
/// (`config.json` with `num_labels`, `model.safetensors`, tokenizer files) scoring
/// `[CLS] query [SEP] passage [SEP]` with the pooler and classifier head.
public final class CrossEncoder: Sendable {
    /// Applied to the logits of each pair.
    public enum Activation: String, Sendable, CaseIterable {
        /// Raw logits.
        case identity
        /// `1 / (1 + e^-x)` per logit (what sentence-transformers applies by default for one label).
        case sigmoid
        /// Softmax over the labels of each pair.
        case softmax
    }

    public let directory: URL
    public let configuration: BertConfiguration
    public let tokenizer: WordPieceTokenizer
    /// Token limit per pair, special tokens included.
    public let maxLength: Int
    /// How over-long pairs are cut (default `.longestFirst`, like sentence-transformers' CrossEncoder).
    public let truncation: TruncationStrategy
    public let numLabels: Int
    /// Shape and a hash of everything that determines the scores (not the folder name); see `ModelIdentity`.
    public let modelIdentity: String
    let encoder: BertEncoder

    /// The linear layers' arithmetic chosen at load.
    public var precision: ModelPrecision { encoder.precision }
    /// Kernel the linear layers run on this CPU ("avx512-fp32", "avx512-bf16" or "openblas").
    public var kernel: String { encoder.kernel }
    /// A forward pass holds at most this many tokens (fewer pairs than `batchSize` when pairs are long),
    /// so activations stay cache-sized; one pair longer than this still runs alone.
    static let maxBatchTokens = 4096

    /// `maxLength` defaults to the tokenizer's `model_max_length` capped by `max_position_embeddings` (512 for MiniLM).
    /// `precision`: `.float32` (default, logits match PyTorch to ~1e-5), `.bfloat16` (1.7× faster on AVX-512 BF16
    /// CPUs; logits within ~0.05 of float32 on the test model) or `.int8` (2.7× faster with AVX-512 VNNI; within
    /// ~0.15), see BENCHMARKS.md.
    public init(directory: URL, maxLength: Int? = nil, truncation: TruncationStrategy = .longestFirst,
                precision: ModelPrecision = .float32) throws {
        let folder = try BertModelFolder(directory: directory, precision: precision, pooler: true,
                                         classifierLabels: { $0.numLabels ?? 1 })
        self.directory = directory
        let configuration = folder.configuration
        self.configuration = configuration
        self.tokenizer = folder.tokenizer
        self.encoder = folder.encoder
        let labels = configuration.numLabels ?? 1
        let limit = maxLength ?? min(folder.tokenizer.modelMaxLength, configuration.maxPositionEmbeddings)
        guard limit >= 3, limit <= configuration.maxPositionEmbeddings else {
            throw ModelError.invalidConfiguration(path: folder.configurationFile.path,
                                                  reason: "max length \(limit) must be in 3...\(configuration.maxPositionEmbeddings)")
        }
        self.maxLength = limit
        self.truncation = truncation
        numLabels = labels
        modelIdentity = folder.identity(settings: ["num_labels=\(labels)", "max_length=\(limit)", "truncation=\(truncation)"])
    }

    /// The tokens the model sees for a pair (`truncatedTokenCount` tells how many were cut).
    public func tokenize(_ first: String, _ second: String) throws -> Encoding {
        do { return try tokenizer.encodePair(first, second, maxLength: maxLength, truncation: truncation) } catch {
            throw ModelError.tokenizer(reason: String(describing: error))
        }
    }

    /// `numLabels` values per pair, in input order.
    public func predict(_ pairs: [(String, String)], batchSize: Int = 32, activation: Activation = .identity) throws -> [[Float]] {
        let tokens = try pairs.map { pair in
            let e = try tokenize(pair.0, pair.1)
            return TokenSequence(ids: e.ids, tokenTypeIDs: e.tokenTypeIDs)
        }
        return try predict(tokens: tokens, batchSize: batchSize, activation: activation)
    }

    /// `predict` for already tokenized pairs.
    public func predict(tokens: [TokenSequence], batchSize: Int = 32, activation: Activation = .identity) throws -> [[Float]] {
        precondition(batchSize > 0, "batchSize must be positive")
        // Longest first (stable): batches of similar lengths, capped at `maxBatchTokens` tokens.
        let order = tokens.indices.sorted { (tokens[$0].ids.count, $1) > (tokens[$1].ids.count, $0) }
        var results = [[Float]](repeating: [], count: tokens.count)
        var start = 0
        while start < order.count {
            var end = start + 1, batchTokens = tokens[order[start]].ids.count
            while end < order.count, end - start < batchSize, batchTokens + tokens[order[end]].ids.count <= Self.maxBatchTokens {
                batchTokens += tokens[order[end]].ids.count
                end += 1
            }
            let indices = Array(order[start..<end])
            let logits = try encoder.classifierLogits(indices.map { tokens[$0] })
            for (row, index) in indices.enumerated() {
                results[index] = Self.apply(activation, Array(logits[(row * numLabels)..<((row + 1) * numLabels)]))
            }
            start += indices.count
        }
        return results
    }

    /// One score per passage for a single-label model (the first label otherwise).
    public func scores(query: String, passages: [String], batchSize: Int = 32, activation: Activation = .identity) throws -> [Float] {
        try predict(passages.map { (query, $0) }, batchSize: batchSize, activation: activation).map { $0[0] }
    }

    /// Documents by descending score (ties keep input order), the best `topK` when given.
    public func rank(query: String, documents: [String], topK: Int? = nil, batchSize: Int = 32) throws -> [(index: Int, score: Float)] {
        let s = try scores(query: query, passages: documents, batchSize: batchSize)
        let ranked = s.indices.sorted { (s[$0], $1) > (s[$1], $0) }.map { (index: $0, score: s[$0]) }
        return topK.map { Array(ranked.prefix(max(0, $0))) } ?? ranked
    }

    static func apply(_ activation: Activation, _ logits: [Float]) -> [Float] {
        switch activation {
        case .identity: return logits
        case .sigmoid: return logits.map { 1 / (1 + Foundation.exp(-$0)) }
        case .softmax:
            var values = logits
            values.withUnsafeMutableBufferPointer { Kernels.softmax($0, rows: 1, width: logits.count) }
            return values
        }
    }
}
