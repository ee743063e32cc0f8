import Foundation
import SiftKernels

/// An owned, zero-initialised float buffer (activations, parameters, gradients, optimizer moments). Its memory lives
/// as long as the object; views into it are made inside the ops and never kept.
public final class FloatBuffer: @unchecked Sendable {
    let storage: UnsafeMutableBufferPointer<Float>
    public var count: Int { storage.count }

    public init(count: Int) {
        let allocated = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(count, 1))
        allocated.initialize(repeating: 0)
        storage = UnsafeMutableBufferPointer(rebasing: allocated[0..<count])
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        _ = storage.update(fromContentsOf: values)
    }

    deinit { storage.baseAddress.map { $0.deallocate() } }

    public subscript(i: Int) -> Float {
        get { storage[i] }
        set { storage[i] = newValue }
    }

    public var array: [Float] { Array(storage) }
    func zero() { storage.update(repeating: 0) }
    /// Elements `range` as a read view (valid while this buffer lives; used within one op).
    func view(_ start: Int, _ count: Int) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(rebasing: storage[start..<(start + count)])
    }
    func mutableView(_ start: Int, _ count: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: storage[start..<(start + count)])
    }
    /// The first element. Valid only while this buffer is referenced: keep the buffer in a named constant or a stored
    /// property for the whole call (a temporary may be released as soon as this is read).
    var pointer: UnsafeMutablePointer<Float> { storage.baseAddress! }
}

/// The fp32 training kernels: each forward beside its backward, shapes in the comments (row-major), the matrix
/// products on `Gemm` (OpenBLAS). Every op is tested against `ReferenceGradients` (Double) in Tests/SiftTrainingTests.
/// Backward ops *accumulate* parameter gradients (`+=`), so a batch's contributions and shared weights add up;
/// input gradients are overwritten unless the name says `accumulate`.
public enum TrainingOps {
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
                       bias b: UnsafePointer<Float>, outFeatures m: Int, into y: UnsafeMutablePointer<Float>) {
        for i in 0..<n { (y + i * m).update(from: b, count: m) }
        gemm(transB: true, m: n, n: m, k: k, a: x, lda: k, b: w, ldb: k, beta: 1, c: y, ldc: m)
    }

    /// dx[n×k] = dy·w (skipped when `dx` is nil; added to `dx` when `accumulate`), dw[m×k] += dyᵀ·x, db[m] += Σ rows dy.
    static func linearBackward(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, rows n: Int, inFeatures k: Int,
                               weight w: UnsafePointer<Float>, outFeatures m: Int, dx: UnsafeMutablePointer<Float>?,
                               accumulate: Bool = false, dw: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>) {
        if let dx { gemm(m: n, n: k, k: m, a: dy, lda: m, b: w, ldb: k, beta: accumulate ? 1 : 0, c: dx, ldc: k) }
        gemm(transA: true, m: m, n: k, k: n, a: dy, lda: m, b: x, ldb: k, beta: 1, c: dw, ldc: k)
        for i in 0..<n { for j in 0..<m { db[j] += dy[i * m + j] } }
    }

    // MARK: Layer norm over rows of width h: y = (x − μ)·rstd·γ + β

    static func layerNorm(_ x: UnsafePointer<Float>, rows: Int, width h: Int, gamma: UnsafePointer<Float>,
                          beta: UnsafePointer<Float>, eps: Float, into y: UnsafeMutablePointer<Float>,
                          mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
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

    /// dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ (overwrites dx); dγ += Σ dy·x̂, dβ += Σ dy.
    static func layerNormBackward(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, rows: Int, width h: Int,
                                  mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                                  dx: UnsafeMutablePointer<Float>, dgamma: UnsafeMutablePointer<Float>,
                                  dbeta: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let row = x + r * h, g = dy + r * h, out = dx + r * h
            let mu = mean[r], s = rstd[r]
            var meanG: Float = 0, meanGX: Float = 0
            for c in 0..<h {
                let xhat = (row[c] - mu) * s
                let gc = g[c] * gamma[c]
                meanG += gc
                meanGX += gc * xhat
                dgamma[c] += g[c] * xhat
                dbeta[c] += g[c]
            }
            meanG /= Float(h)
            meanGX /= Float(h)
            for c in 0..<h {
                let xhat = (row[c] - mu) * s
                out[c] = s * (g[c] * gamma[c] - meanG - xhat * meanGX)
            }
        }
    }

    // MARK: GELU, exact erf form (BERT's "gelu")

    static func gelu(_ x: UnsafePointer<Float>, count: Int, into y: UnsafeMutablePointer<Float>) {
        for i in 0..<count { y[i] = 0.5 * x[i] * (1 + erff(x[i] * 0.70710678118654752)) }
    }

    /// dx = dy·(Φ(x) + x·φ(x)), in place on `d` (dy in, dx out).
    static func geluBackward(_ d: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
        for i in 0..<count {
            let v = x[i]
            let cdf = 0.5 * (1 + erff(v * 0.70710678118654752))
            let pdf = expf(-0.5 * v * v) * 0.39894228040143268
            d[i] *= cdf + v * pdf
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

    /// Per sequence and head, P = softmax(Q·Kᵀ/√d) (saved in `probabilities`, sequence by sequence, head by head,
    /// len×len each), then context = (P·mask)·V, `mask` (same layout, nil without dropout) being attention dropout.
    static func attention(_ qkv: UnsafePointer<Float>, offsets: [Int], hidden h: Int, heads: Int,
                          probabilities: UnsafeMutablePointer<Float>, mask: UnsafePointer<Float>?,
                          dropped: UnsafeMutablePointer<Float>?, context: UnsafeMutablePointer<Float>) {
        let d = h / heads, scale = 1 / Float(d).squareRoot()
        var at = 0
        for s in 0..<(offsets.count - 1) {
            let start = offsets[s], len = offsets[s + 1] - start
            for head in 0..<heads {
                let q = qkv + start * 3 * h + head * d, p = probabilities + at
                gemm(transB: true, m: len, n: len, k: d, alpha: scale, a: q, lda: 3 * h, b: q + h, ldb: 3 * h, c: p, ldc: len)
                for i in 0..<len { softmaxRow(p + i * len, len) }
                var used = UnsafePointer(p)
                if let mask, let dropped {
                    for i in 0..<(len * len) { dropped[at + i] = p[i] * mask[at + i] }
                    used = UnsafePointer(dropped + at)
                }
                gemm(m: len, n: d, k: len, a: used, lda: len, b: q + 2 * h, ldb: 3 * h,
                     c: context + start * h + head * d, ldc: h)
                at += len * len
            }
        }
    }

    static func softmaxRow(_ row: UnsafeMutablePointer<Float>, _ n: Int) {
        var top = -Float.infinity
        for j in 0..<n { top = max(top, row[j]) }
        var total: Float = 0
        for j in 0..<n { row[j] = expf(row[j] - top); total += row[j] }
        let inverse = 1 / total
        for j in 0..<n { row[j] *= inverse }
    }

    /// dqkv[t×3h] (overwritten) from dcontext: dV = P̃ᵀ·dC, dP̃ = dC·Vᵀ, dP = dP̃·mask, dS = P⊙(dP − Σ dP⊙P)/√d,
    /// dQ = dS·K, dK = dSᵀ·Q. `scratch` holds the largest len×len.
    static func attentionBackward(_ dcontext: UnsafePointer<Float>, _ qkv: UnsafePointer<Float>, offsets: [Int],
                                  hidden h: Int, heads: Int, probabilities: UnsafePointer<Float>,
                                  mask: UnsafePointer<Float>?, dropped: UnsafePointer<Float>?,
                                  dqkv: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let d = h / heads, scale = 1 / Float(d).squareRoot()
        var at = 0
        for s in 0..<(offsets.count - 1) {
            let start = offsets[s], len = offsets[s + 1] - start
            for head in 0..<heads {
                let q = qkv + start * 3 * h + head * d, dq = dqkv + start * 3 * h + head * d
                let dc = dcontext + start * h + head * d
                let p = probabilities + at
                let used = dropped.map { $0 + at } ?? p
                // dV = P̃ᵀ·dC
                gemm(transA: true, m: len, n: d, k: len, a: used, lda: len, b: dc, ldb: h, c: dq + 2 * h, ldc: 3 * h)
                // dP̃ = dC·Vᵀ
                gemm(transB: true, m: len, n: len, k: d, a: dc, lda: h, b: q + 2 * h, ldb: 3 * h, c: scratch, ldc: len)
                for i in 0..<len {
                    let g = scratch + i * len, pr = p + i * len
                    if let mask { for j in 0..<len { g[j] *= mask[at + i * len + j] } }
                    var dot: Float = 0
                    for j in 0..<len { dot += g[j] * pr[j] }
                    for j in 0..<len { g[j] = pr[j] * (g[j] - dot) * scale }
                }
                gemm(m: len, n: d, k: len, a: scratch, lda: len, b: q + h, ldb: 3 * h, c: dq, ldc: 3 * h)
                gemm(transA: true, m: len, n: d, k: len, a: scratch, lda: len, b: q, ldb: 3 * h, c: dq + h, ldc: 3 * h)
                at += len * len
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

/// The dropout masks' generator: SplitMix64 (SiftCore's sequence, restated here so SiftTraining's kernels depend on
/// nothing but SiftKernels), two 32-bit draws per step.
public struct DropoutRandom: Sendable {
    var state: UInt64
    var spare: UInt32?

    public init(seed: UInt64) { state = seed }

    mutating func next64() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next32() -> UInt32 {
        if let spare { self.spare = nil; return spare }
        let v = next64()
        spare = UInt32(truncatingIfNeeded: v >> 32)
        return UInt32(truncatingIfNeeded: v)
    }
}
