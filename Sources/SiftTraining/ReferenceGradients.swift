import Foundation

/// Plain reference forward and backward passes for every operation a BERT bi-encoder or cross-encoder forward uses,
/// in Double, side by side in the style of llm.c's `train_gpt2.c`: each backward takes the forward's inputs (or what
/// the forward saved) and the gradient of the loss with respect to the forward's output, and returns the gradients
/// with respect to the inputs and parameters. Matrices are row-major flat arrays; shapes are in the comments and
/// checked with preconditions (a wrong shape is a programmer error).
///
/// These are the ground truth the fp32 training kernels are tested against, and each is itself checked against
/// central finite differences (Tests/SiftTrainingTests).
public enum ReferenceGradients {
    // MARK: Linear: y[n×m] = x[n×k] · w[m×k]ᵀ + b[m]

    public static func linear(_ x: [Double], _ w: [Double], _ b: [Double], n: Int, k: Int, m: Int) -> [Double] {
        precondition(x.count == n * k && w.count == m * k && b.count == m, "linear: shapes")
        var y = [Double](repeating: 0, count: n * m)
        for i in 0..<n {
            for j in 0..<m {
                var sum = b[j]
                for p in 0..<k { sum += x[i * k + p] * w[j * k + p] }
                y[i * m + j] = sum
            }
        }
        return y
    }

    /// dX = dY · W, dW = dYᵀ · X, db = Σ rows of dY.
    public static func linearBackward(_ dy: [Double], _ x: [Double], _ w: [Double], n: Int, k: Int, m: Int)
        -> (dx: [Double], dw: [Double], db: [Double]) {
        precondition(dy.count == n * m && x.count == n * k && w.count == m * k, "linearBackward: shapes")
        var dx = [Double](repeating: 0, count: n * k)
        var dw = [Double](repeating: 0, count: m * k)
        var db = [Double](repeating: 0, count: m)
        for i in 0..<n {
            for j in 0..<m {
                let g = dy[i * m + j]
                db[j] += g
                for p in 0..<k {
                    dx[i * k + p] += g * w[j * k + p]
                    dw[j * k + p] += g * x[i * k + p]
                }
            }
        }
        return (dx, dw, db)
    }

    // MARK: Layer norm over the last dimension: y = (x − μ) / √(σ² + ε) · γ + β

    public static func layerNorm(_ x: [Double], gamma: [Double], beta: [Double], rows: Int, eps: Double = 1e-12)
        -> (y: [Double], mean: [Double], rstd: [Double]) {
        let h = gamma.count
        precondition(x.count == rows * h && beta.count == h, "layerNorm: shapes")
        var y = [Double](repeating: 0, count: rows * h)
        var mean = [Double](repeating: 0, count: rows), rstd = [Double](repeating: 0, count: rows)
        for r in 0..<rows {
            let row = x[(r * h)..<((r + 1) * h)]
            let mu = row.reduce(0, +) / Double(h)
            let variance = row.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(h)
            let s = 1 / (variance + eps).squareRoot()
            mean[r] = mu
            rstd[r] = s
            for c in 0..<h { y[r * h + c] = (x[r * h + c] - mu) * s * gamma[c] + beta[c] }
        }
        return (y, mean, rstd)
    }

    /// With x̂ = (x − μ)·rstd and g = dy·γ: dx = rstd · (g − mean(g) − x̂ · mean(g·x̂)), dγ = Σ dy·x̂, dβ = Σ dy.
    public static func layerNormBackward(_ dy: [Double], _ x: [Double], mean: [Double], rstd: [Double], gamma: [Double], rows: Int)
        -> (dx: [Double], dgamma: [Double], dbeta: [Double]) {
        let h = gamma.count
        precondition(dy.count == rows * h && x.count == rows * h && mean.count == rows && rstd.count == rows, "layerNormBackward: shapes")
        var dx = [Double](repeating: 0, count: rows * h)
        var dgamma = [Double](repeating: 0, count: h), dbeta = [Double](repeating: 0, count: h)
        for r in 0..<rows {
            var meanG = 0.0, meanGX = 0.0
            for c in 0..<h {
                let xhat = (x[r * h + c] - mean[r]) * rstd[r]
                let g = dy[r * h + c] * gamma[c]
                meanG += g
                meanGX += g * xhat
                dgamma[c] += dy[r * h + c] * xhat
                dbeta[c] += dy[r * h + c]
            }
            meanG /= Double(h)
            meanGX /= Double(h)
            for c in 0..<h {
                let xhat = (x[r * h + c] - mean[r]) * rstd[r]
                dx[r * h + c] = rstd[r] * (dy[r * h + c] * gamma[c] - meanG - xhat * meanGX)
            }
        }
        return (dx, dgamma, dbeta)
    }

    // MARK: GELU (erf form, as BERT uses): y = x · Φ(x)

    public static func gelu(_ x: [Double]) -> [Double] {
        x.map { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }
    }

    /// dy/dx = Φ(x) + x · φ(x).
    public static func geluBackward(_ dy: [Double], _ x: [Double]) -> [Double] {
        precondition(dy.count == x.count, "geluBackward: shapes")
        return zip(dy, x).map { g, v in
            let cdf = 0.5 * (1 + erf(v / 2.0.squareRoot()))
            let pdf = exp(-0.5 * v * v) / (2 * Double.pi).squareRoot()
            return g * (cdf + v * pdf)
        }
    }

    // MARK: Softmax over the last dimension

    public static func softmax(_ x: [Double], rows: Int) -> [Double] {
        let n = x.count / max(rows, 1)
        precondition(x.count == rows * n, "softmax: shapes")
        var p = [Double](repeating: 0, count: x.count)
        for r in 0..<rows {
            let row = x[(r * n)..<((r + 1) * n)]
            let top = row.max() ?? 0
            let total = row.reduce(0) { $0 + exp($1 - top) }
            for c in 0..<n { p[r * n + c] = exp(x[r * n + c] - top) / total }
        }
        return p
    }

    /// dx = p ⊙ (dp − Σ dp·p), per row.
    public static func softmaxBackward(_ dp: [Double], _ p: [Double], rows: Int) -> [Double] {
        let n = p.count / max(rows, 1)
        precondition(dp.count == p.count && p.count == rows * n, "softmaxBackward: shapes")
        var dx = [Double](repeating: 0, count: p.count)
        for r in 0..<rows {
            var dot = 0.0
            for c in 0..<n { dot += dp[r * n + c] * p[r * n + c] }
            for c in 0..<n { dx[r * n + c] = p[r * n + c] * (dp[r * n + c] - dot) }
        }
        return dx
    }

    // MARK: Self-attention of packed sequences (no padding): qkv[t×3h] → context[t×h]

    /// `qkv` holds each token's query, key and value side by side (the fused QKV layer's output); `offsets` are the
    /// sequences' token starts plus the end (`[0, 5, 12]`: two sequences of 5 and 7 tokens). Each head attends
    /// within its own sequence only, scaled by 1/√headSize. Returns the context and the attention probabilities
    /// (saved for the backward, [per sequence, per head: len × len]).
    public static func attention(_ qkv: [Double], offsets: [Int], hidden h: Int, heads: Int)
        -> (context: [Double], probabilities: [[Double]]) {
        let t = offsets.last ?? 0, d = h / heads
        precondition(h % heads == 0 && qkv.count == t * 3 * h && offsets.first == 0, "attention: shapes")
        let scale = 1 / Double(d).squareRoot()
        var context = [Double](repeating: 0, count: t * h)
        var saved: [[Double]] = []
        for s in 0..<(offsets.count - 1) {
            let start = offsets[s], len = offsets[s + 1] - offsets[s]
            for head in 0..<heads {
                var scores = [Double](repeating: 0, count: len * len)
                for i in 0..<len {
                    for j in 0..<len {
                        var dot = 0.0
                        for c in 0..<d { dot += qkv[(start + i) * 3 * h + head * d + c] * qkv[(start + j) * 3 * h + h + head * d + c] }
                        scores[i * len + j] = dot * scale
                    }
                }
                let p = softmax(scores, rows: len)
                for i in 0..<len {
                    for c in 0..<d {
                        var sum = 0.0
                        for j in 0..<len { sum += p[i * len + j] * qkv[(start + j) * 3 * h + 2 * h + head * d + c] }
                        context[(start + i) * h + head * d + c] = sum
                    }
                }
                saved.append(p)
            }
        }
        return (context, saved)
    }

    /// dqkv from dcontext: dV = Pᵀ·dC, dP = dC·Vᵀ, dS = softmax′(dP), dQ = dS·K·scale, dK = dSᵀ·Q·scale.
    public static func attentionBackward(_ dcontext: [Double], _ qkv: [Double], probabilities: [[Double]], offsets: [Int],
                                         hidden h: Int, heads: Int) -> [Double] {
        let t = offsets.last ?? 0, d = h / heads
        precondition(dcontext.count == t * h && qkv.count == t * 3 * h && probabilities.count == (offsets.count - 1) * heads,
                     "attentionBackward: shapes")
        let scale = 1 / Double(d).squareRoot()
        var dqkv = [Double](repeating: 0, count: qkv.count)
        for s in 0..<(offsets.count - 1) {
            let start = offsets[s], len = offsets[s + 1] - offsets[s]
            for head in 0..<heads {
                let p = probabilities[s * heads + head]
                var dp = [Double](repeating: 0, count: len * len)
                for i in 0..<len {
                    for j in 0..<len {
                        var dot = 0.0
                        for c in 0..<d {
                            let dc = dcontext[(start + i) * h + head * d + c]
                            dot += dc * qkv[(start + j) * 3 * h + 2 * h + head * d + c]
                            dqkv[(start + j) * 3 * h + 2 * h + head * d + c] += p[i * len + j] * dc
                        }
                        dp[i * len + j] = dot
                    }
                }
                let ds = softmaxBackward(dp, p, rows: len)
                for i in 0..<len {
                    for j in 0..<len {
                        let g = ds[i * len + j] * scale
                        for c in 0..<d {
                            dqkv[(start + i) * 3 * h + head * d + c] += g * qkv[(start + j) * 3 * h + h + head * d + c]
                            dqkv[(start + j) * 3 * h + h + head * d + c] += g * qkv[(start + i) * 3 * h + head * d + c]
                        }
                    }
                }
            }
        }
        return dqkv
    }

    // MARK: Mean pooling of packed sequences, then L2 normalisation (sentence-transformers' bi-encoder head)

    public static func meanPoolNormalize(_ x: [Double], offsets: [Int], hidden h: Int) -> (pooled: [Double], embeddings: [Double]) {
        let n = offsets.count - 1
        precondition(x.count == (offsets.last ?? 0) * h, "meanPoolNormalize: shapes")
        var pooled = [Double](repeating: 0, count: n * h)
        var out = pooled
        for s in 0..<n {
            let len = Double(offsets[s + 1] - offsets[s])
            for t in offsets[s]..<offsets[s + 1] { for c in 0..<h { pooled[s * h + c] += x[t * h + c] / len } }
            let norm = max((0..<h).reduce(0) { $0 + pooled[s * h + $1] * pooled[s * h + $1] }.squareRoot(), 1e-12)
            for c in 0..<h { out[s * h + c] = pooled[s * h + c] / norm }
        }
        return (pooled, out)
    }

    /// Through the normalisation (de = (g − e·(e·g)) / ‖m‖), then each token gets its sequence's share 1/len.
    public static func meanPoolNormalizeBackward(_ dembeddings: [Double], pooled: [Double], offsets: [Int], hidden h: Int) -> [Double] {
        let n = offsets.count - 1
        precondition(dembeddings.count == n * h && pooled.count == n * h, "meanPoolNormalizeBackward: shapes")
        var dx = [Double](repeating: 0, count: (offsets.last ?? 0) * h)
        for s in 0..<n {
            let norm = max((0..<h).reduce(0) { $0 + pooled[s * h + $1] * pooled[s * h + $1] }.squareRoot(), 1e-12)
            var dot = 0.0
            for c in 0..<h { dot += dembeddings[s * h + c] * pooled[s * h + c] / norm }
            let len = Double(offsets[s + 1] - offsets[s])
            for c in 0..<h {
                let dm = (dembeddings[s * h + c] - pooled[s * h + c] / norm * dot) / norm
                for t in offsets[s]..<offsets[s + 1] { dx[t * h + c] = dm / len }
            }
        }
        return dx
    }

    // MARK: Embedding lookup: out[t] = table[ids[t]]; its gradient is sparse

    /// The rows of the table that received gradient, each summed over its tokens (a token id used twice gets both).
    public static func embeddingBackward(_ dout: [Double], ids: [Int], hidden h: Int) -> [Int: [Double]] {
        precondition(dout.count == ids.count * h, "embeddingBackward: shapes")
        var rows: [Int: [Double]] = [:]
        for (t, id) in ids.enumerated() {
            var row = rows[id] ?? [Double](repeating: 0, count: h)
            for c in 0..<h { row[c] += dout[t * h + c] }
            rows[id] = row
        }
        return rows
    }

    // MARK: Losses

    /// sentence-transformers' MultipleNegativesRankingLoss with cosine similarity: for anchors a[n×d] and candidates
    /// c[m×d] (the n positives first, then any hard negatives), loss = mean over i of cross-entropy of
    /// scale·cos(a_i, c_j) over j with target j = i. Returns the loss and its gradients.
    public static func multipleNegativesRankingLoss(anchors a: [Double], candidates c: [Double], n: Int, m: Int, dimension d: Int,
                                                    scale: Double = 20) -> (loss: Double, danchors: [Double], dcandidates: [Double]) {
        precondition(a.count == n * d && c.count == m * d && m >= n, "multipleNegativesRankingLoss: shapes")
        func norms(_ x: [Double], _ rows: Int) -> [Double] {
            (0..<rows).map { r in max((0..<d).reduce(0) { $0 + x[r * d + $1] * x[r * d + $1] }.squareRoot(), 1e-12) }
        }
        let na = norms(a, n), nc = norms(c, m)
        var cos = [Double](repeating: 0, count: n * m)
        for i in 0..<n { for j in 0..<m {
            var dot = 0.0
            for k in 0..<d { dot += a[i * d + k] * c[j * d + k] }
            cos[i * m + j] = dot / (na[i] * nc[j])
        } }
        let p = softmax(cos.map { $0 * scale }, rows: n)
        var loss = 0.0
        for i in 0..<n { loss -= log(p[i * m + i]) }
        loss /= Double(n)
        // d loss / d cos[i][j] = scale · (p − onehot) / n, then through cos = a·c / (‖a‖‖c‖).
        var danchors = [Double](repeating: 0, count: a.count), dcandidates = [Double](repeating: 0, count: c.count)
        for i in 0..<n { for j in 0..<m {
            let g = scale * (p[i * m + j] - (i == j ? 1 : 0)) / Double(n)
            for k in 0..<d {
                let ahat = a[i * d + k] / na[i], chat = c[j * d + k] / nc[j]
                danchors[i * d + k] += g * (chat - cos[i * m + j] * ahat) / na[i]
                dcandidates[j * d + k] += g * (ahat - cos[i * m + j] * chat) / nc[j]
            }
        } }
        return (loss, danchors, dcandidates)
    }

    /// Binary cross-entropy with logits, averaged: the cross-encoder's loss on (query, passage, label) pairs.
    public static func binaryCrossEntropy(logits: [Double], labels: [Double]) -> (loss: Double, dlogits: [Double]) {
        precondition(logits.count == labels.count && !logits.isEmpty, "binaryCrossEntropy: shapes")
        let n = Double(logits.count)
        var loss = 0.0
        var grad = [Double](repeating: 0, count: logits.count)
        for (i, (z, y)) in zip(logits, labels).enumerated() {
            // log(1 + e^z) − y·z, computed without overflow.
            loss += max(z, 0) - z * y + log(1 + exp(-abs(z)))
            grad[i] = (1 / (1 + exp(-z)) - y) / n
        }
        return (loss / n, grad)
    }
}
