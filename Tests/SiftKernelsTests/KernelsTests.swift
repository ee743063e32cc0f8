import Foundation
import Testing
@testable import SiftKernels

/// Each fast kernel against its plain reference on random inputs.
/// Tolerance: 1e-5 absolute (values are O(1); float32 vs Double accumulation differ by ~1e-6).
@Suite struct KernelsTests {
    static let tolerance: Float = 1e-5

    static func values(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        GemmTests.values(count, seed: seed).map { $0 * scale }
    }

    static func expectClose(_ actual: [Float], _ expected: [Float], tolerance: Float = tolerance, _ what: String) {
        #expect(actual.count == expected.count, "\(what): count")
        var worst: Float = 0
        for i in 0..<min(actual.count, expected.count) { worst = max(worst, abs(actual[i] - expected[i])) }
        #expect(worst <= tolerance, "\(what): max abs diff \(worst) > \(tolerance)")
    }

    @Test(arguments: [true, false])
    func linear(withBias: Bool) {
        let (rows, inF, outF) = (5, 17, 11)
        let x = Self.values(rows * inF, seed: 1), w = Self.values(outF * inF, seed: 2), b = Self.values(outF, seed: 3)
        var out = [Float](repeating: .nan, count: rows * outF)
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in b.withUnsafeBufferPointer { bp in
            out.withUnsafeMutableBufferPointer { op in
                Kernels.linear(input: xp, rows: rows, inFeatures: inF, weight: wp, bias: withBias ? bp : nil, outFeatures: outF, output: op)
            }
        } } }
        Self.expectClose(out, KernelReference.linear(input: x, rows: rows, inFeatures: inF, weight: w, bias: withBias ? b : nil, outFeatures: outF), "linear")
    }

    /// Every row kernel this process can run (AVX-512, AVX2, plain C) against the reference, widths with and without
    /// a partial 16- or 8-lane tail.
    @Test(arguments: [7, 37, 384], Kernels.LayerNormKernel.allCases.filter(\.isSupported))
    func layerNormWithResidual(width: Int, kernel: Kernels.LayerNormKernel) {
        let rows = 3
        var x = Self.values(rows * width, seed: 4, scale: 3).map { $0 + 2 }
        let residual = Self.values(rows * width, seed: 5)
        let gamma = Self.values(width, seed: 6).map { 1 + $0 / 10 }, beta = Self.values(width, seed: 7, scale: 0.1)
        let summed = zip(x, residual).map { $0 + $1 }
        let expected = KernelReference.layerNorm(summed, rows: rows, width: width, gamma: gamma, beta: beta, eps: 1e-12)
        x.withUnsafeMutableBufferPointer { xp in residual.withUnsafeBufferPointer { rp in
            gamma.withUnsafeBufferPointer { gp in beta.withUnsafeBufferPointer { bp in
                Kernels.layerNorm(xp, rows: rows, width: width, gamma: gp, beta: bp, eps: 1e-12, residual: rp, threads: 1,
                                  kernel: kernel)
            } }
        } }
        Self.expectClose(x, expected, "layerNorm (\(kernel))")
        // Without a residual too.
        var plain = summed
        plain.withUnsafeMutableBufferPointer { xp in gamma.withUnsafeBufferPointer { gp in beta.withUnsafeBufferPointer { bp in
            Kernels.layerNorm(xp, rows: rows, width: width, gamma: gp, beta: bp, eps: 1e-12, residual: nil, threads: 1, kernel: kernel)
        } } }
        Self.expectClose(plain, expected, "layerNorm without residual (\(kernel))")
    }

    @Test func geluTanhAddL2() {
        var x = Self.values(1000, seed: 8, scale: 6)
        let original = x
        x.withUnsafeMutableBufferPointer { Kernels.gelu($0, count: 1000) }
        Self.expectClose(x, KernelReference.gelu(original), "gelu")
        // Exact-erf GELU, not the tanh approximation: at x = -3 they differ by ~1e-4.
        var probe: [Float] = [-3]
        probe.withUnsafeMutableBufferPointer { Kernels.gelu($0, count: 1) }
        #expect(abs(probe[0] - (-0.0040496)) < 1e-6)

        var t = original
        t.withUnsafeMutableBufferPointer { Kernels.tanh($0, count: 1000) }
        Self.expectClose(t, original.map { Float(Foundation.tanh(Double($0))) }, "tanh")

        var a = original
        let b = Self.values(1000, seed: 9)
        a.withUnsafeMutableBufferPointer { ap in b.withUnsafeBufferPointer { Kernels.add(ap, $0, count: 1000) } }
        Self.expectClose(a, zip(original, b).map { $0 + $1 }, "add")

        var n = original
        n.withUnsafeMutableBufferPointer { Kernels.l2Normalize($0, rows: 10, width: 100) }
        Self.expectClose(n, KernelReference.l2Normalize(original, rows: 10, width: 100), tolerance: 1e-6, "l2Normalize")
        var zero = [Float](repeating: 0, count: 4)
        zero.withUnsafeMutableBufferPointer { Kernels.l2Normalize($0, rows: 1, width: 4) }
        #expect(zero == [0, 0, 0, 0])
    }

    /// The vectorised erf against libm's on a dense grid (float erf has ulp 6e-8 near ±1),
    /// and GELU's result for a value does not depend on where it sits in the buffer.
    @Test func erfApproximationAndPositionIndependence() {
        var worst: Double = 0
        var x: Float = -6
        while x <= 6 {
            worst = max(worst, abs(Double(Kernels.erfApproximation(x)) - erf(Double(x))))
            x += 0.0005
        }
        #expect(worst <= 5e-7, "erf max abs error \(worst)")
        // exp for softmax (x ≤ 0): relative error of a few float ulps.
        var worstRelative: Double = 0
        x = -87
        while x <= 0 {
            let exact = exp(Double(x))
            worstRelative = max(worstRelative, abs(Double(Kernels.expApproximation(x)) - exact) / exact)
            x += 0.001
        }
        #expect(worstRelative <= 3e-7, "exp max relative error \(worstRelative)")
        let values = Self.values(37, seed: 15, scale: 4)
        var a = values, b = [0, 0, 0] + values
        a.withUnsafeMutableBufferPointer { Kernels.gelu($0, count: 37) }
        b.withUnsafeMutableBufferPointer { Kernels.gelu(UnsafeMutableBufferPointer(rebasing: $0[3...]), count: 37) }
        #expect(a == Array(b[3...]))
    }

    @Test func softmaxIsStable() {
        // Large logits would overflow a naive exp.
        var x = Self.values(4 * 9, seed: 10, scale: 50).map { $0 + 500 }
        let expected = KernelReference.softmax(x, rows: 4, width: 9)
        x.withUnsafeMutableBufferPointer { Kernels.softmax($0, rows: 4, width: 9) }
        Self.expectClose(x, expected, tolerance: 1e-6, "softmax")
        for r in 0..<4 { #expect(abs(x[(r * 9)..<(r * 9 + 9)].reduce(0, +) - 1) < 1e-5) }
    }

    /// Layer norm split over rows on two workers equals the single-threaded result bit for bit.
    @Test func layerNormThreadedIsIdentical() {
        let (rows, width) = (200, 384)
        let base = Self.values(rows * width, seed: 21, scale: 3), residual = Self.values(rows * width, seed: 22)
        let gamma = Self.values(width, seed: 23).map { 1 + $0 / 10 }, beta = Self.values(width, seed: 24, scale: 0.1)
        func run(_ threads: Int) -> [Float] {
            var x = base
            x.withUnsafeMutableBufferPointer { xp in residual.withUnsafeBufferPointer { rp in
                gamma.withUnsafeBufferPointer { gp in beta.withUnsafeBufferPointer { bp in
                    Kernels.layerNorm(xp, rows: rows, width: width, gamma: gp, beta: bp, eps: 1e-12, residual: rp, threads: threads)
                } }
            } }
            return x
        }
        let single = run(1)
        #expect(single == run(2))
        let expected = KernelReference.layerNorm(zip(base, residual).map { $0 + $1 }, rows: rows, width: width,
                                                 gamma: gamma, beta: beta, eps: 1e-12)
        Self.expectClose(single, expected, "layerNorm")
    }

    @Test(arguments: Kernels.Pooling.allCases)
    func pooling(mode: Kernels.Pooling) {
        let width = 6, lengths = [4, 1, 2], seq = 4
        let padded = Self.values(lengths.count * seq * width, seed: 14)
        var mask = [Int32](repeating: 0, count: lengths.count * seq)
        var packed = [Float](), offsets = [0]
        for b in 0..<lengths.count {
            for t in 0..<lengths[b] {
                mask[b * seq + t] = 1
                packed += padded[((b * seq + t) * width)..<((b * seq + t + 1) * width)]
            }
            offsets.append(offsets.last! + lengths[b])
        }
        var out = [Float](repeating: .nan, count: lengths.count * width)
        packed.withUnsafeBufferPointer { hp in out.withUnsafeMutableBufferPointer { op in
            Kernels.pool(mode, hidden: hp, width: width, sequenceOffsets: offsets, output: op)
        } }
        Self.expectClose(out, KernelReference.pool(mode, hidden: padded, mask: mask, batch: lengths.count, seq: seq, width: width), tolerance: 1e-6, "pool \(mode)")
    }

    @Test func threadCountIsSettable() {
        let saved = Gemm.threadCount
        Gemm.threadCount = 1
        #expect(Gemm.threadCount == 1)
        Gemm.threadCount = saved
        #expect(Gemm.threadCount == saved)
    }
}
