import Foundation
import SiftCore
import SiftKernels
import SiftTokenizer

/// Pooling of token vectors into one text vector (sentence-transformers' `Pooling` modes).
public typealias PoolingMode = Kernels.Pooling

/// A sentence-transformers bi-encoder (e.g. all-MiniLM-L6-v2): BERT → pooling → optional L2
/// normalisation, loaded from the folder sentence-transformers saves.
///
/// Inputs longer than `maxSequenceLength` tokens (special tokens included) are truncated at the
/// end, as sentence-transformers does; `tokenize(_:)` reports how many tokens were dropped.
/// The empty string is encoded as `[CLS] [SEP]`.
public final class BiEncoder: TextEmbedder, Sendable {
    public let directory: URL
    public let configuration: BertConfiguration
    public let tokenizer: WordPieceTokenizer
    public let pooling: PoolingMode
    /// Whether the model ends with a `Normalize` module (then vectors are unit length by default).
    public let normalizesByDefault: Bool
    /// Token limit per text, [CLS] and [SEP] included (`sentence_bert_config.json` `max_seq_length`).
    public let maxSequenceLength: Int
    public let dimension: Int
    /// Shape and a hash of everything that determines the vectors (not the folder name), e.g.
    /// `bert-L6-H384@1a2b3c4d5e6f7081`; see `ModelIdentity`.
    public let modelIdentity: String
    let encoder: BertEncoder
    /// The linear layers' arithmetic chosen at load.
    public var precision: ModelPrecision { encoder.precision }
    /// Kernel the linear layers run on this CPU ("avx512-fp32", "avx512-bf16" or "openblas").
    public var kernel: String { encoder.kernel }

    /// Loads `directory`: `config.json`, `model.safetensors`, tokenizer files, and when present
    /// `modules.json`, `sentence_bert_config.json` and the pooling module's `config.json`
    /// (without `modules.json` the folder is treated as a plain BERT with mean pooling).
    /// `maxSequenceLength` overrides the configured limit (capped by the position embeddings).
    /// `precision` is the linear layers' arithmetic: `.float32` (default, matches sentence-transformers
    /// to ~1e-7), `.bfloat16` (about 1.6× faster on AVX-512 BF16 CPUs; embedding cosine to the float32
    /// ones ≥ 0.9999; the pipelines' default) or `.int8` (about 2.3× faster with AVX-512 VNNI; cosine
    /// ≥ 0.995 from 4 tokens), see BENCHMARKS.md.
    public init(directory: URL, maxSequenceLength: Int? = nil, precision: ModelPrecision = .float32) throws {
        let folder = try BertModelFolder(directory: directory, precision: precision)
        self.directory = directory
        let configuration = folder.configuration
        self.configuration = configuration
        let tokenizer = folder.tokenizer
        self.tokenizer = tokenizer
        self.encoder = folder.encoder

        let modules = try SentenceTransformerModules(directory: directory)
        pooling = modules.pooling
        normalizesByDefault = modules.normalize
        let configured = maxSequenceLength ?? modules.maxSequenceLength ?? min(tokenizer.modelMaxLength, configuration.maxPositionEmbeddings)
        guard configured >= 2, configured <= configuration.maxPositionEmbeddings else {
            throw ModelError.invalidConfiguration(path: directory.path,
                                                  reason: "max_seq_length \(configured) must be in 2...\(configuration.maxPositionEmbeddings)")
        }
        self.maxSequenceLength = configured
        dimension = configuration.hiddenSize
        modelIdentity = folder.identity(settings: ["pooling=\(pooling)", "normalize=\(normalizesByDefault)",
                                                   "max_seq_length=\(configured)"])
    }

    /// The tokens the model sees for `text` (truncated to `maxSequenceLength`;
    /// `truncatedTokenCount` tells how many were dropped).
    public func tokenize(_ text: String) throws -> Encoding {
        do { return try tokenizer.encode(text, maxLength: maxSequenceLength, truncation: .longestFirst) } catch {
            throw ModelError.tokenizer(reason: String(describing: error))
        }
    }

    /// `TextEmbedder`: `encode` with the defaults.
    public func embed(_ texts: [String]) throws -> [[Float]] { try encode(texts) }

    /// One vector per text, in input order. Texts are processed longest first in batches of
    /// `batchSize` (as sentence-transformers does); `normalize` overrides the model's Normalize
    /// module; `progress(done, total)` is called after each batch.
    public func encode(_ texts: [String], batchSize: Int = 32, normalize: Bool? = nil,
                       progress: ((Int, Int) -> Void)? = nil) throws -> [[Float]] {
        let encodings = tokenizer.encodeBatch(texts, maxLength: maxSequenceLength)
        return try encode(tokens: encodings.map { TokenSequence(ids: $0.ids, tokenTypeIDs: $0.tokenTypeIDs) },
                          batchSize: batchSize, normalize: normalize, progress: progress)
    }

    /// `encode` for already tokenized inputs ([CLS] … [SEP], at most `maxSequenceLength` tokens).
    public func encode(tokens: [TokenSequence], batchSize: Int = 32, normalize: Bool? = nil,
                       progress: ((Int, Int) -> Void)? = nil) throws -> [[Float]] {
        precondition(batchSize > 0, "batchSize must be positive")
        for (n, t) in tokens.enumerated() where t.ids.count > maxSequenceLength {
            throw ModelError.invalidInput(reason: "text \(n) has \(t.ids.count) tokens, more than max_seq_length \(maxSequenceLength)")
        }
        let normalize = normalize ?? normalizesByDefault
        // Longest first (stable), so batches hold similar lengths and the first batch shows the peak memory.
        let order = tokens.indices.sorted { (tokens[$0].ids.count, $1) > (tokens[$1].ids.count, $0) }
        var results = [[Float]](repeating: [], count: tokens.count)
        let h = dimension
        var start = 0
        while start < order.count {
            let indices = Array(order[start..<min(start + batchSize, order.count)])
            var pooled = try encoder.pooled(indices.map { tokens[$0] }, mode: pooling)
            if normalize { pooled.withUnsafeMutableBufferPointer { Kernels.l2Normalize($0, rows: indices.count, width: h) } }
            for (row, index) in indices.enumerated() { results[index] = Array(pooled[(row * h)..<((row + 1) * h)]) }
            start += indices.count
            progress?(start, order.count)
        }
        return results
    }
}

/// What a sentence-transformers folder declares around the Transformer module.
struct SentenceTransformerModules {
    var pooling: PoolingMode = .mean
    var normalize = false
    var maxSequenceLength: Int?

    private struct Module: Decodable { var type: String; var path: String }
    private struct BertSettings: Decodable {
        var maxSeqLength: Int?
        enum CodingKeys: String, CodingKey { case maxSeqLength = "max_seq_length" }
    }
    private struct PoolingSettings: Decodable {
        var poolingModeClsToken: Bool?
        var poolingModeMeanTokens: Bool?
        var poolingModeMaxTokens: Bool?
        var poolingModeMeanSqrtLenTokens: Bool?
        var poolingModeWeightedmeanTokens: Bool?
        var poolingModeLasttoken: Bool?
        var poolingMode: String?
        enum CodingKeys: String, CodingKey {
            case poolingModeClsToken = "pooling_mode_cls_token", poolingModeMeanTokens = "pooling_mode_mean_tokens"
            case poolingModeMaxTokens = "pooling_mode_max_tokens", poolingModeMeanSqrtLenTokens = "pooling_mode_mean_sqrt_len_tokens"
            case poolingModeWeightedmeanTokens = "pooling_mode_weightedmean_tokens", poolingModeLasttoken = "pooling_mode_lasttoken"
            case poolingMode = "pooling_mode"
        }
    }

    init(directory: URL) throws {
        let modulesURL = directory.appendingPathComponent("modules.json")
        guard FileManager.default.fileExists(atPath: modulesURL.path) else { return }
        let modules = try decodeJSON([Module].self, modulesURL)
        for module in modules {
            let kind = module.type.split(separator: ".").last.map(String.init) ?? module.type
            let folder = module.path.isEmpty ? directory : directory.appendingPathComponent(module.path)
            switch kind {
            case "Transformer":
                let settings = folder.appendingPathComponent("sentence_bert_config.json")
                if FileManager.default.fileExists(atPath: settings.path) {
                    maxSequenceLength = try decodeJSON(BertSettings.self, settings).maxSeqLength
                }
            case "Pooling":
                pooling = try Self.poolingMode(decodeJSON(PoolingSettings.self, folder.appendingPathComponent("config.json")),
                                               path: folder.appendingPathComponent("config.json").path)
            case "Normalize":
                normalize = true
            default:
                throw ModelError.invalidConfiguration(path: modulesURL.path, reason: "module type \(module.type) is not supported (Transformer, Pooling, Normalize)")
            }
        }
    }

    private static func poolingMode(_ s: PoolingSettings, path: String) throws -> PoolingMode {
        if let name = s.poolingMode {
            switch name {
            case "mean": return .mean
            case "cls": return .cls
            case "max": return .max
            case "mean_sqrt_len_tokens": return .meanSqrtLength
            default: throw ModelError.invalidConfiguration(path: path, reason: "pooling_mode \"\(name)\" is not supported (mean, cls, max, mean_sqrt_len_tokens)")
            }
        }
        if s.poolingModeWeightedmeanTokens == true || s.poolingModeLasttoken == true {
            throw ModelError.invalidConfiguration(path: path, reason: "weighted-mean and last-token pooling are not supported")
        }
        let modes: [(Bool?, PoolingMode)] = [(s.poolingModeClsToken, .cls), (s.poolingModeMeanTokens, .mean),
                                             (s.poolingModeMaxTokens, .max), (s.poolingModeMeanSqrtLenTokens, .meanSqrtLength)]
        let enabled = modes.filter { $0.0 == true }.map(\.1)
        guard enabled.count == 1 else {
            throw ModelError.invalidConfiguration(path: path, reason: "exactly one pooling mode must be enabled, found \(enabled.count) (concatenated modes are not supported)")
        }
        return enabled[0]
    }
}

/// Decodes a JSON file, mapping every failure to `ModelError` naming the file.
func decodeJSON<T: Decodable>(_ type: T.Type, _ url: URL) throws -> T {
    guard FileManager.default.fileExists(atPath: url.path) else { throw ModelError.missingFile(path: url.path) }
    let data: Data
    do { data = try Data(contentsOf: url) } catch { throw ModelError.unreadable(path: url.path, reason: error.localizedDescription) }
    do { return try JSONDecoder().decode(T.self, from: data) } catch {
        throw ModelError.invalidConfiguration(path: url.path, reason: decodingMessage(error))
    }
}
