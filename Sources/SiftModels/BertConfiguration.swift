import Foundation

/// The fields of a Hugging Face BERT `config.json` that Sift uses.
public struct BertConfiguration: Decodable, Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    /// Only "gelu" (exact erf GELU) is supported; `validate` rejects anything else.
    public var hiddenAct: String
    public var maxPositionEmbeddings: Int
    public var typeVocabSize: Int
    public var layerNormEps: Float
    /// Number of classifier outputs (sequence classification); from `num_labels` or `id2label`.
    public var numLabels: Int?
    public var id2label: [String: String]?
    public var architectures: [String]?

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", intermediateSize = "intermediate_size", hiddenAct = "hidden_act"
        case maxPositionEmbeddings = "max_position_embeddings", typeVocabSize = "type_vocab_size", layerNormEps = "layer_norm_eps"
        case numLabels = "num_labels", id2label, architectures, modelType = "model_type"
    }

    public init(vocabSize: Int, hiddenSize: Int, numHiddenLayers: Int, numAttentionHeads: Int, intermediateSize: Int,
                hiddenAct: String = "gelu", maxPositionEmbeddings: Int, typeVocabSize: Int, layerNormEps: Float = 1e-12,
                numLabels: Int? = nil, id2label: [String: String]? = nil, architectures: [String]? = nil) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.intermediateSize = intermediateSize
        self.hiddenAct = hiddenAct
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.typeVocabSize = typeVocabSize
        self.layerNormEps = layerNormEps
        self.numLabels = numLabels
        self.id2label = id2label
        self.architectures = architectures
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? "gelu"
        maxPositionEmbeddings = try c.decode(Int.self, forKey: .maxPositionEmbeddings)
        typeVocabSize = try c.decodeIfPresent(Int.self, forKey: .typeVocabSize) ?? 2
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? 1e-12
        id2label = try c.decodeIfPresent([String: String].self, forKey: .id2label)
        numLabels = try c.decodeIfPresent(Int.self, forKey: .numLabels) ?? id2label?.count
        architectures = try c.decodeIfPresent([String].self, forKey: .architectures)
        if let type = try c.decodeIfPresent(String.self, forKey: .modelType), type != "bert" {
            throw DecodingError.dataCorruptedError(forKey: .modelType, in: c, debugDescription: "model_type \"\(type)\" is not supported (only \"bert\")")
        }
    }

    /// Reads and validates `config.json`.
    public static func load(from url: URL) throws -> BertConfiguration {
        guard FileManager.default.fileExists(atPath: url.path) else { throw ModelError.missingFile(path: url.path) }
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw ModelError.unreadable(path: url.path, reason: error.localizedDescription) }
        let config: BertConfiguration
        do { config = try JSONDecoder().decode(BertConfiguration.self, from: data) } catch {
            throw ModelError.invalidConfiguration(path: url.path, reason: decodingMessage(error))
        }
        try config.validate(path: url.path)
        return config
    }

    /// Checks the values Sift depends on; `path` names the file in errors.
    public func validate(path: String) throws {
        func fail(_ reason: String) -> ModelError { .invalidConfiguration(path: path, reason: reason) }
        guard hiddenAct == "gelu" else { throw fail("hidden_act \"\(hiddenAct)\" is not supported (only \"gelu\", the exact erf form)") }
        for (name, value) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers),
                              ("num_attention_heads", numAttentionHeads), ("intermediate_size", intermediateSize),
                              ("max_position_embeddings", maxPositionEmbeddings), ("type_vocab_size", typeVocabSize)] where value <= 0 {
            throw fail("\(name) must be positive, got \(value)")
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw fail("hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads)")
        }
        if let numLabels, numLabels <= 0 { throw fail("num_labels must be positive, got \(numLabels)") }
        guard layerNormEps > 0 else { throw fail("layer_norm_eps must be positive") }
    }

    public var headSize: Int { hiddenSize / numAttentionHeads }
}

/// A one-line description of a JSON decoding error (key path and problem).
func decodingMessage(_ error: Error) -> String {
    guard let error = error as? DecodingError else { return String(describing: error) }
    func path(_ keys: [CodingKey]) -> String { keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".") }
    switch error {
    case let .keyNotFound(key, ctx): return "missing key \"\(path(ctx.codingPath + [key]))\""
    case let .typeMismatch(type, ctx): return "\"\(path(ctx.codingPath))\" is not a \(type)"
    case let .valueNotFound(type, ctx): return "\"\(path(ctx.codingPath))\" is null, expected \(type)"
    case let .dataCorrupted(ctx):
        return ctx.codingPath.isEmpty ? "not valid JSON" : "\"\(path(ctx.codingPath))\": \(ctx.debugDescription)"
    @unknown default: return String(describing: error)
    }
}
