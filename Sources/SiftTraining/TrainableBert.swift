import Foundation
import SiftModels

/// A BERT encoder that trains: the forward keeps what the backward needs, and the backward accumulates every
/// parameter's gradient into `parameters.gradients`. Sequences are packed (real tokens only, as at inference), so
/// no work or memory goes to padding, and attention runs per sequence.
///
/// Dropout follows Hugging Face's BERT: after the embeddings' LayerNorm, on the attention probabilities, on the
/// attention output and the feed-forward output before each residual, and before the classifier.
public final class TrainableBert: @unchecked Sendable {
    public let parameters: BertParameters
    public var hiddenDropout: Float
    public var attentionDropout: Float

    public init(parameters: BertParameters, hiddenDropout: Float = 0.1, attentionDropout: Float = 0.1) {
        self.parameters = parameters
        self.hiddenDropout = hiddenDropout
        self.attentionDropout = attentionDropout
    }

    /// One layer's saved activations ([tokens × width] each unless noted).
    final class LayerPass {
        let input: FloatBuffer          // H: the layer's input, also the first residual
        let qkv: FloatBuffer            // 3H
        let probabilities: FloatBuffer  // per sequence and head, len × len
        let probabilityMask: FloatBuffer?, droppedProbabilities: FloatBuffer?
        let context: FloatBuffer        // H
        let attentionMask: FloatBuffer? // H: dropout on the attention output
        let attentionSum: FloatBuffer   // H: dropout(context·Woᵀ + b) + input, the LayerNorm's input
        let attentionMean: FloatBuffer, attentionRstd: FloatBuffer  // [tokens]
        let attended: FloatBuffer       // H
        let intermediatePre: FloatBuffer  // I: before GELU
        let intermediate: FloatBuffer   // I: after GELU
        let outputMask: FloatBuffer?    // H
        let outputSum: FloatBuffer      // H
        let outputMean: FloatBuffer, outputRstd: FloatBuffer

        init(tokens t: Int, hidden h: Int, intermediate i: Int, probabilities p: Int, dropout: Bool, attentionDropout: Bool) {
            input = FloatBuffer(count: t * h)
            qkv = FloatBuffer(count: t * 3 * h)
            probabilities = FloatBuffer(count: p)
            probabilityMask = attentionDropout ? FloatBuffer(count: p) : nil
            droppedProbabilities = attentionDropout ? FloatBuffer(count: p) : nil
            context = FloatBuffer(count: t * h)
            attentionMask = dropout ? FloatBuffer(count: t * h) : nil
            attentionSum = FloatBuffer(count: t * h)
            attentionMean = FloatBuffer(count: t)
            attentionRstd = FloatBuffer(count: t)
            attended = FloatBuffer(count: t * h)
            intermediatePre = FloatBuffer(count: t * i)
            intermediate = FloatBuffer(count: t * i)
            outputMask = dropout ? FloatBuffer(count: t * h) : nil
            outputSum = FloatBuffer(count: t * h)
            outputMean = FloatBuffer(count: t)
            outputRstd = FloatBuffer(count: t)
        }
    }

    /// A forward pass over a batch: its sequences and everything saved for the backward.
    public final class Pass {
        let sequences: [TokenSequence]
        let offsets: [Int]
        let embeddingSum: FloatBuffer   // H: word + type + position, the LayerNorm's input
        let embeddingMean: FloatBuffer, embeddingRstd: FloatBuffer
        let embeddingMask: FloatBuffer?
        var layers: [LayerPass] = []
        /// The last layer's output [tokens × H].
        let hidden: FloatBuffer

        init(sequences: [TokenSequence], offsets: [Int], hidden h: Int, dropout: Bool) {
            self.sequences = sequences
            self.offsets = offsets
            let t = offsets.last!
            embeddingSum = FloatBuffer(count: t * h)
            embeddingMean = FloatBuffer(count: t)
            embeddingRstd = FloatBuffer(count: t)
            embeddingMask = dropout ? FloatBuffer(count: t * h) : nil
            hidden = FloatBuffer(count: t * h)
        }

        public var tokens: Int { offsets.last! }
    }

    /// Token offsets of the packed batch; checks ids, types and lengths against the configuration.
    func offsets(_ batch: [TokenSequence]) throws -> [Int] {
        let c = parameters.configuration
        var offsets = [0]
        for (n, s) in batch.enumerated() {
            guard !s.ids.isEmpty, s.ids.count <= c.maxPositionEmbeddings else {
                throw TrainingError.invalidInput(reason: "sequence \(n) has \(s.ids.count) tokens (1…\(c.maxPositionEmbeddings) allowed)")
            }
            if let bad = s.ids.first(where: { $0 < 0 || Int($0) >= c.vocabSize }) {
                throw TrainingError.invalidInput(reason: "sequence \(n): token id \(bad) outside the vocabulary (\(c.vocabSize))")
            }
            if let bad = s.tokenTypeIDs.first(where: { $0 < 0 || Int($0) >= c.typeVocabSize }) {
                throw TrainingError.invalidInput(reason: "sequence \(n): token type \(bad) outside type_vocab_size \(c.typeVocabSize)")
            }
            offsets.append(offsets.last! + s.ids.count)
        }
        return offsets
    }

    /// The encoder forward, saving activations; dropout on when `training` and the rates are positive.
    public func forward(_ batch: [TokenSequence], training: Bool, random: inout DropoutRandom) throws -> Pass {
        let c = parameters.configuration, h = c.hiddenSize, i = c.intermediateSize, eps = c.layerNormEps
        let offsets = try offsets(batch)
        let t = offsets.last!
        let dropout = training && hiddenDropout > 0, attentionDrop = training && attentionDropout > 0
        let pass = Pass(sequences: batch, offsets: offsets, hidden: h, dropout: dropout)
        let w = parameters.values.pointer
        let word = w + parameters.offset("embeddings.word_embeddings.weight")
        let position = w + parameters.offset("embeddings.position_embeddings.weight")
        let type = w + parameters.offset("embeddings.token_type_embeddings.weight")
        var row = 0
        for s in batch {
            for (p, id) in s.ids.enumerated() {
                let out = pass.embeddingSum.pointer + row * h
                let wr = word + Int(id) * h, ty = type + Int(s.tokenTypeIDs[p]) * h, po = position + p * h
                for j in 0..<h { out[j] = (wr[j] + ty[j]) + po[j] }
                row += 1
            }
        }
        var current = FloatBuffer(count: t * h)
        TrainingOps.layerNorm(pass.embeddingSum.pointer, rows: t, width: h,
                              gamma: w + parameters.offset("embeddings.LayerNorm.weight"),
                              beta: w + parameters.offset("embeddings.LayerNorm.bias"), eps: eps,
                              into: current.pointer, mean: pass.embeddingMean.pointer, rstd: pass.embeddingRstd.pointer)
        if let mask = pass.embeddingMask {
            TrainingOps.dropoutMask(mask.pointer, count: t * h, probability: hiddenDropout, rng: &random)
            TrainingOps.multiply(current.pointer, by: mask.pointer, count: t * h)
        }
        let probabilityCount = TrainingOps.probabilityCount(offsets: offsets, heads: c.numAttentionHeads)
        for o in parameters.layerOffsets {
            let l = LayerPass(tokens: t, hidden: h, intermediate: i, probabilities: probabilityCount, dropout: dropout,
                              attentionDropout: attentionDrop)
            l.input.pointer.update(from: current.pointer, count: t * h)
            TrainingOps.linear(l.input.pointer, rows: t, inFeatures: h, weight: w + o.qkvWeight, bias: w + o.qkvBias,
                               outFeatures: 3 * h, into: l.qkv.pointer)
            if let mask = l.probabilityMask {
                TrainingOps.dropoutMask(mask.pointer, count: probabilityCount, probability: attentionDropout, rng: &random)
            }
            TrainingOps.attention(l.qkv.pointer, offsets: offsets, hidden: h, heads: c.numAttentionHeads,
                                  probabilities: l.probabilities.pointer, mask: l.probabilityMask.map { UnsafePointer($0.pointer) },
                                  dropped: l.droppedProbabilities?.pointer, context: l.context.pointer)
            TrainingOps.linear(l.context.pointer, rows: t, inFeatures: h, weight: w + o.attentionOutputWeight,
                               bias: w + o.attentionOutputBias, outFeatures: h, into: l.attentionSum.pointer)
            if let mask = l.attentionMask {
                TrainingOps.dropoutMask(mask.pointer, count: t * h, probability: hiddenDropout, rng: &random)
                TrainingOps.multiply(l.attentionSum.pointer, by: mask.pointer, count: t * h)
            }
            for j in 0..<(t * h) { l.attentionSum[j] += l.input[j] }
            TrainingOps.layerNorm(l.attentionSum.pointer, rows: t, width: h, gamma: w + o.attentionNormGamma,
                                  beta: w + o.attentionNormBeta, eps: eps, into: l.attended.pointer,
                                  mean: l.attentionMean.pointer, rstd: l.attentionRstd.pointer)
            TrainingOps.linear(l.attended.pointer, rows: t, inFeatures: h, weight: w + o.intermediateWeight,
                               bias: w + o.intermediateBias, outFeatures: i, into: l.intermediatePre.pointer)
            TrainingOps.gelu(l.intermediatePre.pointer, count: t * i, into: l.intermediate.pointer)
            TrainingOps.linear(l.intermediate.pointer, rows: t, inFeatures: i, weight: w + o.outputWeight,
                               bias: w + o.outputBias, outFeatures: h, into: l.outputSum.pointer)
            if let mask = l.outputMask {
                TrainingOps.dropoutMask(mask.pointer, count: t * h, probability: hiddenDropout, rng: &random)
                TrainingOps.multiply(l.outputSum.pointer, by: mask.pointer, count: t * h)
            }
            for j in 0..<(t * h) { l.outputSum[j] += l.attended[j] }
            current = FloatBuffer(count: t * h)
            TrainingOps.layerNorm(l.outputSum.pointer, rows: t, width: h, gamma: w + o.outputNormGamma,
                                  beta: w + o.outputNormBeta, eps: eps, into: current.pointer,
                                  mean: l.outputMean.pointer, rstd: l.outputRstd.pointer)
            pass.layers.append(l)
        }
        pass.hidden.pointer.update(from: current.pointer, count: t * h)
        return pass
    }

    /// The encoder backward from d hidden [tokens × H] (consumed): accumulates every encoder gradient.
    public func backward(_ pass: Pass, dHidden: FloatBuffer) {
        let c = parameters.configuration, h = c.hiddenSize, i = c.intermediateSize
        let t = pass.tokens, offsets = pass.offsets
        let w = parameters.values.pointer, g = parameters.gradients.pointer
        var dOut = dHidden
        let dSum = FloatBuffer(count: t * h), dAttended = FloatBuffer(count: t * h)
        let dIntermediate = FloatBuffer(count: t * i), dContext = FloatBuffer(count: t * h)
        let dqkv = FloatBuffer(count: t * 3 * h)
        let longest = zip(offsets.dropFirst(), offsets).map { $0 - $1 }.max() ?? 0
        let scratch = FloatBuffer(count: longest * longest)
        for (o, l) in zip(parameters.layerOffsets, pass.layers).reversed() {
            // hidden = LN(outputSum): d outputSum.
            TrainingOps.layerNormBackward(dOut.pointer, l.outputSum.pointer, rows: t, width: h, mean: l.outputMean.pointer,
                                          rstd: l.outputRstd.pointer, gamma: w + o.outputNormGamma, dx: dSum.pointer,
                                          dgamma: g + o.outputNormGamma, dbeta: g + o.outputNormBeta)
            // outputSum = dropout(FFN) + attended.
            dAttended.pointer.update(from: dSum.pointer, count: t * h)
            if let mask = l.outputMask { TrainingOps.multiply(dSum.pointer, by: mask.pointer, count: t * h) }
            TrainingOps.linearBackward(dSum.pointer, l.intermediate.pointer, rows: t, inFeatures: i, weight: w + o.outputWeight,
                                       outFeatures: h, dx: dIntermediate.pointer, dw: g + o.outputWeight, db: g + o.outputBias)
            TrainingOps.geluBackward(dIntermediate.pointer, l.intermediatePre.pointer, count: t * i)
            TrainingOps.linearBackward(dIntermediate.pointer, l.attended.pointer, rows: t, inFeatures: h,
                                       weight: w + o.intermediateWeight, outFeatures: i, dx: dAttended.pointer,
                                       accumulate: true, dw: g + o.intermediateWeight, db: g + o.intermediateBias)
            // attended = LN(attentionSum).
            TrainingOps.layerNormBackward(dAttended.pointer, l.attentionSum.pointer, rows: t, width: h,
                                          mean: l.attentionMean.pointer, rstd: l.attentionRstd.pointer,
                                          gamma: w + o.attentionNormGamma, dx: dSum.pointer,
                                          dgamma: g + o.attentionNormGamma, dbeta: g + o.attentionNormBeta)
            // attentionSum = dropout(context·Woᵀ + b) + input: the residual's share goes straight to d input.
            let dInput = FloatBuffer(count: t * h)
            dInput.pointer.update(from: dSum.pointer, count: t * h)
            if let mask = l.attentionMask { TrainingOps.multiply(dSum.pointer, by: mask.pointer, count: t * h) }
            TrainingOps.linearBackward(dSum.pointer, l.context.pointer, rows: t, inFeatures: h,
                                       weight: w + o.attentionOutputWeight, outFeatures: h, dx: dContext.pointer,
                                       dw: g + o.attentionOutputWeight, db: g + o.attentionOutputBias)
            TrainingOps.attentionBackward(dContext.pointer, l.qkv.pointer, offsets: offsets, hidden: h, heads: c.numAttentionHeads,
                                          probabilities: l.probabilities.pointer,
                                          mask: l.probabilityMask.map { UnsafePointer($0.pointer) },
                                          dropped: l.droppedProbabilities.map { UnsafePointer($0.pointer) },
                                          dqkv: dqkv.pointer, scratch: scratch.pointer)
            TrainingOps.linearBackward(dqkv.pointer, l.input.pointer, rows: t, inFeatures: h, weight: w + o.qkvWeight,
                                       outFeatures: 3 * h, dx: dInput.pointer, accumulate: true, dw: g + o.qkvWeight,
                                       db: g + o.qkvBias)
            dOut = dInput
        }
        // Embeddings: dropout, LayerNorm, then the three lookups (sparse: only the rows used get gradient).
        if let mask = pass.embeddingMask { TrainingOps.multiply(dOut.pointer, by: mask.pointer, count: t * h) }
        TrainingOps.layerNormBackward(dOut.pointer, pass.embeddingSum.pointer, rows: t, width: h,
                                      mean: pass.embeddingMean.pointer, rstd: pass.embeddingRstd.pointer,
                                      gamma: w + parameters.offset("embeddings.LayerNorm.weight"), dx: dSum.pointer,
                                      dgamma: g + parameters.offset("embeddings.LayerNorm.weight"),
                                      dbeta: g + parameters.offset("embeddings.LayerNorm.bias"))
        let word = g + parameters.offset("embeddings.word_embeddings.weight")
        let position = g + parameters.offset("embeddings.position_embeddings.weight")
        let type = g + parameters.offset("embeddings.token_type_embeddings.weight")
        var row = 0
        for s in pass.sequences {
            for (p, id) in s.ids.enumerated() {
                let d = dSum.pointer + row * h
                let wr = word + Int(id) * h, ty = type + Int(s.tokenTypeIDs[p]) * h, po = position + p * h
                for j in 0..<h { wr[j] += d[j]; ty[j] += d[j]; po[j] += d[j] }
                row += 1
            }
        }
    }

    // MARK: Bi-encoder: mean pooling, normalisation, MultipleNegativesRankingLoss

    /// Normalised mean-pooled embeddings [sequences × H], without dropout.
    public func embed(_ batch: [TokenSequence]) throws -> [Float] {
        var random = DropoutRandom(seed: 0)
        let pass = try forward(batch, training: false, random: &random)
        let h = parameters.configuration.hiddenSize
        let pooled = FloatBuffer(count: batch.count * h), out = FloatBuffer(count: batch.count * h)
        TrainingOps.meanPoolNormalize(pass.hidden.pointer, offsets: pass.offsets, hidden: h, pooled: pooled.pointer,
                                      embeddings: out.pointer)
        return out.array
    }

    /// One MultipleNegativesRankingLoss step's forward and backward on (anchor, positive) pairs and optional hard
    /// negatives (extra candidates for every anchor): accumulates the gradients, returns the loss.
    public func multipleNegativesRankingStep(anchors: [TokenSequence], positives: [TokenSequence],
                                             negatives: [TokenSequence] = [], scale: Double = 20, training: Bool = true,
                                             random: inout DropoutRandom) throws -> Double {
        precondition(anchors.count == positives.count && !anchors.isEmpty, "one positive per anchor")
        let h = parameters.configuration.hiddenSize
        let batch = anchors + positives + negatives
        let pass = try forward(batch, training: training, random: &random)
        let n = anchors.count, m = batch.count - n
        let pooled = FloatBuffer(count: batch.count * h), embeddings = FloatBuffer(count: batch.count * h)
        TrainingOps.meanPoolNormalize(pass.hidden.pointer, offsets: pass.offsets, hidden: h, pooled: pooled.pointer,
                                      embeddings: embeddings.pointer)
        let dEmbeddings = FloatBuffer(count: batch.count * h)
        let loss = TrainingOps.multipleNegativesRankingLoss(
            anchors: embeddings.pointer, candidates: embeddings.pointer + n * h, n: n, m: m, dimension: h, scale: scale,
            danchors: dEmbeddings.pointer, dcandidates: dEmbeddings.pointer + n * h)
        let dHidden = FloatBuffer(count: pass.tokens * h)
        TrainingOps.meanPoolNormalizeBackward(dEmbeddings.pointer, pooled: pooled.pointer, offsets: pass.offsets, hidden: h,
                                              dx: dHidden.pointer)
        backward(pass, dHidden: dHidden)
        return loss
    }

    // MARK: Cross-encoder: pooler (dense + tanh on [CLS]), classifier, binary cross-entropy

    /// The classifier's logits [sequences × labels], without dropout.
    public func logits(_ batch: [TokenSequence]) throws -> [Float] {
        var random = DropoutRandom(seed: 0)
        let pass = try forward(batch, training: false, random: &random)
        return classify(pass, training: false, random: &random).logits.array
    }

    struct HeadPass {
        let cls: FloatBuffer, pooled: FloatBuffer, mask: FloatBuffer?, dropped: FloatBuffer, logits: FloatBuffer
    }

    func classify(_ pass: Pass, training: Bool, random: inout DropoutRandom) -> HeadPass {
        guard case let .classifier(labels) = parameters.head else { preconditionFailure("classify needs a classifier head") }
        let h = parameters.configuration.hiddenSize, n = pass.sequences.count
        let w = parameters.values.pointer
        let cls = FloatBuffer(count: n * h), pooled = FloatBuffer(count: n * h), logits = FloatBuffer(count: n * labels)
        for s in 0..<n { (cls.pointer + s * h).update(from: pass.hidden.pointer + pass.offsets[s] * h, count: h) }
        TrainingOps.linear(cls.pointer, rows: n, inFeatures: h, weight: w + parameters.offset("pooler.dense.weight"),
                           bias: w + parameters.offset("pooler.dense.bias"), outFeatures: h, into: pooled.pointer)
        for j in 0..<(n * h) { pooled[j] = tanhf(pooled[j]) }
        let dropped = FloatBuffer(pooled.array)
        var mask: FloatBuffer?
        if training && hiddenDropout > 0 {
            let m = FloatBuffer(count: n * h)
            TrainingOps.dropoutMask(m.pointer, count: n * h, probability: hiddenDropout, rng: &random)
            TrainingOps.multiply(dropped.pointer, by: m.pointer, count: n * h)
            mask = m
        }
        TrainingOps.linear(dropped.pointer, rows: n, inFeatures: h, weight: w + parameters.offset("classifier.weight"),
                           bias: w + parameters.offset("classifier.bias"), outFeatures: labels, into: logits.pointer)
        return HeadPass(cls: cls, pooled: pooled, mask: mask, dropped: dropped, logits: logits)
    }

    /// One binary cross-entropy step (one logit per pair, mean over pairs): accumulates the gradients, returns the loss.
    public func binaryCrossEntropyStep(pairs: [TokenSequence], labels: [Float], training: Bool = true,
                                       random: inout DropoutRandom) throws -> Double {
        precondition(pairs.count == labels.count && !pairs.isEmpty && parameters.head == .classifier(labels: 1),
                     "one label per pair, one logit")
        let h = parameters.configuration.hiddenSize, n = pairs.count
        let pass = try forward(pairs, training: training, random: &random)
        let head = classify(pass, training: training, random: &random)
        let (loss, dlogits) = ReferenceGradients.binaryCrossEntropy(logits: head.logits.array.map(Double.init),
                                                                    labels: labels.map(Double.init))
        let w = parameters.values.pointer, g = parameters.gradients.pointer
        let dLogits = FloatBuffer(dlogits.map(Float.init))
        let dPooled = FloatBuffer(count: n * h), dCLS = FloatBuffer(count: n * h)
        TrainingOps.linearBackward(dLogits.pointer, head.dropped.pointer, rows: n, inFeatures: h,
                                   weight: w + parameters.offset("classifier.weight"), outFeatures: 1, dx: dPooled.pointer,
                                   dw: g + parameters.offset("classifier.weight"), db: g + parameters.offset("classifier.bias"))
        if let mask = head.mask { TrainingOps.multiply(dPooled.pointer, by: mask.pointer, count: n * h) }
        for j in 0..<(n * h) { dPooled[j] *= 1 - head.pooled[j] * head.pooled[j] }
        TrainingOps.linearBackward(dPooled.pointer, head.cls.pointer, rows: n, inFeatures: h,
                                   weight: w + parameters.offset("pooler.dense.weight"), outFeatures: h, dx: dCLS.pointer,
                                   dw: g + parameters.offset("pooler.dense.weight"), db: g + parameters.offset("pooler.dense.bias"))
        let dHidden = FloatBuffer(count: pass.tokens * h)
        for s in 0..<n { (dHidden.pointer + pass.offsets[s] * h).update(from: dCLS.pointer + s * h, count: h) }
        backward(pass, dHidden: dHidden)
        return loss
    }
}
