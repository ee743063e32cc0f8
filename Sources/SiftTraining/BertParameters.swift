import Foundation
import SiftCore
import SiftModels

/// What sits on top of the encoder: sentence-transformers' mean pooling (a bi-encoder), or
/// `BertForSequenceClassification`'s pooler (dense + tanh on [CLS]) and classifier (a cross-encoder).
public enum TrainingHead: Sendable, Equatable {
    case meanPooling
    case classifier(labels: Int)
}

/// All trainable parameters of a BERT model in one flat fp32 buffer, with a gradient buffer of the same layout.
///
/// Tensors keep Hugging Face's names and `[out × in]` layout. Query, key and value weights are stored one after the
/// other, so together they are the fused `[3H × H]` projection the forward runs (their biases likewise form `[3H]`).
/// One buffer makes the optimizer, clipping and zeroing single loops.
public final class BertParameters: @unchecked Sendable {
    public struct Tensor: Sendable {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
        /// AdamW's weight decay applies (not to biases and LayerNorm weights, as in sentence-transformers' fit).
        public var decays: Bool { !(name.hasSuffix("bias") || name.contains("LayerNorm")) }
    }

    public let configuration: BertConfiguration
    public let head: TrainingHead
    public let tensors: [Tensor]
    public let values: FloatBuffer
    public let gradients: FloatBuffer
    private let index: [String: Int]

    /// The offsets of one encoder layer's tensors.
    struct LayerOffsets {
        var qkvWeight = 0, qkvBias = 0, attentionOutputWeight = 0, attentionOutputBias = 0
        var attentionNormGamma = 0, attentionNormBeta = 0, intermediateWeight = 0, intermediateBias = 0
        var outputWeight = 0, outputBias = 0, outputNormGamma = 0, outputNormBeta = 0
    }
    let layerOffsets: [LayerOffsets]

    /// The tensor layout of a model with `configuration` and `head`.
    static func layout(_ c: BertConfiguration, head: TrainingHead) -> [(String, [Int])] {
        let h = c.hiddenSize, i = c.intermediateSize
        var list: [(String, [Int])] = [
            ("embeddings.word_embeddings.weight", [c.vocabSize, h]),
            ("embeddings.position_embeddings.weight", [c.maxPositionEmbeddings, h]),
            ("embeddings.token_type_embeddings.weight", [c.typeVocabSize, h]),
            ("embeddings.LayerNorm.weight", [h]), ("embeddings.LayerNorm.bias", [h]),
        ]
        for l in 0..<c.numHiddenLayers {
            let p = "encoder.layer.\(l)."
            list += [
                (p + "attention.self.query.weight", [h, h]), (p + "attention.self.key.weight", [h, h]),
                (p + "attention.self.value.weight", [h, h]),
                (p + "attention.self.query.bias", [h]), (p + "attention.self.key.bias", [h]), (p + "attention.self.value.bias", [h]),
                (p + "attention.output.dense.weight", [h, h]), (p + "attention.output.dense.bias", [h]),
                (p + "attention.output.LayerNorm.weight", [h]), (p + "attention.output.LayerNorm.bias", [h]),
                (p + "intermediate.dense.weight", [i, h]), (p + "intermediate.dense.bias", [i]),
                (p + "output.dense.weight", [h, i]), (p + "output.dense.bias", [h]),
                (p + "output.LayerNorm.weight", [h]), (p + "output.LayerNorm.bias", [h]),
            ]
        }
        if case let .classifier(labels) = head {
            list += [("pooler.dense.weight", [h, h]), ("pooler.dense.bias", [h]),
                     ("classifier.weight", [labels, h]), ("classifier.bias", [labels])]
        }
        return list
    }

    /// Zero parameters in the layout of `configuration` and `head`.
    public init(configuration: BertConfiguration, head: TrainingHead) {
        self.configuration = configuration
        self.head = head
        var offset = 0
        var tensors: [Tensor] = []
        for (name, shape) in Self.layout(configuration, head: head) {
            tensors.append(Tensor(name: name, shape: shape, offset: offset))
            offset += shape.reduce(1, *)
        }
        self.tensors = tensors
        let index = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) })
        self.index = index
        values = FloatBuffer(count: offset)
        gradients = FloatBuffer(count: offset)
        let offsetOf = { (name: String) in tensors[index[name]!].offset }
        layerOffsets = (0..<configuration.numHiddenLayers).map { l in
            let p = "encoder.layer.\(l)."
            return LayerOffsets(
                qkvWeight: offsetOf(p + "attention.self.query.weight"), qkvBias: offsetOf(p + "attention.self.query.bias"),
                attentionOutputWeight: offsetOf(p + "attention.output.dense.weight"),
                attentionOutputBias: offsetOf(p + "attention.output.dense.bias"),
                attentionNormGamma: offsetOf(p + "attention.output.LayerNorm.weight"),
                attentionNormBeta: offsetOf(p + "attention.output.LayerNorm.bias"),
                intermediateWeight: offsetOf(p + "intermediate.dense.weight"), intermediateBias: offsetOf(p + "intermediate.dense.bias"),
                outputWeight: offsetOf(p + "output.dense.weight"), outputBias: offsetOf(p + "output.dense.bias"),
                outputNormGamma: offsetOf(p + "output.LayerNorm.weight"), outputNormBeta: offsetOf(p + "output.LayerNorm.bias"))
        }
    }

    /// Loads a Hugging Face BERT folder (`config.json`, `model.safetensors`; `bert.`-prefixed or not). Tensors the
    /// head needs but the checkpoint lacks (a cross-encoder started from a bi-encoder: the pooler if absent, the
    /// classifier) are initialised as Hugging Face does: normal(0, 0.02) weights from `seed`, zero biases.
    /// Returns the parameters and the names so initialised.
    public static func load(folder: URL, head: TrainingHead, seed: UInt64 = 42) throws -> (parameters: BertParameters, initialised: [String]) {
        let configuration = try BertConfiguration.load(from: folder.appendingPathComponent("config.json"))
        try configuration.validate(path: folder.appendingPathComponent("config.json").path)
        let parameters = BertParameters(configuration: configuration, head: head)
        let file = try SafetensorsFile(url: folder.appendingPathComponent("model.safetensors"))
        let prefix = file.tensors["bert.embeddings.word_embeddings.weight"] != nil ? "bert." : ""
        var rng = SplitMix64(state: seed)
        var initialised: [String] = []
        for tensor in parameters.tensors {
            let stored = tensor.name.hasPrefix("classifier.") ? tensor.name : prefix + tensor.name
            let target = parameters.values.mutableView(tensor.offset, tensor.count)
            if file.tensors[stored] != nil {
                let values = try file.floats(stored, shape: tensor.shape)
                _ = target.update(fromContentsOf: values)
            } else if tensor.name.hasPrefix("pooler.") || tensor.name.hasPrefix("classifier.") {
                initialised.append(tensor.name)
                if tensor.name.hasSuffix("weight") {
                    for i in 0..<target.count { target[i] = Float(0.02 * normal(&rng)) }
                }
            } else {
                throw ModelError.missingTensor(path: folder.appendingPathComponent("model.safetensors").path, tensor: stored)
            }
        }
        return (parameters, initialised)
    }

    /// A standard normal draw (Box–Muller).
    static func normal(_ rng: inout SplitMix64) -> Double {
        let u = max(rng.nextUnit(), 1e-300), v = rng.nextUnit()
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }

    public func tensor(_ name: String) -> Tensor? { index[name].map { tensors[$0] } }

    public func offset(_ name: String) -> Int {
        guard let i = index[name] else { preconditionFailure("no parameter \(name)") }
        return tensors[i].offset
    }

    /// A copy of one tensor's values (or gradient).
    public func values(_ name: String, gradient: Bool = false) -> [Float] {
        guard let t = tensor(name) else { return [] }
        return Array((gradient ? gradients : values).view(t.offset, t.count))
    }

    public func zeroGradients() { gradients.zero() }

    /// The tensors with Hugging Face names for `model.safetensors`: `bert.`-prefixed encoder for a cross-encoder
    /// (BertForSequenceClassification), unprefixed for a bi-encoder (BertModel, what sentence-transformers saves).
    public func safetensors() -> [SafetensorsWriter.Tensor] {
        tensors.map { t in
            let name = head == .meanPooling || t.name.hasPrefix("classifier.") ? t.name : "bert." + t.name
            return SafetensorsWriter.Tensor(name: name, shape: t.shape, values: Array(values.view(t.offset, t.count)))
        }
    }
}
