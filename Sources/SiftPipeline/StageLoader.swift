import Foundation
import SiftCore
import SiftModels
import SiftTokenizer

/// Loads the model-backed stages named by a pipeline, checking the folders first so a missing model
/// is reported with where Sift looked and how to get it (never silently skipped).
enum StageLoader {
    static let biEncoderHint = "run Scripts/setup to fetch all-MiniLM-L6-v2 into Models/, or point embedder.model at a sentence-transformers folder (config.json, model.safetensors, tokenizer files)"
    static let crossEncoderHint = "download a Hugging Face cross-encoder checkpoint such as cross-encoder/ms-marco-MiniLM-L-6-v2 (config.json, model.safetensors, vocab.txt) into that folder (none can be downloaded on this machine), or switch re-ranking off with `reranker: none` / `--set reranker=none`"

    /// Throws `modelMissing` unless `folder` holds every file in `required`.
    static func checkModelFolder(_ folder: URL, stage: Stage, required: [String], hint: String) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PipelineError.modelMissing(stage, path: folder.path, hint: hint)
        }
        let missing = required.filter { !fm.fileExists(atPath: folder.appendingPathComponent($0).path) }
        guard missing.isEmpty else {
            throw PipelineError.modelMissing(stage, path: folder.path,
                                             hint: "the folder lacks \(missing.joined(separator: ", ")); " + hint)
        }
    }

    static func tokenizer(_ config: EmbedderConfig) throws -> WordPieceTokenizer {
        try checkModelFolder(config.model, stage: .embedder, required: ["config.json"], hint: biEncoderHint)
        do { return try WordPieceTokenizer(directory: config.model) } catch {
            throw PipelineError.stage(.embedder, underlying: error)
        }
    }

    static func biEncoder(_ config: EmbedderConfig) throws -> any TextEmbedder {
        try checkModelFolder(config.model, stage: .embedder, required: ["config.json", "model.safetensors"], hint: biEncoderHint)
        do { return BatchedEmbedder(model: try BiEncoder(directory: config.model, precision: config.precision.modelPrecision),
                                   batchSize: config.batchSize) } catch {
            throw PipelineError.stage(.embedder, underlying: error)
        }
    }

    static func crossEncoder(_ config: RerankerConfig) throws -> any PassageScorer {
        try checkModelFolder(config.model, stage: .rerank, required: ["config.json", "model.safetensors"], hint: crossEncoderHint)
        let truncation: TruncationStrategy = config.truncation == .onlySecond ? .onlySecond : .longestFirst
        do {
            let model = try CrossEncoder(directory: config.model, maxLength: config.maxTokens, truncation: truncation,
                                         precision: config.precision.modelPrecision)
            return CrossEncoderScorer(model: model, batchSize: config.batchSize)
        } catch {
            throw PipelineError.stage(.rerank, underlying: error)
        }
    }
}

extension PrecisionSetting {
    /// The models' arithmetic for this setting.
    var modelPrecision: ModelPrecision {
        switch self {
        case .fp32: .float32
        case .bf16: .bfloat16
        case .int8: .int8
        }
    }
}

/// The bi-encoder with the pipeline's batch size (the `TextEmbedder` protocol has no batch parameter).
struct BatchedEmbedder: TextEmbedder {
    let model: BiEncoder
    let batchSize: Int
    var dimension: Int { model.dimension }
    var modelIdentity: String { model.modelIdentity }
    var maxSequenceLength: Int { model.maxSequenceLength }
    func embed(_ texts: [String]) throws -> [[Float]] { try model.encode(texts, batchSize: batchSize) }
}

/// The cross-encoder as the runner's re-ranking stage.
struct CrossEncoderScorer: PassageScorer {
    let model: CrossEncoder
    let batchSize: Int
    func scores(query: String, passages: [String]) throws -> [Float] {
        try model.scores(query: query, passages: passages, batchSize: batchSize)
    }
}
