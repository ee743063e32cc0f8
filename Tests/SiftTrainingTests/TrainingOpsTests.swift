import Foundation
import SiftModels
import SiftTestSupport
import Testing
@testable import SiftTraining

/// The fp32 training kernels (TrainingOps) against the Double references (ReferenceGradients) on random inputs,
/// forward and backward, with a tolerance of 1e-4 relative to each output's largest entry (fp32 rounding).
struct TrainingOpsTests {
    typealias R = ReferenceGradients

    static func random(_ count: Int, _ rng: inout SplitMix64, scale: Double = 1) -> [Double] {
        (0..<count).map { _ in (rng.nextUnit() * 2 - 1) * scale }
    }

    static func expectClose(_ ours: [Float], _ reference: [Double], _ what: String, tolerance: Double = 1e-4) {
        #expect(ours.count == reference.count, "\(what): \(ours.count) vs \(reference.count)")
        let scale = max(reference.map(abs).max() ?? 0, 1e-12)
        let worst = zip(ours, reference).map { abs(Double($0) - $1) }.max() ?? .infinity
        #expect(worst / scale <= tolerance, "\(what): max difference \(worst) at scale \(scale)")
    }

    /// Inputs as fp32 buffers. Tests keep each in a named constant for the whole op: a temporary's memory could be
    /// released as soon as its pointer is read.
    static func buffer(_ values: [Double]) -> FloatBuffer { FloatBuffer(values.map { Float($0) }) }

    @Test(arguments: [1, 3])
    func linear(threads: Int) {
        var rng = SplitMix64(state: 1)
        let (n, k, m) = (37, 9, 5)
        let x = Self.random(n * k, &rng), w = Self.random(m * k, &rng), b = Self.random(m, &rng), dy = Self.random(n * m, &rng)
        let y = FloatBuffer(count: n * m), xb = Self.buffer(x), wb = Self.buffer(w), bb = Self.buffer(b)
        TrainingOps.linear(xb.pointer, rows: n, inFeatures: k, weight: wb.pointer, bias: bb.pointer, outFeatures: m, into: y.pointer, threads: threads)
        Self.expectClose(y.array, R.linear(x, w, b, n: n, k: k, m: m), "linear")
        let dx = FloatBuffer(count: n * k), dw = Self.buffer(Array(repeating: 0.5, count: m * k)), db = FloatBuffer(count: m)
        let dyb = Self.buffer(dy)
        TrainingOps.linearBackward(dyb.pointer, xb.pointer, rows: n, inFeatures: k, weight: wb.pointer,
                                   outFeatures: m, dx: dx.pointer, dw: dw.pointer, db: db.pointer, threads: threads)
        let reference = R.linearBackward(dy, x, w, n: n, k: k, m: m)
        Self.expectClose(dx.array, reference.dx, "linear dX")
        Self.expectClose(dw.array, reference.dw.map { $0 + 0.5 }, "linear dW accumulates")
        Self.expectClose(db.array, reference.db, "linear db")
    }

    @Test(arguments: [1, 3])
    func layerNorm(threads: Int) {
        var rng = SplitMix64(state: 2)
        let (rows, h) = (40, 12)
        let x = Self.random(rows * h, &rng, scale: 3), gamma = Self.random(h, &rng), beta = Self.random(h, &rng)
        let dy = Self.random(rows * h, &rng)
        let y = FloatBuffer(count: rows * h), mean = FloatBuffer(count: rows), rstd = FloatBuffer(count: rows)
        let xb = Self.buffer(x), gb = Self.buffer(gamma), bb = Self.buffer(beta), dyb = Self.buffer(dy)
        TrainingOps.layerNorm(xb.pointer, rows: rows, width: h, gamma: gb.pointer, beta: bb.pointer, eps: 1e-12,
                              into: y.pointer, mean: mean.pointer, rstd: rstd.pointer, threads: threads)
        let reference = R.layerNorm(x, gamma: gamma, beta: beta, rows: rows)
        Self.expectClose(y.array, reference.y, "layer norm")
        let dx = FloatBuffer(count: rows * h), dgamma = FloatBuffer(count: h), dbeta = FloatBuffer(count: h)
        TrainingOps.layerNormBackward(dyb.pointer, xb.pointer, rows: rows, width: h, mean: mean.pointer,
                                      rstd: rstd.pointer, gamma: gb.pointer, dx: dx.pointer, dgamma: dgamma.pointer,
                                      dbeta: dbeta.pointer, threads: threads)
        let g = R.layerNormBackward(dy, x, mean: reference.mean, rstd: reference.rstd, gamma: gamma, rows: rows)
        Self.expectClose(dx.array, g.dx, "layer norm dX")
        Self.expectClose(dgamma.array, g.dgamma, "layer norm dγ")
        Self.expectClose(dbeta.array, g.dbeta, "layer norm dβ")
    }

    @Test func gelu() {
        var rng = SplitMix64(state: 3)
        let x = Self.random(64, &rng, scale: 5), dy = Self.random(64, &rng)
        let y = FloatBuffer(count: 64), xb = Self.buffer(x)
        TrainingOps.gelu(xb.pointer, count: 64, into: y.pointer)
        Self.expectClose(y.array, R.gelu(x), "gelu")
        let d = Self.buffer(dy)
        TrainingOps.geluBackward(d.pointer, xb.pointer, count: 64)
        Self.expectClose(d.array, R.geluBackward(dy, x), "gelu backward")
    }

    /// Packed attention over sequences of 1, 4 and 6 tokens; with dropout the reference gets the dropped
    /// probabilities' effect through a mask folded into the upstream gradient by hand below.
    @Test(arguments: [false, true], [1, 3])
    func attention(dropout: Bool, threads: Int) {
        var rng = SplitMix64(state: 4)
        let (h, heads, offsets) = (8, 2, [0, 1, 5, 11])
        let t = offsets.last!
        let qkv = Self.random(t * 3 * h, &rng, scale: 2), dcontext = Self.random(t * h, &rng)
        let count = TrainingOps.probabilityCount(offsets: offsets, heads: heads)
        let probabilities = FloatBuffer(count: count), context = FloatBuffer(count: t * h)
        var keep: FloatBuffer?
        if dropout {
            keep = FloatBuffer(count: (count + 3) / 4)
            var random = DropoutRandom(seed: 9)
            TrainingOps.dropoutKeep(keep!.bytes, count: count, probability: 0.3, rng: &random)
        }
        let mask = keep.map { k in (0..<count).map { Double(k.bytes.load(fromByteOffset: $0, as: UInt8.self)) / 0.7 } }
        let qb = Self.buffer(qkv)
        TrainingOps.attention(qb.pointer, offsets: offsets, hidden: h, heads: heads, probabilities: probabilities.pointer,
                              keep: keep.map { UnsafeRawPointer($0.bytes) }, dropout: 0.3, context: context.pointer,
                              threads: threads)
        let reference = R.attention(qkv, offsets: offsets, hidden: h, heads: heads)
        Self.expectClose(probabilities.array, reference.probabilities.flatMap { $0 }, "attention probabilities")
        let dqkv = FloatBuffer(count: t * 3 * h), dcb = Self.buffer(dcontext)
        TrainingOps.attentionBackward(dcb.pointer, qb.pointer, offsets: offsets, hidden: h, heads: heads,
                                      probabilities: probabilities.pointer, keep: keep.map { UnsafeRawPointer($0.bytes) },
                                      dropout: 0.3, dqkv: dqkv.pointer, threads: threads)
        if !dropout {
            Self.expectClose(context.array, reference.context, "attention context")
            Self.expectClose(dqkv.array, R.attentionBackward(dcontext, qkv, probabilities: reference.probabilities,
                                                             offsets: offsets, hidden: h, heads: heads), "attention dQKV")
            return
        }
        // With dropout, context = (P⊙M)·V: check against a Double computation of that and central differences of
        // sum(dcontext · context) in each input (the mask held fixed).
        func loss(_ q: [Double]) -> Double {
            let p = R.attention(q, offsets: offsets, hidden: h, heads: heads).probabilities.flatMap { $0 }
            var total = 0.0, at = 0
            let d = h / heads
            for s in 0..<(offsets.count - 1) {
                let start = offsets[s], len = offsets[s + 1] - start
                for head in 0..<heads {
                    for i in 0..<len { for c in 0..<d {
                        var sum = 0.0
                        for j in 0..<len { sum += p[at + i * len + j] * mask![at + i * len + j] * q[(start + j) * 3 * h + 2 * h + head * d + c] }
                        total += sum * dcontext[(start + i) * h + head * d + c]
                    } }
                    at += len * len
                }
            }
            return total
        }
        let numeric = (0..<qkv.count).map { i -> Double in
            var plus = qkv, minus = qkv
            plus[i] += 1e-5
            minus[i] -= 1e-5
            return (loss(plus) - loss(minus)) / 2e-5
        }
        Self.expectClose(dqkv.array, numeric, "attention dQKV with dropout", tolerance: 1e-3)
    }

    @Test func meanPoolNormalize() {
        var rng = SplitMix64(state: 5)
        let (h, offsets) = (6, [0, 2, 7])
        let x = Self.random(7 * h, &rng), de = Self.random(2 * h, &rng)
        let pooled = FloatBuffer(count: 2 * h), embeddings = FloatBuffer(count: 2 * h), dx = FloatBuffer(count: 7 * h)
        let xb = Self.buffer(x), deb = Self.buffer(de)
        TrainingOps.meanPoolNormalize(xb.pointer, offsets: offsets, hidden: h, pooled: pooled.pointer,
                                      embeddings: embeddings.pointer)
        let reference = R.meanPoolNormalize(x, offsets: offsets, hidden: h)
        Self.expectClose(embeddings.array, reference.embeddings, "mean pool + normalise")
        TrainingOps.meanPoolNormalizeBackward(deb.pointer, pooled: pooled.pointer, offsets: offsets, hidden: h,
                                              dx: dx.pointer)
        Self.expectClose(dx.array, R.meanPoolNormalizeBackward(de, pooled: reference.pooled, offsets: offsets, hidden: h),
                         "mean pool backward")
    }

    /// Inverted dropout: about p of the mask is zero, the rest 1/(1−p), so the expected value is kept; a seed fixes it.
    @Test func dropoutMask() {
        let count = 100_000
        let a = FloatBuffer(count: count), b = FloatBuffer(count: count)
        var r1 = DropoutRandom(seed: 7), r2 = DropoutRandom(seed: 7)
        TrainingOps.dropoutMask(a.pointer, count: count, probability: 0.1, rng: &r1)
        TrainingOps.dropoutMask(b.pointer, count: count, probability: 0.1, rng: &r2)
        #expect(a.array == b.array, "same seed, same mask")
        let zeros = a.array.filter { $0 == 0 }.count
        #expect(abs(Double(zeros) / Double(count) - 0.1) < 0.005, "dropped fraction \(Double(zeros) / Double(count))")
        #expect(a.array.allSatisfy { $0 == 0 || abs($0 - 1 / 0.9) < 1e-6 })
        let mean = a.array.reduce(0, +) / Float(count)
        #expect(abs(mean - 1) < 0.01, "mask mean \(mean)")
    }

    /// Dropout in a whole model: a training forward differs from an eval forward, is reproducible for a seed, and
    /// its gradients still match central differences of the loss under the same masks.
    @Test func dropoutInTheModelIsSeededAndDifferentiable() throws {
        let folder = TestPaths.fixtures.appendingPathComponent("training/tiny-cross-encoder")
        let parameters = try BertParameters.load(folder: folder, head: .classifier(labels: 1)).parameters
        let model = TrainableBert(parameters: parameters, hiddenDropout: 0.2, attentionDropout: 0.2)
        let pairs = [TokenSequence(ids: [2, 5, 9, 3, 7, 8, 3], tokenTypeIDs: [0, 0, 0, 0, 1, 1, 1]),
                     TokenSequence(ids: [2, 11, 3, 30, 3], tokenTypeIDs: [0, 0, 0, 1, 1])]
        let labels: [Float] = [1, 0]
        func loss(seed: UInt64) throws -> Double {
            parameters.zeroGradients()
            var random = DropoutRandom(seed: seed)
            return try model.binaryCrossEntropyStep(pairs: pairs, labels: labels, random: &random)
        }
        let base = try loss(seed: 3)
        #expect(try loss(seed: 3) == base, "seeded dropout is reproducible")
        #expect(try loss(seed: 4) != base, "another seed drops other units")
        _ = try loss(seed: 3)
        let analytic = parameters.values("encoder.layer.0.intermediate.dense.weight", gradient: true)
        let offset = parameters.offset("encoder.layer.0.intermediate.dense.weight")
        // Central differences in float32 on a few of the largest entries.
        let largest = analytic.indices.sorted { abs(analytic[$0]) > abs(analytic[$1]) }.prefix(5)
        for i in largest {
            let saved = parameters.values[offset + i], step: Float = 1e-2
            parameters.values[offset + i] = saved + step
            let plus = try loss(seed: 3)
            parameters.values[offset + i] = saved - step
            let minus = try loss(seed: 3)
            parameters.values[offset + i] = saved
            let numeric = (plus - minus) / Double(2 * step)
            #expect(abs(numeric - Double(analytic[i])) <= 0.02 * abs(Double(analytic[i])) + 1e-5,
                    "weight \(i): analytic \(analytic[i]), numeric \(numeric)")
        }
    }
}
