import Foundation
import SiftCore
import SiftKernels

/// An owned float buffer (activations, parameters, gradients, optimizer moments), zero when first allocated. Its
/// memory lives as long as the object; views into it are made inside the ops and never kept. A `BufferPool` may
/// reuse it for a smaller count.
public final class FloatBuffer: @unchecked Sendable {
    private let allocation: UnsafeMutableBufferPointer<Float>
    private(set) var storage: UnsafeMutableBufferPointer<Float>
    public var count: Int { storage.count }
    var capacity: Int { allocation.count }

    public init(count: Int, capacity: Int? = nil) {
        allocation = .allocate(capacity: max(count, capacity ?? 0, 1))
        allocation.initialize(repeating: 0)
        storage = UnsafeMutableBufferPointer(rebasing: allocation[0..<count])
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        _ = storage.update(fromContentsOf: values)
    }

    deinit { allocation.deallocate() }

    /// Views the first `count` floats of the allocation (contents as they are).
    func resize(_ count: Int) {
        precondition(count <= capacity, "FloatBuffer: \(count) floats do not fit \(capacity)")
        storage = UnsafeMutableBufferPointer(rebasing: allocation[0..<count])
    }

    public subscript(i: Int) -> Float {
        get { storage[i] }
        set { storage[i] = newValue }
    }

    public var array: [Float] { Array(storage) }
    func zero() { storage.update(repeating: 0) }
    func view(_ start: Int, _ count: Int) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(rebasing: storage[start..<(start + count)])
    }
    func mutableView(_ start: Int, _ count: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: storage[start..<(start + count)])
    }
    /// The first element. Valid only while this buffer is referenced: keep the buffer in a named constant or a stored
    /// property for the whole call (a temporary may be released as soon as this is read).
    var pointer: UnsafeMutablePointer<Float> { storage.baseAddress! }
    /// The same memory as bytes (byte masks kept in a pooled buffer of count/4 floats); the same lifetime rule.
    var bytes: UnsafeMutableRawPointer { UnsafeMutableRawPointer(storage.baseAddress!) }
}

/// Activation buffers reused from step to step: a training step allocates a few hundred MB of activations, and
/// fresh pages cost a page fault each (a third of a step's time before this pool). `take` hands out the smallest
/// free buffer that fits (contents left as they were: every user overwrites what it reads); `recycle` returns
/// everything taken since the last recycle. One thread uses a pool.
final class BufferPool {
    private var free: [FloatBuffer] = []
    private var taken: [FloatBuffer] = []

    func take(_ count: Int) -> FloatBuffer {
        if let i = free.indices.filter({ free[$0].capacity >= count }).min(by: { free[$0].capacity < free[$1].capacity }) {
            let buffer = free.remove(at: i)
            buffer.resize(count)
            taken.append(buffer)
            return buffer
        }
        // A little headroom, so batches that grow slowly still reuse.
        let buffer = FloatBuffer(count: count, capacity: count + count / 4)
        taken.append(buffer)
        return buffer
    }

    func recycle() {
        free += taken
        taken.removeAll()
    }
}

/// The fp32 training kernels: each forward beside its backward, shapes in the comments (row-major), the matrix
/// products on `Gemm` (OpenBLAS, called single-threaded: these ops split their work over `threads` workers
/// themselves, by rows or by output features, so small attention products never wake BLAS threads). Every op is
/// tested against `ReferenceGradients` (Double) in Tests/SiftTrainingTests. A given thread count always splits the
/// same way, so results are deterministic for it.
/// Backward ops *accumulate* parameter gradients (`+=`), so a batch's contributions and shared weights add up;
/// input gradients are overwritten unless the name says `accumulate`.
public enum TrainingOps {
    // MARK: Work splitting

    /// `body(chunk, range)` over `0..<count` cut into `chunks(count, threads)` contiguous ranges, run on `threads`
    /// workers; bodies write disjoint memory.
    static func parallel(_ count: Int, threads: Int, minimumPerChunk: Int = 1, _ body: (Int, Range<Int>) -> Void) {
        let chunks = chunkCount(count, threads: threads, minimumPerChunk: minimumPerChunk)
        if chunks <= 1 { body(0, 0..<count); return }
        withoutActuallyEscaping(body) { escapable in
            nonisolated(unsafe) let run = escapable
            DispatchQueue.concurrentPerform(iterations: chunks) { c in run(c, (count * c / chunks)..<(count * (c + 1) / chunks)) }
        }
    }

    static func chunkCount(_ count: Int, threads: Int, minimumPerChunk: Int = 1) -> Int {
        max(1, min(threads, count / max(minimumPerChunk, 1)))
    }

    // MARK: Matrix product helper (shape-checked by Gemm before calling C)

    /// C[m×n] = alpha·op(A)·op(B) + beta·C on raw pointers with leading dimensions.
    static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                     a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
                     c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        let (aRows, aCols) = transA ? (k, m) : (m, k)
        let (bRows, bCols) = transB ? (n, k) : (k, n)
        Gemm.multiply(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                      a: UnsafeBufferPointer(start: a, count: max(0, (aRows - 1) * lda + aCols)), lda: lda,
                      b: UnsafeBufferPointer(start: b, count: max(0, (bRows - 1) * ldb + bCols)), ldb: ldb,
                      beta: beta, c: UnsafeMutableBufferPointer(start: c, count: (m - 1) * ldc + n), ldc: ldc)
    }

    // MARK: Linear: y[n×m] = x[n×k]·w[m×k]ᵀ + b[m]

    static func linear(_ x: UnsafePointer<Float>, rows n: Int, inFeatures k: Int, weight w: UnsafePointer<Float>,
                       bias b: UnsafePointer<Float>, outFeatures m: Int, into y: UnsafeMutablePointer<Float>, threads: Int = 1) {
        parallel(n, threads: threads, minimumPerChunk: 16) { _, rows in
            for i in rows { (y + i * m).update(from: b, count: m) }
            gemm(transB: true, m: rows.count, n: m, k: k, a: x + rows.lowerBound * k, lda: k, b: w, ldb: k, beta: 1,
                 c: y + rows.lowerBound * m, ldc: m)
        }
    }

    /// dx[n×k] = dy·w (skipped when `dx` is nil; added to `dx` when `accumulate`), dw[m×k] += dyᵀ·x, db[m] += Σ rows dy.
    static func linearBackward(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, rows n: Int, inFeatures k: Int,
                               weight w: UnsafePointer<Float>, outFeatures m: Int, dx: UnsafeMutablePointer<Float>?,
                               accumulate: Bool = false, dw: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>,
                               threads: Int = 1) {
        if let dx {
            parallel(n, threads: threads, minimumPerChunk: 16) { _, rows in
                gemm(m: rows.count, n: k, k: m, a: dy + rows.lowerBound * m, lda: m, b: w, ldb: k, beta: accumulate ? 1 : 0,
                     c: dx + rows.lowerBound * k, ldc: k)
            }
        }
        // Output features split: each worker owns rows of dW and entries of db.
        parallel(m, threads: threads) { _, features in
            gemm(transA: true, m: features.count, n: k, k: n, a: dy + features.lowerBound, lda: m, b: x, ldb: k, beta: 1,
                 c: dw + features.lowerBound * k, ldc: k)
            for i in 0..<n { for j in features { db[j] += dy[i * m + j] } }
        }
    }

    // MARK: Layer norm over rows of width h: y = (x − μ)·rstd·γ + β

    static func layerNorm(_ x: UnsafePointer<Float>, rows: Int, width h: Int, gamma: UnsafePointer<Float>,
                          beta: UnsafePointer<Float>, eps: Float, into y: UnsafeMutablePointer<Float>,
                          mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>, threads: Int = 1) {
        parallel(rows, threads: threads, minimumPerChunk: 16) { _, range in
            for r in range {
                let row = x + r * h, out = y + r * h
                var sum: Float = 0
                for c in 0..<h { sum += row[c] }
                let mu = sum / Float(h)
                var squares: Float = 0
                for c in 0..<h { let d = row[c] - mu; squares += d * d }
                let s = 1 / (squares / Float(h) + eps).squareRoot()
                mean[r] = mu
                rstd[r] = s
                for c in 0..<h { out[c] = (row[c] - mu) * s * gamma[c] + beta[c] }
            }
        }
    }

    /// dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ (overwrites dx); dγ += Σ dy·x̂, dβ += Σ dy (summed per
    /// chunk of rows, then over chunks in order).
    static func layerNormBackward(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, rows: Int, width h: Int,
                                  mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                                  dx: UnsafeMutablePointer<Float>, dgamma: UnsafeMutablePointer<Float>,
                                  dbeta: UnsafeMutablePointer<Float>, threads: Int = 1) {
        let chunks = chunkCount(rows, threads: threads, minimumPerChunk: 16)
        let partial = UnsafeMutableBufferPointer<Float>.allocate(capacity: chunks * 2 * h)
        partial.initialize(repeating: 0)
        defer { partial.deallocate() }
        let sums = partial.baseAddress!
        parallel(rows, threads: threads, minimumPerChunk: 16) { chunk, range in
            let pg = sums + chunk * 2 * h, pb = pg + h
            for r in range {
                let row = x + r * h, g = dy + r * h, out = dx + r * h
                let mu = mean[r], s = rstd[r]
                var meanG: Float = 0, meanGX: Float = 0
                for c in 0..<h {
                    let xhat = (row[c] - mu) * s
                    let gc = g[c] * gamma[c]
                    meanG += gc
                    meanGX += gc * xhat
                    pg[c] += g[c] * xhat
                    pb[c] += g[c]
                }
                meanG /= Float(h)
                meanGX /= Float(h)
                for c in 0..<h {
                    let xhat = (row[c] - mu) * s
                    out[c] = s * (g[c] * gamma[c] - meanG - xhat * meanGX)
                }
            }
        }
        for chunk in 0..<chunks {
            for c in 0..<h { dgamma[c] += sums[chunk * 2 * h + c]; dbeta[c] += sums[chunk * 2 * h + h + c] }
        }
    }

    // MARK: GELU, exact erf form (BERT's "gelu"), on SiftKernels' vectorised erf

    static func gelu(_ x: UnsafePointer<Float>, count: Int, into y: UnsafeMutablePointer<Float>, threads: Int = 1) {
        parallel(count, threads: threads, minimumPerChunk: 4096) { _, range in
            (y + range.lowerBound).update(from: x + range.lowerBound, count: range.count)
            Kernels.gelu(UnsafeMutableBufferPointer(start: y + range.lowerBound, count: range.count), count: range.count)
        }
    }

    /// dx = dy·(Φ(x) + x·φ(x)), in place on `d` (dy in, dx out).
    static func geluBackward(_ d: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int, threads: Int = 1) {
        parallel(count, threads: threads, minimumPerChunk: 4096) { _, range in
            Kernels.geluBackward(UnsafeMutableBufferPointer(start: d + range.lowerBound, count: range.count),
                                 input: UnsafeBufferPointer(start: x + range.lowerBound, count: range.count), count: range.count)
        }
    }

    // MARK: Dropout (inverted): y = x·mask, mask ∈ {0, 1/(1−p)}

    /// Fills `mask[count]` from `rng`: each element kept with probability 1 − p.
    static func dropoutMask(_ mask: UnsafeMutablePointer<Float>, count: Int, probability p: Float, rng: inout DropoutRandom) {
        let keep = 1 / (1 - p)
        let threshold = UInt32(Double(p) * 4294967296.0)
        for i in 0..<count { mask[i] = rng.next32() < threshold ? 0 : keep }
    }

    static func multiply(_ x: UnsafeMutablePointer<Float>, by mask: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { x[i] *= mask[i] }
    }

    // MARK: Self-attention of packed sequences: qkv[t×3h] → context[t×h]

    /// Floats of saved probabilities for `offsets`: Σ over sequences of heads·len².
    static func probabilityCount(offsets: [Int], heads: Int) -> Int {
        (0..<(offsets.count - 1)).reduce(0) { $0 + heads * (offsets[$1 + 1] - offsets[$1]) * (offsets[$1 + 1] - offsets[$1]) }
    }

    /// The (sequence, head) items with the start of each one's probabilities.
    static func attentionItems(offsets: [Int], heads: Int) -> [(sequence: Int, head: Int, at: Int)] {
        var items: [(Int, Int, Int)] = [], at = 0
        for s in 0..<(offsets.count - 1) {
            let len = offsets[s + 1] - offsets[s]
            for head in 0..<heads { items.append((s, head, at)); at += len * len }
        }
        return items
    }

    /// Fills `keep[count]` bytes from `rng`: 1 (kept, with probability 1 − p) or 0; the attention-dropout mask, a
    /// quarter of a float mask's memory (the probabilities it masks are the largest activations).
    static func dropoutKeep(_ keep: UnsafeMutableRawPointer, count: Int, probability p: Float, rng: inout DropoutRandom) {
        let threshold = UInt32(Double(p) * 4294967296.0)
        for i in 0..<count { keep.storeBytes(of: rng.next32() < threshold ? 0 : 1, toByteOffset: i, as: UInt8.self) }
    }

    /// P̃ = P ⊙ keep/(1 − p) for one item's `count` probabilities.
    private static func dropProbabilities(_ p: UnsafePointer<Float>, keep: UnsafeRawPointer, count: Int, scale: Float,
                                          into out: UnsafeMutablePointer<Float>) {
        for i in 0..<count { out[i] = p[i] * Float(keep.load(fromByteOffset: i, as: UInt8.self)) * scale }
    }

    /// Per sequence and head, P = softmax(Q·Kᵀ/√d) (saved in `probabilities`, sequence by sequence, head by head,
    /// len×len each), then context = P̃·V with P̃ = P ⊙ keep/(1 − dropout) when `keep` (bytes, the same layout as
    /// the probabilities) is given, else P.
    static func attention(_ qkv: UnsafePointer<Float>, offsets: [Int], hidden h: Int, heads: Int,
                          probabilities: UnsafeMutablePointer<Float>, keep: UnsafeRawPointer?, dropout: Float = 0,
                          context: UnsafeMutablePointer<Float>, threads: Int = 1) {
        let d = h / heads, scale = 1 / Float(d).squareRoot(), keepScale = 1 / (1 - dropout)
        let items = attentionItems(offsets: offsets, heads: heads)
        let longest = zip(offsets.dropFirst(), offsets).map { $0 - $1 }.max() ?? 0
        parallel(items.count, threads: threads) { _, range in
            let dropped = UnsafeMutablePointer<Float>.allocate(capacity: keep == nil ? 1 : max(1, longest * longest))
            defer { dropped.deallocate() }
            for (s, head, at) in items[range] {
                let start = offsets[s], len = offsets[s + 1] - start
                let q = qkv + start * 3 * h + head * d, p = probabilities + at
                gemm(transB: true, m: len, n: len, k: d, alpha: scale, a: q, lda: 3 * h, b: q + h, ldb: 3 * h, c: p, ldc: len)
                Kernels.softmax(UnsafeMutableBufferPointer(start: p, count: len * len), rows: len, width: len)
                var used = UnsafePointer(p)
                if let keep {
                    dropProbabilities(p, keep: keep + at, count: len * len, scale: keepScale, into: dropped)
                    used = UnsafePointer(dropped)
                }
                gemm(m: len, n: d, k: len, a: used, lda: len, b: q + 2 * h, ldb: 3 * h, c: context + start * h + head * d, ldc: h)
            }
        }
    }

    /// dqkv[t×3h] (overwritten) from dcontext: dV = P̃ᵀ·dC, dP̃ = dC·Vᵀ, dP = dP̃ ⊙ keep/(1 − p),
    /// dS = P⊙(dP − Σ dP⊙P)/√d, dQ = dS·K, dK = dSᵀ·Q. P̃ is recomputed from P and `keep`, not stored.
    static func attentionBackward(_ dcontext: UnsafePointer<Float>, _ qkv: UnsafePointer<Float>, offsets: [Int],
                                  hidden h: Int, heads: Int, probabilities: UnsafePointer<Float>,
                                  keep: UnsafeRawPointer?, dropout: Float = 0,
                                  dqkv: UnsafeMutablePointer<Float>, threads: Int = 1) {
        let d = h / heads, scale = 1 / Float(d).squareRoot(), keepScale = 1 / (1 - dropout)
        let items = attentionItems(offsets: offsets, heads: heads)
        let longest = zip(offsets.dropFirst(), offsets).map { $0 - $1 }.max() ?? 0
        parallel(items.count, threads: threads) { _, range in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(1, 2 * longest * longest))
            defer { scratch.deallocate() }
            let dropped = scratch + longest * longest
            for (s, head, at) in items[range] {
                let start = offsets[s], len = offsets[s + 1] - start
                let q = qkv + start * 3 * h + head * d, dq = dqkv + start * 3 * h + head * d
                let dc = dcontext + start * h + head * d
                let p = probabilities + at
                var used = p
                if let keep {
                    dropProbabilities(p, keep: keep + at, count: len * len, scale: keepScale, into: dropped)
                    used = UnsafePointer(dropped)
                }
                // dV = P̃ᵀ·dC
                gemm(transA: true, m: len, n: d, k: len, a: used, lda: len, b: dc, ldb: h, c: dq + 2 * h, ldc: 3 * h)
                // dP̃ = dC·Vᵀ
                gemm(transB: true, m: len, n: len, k: d, a: dc, lda: h, b: q + 2 * h, ldb: 3 * h, c: scratch, ldc: len)
                for i in 0..<len {
                    let g = scratch + i * len, pr = p + i * len
                    if let keep {
                        let row = keep + at + i * len
                        for j in 0..<len { g[j] *= Float(row.load(fromByteOffset: j, as: UInt8.self)) * keepScale }
                    }
                    var dot: Float = 0
                    for j in 0..<len { dot += g[j] * pr[j] }
                    for j in 0..<len { g[j] = pr[j] * (g[j] - dot) * scale }
                }
                gemm(m: len, n: d, k: len, a: scratch, lda: len, b: q + h, ldb: 3 * h, c: dq, ldc: 3 * h)
                gemm(transA: true, m: len, n: d, k: len, a: scratch, lda: len, b: q, ldb: 3 * h, c: dq + h, ldc: 3 * h)
            }
        }
    }

    // MARK: Mean pooling over each sequence's tokens, then L2 normalisation

    /// pooled[n×h] (saved for the backward) and embeddings[n×h].
    static func meanPoolNormalize(_ x: UnsafePointer<Float>, offsets: [Int], hidden h: Int,
                                  pooled: UnsafeMutablePointer<Float>, embeddings: UnsafeMutablePointer<Float>) {
        for s in 0..<(offsets.count - 1) {
            let out = pooled + s * h
            out.update(repeating: 0, count: h)
            for t in offsets[s]..<offsets[s + 1] { for c in 0..<h { out[c] += x[t * h + c] } }
            let len = Float(max(offsets[s + 1] - offsets[s], 1))
            var squares: Float = 0
            for c in 0..<h { out[c] /= len; squares += out[c] * out[c] }
            let norm = max(squares.squareRoot(), 1e-12)
            for c in 0..<h { embeddings[s * h + c] = out[c] / norm }
        }
    }

    /// dx[t×h] (overwritten) from d embeddings: de = (g − ê·(ê·g))/‖m‖, shared 1/len over the sequence's tokens.
    static func meanPoolNormalizeBackward(_ dembeddings: UnsafePointer<Float>, pooled: UnsafePointer<Float>, offsets: [Int],
                                          hidden h: Int, dx: UnsafeMutablePointer<Float>) {
        for s in 0..<(offsets.count - 1) {
            let m = pooled + s * h, g = dembeddings + s * h
            var squares: Float = 0
            for c in 0..<h { squares += m[c] * m[c] }
            let norm = max(squares.squareRoot(), 1e-12)
            var dot: Float = 0
            for c in 0..<h { dot += g[c] * m[c] / norm }
            let len = Float(max(offsets[s + 1] - offsets[s], 1))
            for t in offsets[s]..<offsets[s + 1] {
                for c in 0..<h { dx[t * h + c] = (g[c] - m[c] / norm * dot) / norm / len }
            }
        }
    }

    // MARK: Losses (small: computed in Double on the fp32 embeddings or logits)

    /// MultipleNegativesRankingLoss (cosine · scale, cross-entropy with target i): anchors [n×d], candidates [m×d]
    /// (the n positives first, then hard negatives). Returns the loss; writes d anchors and d candidates.
    static func multipleNegativesRankingLoss(anchors: UnsafePointer<Float>, candidates: UnsafePointer<Float>, n: Int, m: Int,
                                             dimension d: Int, scale: Double,
                                             danchors: UnsafeMutablePointer<Float>, dcandidates: UnsafeMutablePointer<Float>) -> Double {
        let a = (0..<(n * d)).map { Double(anchors[$0]) }, c = (0..<(m * d)).map { Double(candidates[$0]) }
        let result = ReferenceGradients.multipleNegativesRankingLoss(anchors: a, candidates: c, n: n, m: m, dimension: d, scale: scale)
        for i in 0..<(n * d) { danchors[i] = Float(result.danchors[i]) }
        for i in 0..<(m * d) { dcandidates[i] = Float(result.dcandidates[i]) }
        return result.loss
    }
}

/// The dropout masks' generator: SiftCore's SplitMix64, each 64-bit draw split into two 32-bit ones. Its state is
/// what a checkpoint saves.
public struct DropoutRandom: Sendable {
    var generator: SplitMix64
    var spare: UInt32?

    public init(seed: UInt64) { generator = SplitMix64(state: seed) }

    var state: UInt64 {
        get { generator.state }
        set { generator.state = newValue }
    }

    mutating func next32() -> UInt32 {
        if let spare { self.spare = nil; return spare }
        let v = generator.next()
        spare = UInt32(truncatingIfNeeded: v >> 32)
        return UInt32(truncatingIfNeeded: v)
    }
}
