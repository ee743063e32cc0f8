import Foundation
import SiftKernels

/// One tokenized input sequence: only real tokens (no padding), [CLS] … [SEP] included.
public struct TokenSequence: Sendable, Hashable {
    public var ids: [Int32]
    /// Segment ids (0 for the first text, 1 for the second of a pair); same length as `ids`.
    public var tokenTypeIDs: [Int32]

    public init(ids: [Int32], tokenTypeIDs: [Int32]? = nil) {
        precondition(tokenTypeIDs == nil || tokenTypeIDs!.count == ids.count, "tokenTypeIDs must match ids in length")
        self.ids = ids
        self.tokenTypeIDs = tokenTypeIDs ?? [Int32](repeating: 0, count: ids.count)
    }
}

/// Arithmetic of an encoder's linear layers and attention products (norms, softmax and pooling always run in float32).
/// `.float32` (default) keeps golden parity with PyTorch; `.bfloat16` rounds weights and
/// activations to bf16 inside the matmuls (fp32 accumulation), about 2× faster GEMMs on CPUs with
/// AVX-512 BF16 (elsewhere it runs the float32 kernel); `.int8` quantizes the linear layers (AVX-512 VNNI) and
/// runs attention in bf16 like `.bfloat16`.
public typealias ModelPrecision = PackedLinear.Precision

/// A BERT encoder (embeddings + transformer layers, optional pooler and classifier head)
/// running on SiftKernels.
///
/// A batch is processed "packed": the real tokens of all sequences are stacked into one
/// `[tokens × hidden]` matrix, so dense layers do no work on padding, and attention runs per
/// sequence over that sequence's own tokens — which is exactly what BERT's padding mask
/// computes, and makes every sequence's result independent of its batch mates.
///
/// Linear layers are `PackedLinear`s packed once at load (AVX-512 kernels, GELU fused into the
/// intermediate layer). With AVX-512 the encoder owns the cores itself, in one of two ways:
/// - a batch with enough sequences (`pooled`, `classifierLogits`) is cut into groups of whole sequences, and each
///   worker runs every layer of its group alone (single-threaded kernels, its own workspace): no barrier between
///   layers, and a group's activations stay in that core's cache;
/// - otherwise (a few sequences, e.g. one query) each GEMM, attention over (sequence × head) (the fused C kernel of
///   `Kernels.attention`) and layer norm over rows are split across the `threads` workers.
/// Both give bit-identical results (every kernel computes a row the same way whatever the other rows). Without
/// AVX-512 the layers and attention's products run on OpenBLAS with its own threads (`threads` is then 1).
///
/// Buffers are reused across layers and batches; calls are serialised by a lock (run one batch at a time).
public final class BertEncoder: @unchecked Sendable {
    public let configuration: BertConfiguration
    /// Precision asked for at load.
    public let precision: ModelPrecision
    /// Kernel the linear layers run: "avx512-fp32", "avx512-bf16", "avx512-vnni-int8" or "openblas".
    public var kernel: String { layers.first?.qkv[0].kernel ?? PackedLinear.activeKernel(for: precision) }
    /// Workers per forward pass (the cores, on the packed path; 1 on the OpenBLAS path, which threads itself).
    public let threads: Int
    let weights: BertWeights
    private let layers: [PackedLayer]
    private let lock = NSLock()
    /// One per worker; `workspaces[0]` also serves the layer-split path.
    private let workspaces: [Workspace]

    /// Loads weights from `model.safetensors`; `pooler` loads `pooler.dense`,
    /// `classifierLabels` loads `classifier` with that many outputs; `precision` selects the
    /// linear layers' arithmetic.
    public init(configuration: BertConfiguration, weightsFile: URL, pooler: Bool = false, classifierLabels: Int? = nil,
                precision: ModelPrecision = .float32) throws {
        try configuration.validate(path: weightsFile.deletingLastPathComponent().appendingPathComponent("config.json").path)
        self.configuration = configuration
        self.precision = precision
        let file = try SafetensorsFile(url: weightsFile)
        var weights = try BertWeights(file: file, configuration: configuration, pooler: pooler, classifierLabels: classifierLabels)
        let h = configuration.hiddenSize, i = configuration.intermediateSize
        // int8 smooths the inputs of the layers fed by a LayerNorm, whose output feature k has magnitude
        // ≈ |γ_k| + |β_k| (its normalized part has unit variance): MiniLM's few large-γ features otherwise set the
        // quantization step of whole rows. The smoothing factors depend on each matrix's own weights, so int8 packs
        // Q, K and V separately (one shared factor for the fused matrix measured worse than none). The other two
        // layers' inputs (attention context, GELU output) have no such data-free estimate.
        func magnitude(_ gamma: [Float], _ beta: [Float]) -> [Float]? {
            precision == .int8 ? zip(gamma, beta).map { abs($0) + abs($1) } : nil
        }
        var qkvInput = magnitude(weights.embeddingNormGamma, weights.embeddingNormBeta)
        // Linear weights are packed straight from the mapped file (only QKV, concatenated, is a copy).
        layers = weights.layers.map { l in
            defer { qkvInput = magnitude(l.outputNormGamma, l.outputNormBeta) }
            let parts = qkvInput == nil ? 1 : 3, rows = 3 * h / parts
            let qkv = l.qkvWeight.withUnsafeBufferPointer { w in
                (0..<parts).map { p in
                    PackedLinear(weight: UnsafeBufferPointer(rebasing: w[(p * rows * h)..<((p + 1) * rows * h)]),
                                 bias: Array(l.qkvBias[(p * rows)..<((p + 1) * rows)]), outFeatures: rows, inFeatures: h,
                                 featureStride: h, inputStride: 1, precision: precision, inputMagnitude: qkvInput)
                }
            }
            return PackedLayer(
                qkv: qkv,
                attentionOutput: l.attentionOutputWeight.withUnsafeBufferPointer {
                    PackedLinear(weight: $0, bias: l.attentionOutputBias, outFeatures: h, inFeatures: h,
                                 featureStride: h, inputStride: 1, precision: precision)
                },
                intermediate: l.intermediateWeight.withUnsafeBufferPointer {
                    PackedLinear(weight: $0, bias: l.intermediateBias, outFeatures: i, inFeatures: h,
                                 featureStride: h, inputStride: 1, precision: precision, activation: .gelu,
                                 inputMagnitude: magnitude(l.attentionNormGamma, l.attentionNormBeta))
                },
                output: l.outputWeight.withUnsafeBufferPointer {
                    PackedLinear(weight: $0, bias: l.outputBias, outFeatures: h, inFeatures: i,
                                 featureStride: i, inputStride: 1, precision: precision)
                },
                attentionNormGamma: l.attentionNormGamma, attentionNormBeta: l.attentionNormBeta,
                outputNormGamma: l.outputNormGamma, outputNormBeta: l.outputNormBeta)
        }
        weights.layers = []  // the packed copies are what runs
        self.weights = weights
        threads = PackedLinear.isAvailable ? max(1, ProcessInfo.processInfo.activeProcessorCount) : 1
        workspaces = (0..<threads).map { _ in Workspace() }
    }

    /// Last hidden states, padded: `[batch × maxLength × hidden]` (padding rows are zero).
    public func hiddenStates(_ batch: [TokenSequence]) throws -> (values: [Float], maxLength: Int) {
        let h = configuration.hiddenSize
        let maxLength = batch.map(\.ids.count).max() ?? 0
        var out = [Float](repeating: 0, count: batch.count * maxLength * h)
        try withHiddenStates(batch) { hidden, offsets in
            for s in 0..<batch.count {
                for t in 0..<(offsets[s + 1] - offsets[s]) {
                    for j in 0..<h { out[(s * maxLength + t) * h + j] = hidden[(offsets[s] + t) * h + j] }
                }
            }
        }
        return (out, maxLength)
    }

    /// Pooled sequence vectors `[batch × hidden]` with one of sentence-transformers' modes.
    public func pooled(_ batch: [TokenSequence], mode: Kernels.Pooling) throws -> [Float] {
        try pooled(batch, mode: mode, grouping: .automatic)
    }

    /// How a forward pass uses the workers (tests force each way; results are bit-identical).
    enum Grouping {
        /// Groups of sequences when `groupsPay`, else layers split across workers.
        case automatic
        /// Always split each layer across the workers.
        case never
        /// Groups whenever there are at least two sequences.
        case always
    }

    func pooled(_ batch: [TokenSequence], mode: Kernels.Pooling, grouping: Grouping) throws -> [Float] {
        let h = configuration.hiddenSize
        var out = [Float](repeating: 0, count: batch.count * h)
        let offsets = try sequenceOffsets(batch)
        lock.lock()
        defer { lock.unlock() }
        out.withUnsafeMutableBufferPointer { o in
            let output = SharedOutput(o)
            forEachGroup(batch, offsets: offsets, grouping: grouping) { sequences, groupOffsets, threads, ws in
                runLayers(Array(batch[sequences]), offsets: groupOffsets, count: layers.count, ws, threads: threads)
                Kernels.pool(mode, hidden: UnsafeBufferPointer(ws.hidden), width: h, sequenceOffsets: groupOffsets,
                             output: output.rows(sequences, width: h))
            }
        }
        return out
    }

    /// Classifier logits `[batch × numLabels]`: pooler (dense + tanh on [CLS]) then the classifier.
    /// Requires the encoder to have been loaded with `pooler: true` and `classifierLabels`.
    /// Only [CLS] reaches the pooler, so the last layer runs for that row alone (`firstTokenStates`).
    public func classifierLogits(_ batch: [TokenSequence]) throws -> [Float] {
        try classifierLogits(batch, fullLastLayer: false)
    }

    /// `fullLastLayer` (tests): take [CLS] from the full last hidden states instead; the logits are bit-identical.
    func classifierLogits(_ batch: [TokenSequence], fullLastLayer: Bool, grouping: Grouping = .automatic) throws -> [Float] {
        guard let pw = weights.poolerWeight, let pb = weights.poolerBias, let cw = weights.classifierWeight, let cb = weights.classifierBias else {
            preconditionFailure("classifierLogits needs an encoder loaded with the pooler and classifier")
        }
        let h = configuration.hiddenSize, labels = cb.count
        let cls = try fullLastLayer ? firstTokensOfHiddenStates(batch) : firstTokenStates(batch, grouping: grouping)
        var pooled = [Float](repeating: 0, count: batch.count * h)
        var logits = [Float](repeating: 0, count: batch.count * labels)
        cls.withUnsafeBufferPointer { x in pw.withUnsafeBufferPointer { w in pb.withUnsafeBufferPointer { b in
            pooled.withUnsafeMutableBufferPointer { o in
                Kernels.linear(input: x, rows: batch.count, inFeatures: h, weight: w, bias: b, outFeatures: h, output: o)
                Kernels.tanh(o, count: batch.count * h)
            }
        } } }
        pooled.withUnsafeBufferPointer { x in cw.withUnsafeBufferPointer { w in cb.withUnsafeBufferPointer { b in
            logits.withUnsafeMutableBufferPointer { o in
                Kernels.linear(input: x, rows: batch.count, inFeatures: h, weight: w, bias: b, outFeatures: labels, output: o)
            }
        } } }
        return logits
    }

    /// Runs the encoder and hands `body` the packed last hidden states `[tokens × hidden]` and
    /// the sequence offsets (`batch + 1` entries; sequence `s` owns rows `offsets[s] ..< offsets[s+1]`).
    /// The buffer is only valid inside `body`.
    public func withHiddenStates<T>(_ batch: [TokenSequence], _ body: (UnsafeBufferPointer<Float>, [Int]) throws -> T) throws -> T {
        let offsets = try sequenceOffsets(batch)
        lock.lock()
        defer { lock.unlock() }
        let ws = workspaces[0]
        runLayers(batch, offsets: offsets, count: layers.count, ws, threads: threads)
        return try body(UnsafeBufferPointer(rebasing: ws.hidden[0..<(offsets.last! * configuration.hiddenSize)]), offsets)
    }

    /// The last hidden state of each sequence's first token ([CLS]) `[batch × hidden]`; an empty sequence gives zeros.
    /// Every layer but the last runs on all tokens; the last one computes keys and values for all tokens but attention,
    /// the dense layers and layer norms for the first token only: about 1/7 of a 6-layer encoder's work saved. With the
    /// AVX-512 kernels the result is bit-identical to row 0 of `withHiddenStates` (they compute a row the same way
    /// whatever the other rows); on the OpenBLAS fallback it agrees within float rounding.
    public func firstTokenStates(_ batch: [TokenSequence]) throws -> [Float] {
        try firstTokenStates(batch, grouping: .automatic)
    }

    func firstTokenStates(_ batch: [TokenSequence], grouping: Grouping) throws -> [Float] {
        guard let last = layers.last else { return try firstTokensOfHiddenStates(batch) }
        let h = configuration.hiddenSize
        let offsets = try sequenceOffsets(batch)
        var out = [Float](repeating: 0, count: batch.count * h)
        lock.lock()
        defer { lock.unlock() }
        out.withUnsafeMutableBufferPointer { o in
            let output = SharedOutput(o)
            forEachGroup(batch, offsets: offsets, grouping: grouping) { sequences, groupOffsets, threads, ws in
                runLayers(Array(batch[sequences]), offsets: groupOffsets, count: layers.count - 1, ws, threads: threads)
                runLastLayerFirstTokens(last, offsets: groupOffsets, ws, threads: threads, into: output.rows(sequences, width: h))
            }
        }
        return out
    }

    /// A worker's group of sequences is closed once it holds this many tokens (one passage of 128 tokens or more is
    /// a group of its own). Measured on 300 python-doc passages (172 tokens on average), int8 passages/s: groups
    /// of ≥ 128 tokens 150–154, ≥ 256 153, ≥ 384 144, a quarter of the batch 146; bf16 and fp32 alike within 3 %.
    /// Small groups keep a group's activations in cache; the weights stream from L3 either way.
    static let groupTokens = 128

    /// Whether groups of whole sequences keep every worker busy: at least two groups per worker, and no sequence
    /// longer than a worker's share of the tokens (it would leave the others idle while it runs).
    private func groupsPay(_ offsets: [Int]) -> Bool {
        let count = offsets.count - 1, tokens = offsets[count]
        guard threads > 1, count >= 2 * threads, tokens >= 2 * threads * Self.groupTokens else { return false }
        return (0..<count).allSatisfy { (offsets[$0 + 1] - offsets[$0]) * threads <= tokens }
    }

    /// Calls `body(sequences, their offsets from 0, kernel threads, workspace)` on groups of consecutive sequences
    /// covering the batch. Grouped: each worker claims the next group (`groupTokens`) when it is free and runs the
    /// body single-threaded in its own workspace. Otherwise one group, the whole batch, with every kernel split across
    /// the workers. The caller holds `lock`.
    private func forEachGroup(_ batch: [TokenSequence], offsets: [Int], grouping: Grouping,
                              _ body: (Range<Int>, [Int], Int, Workspace) -> Void) {
        let grouped = switch grouping {
        case .automatic: groupsPay(offsets)
        case .never: false
        case .always: threads > 1 && batch.count >= 2
        }
        guard grouped else {
            body(0..<batch.count, offsets, threads, workspaces[0])
            return
        }
        let cursor = GroupCursor(offsets: offsets, groupTokens: Self.groupTokens)
        withoutActuallyEscaping(body) { body in
            let work = GroupWork(body: body)
            DispatchQueue.concurrentPerform(iterations: threads) { worker in
                while let sequences = cursor.next() {
                    let base = offsets[sequences.lowerBound]
                    work.body(sequences, offsets[sequences.lowerBound...sequences.upperBound].map { $0 - base }, 1,
                              workspaces[worker])
                }
            }
        }
    }

    /// Row 0 of each sequence's full last hidden states `[batch × hidden]` (every layer on every token).
    private func firstTokensOfHiddenStates(_ batch: [TokenSequence]) throws -> [Float] {
        var out = [Float](repeating: 0, count: batch.count * configuration.hiddenSize)
        try withHiddenStates(batch) { hidden, offsets in
            out.withUnsafeMutableBufferPointer { o in
                Kernels.pool(.cls, hidden: hidden, width: configuration.hiddenSize, sequenceOffsets: offsets, output: o)
            }
        }
        return out
    }

    /// Checks ids, token types and lengths; returns the packed offsets (`batch + 1` entries).
    private func sequenceOffsets(_ batch: [TokenSequence]) throws -> [Int] {
        let c = configuration
        var offsets = [0]
        offsets.reserveCapacity(batch.count + 1)
        for (n, sequence) in batch.enumerated() {
            guard sequence.ids.count <= c.maxPositionEmbeddings else {
                throw ModelError.invalidInput(reason: "sequence \(n) has \(sequence.ids.count) tokens, more than max_position_embeddings \(c.maxPositionEmbeddings)")
            }
            for (t, id) in sequence.ids.enumerated() where id < 0 || Int(id) >= c.vocabSize {
                throw ModelError.invalidInput(reason: "sequence \(n) token \(t): id \(id) outside the vocabulary (size \(c.vocabSize))")
            }
            for (t, type) in sequence.tokenTypeIDs.enumerated() where type < 0 || Int(type) >= c.typeVocabSize {
                throw ModelError.invalidInput(reason: "sequence \(n) token \(t): token type \(type) outside type_vocab_size \(c.typeVocabSize)")
            }
            offsets.append(offsets.last! + sequence.ids.count)
        }
        return offsets
    }

    /// Embeds the batch and runs the first `count` layers on `threads` workers; the hidden states are left in
    /// `ws.hidden`. The caller holds `lock` (and owns `ws` for the call).
    private func runLayers(_ batch: [TokenSequence], offsets: [Int], count: Int, _ ws: Workspace, threads: Int) {
        let c = configuration
        let tokens = offsets.last!
        let maxLength = batch.map(\.ids.count).max() ?? 0
        ws.reserve(tokens: tokens, hidden: c.hiddenSize, intermediate: c.intermediateSize,
                   attentionScratch: Kernels.attentionScratchCount(maxLength: maxLength, headSize: c.headSize, threads: threads,
                                                                   precision: precision))
        embed(batch, into: ws.hidden, threads: threads)
        for layer in layers.prefix(count) { runLayer(layer, tokens: tokens, offsets: offsets, ws, threads: threads) }
    }

    /// hidden[t] = LayerNorm((word[id] + tokenType[type]) + position[p]) — PyTorch's summation order.
    private func embed(_ batch: [TokenSequence], into hidden: UnsafeMutableBufferPointer<Float>, threads: Int) {
        let h = configuration.hiddenSize
        var row = 0
        weights.wordEmbeddings.withUnsafeBufferPointer { word in
        weights.positionEmbeddings.withUnsafeBufferPointer { position in
        weights.tokenTypeEmbeddings.withUnsafeBufferPointer { type in
            for sequence in batch {
                for t in 0..<sequence.ids.count {
                    let out = hidden.baseAddress! + row * h
                    let w = word.baseAddress! + Int(sequence.ids[t]) * h
                    let ty = type.baseAddress! + Int(sequence.tokenTypeIDs[t]) * h
                    let p = position.baseAddress! + t * h
                    for j in 0..<h { out[j] = (w[j] + ty[j]) + p[j] }
                    row += 1
                }
            }
        } } }
        weights.embeddingNormGamma.withUnsafeBufferPointer { g in weights.embeddingNormBeta.withUnsafeBufferPointer { b in
            Kernels.layerNorm(hidden, rows: row, width: h, gamma: g, beta: b, eps: configuration.layerNormEps, threads: threads)
        } }
    }

    /// Self-attention of one layer: QKV projection `[tokens × 3H]`, then per-(sequence, head) attention →
    /// `ws.context [tokens × H]` (only each sequence's first row when `firstQueryOnly`).
    private func selfAttention(_ layer: PackedLayer, tokens: Int, offsets: [Int], _ ws: Workspace, threads: Int,
                               firstQueryOnly: Bool) {
        let c = configuration, h = c.hiddenSize
        if layer.qkv.count == 1, layer.qkv[0].exchangesBFloat16, Kernels.attentionTakesBFloat16, c.headSize % 2 == 0 {
            // bf16: the fused projection stores Q, K and V as bf16 (what the attention kernel rounds them to anyway)
            // in the QKV buffer's own memory, and the kernel reads them in place: no fp32 round trip, no conversion.
            ws.qkv.withMemoryRebound(to: UInt16.self) { half in
                layer.qkv[0].apply(UnsafeBufferPointer(ws.hidden), rows: tokens, intoBFloat16: half, threads: threads)
                Kernels.attention(bfloat16QKV: UnsafeBufferPointer(half), sequenceOffsets: offsets, heads: c.numAttentionHeads,
                                  headSize: c.headSize, output: ws.context, scratch: ws.attentionScratch, threads: threads,
                                  firstQueryOnly: firstQueryOnly)
            }
            return
        }
        for (index, part) in layer.qkv.enumerated() {
            let columns = UnsafeMutableBufferPointer(rebasing: ws.qkv[(index * part.outFeatures)...])
            part.apply(UnsafeBufferPointer(ws.hidden), rows: tokens, rowStride: h, into: columns, rowStride: 3 * h, threads: threads)
        }
        Kernels.attention(qkv: UnsafeBufferPointer(ws.qkv), sequenceOffsets: offsets, heads: c.numAttentionHeads,
                          headSize: c.headSize, output: ws.context, scratch: ws.attentionScratch, threads: threads,
                          precision: precision, firstQueryOnly: firstQueryOnly)
    }

    /// The last layer for each sequence's first row only (see `firstTokenStates`) → `out [batch × H]` (an empty
    /// sequence's row is left as it is).
    private func runLastLayerFirstTokens(_ layer: PackedLayer, offsets: [Int], _ ws: Workspace, threads: Int,
                                         into out: UnsafeMutableBufferPointer<Float>) {
        let h = configuration.hiddenSize
        selfAttention(layer, tokens: offsets.last!, offsets: offsets, ws, threads: threads, firstQueryOnly: true)
        let sequences = (0..<(offsets.count - 1)).filter { offsets[$0 + 1] > offsets[$0] }
        let rows = sequences.count
        // Gathered first rows [rows × H]: the context, and the hidden state (residual, then the layer's output).
        var context = [Float](repeating: 0, count: rows * h), states = context
        for (row, s) in sequences.enumerated() {
            for j in 0..<h {
                context[row * h + j] = ws.context[offsets[s] * h + j]
                states[row * h + j] = ws.hidden[offsets[s] * h + j]
            }
        }
        var attended = [Float](repeating: 0, count: rows * h)
        var intermediate = [Float](repeating: 0, count: rows * configuration.intermediateSize)
        if rows > 0 {
            context.withUnsafeBufferPointer { c in states.withUnsafeMutableBufferPointer { s in
                attended.withUnsafeMutableBufferPointer { a in intermediate.withUnsafeMutableBufferPointer { i in
                    denseSublayers(layer, rows: rows, context: c, hidden: s, attended: a, intermediate: i, threads: threads)
                } }
            } }
        }
        for (row, s) in sequences.enumerated() {
            for j in 0..<h { out[s * h + j] = states[row * h + j] }
        }
    }

    /// One transformer layer, in place on `ws.hidden [tokens × H]`.
    private func runLayer(_ layer: PackedLayer, tokens: Int, offsets: [Int], _ ws: Workspace, threads: Int) {
        selfAttention(layer, tokens: tokens, offsets: offsets, ws, threads: threads, firstQueryOnly: false)
        denseSublayers(layer, rows: tokens, context: UnsafeBufferPointer(ws.context), hidden: ws.hidden, attended: ws.attended,
                       intermediate: ws.intermediate, threads: threads)
    }

    /// Everything after attention, on `rows` rows (`[rows × H]` each unless noted):
    /// `attended = LayerNorm(context·Woᵀ + b + hidden)`, then `hidden = LayerNorm(FFN(attended) + attended)`, the FFN
    /// going through `intermediate [rows × I]` (GELU fused; bf16 values in its memory on the bf16 kernel). `hidden` is the residual of the first norm and, once
    /// that is consumed, the layer's output.
    private func denseSublayers(_ layer: PackedLayer, rows: Int, context: UnsafeBufferPointer<Float>,
                                hidden: UnsafeMutableBufferPointer<Float>, attended: UnsafeMutableBufferPointer<Float>,
                                intermediate: UnsafeMutableBufferPointer<Float>, threads n: Int) {
        let h = configuration.hiddenSize, eps = configuration.layerNormEps
        layer.attentionOutput.apply(context, rows: rows, into: attended, threads: n)
        layer.attentionNormGamma.withUnsafeBufferPointer { g in layer.attentionNormBeta.withUnsafeBufferPointer { b in
            Kernels.layerNorm(attended, rows: rows, width: h, gamma: g, beta: b, eps: eps, residual: UnsafeBufferPointer(hidden),
                              threads: n)
        } }
        if layer.intermediate.exchangesBFloat16 && layer.output.exchangesBFloat16 && layer.output.inFeatures % 2 == 0 {
            // bf16: the GELU output goes to the output layer as bf16 (what that layer would round it to anyway),
            // in the intermediate buffer's own memory, skipping the fp32 store and the conversion pass.
            intermediate.withMemoryRebound(to: UInt16.self) { half in
                layer.intermediate.apply(UnsafeBufferPointer(attended), rows: rows, intoBFloat16: half, threads: n)
                layer.output.apply(bfloat16: UnsafeBufferPointer(half), rows: rows, into: hidden, threads: n)
            }
        } else {
            layer.intermediate.apply(UnsafeBufferPointer(attended), rows: rows, into: intermediate, threads: n)
            layer.output.apply(UnsafeBufferPointer(intermediate), rows: rows, into: hidden, threads: n)
        }
        layer.outputNormGamma.withUnsafeBufferPointer { g in layer.outputNormBeta.withUnsafeBufferPointer { b in
            Kernels.layerNorm(hidden, rows: rows, width: h, gamma: g, beta: b, eps: eps, residual: UnsafeBufferPointer(attended),
                              threads: n)
        } }
    }
}

/// One encoder layer's linear layers, packed at load, and its layer-norm parameters (`[H]` each).
struct PackedLayer: Sendable {
    /// Query, key and value rows: one fused [3H × H] layer, or (int8) three [H × H] layers, each writing its
    /// column block of the [tokens × 3H] output.
    let qkv: [PackedLinear]
    let attentionOutput: PackedLinear   // [H × H]
    let intermediate: PackedLinear      // [I × H], GELU fused
    let output: PackedLinear            // [H × I]
    let attentionNormGamma: [Float], attentionNormBeta: [Float]
    let outputNormGamma: [Float], outputNormBeta: [Float]
}

/// The next group of consecutive sequences for `BertEncoder.forEachGroup`'s workers.
private final class GroupCursor: @unchecked Sendable {
    private let lock = NSLock()
    private let offsets: [Int]
    private let groupTokens: Int
    private var claimed = 0

    init(offsets: [Int], groupTokens: Int) {
        self.offsets = offsets
        self.groupTokens = groupTokens
    }

    /// One sequence, then more until the group holds `groupTokens` tokens; nil once every sequence is claimed.
    func next() -> Range<Int>? {
        lock.lock()
        defer { lock.unlock() }
        let count = offsets.count - 1
        guard claimed < count else { return nil }
        let start = claimed
        claimed += 1
        while claimed < count && offsets[claimed] - offsets[start] < groupTokens { claimed += 1 }
        return start..<claimed
    }
}

/// `forEachGroup`'s body, shared by the workers (each call works on its own group and workspace).
private struct GroupWork: @unchecked Sendable {
    let body: (Range<Int>, [Int], Int, Workspace) -> Void
}

/// An output buffer whose rows the workers fill in disjoint ranges.
private struct SharedOutput: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Float>
    init(_ buffer: UnsafeMutableBufferPointer<Float>) { self.buffer = buffer }

    /// Rows `sequences` of a `[rows × width]` output.
    func rows(_ sequences: Range<Int>, width: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: buffer[(sequences.lowerBound * width)..<(sequences.upperBound * width)])
    }
}

/// Activation buffers, grown on demand and reused (no allocation per batch once warm).
/// Buffers may be larger than the current batch needs; kernels are given explicit row counts.
final class Workspace {
    private(set) var hidden = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)       // [tokens × H]
    private(set) var attended = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)     // [tokens × H], after attention
    private(set) var qkv = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)          // [tokens × 3H]
    private(set) var context = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)      // [tokens × H]
    private(set) var intermediate = UnsafeMutableBufferPointer<Float>(start: nil, count: 0) // [tokens × I]
    private(set) var attentionScratch = UnsafeMutableBufferPointer<Float>(start: nil, count: 0) // per worker, see Kernels.attentionScratchCount

    /// `attentionScratch`: floats `Kernels.attention` needs for the batch (`Kernels.attentionScratchCount`).
    func reserve(tokens: Int, hidden h: Int, intermediate i: Int, attentionScratch scratchCount: Int) {
        func grow(_ buffer: inout UnsafeMutableBufferPointer<Float>, _ count: Int) {
            guard buffer.count < max(count, 1) else { return }
            buffer.deallocate()
            // Over-allocate a little so slowly growing batches don't reallocate every time.
            buffer = .allocate(capacity: max(count, 1) + max(count, 1) / 4)
            buffer.initialize(repeating: 0)
        }
        grow(&hidden, tokens * h)
        grow(&attended, tokens * h)
        grow(&qkv, tokens * 3 * h)
        grow(&context, tokens * h)
        grow(&intermediate, tokens * i)
        grow(&attentionScratch, scratchCount)
    }

    deinit {
        for buffer in [hidden, attended, qkv, context, intermediate, attentionScratch] { buffer.deallocate() }
    }
}
