import Foundation
import SiftKernels
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
    /// Workers each op splits its work over (results are deterministic for a given count).
    public let threads: Int
    /// Every buffer of a step comes from here and stays referenced by it until the step ends, so a pointer read
    /// from one is valid for the whole step whatever the optimizer does with local lifetimes.
    let pool = BufferPool()

    public init(parameters: BertParameters, hiddenDropout: Float = 0.1, attentionDropout: Float = 0.1, threads: Int? = nil) {
        self.parameters = parameters
        self.hiddenDropout = hiddenDropout
        self.attentionDropout = attentionDropout
        self.threads = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Runs `body` with OpenBLAS single-threaded (the ops split work themselves), then restores its thread count
    /// and returns the step's activation buffers to the pool.
    func step<T>(_ body: () throws -> T) rethrows -> T {
        let blasThreads = Gemm.threadCount
        Gemm.threadCount = 1
        defer {
            Gemm.threadCount = blasThreads
            pool.recycle()
        }
        return try body()
    }

    /// One layer's saved activations ([tokens × width] each unless noted).
    final class LayerPass {
        let input: FloatBuffer          // H: the layer's input, also the first residual
        let qkv: FloatBuffer            // 3H
        let probabilities: FloatBuffer  // per sequence and head, len × len
        let probabilityKeep: FloatBuffer?  // bytes: 1 where attention dropout kept a probability
        let context: FloatBuffer        // H
        let attentionMask: FloatBuffer? // H: dropout on the attention output
        let attentionSum: FloatBuffer   // H: dropout(context·Woᵀ + b) + input, the LayerNorm's input
        let attentionMean: FloatBuffer, attentionRstd: FloatBuffer  // [tokens]
        let attended: FloatBuffer       // H
        let intermediatePre: FloatBuffer  // I: before GELU
        let outputMask: FloatBuffer?    // H
        let outputSum: FloatBuffer      // H
        let outputMean: FloatBuffer, outputRstd: FloatBuffer

        init(tokens t: Int, hidden h: Int, intermediate i: Int, probabilities p: Int, dropout: Bool, attentionDropout: Bool,
             pool: BufferPool) {
            let FloatBuffer = pool.take
            input = FloatBuffer(t * h)
            qkv = FloatBuffer(t * 3 * h)
            probabilities = FloatBuffer(p)
            probabilityKeep = attentionDropout ? FloatBuffer((p + 3) / 4) : nil
            context = FloatBuffer(t * h)
            attentionMask = dropout ? FloatBuffer(t * h) : nil
            attentionSum = FloatBuffer(t * h)
            attentionMean = FloatBuffer(t)
            attentionRstd = FloatBuffer(t)
            attended = FloatBuffer(t * h)
            intermediatePre = FloatBuffer(t * i)
            outputMask = dropout ? FloatBuffer(t * h) : nil
            outputSum = FloatBuffer(t * h)
            outputMean = FloatBuffer(t)
            outputRstd = FloatBuffer(t)
        }
    }

    /// A forward pass over a batch: its sequences and everything saved for the backward.
    final class Pass {
        let sequences: [TokenSequence]
        let offsets: [Int]
        let embeddingSum: FloatBuffer   // H: word + type + position, the LayerNorm's input
        let embeddingMean: FloatBuffer, embeddingRstd: FloatBuffer
        let embeddingMask: FloatBuffer?
        var layers: [LayerPass] = []
        /// The last layer's output [tokens × H].
        let hidden: FloatBuffer

        init(sequences: [TokenSequence], offsets: [Int], hidden h: Int, dropout: Bool, pool: BufferPool) {
            self.sequences = sequences
            self.offsets = offsets
            let t = offsets.last!
            embeddingSum = pool.take(t * h)
            embeddingMean = pool.take(t)
            embeddingRstd = pool.take(t)
            embeddingMask = dropout ? pool.take(t * h) : nil
            hidden = pool.take(t * h)
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

    /// The encoder forward, saving activations in pooled buffers (valid until the step recycles them); dropout on
    /// when `training` and the rates are positive.
    func forward(_ batch: [TokenSequence], training: Bool, random: inout DropoutRandom) throws -> Pass {
        let c = parameters.configuration, h = c.hiddenSize, i = c.intermediateSize, eps = c.layerNormEps
        let offsets = try offsets(batch)
        let t = offsets.last!
        let dropout = training && hiddenDropout > 0, attentionDrop = training && attentionDropout > 0
        let pass = Pass(sequences: batch, offsets: offsets, hidden: h, dropout: dropout, pool: pool)
        let n = threads
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
        let current = pool.take(t * h)  // each layer copies it into its own input, then overwrites it
        TrainingOps.layerNorm(pass.embeddingSum.pointer, rows: t, width: h,
                              gamma: w + parameters.offset("embeddings.LayerNorm.weight"),
                              beta: w + parameters.offset("embeddings.LayerNorm.bias"), eps: eps,
                              into: current.pointer, mean: pass.embeddingMean.pointer, rstd: pass.embeddingRstd.pointer, threads: n)
        if let mask = pass.embeddingMask {
            TrainingOps.dropoutMask(mask.pointer, count: t * h, probability: hiddenDropout, rng: &random)
            TrainingOps.multiply(current.pointer, by: mask.pointer, count: t * h)
        }
        let probabilityCount = TrainingOps.probabilityCount(offsets: offsets, heads: c.numAttentionHeads)
        // GELU's output is not kept: the backward recomputes it from its input (cheaper than its memory).
        let intermediate = pool.take(t * i)
        for o in parameters.layerOffsets {
            let l = LayerPass(tokens: t, hidden: h, intermediate: i, probabilities: probabilityCount, dropout: dropout,
                              attentionDropout: attentionDrop, pool: pool)
            l.input.pointer.update(from: current.pointer, count: t * h)
            TrainingOps.linear(l.input.pointer, rows: t, inFeatures: h, weight: w + o.qkvWeight, bias: w + o.qkvBias,
                               outFeatures: 3 * h, into: l.qkv.pointer, threads: n)
            if let keep = l.probabilityKeep {
                TrainingOps.dropoutKeep(keep.bytes, count: probabilityCount, probability: attentionDropout, rng: &random)
            }
            TrainingOps.attention(l.qkv.pointer, offsets: offsets, hidden: h, heads: c.numAttentionHeads,
                                  probabilities: l.probabilities.pointer, keep: l.probabilityKeep.map { UnsafeRawPointer($0.bytes) },
                                  dropout: attentionDropout, context: l.context.pointer, threads: n)
            TrainingOps.linear(l.context.pointer, rows: t, inFeatures: h, weight: w + o.attentionOutputWeight,
                               bias: w + o.attentionOutputBias, outFeatures: h, into: l.attentionSum.pointer, threads: n)
            residualNorm(l.attentionSum, mask: l.attentionMask, residual: l.input, gamma: w + o.attentionNormGamma,
                         beta: w + o.attentionNormBeta, into: l.attended, mean: l.attentionMean, rstd: l.attentionRstd,
                         rows: t, random: &random)
            TrainingOps.linear(l.attended.pointer, rows: t, inFeatures: h, weight: w + o.intermediateWeight,
                               bias: w + o.intermediateBias, outFeatures: i, into: l.intermediatePre.pointer, threads: n)
            TrainingOps.gelu(l.intermediatePre.pointer, count: t * i, into: intermediate.pointer, threads: n)
            TrainingOps.linear(intermediate.pointer, rows: t, inFeatures: i, weight: w + o.outputWeight,
                               bias: w + o.outputBias, outFeatures: h, into: l.outputSum.pointer, threads: n)
            residualNorm(l.outputSum, mask: l.outputMask, residual: l.attended, gamma: w + o.outputNormGamma,
                         beta: w + o.outputNormBeta, into: current, mean: l.outputMean, rstd: l.outputRstd,
                         rows: t, random: &random)
            pass.layers.append(l)
        }
        pass.hidden.pointer.update(from: current.pointer, count: t * h)
        return pass
    }

    /// A sublayer's end: `sum` (the sublayer's output) gets dropout (a fresh mask into `mask`) and the residual
    /// added, then `into = LayerNorm(sum)` with its statistics saved.
    private func residualNorm(_ sum: FloatBuffer, mask: FloatBuffer?, residual: FloatBuffer, gamma: UnsafePointer<Float>,
                              beta: UnsafePointer<Float>, into out: FloatBuffer, mean: FloatBuffer, rstd: FloatBuffer,
                              rows t: Int, random: inout DropoutRandom) {
        let h = parameters.configuration.hiddenSize
        if let mask {
            TrainingOps.dropoutMask(mask.pointer, count: t * h, probability: hiddenDropout, rng: &random)
            TrainingOps.multiply(sum.pointer, by: mask.pointer, count: t * h)
        }
        let x = sum.pointer, r = residual.pointer
        for j in 0..<(t * h) { x[j] += r[j] }
        TrainingOps.layerNorm(sum.pointer, rows: t, width: h, gamma: gamma, beta: beta, eps: parameters.configuration.layerNormEps,
                              into: out.pointer, mean: mean.pointer, rstd: rstd.pointer, threads: threads)
    }

    /// The encoder backward from d hidden [tokens × H] (consumed): accumulates every encoder gradient.
    func backward(_ pass: Pass, dHidden: FloatBuffer) {
        let c = parameters.configuration, h = c.hiddenSize, i = c.intermediateSize
        let t = pass.tokens, offsets = pass.offsets
        let w = parameters.values.pointer, g = parameters.gradients.pointer, n = threads
        var dOut = dHidden
        let dSum = pool.take(t * h), dAttended = pool.take(t * h)
        let dIntermediate = pool.take(t * i), intermediate = pool.take(t * i), dContext = pool.take(t * h)
        let dqkv = pool.take(t * 3 * h)
        for (o, l) in zip(parameters.layerOffsets, pass.layers).reversed() {
            // hidden = LN(outputSum): d outputSum.
            TrainingOps.layerNormBackward(dOut.pointer, l.outputSum.pointer, rows: t, width: h, mean: l.outputMean.pointer,
                                          rstd: l.outputRstd.pointer, gamma: w + o.outputNormGamma, dx: dSum.pointer,
                                          dgamma: g + o.outputNormGamma, dbeta: g + o.outputNormBeta, threads: n)
            // outputSum = dropout(FFN) + attended.
            dAttended.pointer.update(from: dSum.pointer, count: t * h)
            if let mask = l.outputMask { TrainingOps.multiply(dSum.pointer, by: mask.pointer, count: t * h) }
            TrainingOps.gelu(l.intermediatePre.pointer, count: t * i, into: intermediate.pointer, threads: n)
            TrainingOps.linearBackward(dSum.pointer, intermediate.pointer, rows: t, inFeatures: i, weight: w + o.outputWeight,
                                       outFeatures: h, dx: dIntermediate.pointer, dw: g + o.outputWeight, db: g + o.outputBias,
                                       threads: n)
            TrainingOps.geluBackward(dIntermediate.pointer, l.intermediatePre.pointer, count: t * i, threads: n)
            TrainingOps.linearBackward(dIntermediate.pointer, l.attended.pointer, rows: t, inFeatures: h,
                                       weight: w + o.intermediateWeight, outFeatures: i, dx: dAttended.pointer,
                                       accumulate: true, dw: g + o.intermediateWeight, db: g + o.intermediateBias, threads: n)
            // attended = LN(attentionSum).
            TrainingOps.layerNormBackward(dAttended.pointer, l.attentionSum.pointer, rows: t, width: h,
                                          mean: l.attentionMean.pointer, rstd: l.attentionRstd.pointer,
                                          gamma: w + o.attentionNormGamma, dx: dSum.pointer,
                                          dgamma: g + o.attentionNormGamma, dbeta: g + o.attentionNormBeta, threads: n)
            // attentionSum = dropout(context·Woᵀ + b) + input: the residual's share goes straight to d input.
            let dInput = pool.take(t * h)
            dInput.pointer.update(from: dSum.pointer, count: t * h)
            if let mask = l.attentionMask { TrainingOps.multiply(dSum.pointer, by: mask.pointer, count: t * h) }
            TrainingOps.linearBackward(dSum.pointer, l.context.pointer, rows: t, inFeatures: h,
                                       weight: w + o.attentionOutputWeight, outFeatures: h, dx: dContext.pointer,
                                       dw: g + o.attentionOutputWeight, db: g + o.attentionOutputBias, threads: n)
            TrainingOps.attentionBackward(dContext.pointer, l.qkv.pointer, offsets: offsets, hidden: h, heads: c.numAttentionHeads,
                                          probabilities: l.probabilities.pointer,
                                          keep: l.probabilityKeep.map { UnsafeRawPointer($0.bytes) }, dropout: attentionDropout,
                                          dqkv: dqkv.pointer, threads: n)
            TrainingOps.linearBackward(dqkv.pointer, l.input.pointer, rows: t, inFeatures: h, weight: w + o.qkvWeight,
                                       outFeatures: 3 * h, dx: dInput.pointer, accumulate: true, dw: g + o.qkvWeight,
                                       db: g + o.qkvBias, threads: n)
            dOut = dInput
        }
        // Embeddings: dropout, LayerNorm, then the three lookups (sparse: only the rows used get gradient).
        if let mask = pass.embeddingMask { TrainingOps.multiply(dOut.pointer, by: mask.pointer, count: t * h) }
        TrainingOps.layerNormBackward(dOut.pointer, pass.embeddingSum.pointer, rows: t, width: h,
                                      mean: pass.embeddingMean.pointer, rstd: pass.embeddingRstd.pointer,
                                      gamma: w + parameters.offset("embeddings.LayerNorm.weight"), dx: dSum.pointer,
                                      dgamma: g + parameters.offset("embeddings.LayerNorm.weight"),
                                      dbeta: g + parameters.offset("embeddings.LayerNorm.bias"), threads: n)
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
        try step { try embedPass(batch) }
    }

    private func embedPass(_ batch: [TokenSequence]) throws -> [Float] {
        var random = DropoutRandom(seed: 0)
        let pass = try forward(batch, training: false, random: &random)
        let h = parameters.configuration.hiddenSize
        let pooled = pool.take(batch.count * h), out = pool.take(batch.count * h)
        TrainingOps.meanPoolNormalize(pass.hidden.pointer, offsets: pass.offsets, hidden: h, pooled: pooled.pointer,
                                      embeddings: out.pointer)
        return out.array
    }

    /// One MultipleNegativesRankingLoss step's forward and backward on (anchor, positive) pairs and optional hard
    /// negatives (extra candidates for every anchor): accumulates the gradients, returns the loss.
    public func multipleNegativesRankingStep(anchors: [TokenSequence], positives: [TokenSequence],
                                             negatives: [TokenSequence] = [], scale: Double = 20, training: Bool = true,
                                             random: inout DropoutRandom) throws -> Double {
        try step { try rankingStep(anchors: anchors, positives: positives, negatives: negatives, scale: scale,
                                   training: training, random: &random) }
    }

    private func rankingStep(anchors: [TokenSequence], positives: [TokenSequence], negatives: [TokenSequence], scale: Double,
                             training: Bool, random: inout DropoutRandom) throws -> Double {
        precondition(anchors.count == positives.count && !anchors.isEmpty, "one positive per anchor")
        let h = parameters.configuration.hiddenSize
        let batch = anchors + positives + negatives
        let pass = try forward(batch, training: training, random: &random)
        let n = anchors.count, m = batch.count - n
        let pooled = pool.take(batch.count * h), embeddings = pool.take(batch.count * h)
        TrainingOps.meanPoolNormalize(pass.hidden.pointer, offsets: pass.offsets, hidden: h, pooled: pooled.pointer,
                                      embeddings: embeddings.pointer)
        let dEmbeddings = pool.take(batch.count * h)
        let loss = TrainingOps.multipleNegativesRankingLoss(
            anchors: embeddings.pointer, candidates: embeddings.pointer + n * h, n: n, m: m, dimension: h, scale: scale,
            danchors: dEmbeddings.pointer, dcandidates: dEmbeddings.pointer + n * h)
        let dHidden = pool.take(pass.tokens * h)
        TrainingOps.meanPoolNormalizeBackward(dEmbeddings.pointer, pooled: pooled.pointer, offsets: pass.offsets, hidden: h,
                                              dx: dHidden.pointer)
        backward(pass, dHidden: dHidden)
        return loss
    }

    // MARK: Cross-encoder: pooler (dense + tanh on [CLS]), classifier, binary cross-entropy

    /// The classifier's logits [sequences × labels], without dropout.
    public func logits(_ batch: [TokenSequence]) throws -> [Float] {
        try step {
            var random = DropoutRandom(seed: 0)
            let pass = try forward(batch, training: false, random: &random)
            return classify(pass, training: false, random: &random).logits.array
        }
    }

    struct HeadPass {
        let cls: FloatBuffer, pooled: FloatBuffer, mask: FloatBuffer?, dropped: FloatBuffer, logits: FloatBuffer
    }

    func classify(_ pass: Pass, training: Bool, random: inout DropoutRandom) -> HeadPass {
        guard case let .classifier(labels) = parameters.head else { preconditionFailure("classify needs a classifier head") }
        let h = parameters.configuration.hiddenSize, n = pass.sequences.count
        let w = parameters.values.pointer
        let cls = pool.take(n * h), pooled = pool.take(n * h), logits = pool.take(n * labels)
        for s in 0..<n { (cls.pointer + s * h).update(from: pass.hidden.pointer + pass.offsets[s] * h, count: h) }
        TrainingOps.linear(cls.pointer, rows: n, inFeatures: h, weight: w + parameters.offset("pooler.dense.weight"),
                           bias: w + parameters.offset("pooler.dense.bias"), outFeatures: h, into: pooled.pointer)
        for j in 0..<(n * h) { pooled[j] = tanhf(pooled[j]) }
        let dropped = pool.take(n * h)
        dropped.pointer.update(from: pooled.pointer, count: n * h)
        var mask: FloatBuffer?
        if training && hiddenDropout > 0 {
            let m = pool.take(n * h)
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
        try step { try classificationStep(pairs: pairs, labels: labels, training: training, random: &random) }
    }

    private func classificationStep(pairs: [TokenSequence], labels: [Float], training: Bool,
                                    random: inout DropoutRandom) throws -> Double {
        precondition(pairs.count == labels.count && !pairs.isEmpty && parameters.head == .classifier(labels: 1),
                     "one label per pair, one logit")
        let h = parameters.configuration.hiddenSize, n = pairs.count
        let pass = try forward(pairs, training: training, random: &random)
        let head = classify(pass, training: training, random: &random)
        let (loss, dlogits) = ReferenceGradients.binaryCrossEntropy(logits: head.logits.array.map(Double.init),
                                                                    labels: labels.map(Double.init))
        let w = parameters.values.pointer, g = parameters.gradients.pointer
        let dLogits = pool.take(n)
        for (j, value) in dlogits.enumerated() { dLogits[j] = Float(value) }
        let dPooled = pool.take(n * h), dCLS = pool.take(n * h)
        TrainingOps.linearBackward(dLogits.pointer, head.dropped.pointer, rows: n, inFeatures: h,
                                   weight: w + parameters.offset("classifier.weight"), outFeatures: 1, dx: dPooled.pointer,
                                   dw: g + parameters.offset("classifier.weight"), db: g + parameters.offset("classifier.bias"))
        if let mask = head.mask { TrainingOps.multiply(dPooled.pointer, by: mask.pointer, count: n * h) }
        for j in 0..<(n * h) { dPooled[j] *= 1 - head.pooled[j] * head.pooled[j] }
        TrainingOps.linearBackward(dPooled.pointer, head.cls.pointer, rows: n, inFeatures: h,
                                   weight: w + parameters.offset("pooler.dense.weight"), outFeatures: h, dx: dCLS.pointer,
                                   dw: g + parameters.offset("pooler.dense.weight"), db: g + parameters.offset("pooler.dense.bias"))
        let dHidden = pool.take(pass.tokens * h)
        dHidden.zero()  // only the [CLS] rows get gradient
        for s in 0..<n { (dHidden.pointer + pass.offsets[s] * h).update(from: dCLS.pointer + s * h, count: h) }
        backward(pass, dHidden: dHidden)
        return loss
    }
}
