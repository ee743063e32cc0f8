import Foundation

/// BERT parameters in the layout the kernels want, shape-checked against the configuration.
///
/// Tensor names are Hugging Face's; both `bert.`-prefixed (BertForSequenceClassification) and
/// unprefixed (BertModel, sentence-transformers) checkpoints load. Linear weights stay
/// `[out×in]` as PyTorch stores them; query, key and value are concatenated at load into one
/// `[3·hidden × hidden]` matrix so each layer runs a single projection GEMM.
struct BertWeights: Sendable {
    struct Layer: Sendable {
        var qkvWeight: [Float]          // [3H × H]: query rows, then key rows, then value rows
        var qkvBias: [Float]            // [3H]
        var attentionOutputWeight: [Float]  // [H × H]
        var attentionOutputBias: [Float]    // [H]
        var attentionNormGamma: [Float], attentionNormBeta: [Float]  // [H]
        var intermediateWeight: [Float]     // [I × H]
        var intermediateBias: [Float]       // [I]
        var outputWeight: [Float]           // [H × I]
        var outputBias: [Float]             // [H]
        var outputNormGamma: [Float], outputNormBeta: [Float]        // [H]
    }

    var wordEmbeddings: [Float]         // [vocab × H]
    var positionEmbeddings: [Float]     // [maxPositions × H]
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
        let h = c.hiddenSize, i = c.intermediateSize
        wordEmbeddings = try load("embeddings.word_embeddings.weight", [c.vocabSize, h])
        positionEmbeddings = try load("embeddings.position_embeddings.weight", [c.maxPositionEmbeddings, h])
        tokenTypeEmbeddings = try load("embeddings.token_type_embeddings.weight", [c.typeVocabSize, h])
        embeddingNormGamma = try load("embeddings.LayerNorm.weight", [h])
        embeddingNormBeta = try load("embeddings.LayerNorm.bias", [h])
        layers = try (0..<c.numHiddenLayers).map { n in
            let p = "encoder.layer.\(n)."
            return Layer(
                qkvWeight: try load(p + "attention.self.query.weight", [h, h]) + load(p + "attention.self.key.weight", [h, h])
                    + load(p + "attention.self.value.weight", [h, h]),
                qkvBias: try load(p + "attention.self.query.bias", [h]) + load(p + "attention.self.key.bias", [h])
                    + load(p + "attention.self.value.bias", [h]),
                attentionOutputWeight: try load(p + "attention.output.dense.weight", [h, h]),
                attentionOutputBias: try load(p + "attention.output.dense.bias", [h]),
                attentionNormGamma: try load(p + "attention.output.LayerNorm.weight", [h]),
                attentionNormBeta: try load(p + "attention.output.LayerNorm.bias", [h]),
                intermediateWeight: try load(p + "intermediate.dense.weight", [i, h]),
                intermediateBias: try load(p + "intermediate.dense.bias", [i]),
                outputWeight: try load(p + "output.dense.weight", [h, i]),
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
