import Foundation

/// A float tensor of a checkpoint, used in place in the memory-mapped file when it is F32 and aligned
/// (no copy: the word embeddings alone are 47 MB), else converted once at load (F16, BF16, unaligned).
struct WeightTensor: Sendable {
    private let file: SafetensorsFile?
    private let name: String
    private let converted: [Float]

    /// Checks the stored shape against `shape`.
    init(_ file: SafetensorsFile, _ name: String, shape: [Int]) throws {
        self.name = name
        if file.isMappable(name) {
            try file.withFloats(name, shape: shape) { _ in }  // shape and presence check
            self.file = file
            converted = []
        } else {
            self.file = nil
            converted = try file.floats(name, shape: shape)
        }
    }

    /// The values (row-major), valid only inside `body`.
    func withUnsafeBufferPointer<T>(_ body: (UnsafeBufferPointer<Float>) -> T) -> T {
        // The tensor was found and shape-checked at init, so the mapped read cannot fail.
        if let file { return try! file.withFloats(name, body) }
        return converted.withUnsafeBufferPointer(body)
    }
}

/// BERT parameters in the layout the kernels want, shape-checked against the configuration.
///
/// Tensor names are Hugging Face's; both `bert.`-prefixed (BertForSequenceClassification) and
/// unprefixed (BertModel, sentence-transformers) checkpoints load. Linear weights stay
/// `[out×in]` as PyTorch stores them; query, key and value are concatenated at load into one
/// `[3·hidden × hidden]` matrix so each layer runs a single projection GEMM. The other large
/// tensors are read in place from the mapped file (`WeightTensor`).
struct BertWeights: Sendable {
    struct Layer: Sendable {
        var qkvWeight: [Float]          // [3H × H]: query rows, then key rows, then value rows
        var qkvBias: [Float]            // [3H]
        var attentionOutputWeight: WeightTensor  // [H × H]
        var attentionOutputBias: [Float]    // [H]
        var attentionNormGamma: [Float], attentionNormBeta: [Float]  // [H]
        var intermediateWeight: WeightTensor     // [I × H]
        var intermediateBias: [Float]       // [I]
        var outputWeight: WeightTensor           // [H × I]
        var outputBias: [Float]             // [H]
        var outputNormGamma: [Float], outputNormBeta: [Float]        // [H]
    }

    var wordEmbeddings: WeightTensor    // [vocab × H]
    var positionEmbeddings: WeightTensor  // [maxPositions × H]
    var tokenTypeEmbeddings: [Float]    // [typeVocab × H]
    var embeddingNormGamma: [Float], embeddingNormBeta: [Float]  // [H]
    var layers: [Layer]
    var poolerWeight: [Float]?          // [H × H]
    var poolerBias: [Float]?            // [H]
    var classifierWeight: [Float]?      // [labels × H]
    var classifierBias: [Float]?        // [labels]

    /// Loads the encoder; the pooler when `pooler` is true (an error if absent), the classifier
    /// head `[numLabels × H]` when `classifierLabels` is given.
    init(file: SafetensorsFile, configuration c: BertConfiguration, pooler: Bool, classifierLabels: Int?) throws {
        let prefix = file.tensors["bert.embeddings.word_embeddings.weight"] != nil ? "bert." : ""
        func load(_ name: String, _ shape: [Int]) throws -> [Float] { try file.floats(prefix + name, shape: shape) }
        func mapped(_ name: String, _ shape: [Int]) throws -> WeightTensor { try WeightTensor(file, prefix + name, shape: shape) }
        func concatenated(_ names: [String], _ shape: [Int]) throws -> [Float] {
            var out: [Float] = []
            out.reserveCapacity(names.count * shape.reduce(1, *))
            for name in names { try file.withFloats(prefix + name, shape: shape) { out.append(contentsOf: $0) } }
            return out
        }
        let h = c.hiddenSize, i = c.intermediateSize
        wordEmbeddings = try mapped("embeddings.word_embeddings.weight", [c.vocabSize, h])
        positionEmbeddings = try mapped("embeddings.position_embeddings.weight", [c.maxPositionEmbeddings, h])
        tokenTypeEmbeddings = try load("embeddings.token_type_embeddings.weight", [c.typeVocabSize, h])
        embeddingNormGamma = try load("embeddings.LayerNorm.weight", [h])
        embeddingNormBeta = try load("embeddings.LayerNorm.bias", [h])
        layers = try (0..<c.numHiddenLayers).map { n in
            let p = "encoder.layer.\(n)."
            return Layer(
                qkvWeight: try concatenated(["query", "key", "value"].map { p + "attention.self.\($0).weight" }, [h, h]),
                qkvBias: try load(p + "attention.self.query.bias", [h]) + load(p + "attention.self.key.bias", [h])
                    + load(p + "attention.self.value.bias", [h]),
                attentionOutputWeight: try mapped(p + "attention.output.dense.weight", [h, h]),
                attentionOutputBias: try load(p + "attention.output.dense.bias", [h]),
                attentionNormGamma: try load(p + "attention.output.LayerNorm.weight", [h]),
                attentionNormBeta: try load(p + "attention.output.LayerNorm.bias", [h]),
                intermediateWeight: try mapped(p + "intermediate.dense.weight", [i, h]),
                intermediateBias: try load(p + "intermediate.dense.bias", [i]),
                outputWeight: try mapped(p + "output.dense.weight", [h, i]),
                outputBias: try load(p + "output.dense.bias", [h]),
                outputNormGamma: try load(p + "output.LayerNorm.weight", [h]),
                outputNormBeta: try load(p + "output.LayerNorm.bias", [h]))
        }
        if pooler {
            poolerWeight = try load("pooler.dense.weight", [h, h])
            poolerBias = try load("pooler.dense.bias", [h])
        }
        if let labels = classifierLabels {
            // The head sits outside the `bert.` prefix.
            classifierWeight = try file.floats("classifier.weight", shape: [labels, h])
            classifierBias = try file.floats("classifier.bias", shape: [labels])
        }
    }
}
