import Foundation
import SiftKernelsC

/// Transformer kernels on row-major float32 buffers.
///
/// Conventions: a "matrix [r×c]" is `r` rows of `c` contiguous floats. Kernels write into
/// caller-owned buffers (so models can reuse them across layers and batches) and check shapes with
/// `precondition` before touching memory: a mismatch is a programmer error and traps.
/// `KernelReference` holds the plain Swift versions the tests compare against.
public enum Kernels {
    /// Fully connected layer as PyTorch `nn.Linear` stores it:
    /// `output[rows×outFeatures] = input[rows×inFeatures] · weightᵀ + bias`, with `weight` stored
    /// `[outFeatures×inFeatures]` and `bias` `[outFeatures]` (or nil).
    public static func linear(
        input: UnsafeBufferPointer<Float>, rows: Int, inFeatures: Int,
        weight: UnsafeBufferPointer<Float>, bias: UnsafeBufferPointer<Float>?, outFeatures: Int,
        output: UnsafeMutableBufferPointer<Float>
    ) {
        precondition(input.count >= rows * inFeatures, "linear: input has \(input.count) floats, needs \(rows)×\(inFeatures)")
        precondition(weight.count == outFeatures * inFeatures, "linear: weight has \(weight.count) floats, needs \(outFeatures)×\(inFeatures)")
        precondition(bias == nil || bias!.count == outFeatures, "linear: bias has \(bias!.count) floats, needs \(outFeatures)")
        precondition(output.count >= rows * outFeatures, "linear: output has \(output.count) floats, needs \(rows)×\(outFeatures)")
        if rows == 0 { return }
        var beta: Float = 0
        if let bias {
            // Seed C with the bias rows and let sgemm accumulate on top (beta = 1): one pass over C.
            let out = output.baseAddress!, b = bias.baseAddress!
            for r in 0..<rows { (out + r * outFeatures).update(from: b, count: outFeatures) }
            beta = 1
        }
        Gemm.multiply(transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures,
                      a: input, lda: inFeatures, b: weight, ldb: inFeatures,
                      beta: beta, c: output, ldc: outFeatures)
    }

    /// In-place LayerNorm over each row of `x [rows×width]`:
    /// `x = (x − mean) / sqrt(var + eps) · gamma + beta` (biased variance, like PyTorch).
    /// When `residual` is given it is added first (`x += residual`), fusing BERT's "add & norm".
    public static func layerNorm(
        _ x: UnsafeMutableBufferPointer<Float>, rows: Int, width: Int,
        gamma: UnsafeBufferPointer<Float>, beta: UnsafeBufferPointer<Float>, eps: Float,
        residual: UnsafeBufferPointer<Float>? = nil, threads: Int = 1
    ) {
        layerNorm(x, rows: rows, width: width, gamma: gamma, beta: beta, eps: eps, residual: residual, threads: threads,
                  kernel: .best)
    }

    /// Which layer-norm rows run (C, sift_norm.c). Internal so tests can force each one.
    enum LayerNormKernel: Sendable, CaseIterable {
        case avx512, avx2, portable

        var cValue: Int32 {
            switch self {
            case .avx512: Int32(SIFT_KERNEL_AVX512)
            case .avx2: Int32(SIFT_KERNEL_AVX2)
            case .portable: Int32(SIFT_KERNEL_SCALAR)
            }
        }

        var isSupported: Bool { sift_kernel_supported(cValue) != 0 }

        /// The widest rows the active tier allows.
        static let best: LayerNormKernel = [.avx512, .avx2].first(where: \.isSupported) ?? .portable
    }

    /// `layerNorm` on an explicit kernel (tests compare them all against the reference).
    static func layerNorm(
        _ x: UnsafeMutableBufferPointer<Float>, rows: Int, width: Int,
        gamma: UnsafeBufferPointer<Float>, beta: UnsafeBufferPointer<Float>, eps: Float,
        residual: UnsafeBufferPointer<Float>?, threads: Int, kernel: LayerNormKernel
    ) {
        precondition(kernel.isSupported, "layerNorm: kernel \(kernel) not supported here")
        precondition(width > 0 && x.count >= rows * width, "layerNorm: buffer has \(x.count) floats, needs \(rows)×\(width)")
        precondition(width <= Int(Int32.max) && rows <= Int(Int32.max), "layerNorm: \(rows)×\(width) exceeds the C kernel's range")
        precondition(gamma.count == width && beta.count == width, "layerNorm: gamma/beta have \(gamma.count)/\(beta.count) floats, need \(width)")
        precondition(residual == nil || residual!.count >= rows * width, "layerNorm: residual too small")
        let job = LayerNormJob(x: x.baseAddress!, residual: residual?.baseAddress, gamma: gamma.baseAddress!, beta: beta.baseAddress!,
                               width: width, eps: eps, kernel: kernel.cValue)
        // Rows are independent; below ~64 rows a dispatch costs more than it saves.
        parallelChunks(rows, threads: rows >= 64 ? threads : 1) { job.run($0) }
    }

    /// `body` over `0..<count` in contiguous chunks, 4 per thread, handed out dynamically to `threads`
    /// workers (so a pre-empted core delays only its current chunk).
    static func parallelChunks(_ count: Int, threads: Int, _ body: @Sendable (Range<Int>) -> Void) {
        let chunks = max(1, min(4 * threads, count))
        if threads <= 1 || chunks == 1 { body(0..<count); return }
        DispatchQueue.concurrentPerform(iterations: chunks) { c in body((count * c / chunks)..<(count * (c + 1) / chunks)) }
    }

    /// One layerNorm call's arguments; pointers live only for the call.
    private struct LayerNormJob: @unchecked Sendable {
        let x: UnsafeMutablePointer<Float>
        let residual: UnsafePointer<Float>?
        let gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>
        let width: Int, eps: Float
        let kernel: Int32

        func run(_ rows: Range<Int>) {
            // Shapes were checked by `layerNorm`; the kernel is supported.
            let status = sift_layer_norm(x + rows.lowerBound * width, residual.map { $0 + rows.lowerBound * width }, width,
                                         Int32(rows.count), Int32(width), gamma, beta, eps, kernel)
            precondition(status == 0, "layerNorm: sift_layer_norm rejected \(rows.count)×\(width)")
        }
    }

    /// In-place exact GELU, `x · ½ · (1 + erf(x / √2))` (PyTorch's default, not the tanh approximation).
    /// erf is Eigen's float rational approximation (|error| < 4e-7, no exp). Written as a plain
    /// scalar loop, which LLVM vectorises (Swift's generic SIMD16 code was 10× slower); Swift does
    /// not contract to FMA, so vector and remainder iterations round identically and a value's
    /// result never depends on its position in the buffer.
    public static func gelu(_ x: UnsafeMutableBufferPointer<Float>, count: Int) {
        precondition(x.count >= count, "gelu: buffer has \(x.count) floats, needs \(count)")
        guard let p = x.baseAddress else { return }
        for i in 0..<count {
            let v = p[i]
            p[i] = v * 0.5 * (1 + erfApproximation(v * 0.70710678118654752440))
        }
    }

    /// GELU's backward in place: `d[i] ← d[i] · (Φ(x) + x·φ(x))` for the forward's input `x`, with the same erf as
    /// `gelu` and the vectorisable exp of softmax, so training's backward matches its forward's arithmetic.
    public static func geluBackward(_ d: UnsafeMutableBufferPointer<Float>, input x: UnsafeBufferPointer<Float>, count: Int) {
        precondition(d.count >= count && x.count >= count, "geluBackward: buffers have \(d.count)/\(x.count) floats, need \(count)")
        guard let g = d.baseAddress, let v = x.baseAddress else { return }
        for i in 0..<count {
            let value = v[i]
            let cdf = 0.5 * (1 + erfApproximation(value * 0.70710678118654752440))
            let pdf = expApproximation(-0.5 * value * value) * 0.39894228040143268
            g[i] *= cdf + value * pdf
        }
    }

    /// erf: Eigen's `generic_fast_erf_float` (odd degree-13 over even degree-8 minimax rational on
    /// [-4, 4]; erf is ±1 in float beyond).
    @inline(__always)
    static func erfApproximation(_ input: Float) -> Float {
        let x = Swift.min(Swift.max(input, -4), 4)
        let x2 = x * x
        var p = x2 * -2.72614225801306e-10 + 2.77068142495902e-08
        p = x2 * p + -2.10102402082508e-06
        p = x2 * p + -5.69250639462346e-05
        p = x2 * p + -7.34990630326855e-04
        p = x2 * p + -2.95459980854025e-03
        p = x2 * p + -1.60960333262415e-02
        p = x * p
        var q = x2 * -1.45660718464996e-05 + -2.13374055278905e-04
        q = x2 * q + -1.68282697438203e-03
        q = x2 * q + -7.37332916720468e-03
        q = x2 * q + -1.42647390514189e-02
        return p / q
    }

    /// In-place hyperbolic tangent.
    public static func tanh(_ x: UnsafeMutableBufferPointer<Float>, count: Int) {
        precondition(x.count >= count, "tanh: buffer has \(x.count) floats, needs \(count)")
        let p = x.baseAddress!
        for i in 0..<count { p[i] = Foundation.tanh(p[i]) }
    }

    /// In-place `x += y` over `count` floats (residual connection).
    public static func add(_ x: UnsafeMutableBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>, count: Int) {
        precondition(x.count >= count && y.count >= count, "add: buffers have \(x.count)/\(y.count) floats, need \(count)")
        let a = x.baseAddress!, b = y.baseAddress!
        for i in 0..<count { a[i] += b[i] }
    }

    /// In-place numerically stable softmax over each row of `x [rows×width]` (max subtracted first).
    /// Each row is read from `stride`-spaced starts (`stride ≥ width`).
    public static func softmax(_ x: UnsafeMutableBufferPointer<Float>, rows: Int, width: Int, stride: Int? = nil) {
        let ld = stride ?? width
        precondition(width > 0 && ld >= width, "softmax: width \(width), stride \(ld)")
        precondition(rows == 0 || x.count >= (rows - 1) * ld + width, "softmax: buffer has \(x.count) floats, needs \(rows)×\(width) (stride \(ld))")
        for r in 0..<rows { softmaxRow(x.baseAddress! + r * ld, width) }
    }

    @inline(__always)
    static func softmaxRow(_ row: UnsafeMutablePointer<Float>, _ width: Int) {
        // Maximum and sum in 8 lanes: a scalar compare/add chain is latency-bound (LLVM does not
        // reassociate float reductions by itself); the exp and scale loops vectorise as written.
        var lanes = SIMD8<Float>(repeating: -.infinity), i = 0
        while i + 8 <= width {
            let v = UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self)
            lanes.replace(with: v, where: v .> lanes)
            i += 8
        }
        var maxValue = lanes.max()
        while i < width { maxValue = row[i] > maxValue ? row[i] : maxValue; i += 1 }
        for j in 0..<width { row[j] = expApproximation(row[j] - maxValue) }
        var sums = SIMD8<Float>()
        i = 0
        while i + 8 <= width { sums += UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self); i += 8 }
        var total = sums.sum()
        while i < width { total += row[i]; i += 1 }
        let inv = 1 / total
        for j in 0..<width { row[j] *= inv }
    }

    /// e^x for x ≤ 0 (softmax after subtracting the maximum), ~1 ulp: Cephes' expf polynomial with
    /// the exponent split off by magic-number rounding, branch-free so LLVM vectorises the loop
    /// (the libm call was the hottest part of attention). Inputs below -87 give ~1e-38, not 0.
    @inline(__always)
    static func expApproximation(_ input: Float) -> Float {
        let x = Swift.max(input, -87)
        let magic: Float = 12_582_912  // 1.5·2²³: adding it rounds to an integer held in the low mantissa bits
        let shifted = x * 1.44269504088896341 + magic
        let n = shifted - magic
        let r = (x - n * 0.693359375) - n * -2.12194440e-4
        var p: Float = 1.9875691500e-4
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let er = p * r * r + r + 1
        // 2ⁿ from n's integer bits: (n + 127) << 23.
        let exponentBits = (shifted.bitPattern &- magic.bitPattern &+ 127) &<< 23
        return er * Float(bitPattern: exponentBits)
    }

    /// Which attention implementation runs. Internal so tests can force each one.
    enum AttentionKernel: Sendable, Equatable, CaseIterable {
        /// Fused C kernel (Sources/SiftKernelsC/sift_attention.c), fp32.
        case avx512
        /// Fused C kernel with both products in bf16 (`vdpbf16ps`, fp32 accumulation); softmax in fp32.
        case avx512bf16
        /// Fused C kernel in AVX2 + FMA, fp32 (CPUs without AVX-512, or the forced `avx2` tier).
        case avx2
        /// The fused kernel's plain C version (the `portable` tier; any CPU).
        case scalar
        /// OpenBLAS sgemm for the two products, Swift softmax (the `openblas` tier).
        case openBLAS

        /// The fastest kernel the active tier runs for a model of `precision`. Reduced-precision models (bf16, int8)
        /// also get bf16 attention where the CPU has AVX-512 BF16: in fp32 it was 23 % of an int8 encode, and its
        /// bf16 rounding is small next to int8's (fixture cosine to fp32 unchanged to 4 decimals).
        static func best(for precision: PackedLinear.Precision) -> AttentionKernel {
            best(for: precision, tier: KernelTier.active)
        }

        static func best(for precision: PackedLinear.Precision, tier: KernelTier) -> AttentionKernel {
            switch tier {
            case .openblas: return .openBLAS
            case .portable: return .scalar
            case .avx512 where AttentionKernel.avx512.isSupported:
                if precision != .float32, AttentionKernel.avx512bf16.isSupported { return .avx512bf16 }
                return .avx512
            case .avx512, .avx2: return AttentionKernel.avx2.isSupported ? .avx2 : .openBLAS
            }
        }

        var isSupported: Bool {
            switch self {
            case .avx512: sift_kernel_supported(Int32(SIFT_KERNEL_AVX512)) != 0
            case .avx512bf16: sift_kernel_supported(Int32(SIFT_KERNEL_AVX512_BF16)) != 0
            case .avx2: sift_kernel_supported(Int32(SIFT_KERNEL_AVX2)) != 0
            case .scalar, .openBLAS: true
            }
        }

        /// C kernel id; nil for OpenBLAS.
        var cValue: Int32? {
            switch self {
            case .avx512: Int32(SIFT_KERNEL_AVX512)
            case .avx512bf16: Int32(SIFT_KERNEL_AVX512_BF16)
            case .avx2: Int32(SIFT_KERNEL_AVX2)
            case .scalar: Int32(SIFT_KERNEL_SCALAR)
            case .openBLAS: nil
            }
        }

        /// Scratch floats one worker needs for sequences up to `maxLength` tokens.
        func scratchPerWorker(maxLength: Int, headSize: Int) -> Int {
            guard maxLength > 0 else { return 0 }
            if cValue == nil { return maxLength * maxLength }  // the score matrix [length × length]
            return Int(sift_attention_scratch_floats(Int32(maxLength), Int32(headSize)))
        }
    }

    /// Floats of `scratch` that `attention` needs for sequences up to `maxLength` tokens on `threads` workers
    /// with a model of `precision`.
    public static func attentionScratchCount(maxLength: Int, headSize: Int, threads: Int,
                                             precision: PackedLinear.Precision = .float32) -> Int {
        precondition(maxLength >= 0 && headSize > 0 && threads >= 1,
                     "attentionScratchCount: maxLength \(maxLength), headSize \(headSize), threads \(threads)")
        return threads * AttentionKernel.best(for: precision).scratchPerWorker(maxLength: maxLength, headSize: headSize)
    }

    /// Scaled dot-product self-attention for a packed batch of sequences (no padding rows).
    ///
    /// - `qkv [tokens × 3·hidden]`: per token, the query, key and value projections side by side
    ///   (`hidden = heads · headSize`; head `h` uses columns `h·headSize ..< (h+1)·headSize` of each).
    /// - `sequenceOffsets [batch+1]`: sequence `s` owns tokens `offsets[s] ..< offsets[s+1]`.
    ///   Packing is the padding mask: a token only attends to tokens of its own sequence, so padded
    ///   positions never exist and a sequence's result cannot depend on its batch mates.
    /// - `output [tokens × hidden]`: the per-head contexts concatenated (PyTorch's head order).
    /// - `scratch`: at least `attentionScratchCount(maxLength:headSize:threads:precision:)` floats, where
    ///   `maxLength` is the longest sequence.
    /// - `threads`: workers over the (sequence × head) items, longest sequences first; each item's
    ///   arithmetic is the same for any thread count, so results are bit-identical. Keep
    ///   `Gemm.threadCount = 1` when `threads > 1` (the OpenBLAS fallback's per-item GEMMs are small).
    /// - `precision`: `.bfloat16` or `.int8` lets CPUs with AVX-512 BF16 run `q·kᵀ` and `P·V` in bf16 (fp32
    ///   accumulation, max abs error ~1e-2 on O(1) inputs); meant for models whose linear layers already round more.
    /// - `firstQueryOnly`: compute only each sequence's first query row (its [CLS] token, attending to every key);
    ///   the other output rows are left untouched. The rows computed are bit-identical to a full call's on the native
    ///   kernels, equal within float rounding on the OpenBLAS fallback.
    /// Scores are `q·kᵀ / √headSize`, softmaxed over keys. Each item runs a fused C kernel (packed K/V, scores,
    /// softmax and `P·V` per block of query rows, in L1/L2: AVX-512, AVX2 or plain C by `KernelTier.active`); the
    /// `openblas` tier runs OpenBLAS + Swift softmax.
    public static func attention(
        qkv: UnsafeBufferPointer<Float>, sequenceOffsets: [Int], heads: Int, headSize: Int,
        output: UnsafeMutableBufferPointer<Float>, scratch: UnsafeMutableBufferPointer<Float>, threads: Int = 1,
        precision: PackedLinear.Precision = .float32, firstQueryOnly: Bool = false
    ) {
        attention(qkv: qkv, sequenceOffsets: sequenceOffsets, heads: heads, headSize: headSize, output: output,
                  scratch: scratch, threads: threads, kernel: AttentionKernel.best(for: precision),
                  firstQueryOnly: firstQueryOnly)
    }

    /// Whether `attention(bfloat16QKV:…)` runs here (a CPU with AVX-512 BF16).
    public static var attentionTakesBFloat16: Bool { AttentionKernel.avx512bf16.isSupported }

    /// `attention` on a QKV matrix of bf16 bits `[tokens × 3·hidden]`, as a bf16 QKV projection stores it
    /// (`PackedLinear.apply(_:rows:intoBFloat16:)`): the bf16 kernel reads q, k and v in place instead of rounding
    /// fp32 copies, and applies the `1/√headSize` scale to the fp32 scores rather than to bf16 keys. Needs
    /// `attentionTakesBFloat16`, an even `headSize` and a 4-byte aligned `qkv`; scratch as for `.bfloat16`.
    public static func attention(
        bfloat16QKV qkv: UnsafeBufferPointer<UInt16>, sequenceOffsets: [Int], heads: Int, headSize: Int,
        output: UnsafeMutableBufferPointer<Float>, scratch: UnsafeMutableBufferPointer<Float>, threads: Int = 1,
        firstQueryOnly: Bool = false
    ) {
        precondition(attentionTakesBFloat16, "attention(bfloat16QKV:): this CPU has no AVX-512 BF16")
        precondition(headSize % 2 == 0, "attention(bfloat16QKV:): headSize \(headSize) must be even (rows are read as bf16 pairs)")
        precondition(qkv.isEmpty || Int(bitPattern: qkv.baseAddress) % 4 == 0, "attention(bfloat16QKV:): qkv must start on a 4-byte boundary")
        attention(qkv: qkv.baseAddress.map { .bfloat16($0) }, count: qkv.count, sequenceOffsets: sequenceOffsets, heads: heads,
                  headSize: headSize, output: output, scratch: scratch, threads: threads, kernel: .avx512bf16,
                  firstQueryOnly: firstQueryOnly)
    }

    /// `attention` on an explicit kernel (tests compare them all against the reference).
    static func attention(
        qkv: UnsafeBufferPointer<Float>, sequenceOffsets: [Int], heads: Int, headSize: Int,
        output: UnsafeMutableBufferPointer<Float>, scratch: UnsafeMutableBufferPointer<Float>, threads: Int,
        kernel: AttentionKernel, firstQueryOnly: Bool = false
    ) {
        attention(qkv: qkv.baseAddress.map { .float32($0) }, count: qkv.count, sequenceOffsets: sequenceOffsets, heads: heads,
                  headSize: headSize, output: output, scratch: scratch, threads: threads, kernel: kernel,
                  firstQueryOnly: firstQueryOnly)
    }

    /// The shared body: `qkv` is nil only for an empty buffer (`count` 0).
    private static func attention(
        qkv: AttentionJob.Input?, count: Int, sequenceOffsets: [Int], heads: Int, headSize: Int,
        output: UnsafeMutableBufferPointer<Float>, scratch: UnsafeMutableBufferPointer<Float>, threads: Int,
        kernel: AttentionKernel, firstQueryOnly: Bool
    ) {
        let hidden = heads * headSize
        precondition(heads > 0 && headSize > 0 && threads >= 1, "attention: heads \(heads), headSize \(headSize), threads \(threads)")
        precondition(kernel.isSupported, "attention: kernel \(kernel) not supported on this CPU")
        precondition(!sequenceOffsets.isEmpty && sequenceOffsets[0] == 0, "attention: offsets must start at 0")
        let tokens = sequenceOffsets.last!
        precondition(count >= tokens * 3 * hidden, "attention: qkv has \(count) elements, needs \(tokens)×\(3 * hidden)")
        precondition(output.count >= tokens * hidden, "attention: output has \(output.count) floats, needs \(tokens)×\(hidden)")
        var maxLength = 0
        for s in 0..<(sequenceOffsets.count - 1) {
            let length = sequenceOffsets[s + 1] - sequenceOffsets[s]
            precondition(length >= 0, "attention: offsets must be non-decreasing")
            maxLength = max(maxLength, length)
        }
        precondition(maxLength <= Int(Int32.max), "attention: sequence of \(maxLength) tokens")
        let workers = max(1, min(threads, (sequenceOffsets.count - 1) * heads))
        let scratchStride = kernel.scratchPerWorker(maxLength: maxLength, headSize: headSize)
        precondition(scratch.count >= workers * scratchStride,
                     "attention: scratch has \(scratch.count) floats, needs \(workers)×\(scratchStride)")
        // Items longest first, so the last ones to run are short and the workers finish together.
        let lengths = (0..<(sequenceOffsets.count - 1)).map { sequenceOffsets[$0 + 1] - sequenceOffsets[$0] }
        let sequences = lengths.indices.filter { lengths[$0] > 0 }.sorted { (lengths[$0], $1) > (lengths[$1], $0) }
        guard tokens > 0, let qkv else { return }
        let job = AttentionJob(qkv: qkv, output: output.baseAddress!, scratch: scratch.baseAddress!,
                               hidden: hidden, headSize: headSize, heads: heads, scratchStride: scratchStride, kernel: kernel,
                               firstQueryOnly: firstQueryOnly)
        let itemCount = sequences.count * heads
        if workers == 1 {
            for item in 0..<itemCount { job.run(sequences[item / heads], offsets: sequenceOffsets, head: item % heads, worker: 0) }
            return
        }
        let next = WorkCounter()
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            while case let item = next.take(), item < itemCount {
                job.run(sequences[item / heads], offsets: sequenceOffsets, head: item % heads, worker: w)
            }
        }
    }

    /// A shared "next item" index for workers pulling work dynamically (cores may be pre-empted unevenly).
    final class WorkCounter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func take() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value - 1 }
    }

    /// One attention call's arguments; pointers live only for the call.
    private struct AttentionJob: @unchecked Sendable {
        /// The QKV matrix: fp32, or bf16 bits (the bf16 kernel only).
        enum Input { case float32(UnsafePointer<Float>), bfloat16(UnsafePointer<UInt16>) }
        let qkv: Input
        let output: UnsafeMutablePointer<Float>
        let scratch: UnsafeMutablePointer<Float>
        let hidden: Int, headSize: Int, heads: Int, scratchStride: Int
        let kernel: AttentionKernel
        let firstQueryOnly: Bool

        /// Head `h` of sequence `s` (length ≥ 1): worker `worker`'s scratch, context into the head's output columns.
        func run(_ s: Int, offsets: [Int], head h: Int, worker: Int) {
            let start = offsets[s], length = offsets[s + 1] - start
            let queries = firstQueryOnly ? 1 : length
            let ld = 3 * hidden
            let scale = 1 / Float(headSize).squareRoot()
            let work = scratch + worker * scratchStride
            let out = output + start * hidden + h * headSize
            let values: UnsafePointer<Float>
            switch qkv {
            case .bfloat16(let bits):
                let q = bits + start * ld + h * headSize, k = q + hidden, v = q + 2 * hidden
                // Shapes, alignment and the even head size were checked by `attention(bfloat16QKV:…)`.
                let status = sift_attention_bf16(q, k, v, ld, out, hidden, Int32(length), Int32(queries), Int32(headSize),
                                                 scale, work, scratchStride)
                precondition(status == 0, "attention: bf16-input kernel rejected length \(length), headSize \(headSize)")
                return
            case .float32(let pointer): values = pointer
            }
            let q = values + start * ld + h * headSize, k = q + hidden, v = q + 2 * hidden
            if let cKernel = kernel.cValue {
                // Shapes were checked by `attention`: rows of q/k/v/out at strides ld/hidden, scratch per worker.
                let status = sift_attention(q, k, v, ld, out, hidden, Int32(length), Int32(queries), Int32(headSize),
                                            scale, work, scratchStride, cKernel)
                precondition(status == 0, "attention: native kernel rejected length \(length), headSize \(headSize)")
                return
            }
            let scores = UnsafeMutableBufferPointer(start: work, count: queries * length)
            let span = (length - 1) * ld + headSize, querySpan = (queries - 1) * ld + headSize
            // scores[queries×length] = scale · Q_h · K_hᵀ
            Gemm.multiply(transA: false, transB: true, m: queries, n: length, k: headSize, alpha: scale,
                          a: UnsafeBufferPointer(start: q, count: querySpan), lda: ld,
                          b: UnsafeBufferPointer(start: k, count: span), ldb: ld, beta: 0, c: scores, ldc: length)
            softmax(scores, rows: queries, width: length)
            // context_h[queries×headSize] = P · V_h, written into this head's columns of output.
            Gemm.multiply(transA: false, transB: false, m: queries, n: headSize, k: length,
                          a: UnsafeBufferPointer(scores), lda: length, b: UnsafeBufferPointer(start: v, count: span), ldb: ld,
                          beta: 0, c: UnsafeMutableBufferPointer(start: out, count: (queries - 1) * hidden + headSize), ldc: hidden)
        }
    }

    /// How token vectors become one sequence vector (sentence-transformers' `Pooling` modes).
    public enum Pooling: String, Sendable, CaseIterable {
        /// The first token ([CLS]).
        case cls
        /// Mean over the sequence's tokens.
        case mean
        /// Element-wise maximum over the sequence's tokens.
        case max
        /// Sum over tokens divided by √length.
        case meanSqrtLength
    }

    /// Pools a packed batch: `hidden [tokens×width]`, sequence `s` owning tokens
    /// `offsets[s] ..< offsets[s+1]` (only real tokens: packing is the mask) → `output [batch×width]`.
    /// An empty sequence pools to zeros.
    public static func pool(
        _ mode: Pooling, hidden: UnsafeBufferPointer<Float>, width: Int, sequenceOffsets: [Int],
        output: UnsafeMutableBufferPointer<Float>
    ) {
        let batch = sequenceOffsets.count - 1
        precondition(batch >= 0 && sequenceOffsets.first == 0, "pool: offsets must start at 0")
        precondition(hidden.count >= sequenceOffsets.last! * width, "pool: hidden has \(hidden.count) floats, needs \(sequenceOffsets.last!)×\(width)")
        precondition(output.count >= batch * width, "pool: output has \(output.count) floats, needs \(batch)×\(width)")
        let h = hidden.baseAddress!, o = output.baseAddress!
        for s in 0..<batch {
            let start = sequenceOffsets[s], length = sequenceOffsets[s + 1] - start
            let out = o + s * width
            out.update(repeating: 0, count: width)
            if length <= 0 { continue }
            switch mode {
            case .cls:
                out.update(from: h + start * width, count: width)
            case .max:
                out.update(from: h + start * width, count: width)
                for t in 1..<length { let row = h + (start + t) * width; for i in 0..<width { out[i] = Swift.max(out[i], row[i]) } }
            case .mean, .meanSqrtLength:
                for t in 0..<length { let row = h + (start + t) * width; for i in 0..<width { out[i] += row[i] } }
                let divisor = mode == .mean ? Float(length) : Float(length).squareRoot()
                for i in 0..<width { out[i] /= divisor }
            }
        }
    }

    /// In-place L2 normalisation of each row of `x [rows×width]`; like PyTorch's
    /// `F.normalize`, the norm is clamped below at `eps` so a zero row stays zero.
    public static func l2Normalize(_ x: UnsafeMutableBufferPointer<Float>, rows: Int, width: Int, eps: Float = 1e-12) {
        precondition(x.count >= rows * width, "l2Normalize: buffer has \(x.count) floats, needs \(rows)×\(width)")
        for r in 0..<rows {
            let row = x.baseAddress! + r * width
            var sum: Float = 0
            for i in 0..<width { sum += row[i] * row[i] }
            let inv = 1 / Swift.max(sum.squareRoot(), eps)
            for i in 0..<width { row[i] *= inv }
        }
    }
}
