import Foundation
import SiftCore
import Testing
@testable import SiftTraining

/// Every reference backward against central finite differences of its forward, in Double: for an upstream gradient
/// w, the loss L = Σ w ⊙ forward(inputs) has ∂L/∂output = w, so the backward's result must equal L's numeric
/// gradient. Tolerance: relative error ≤ 1e-6 of the largest gradient entry (central differences with step 1e-5 are
/// accurate to ~1e-10 here).
struct ReferenceGradientTests {
    typealias R = ReferenceGradients

    static func random(_ count: Int, _ rng: inout SplitMix64, scale: Double = 1) -> [Double] {
        (0..<count).map { _ in (Double(rng.next() % 2_000_001) / 1_000_000 - 1) * scale }
    }

    static func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

    /// ∂f/∂x by central differences.
    static func numeric(_ x: [Double], step: Double = 1e-5, _ f: ([Double]) -> Double) -> [Double] {
        var probe = x
        return x.indices.map { i in
            probe[i] = x[i] + step
            let up = f(probe)
            probe[i] = x[i] - step
            let down = f(probe)
            probe[i] = x[i]
            return (up - down) / (2 * step)
        }
    }

    static func expectClose(_ analytic: [Double], _ numeric: [Double], _ what: String, tolerance: Double = 1e-6) {
        #expect(analytic.count == numeric.count, "\(what): \(analytic.count) vs \(numeric.count) entries")
        let scale = max(numeric.map(abs).max() ?? 0, 1e-8)
        let worst = zip(analytic, numeric).map { abs($0 - $1) }.max() ?? 0
        #expect(worst / scale <= tolerance, "\(what): max |analytic − numeric| = \(worst), gradient scale \(scale)")
    }

    @Test func linear() {
        var rng = SplitMix64(state: 1)
        let (n, k, m) = (3, 5, 4)
        let x = Self.random(n * k, &rng), w = Self.random(m * k, &rng), b = Self.random(m, &rng), up = Self.random(n * m, &rng)
        let grads = R.linearBackward(up, x, w, n: n, k: k, m: m)
        Self.expectClose(grads.dx, Self.numeric(x) { Self.dot(up, R.linear($0, w, b, n: n, k: k, m: m)) }, "dX")
        Self.expectClose(grads.dw, Self.numeric(w) { Self.dot(up, R.linear(x, $0, b, n: n, k: k, m: m)) }, "dW")
        Self.expectClose(grads.db, Self.numeric(b) { Self.dot(up, R.linear(x, w, $0, n: n, k: k, m: m)) }, "db")
    }

    @Test func layerNorm() {
        var rng = SplitMix64(state: 2)
        let (rows, h) = (3, 8)
        let x = Self.random(rows * h, &rng, scale: 2), gamma = Self.random(h, &rng), beta = Self.random(h, &rng)
        let up = Self.random(rows * h, &rng)
        let forward = R.layerNorm(x, gamma: gamma, beta: beta, rows: rows)
        let grads = R.layerNormBackward(up, x, mean: forward.mean, rstd: forward.rstd, gamma: gamma, rows: rows)
        Self.expectClose(grads.dx, Self.numeric(x) { Self.dot(up, R.layerNorm($0, gamma: gamma, beta: beta, rows: rows).y) }, "dX")
        Self.expectClose(grads.dgamma, Self.numeric(gamma) { Self.dot(up, R.layerNorm(x, gamma: $0, beta: beta, rows: rows).y) }, "dγ")
        Self.expectClose(grads.dbeta, Self.numeric(beta) { Self.dot(up, R.layerNorm(x, gamma: gamma, beta: $0, rows: rows).y) }, "dβ")
    }

    @Test func gelu() {
        var rng = SplitMix64(state: 3)
        let x = Self.random(40, &rng, scale: 4), up = Self.random(40, &rng)
        Self.expectClose(R.geluBackward(up, x), Self.numeric(x) { Self.dot(up, R.gelu($0)) }, "GELU")
        // The forward is BERT's erf GELU: known values.
        let y = R.gelu([0, 1, -1])
        #expect(y[0] == 0 && abs(y[1] - 0.8413447460685429) < 1e-12 && abs(y[2] + 0.15865525393145707) < 1e-12)
    }

    @Test func softmax() {
        var rng = SplitMix64(state: 4)
        let (rows, n) = (3, 6)
        let x = Self.random(rows * n, &rng, scale: 3), up = Self.random(rows * n, &rng)
        let p = R.softmax(x, rows: rows)
        Self.expectClose(R.softmaxBackward(up, p, rows: rows), Self.numeric(x) { Self.dot(up, R.softmax($0, rows: rows)) }, "softmax")
    }

    /// Two packed sequences of different lengths and two heads: gradients reach only the sequence's own tokens.
    @Test func attentionOfPackedSequences() {
        var rng = SplitMix64(state: 5)
        let (h, heads, offsets) = (8, 2, [0, 3, 7])
        let t = offsets.last!
        let qkv = Self.random(t * 3 * h, &rng), up = Self.random(t * h, &rng)
        let forward = R.attention(qkv, offsets: offsets, hidden: h, heads: heads)
        let analytic = R.attentionBackward(up, qkv, probabilities: forward.probabilities, offsets: offsets, hidden: h, heads: heads)
        Self.expectClose(analytic, Self.numeric(qkv) { Self.dot(up, R.attention($0, offsets: offsets, hidden: h, heads: heads).context) },
                         "dQKV")
        // Packing must not leak across sequences: the second sequence's outputs do not depend on the first's tokens.
        let onlySecond = (0..<(t * h)).map { $0 >= 3 * h ? up[$0] : 0 }
        let leaked = R.attentionBackward(onlySecond, qkv, probabilities: forward.probabilities, offsets: offsets, hidden: h, heads: heads)
        #expect(leaked[0..<(3 * 3 * h)].allSatisfy { $0 == 0 })
    }

    @Test func meanPoolingAndNormalisation() {
        var rng = SplitMix64(state: 6)
        let (h, offsets) = (5, [0, 2, 6])
        let x = Self.random(6 * h, &rng), up = Self.random(2 * h, &rng)
        let forward = R.meanPoolNormalize(x, offsets: offsets, hidden: h)
        for s in 0..<2 {
            let norm = (0..<h).reduce(0) { $0 + forward.embeddings[s * h + $1] * forward.embeddings[s * h + $1] }
            #expect(abs(norm - 1) < 1e-12)
        }
        Self.expectClose(R.meanPoolNormalizeBackward(up, pooled: forward.pooled, offsets: offsets, hidden: h),
                         Self.numeric(x) { Self.dot(up, R.meanPoolNormalize($0, offsets: offsets, hidden: h).embeddings) }, "pool")
    }

    @Test func embeddingGradientIsSparseAndSumsRepeatedIDs() {
        let ids = [7, 2, 7]
        let dout: [Double] = [1, 2, 10, 20, 100, 200]
        let rows = R.embeddingBackward(dout, ids: ids, hidden: 2)
        #expect(rows.keys.sorted() == [2, 7])
        #expect(rows[7] == [101, 202] && rows[2] == [10, 20])
    }

    /// In-batch negatives plus hard negatives (m > n): every anchor and candidate gets its gradient.
    @Test func multipleNegativesRankingLoss() {
        var rng = SplitMix64(state: 7)
        let (n, m, d) = (3, 5, 4)
        let a = Self.random(n * d, &rng), c = Self.random(m * d, &rng)
        let result = R.multipleNegativesRankingLoss(anchors: a, candidates: c, n: n, m: m, dimension: d)
        Self.expectClose(result.danchors, Self.numeric(a) { R.multipleNegativesRankingLoss(anchors: $0, candidates: c, n: n, m: m, dimension: d).loss }, "d anchors")
        Self.expectClose(result.dcandidates, Self.numeric(c) { R.multipleNegativesRankingLoss(anchors: a, candidates: $0, n: n, m: m, dimension: d).loss }, "d candidates")
        // Identical anchors and positives, orthogonal to each other: the loss is near its floor.
        let eye: [Double] = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]
        #expect(R.multipleNegativesRankingLoss(anchors: eye, candidates: eye, n: 3, m: 3, dimension: 4).loss < 1e-7)
    }

    @Test func binaryCrossEntropy() {
        var rng = SplitMix64(state: 8)
        let logits = Self.random(6, &rng, scale: 5), labels: [Double] = [1, 0, 1, 0, 1, 0]
        let result = R.binaryCrossEntropy(logits: logits, labels: labels)
        Self.expectClose(result.dlogits, Self.numeric(logits) { R.binaryCrossEntropy(logits: $0, labels: labels).loss }, "dlogits")
        // Large logits stay finite.
        #expect(R.binaryCrossEntropy(logits: [1000, -1000], labels: [0, 1]).loss.isFinite)
    }
}
