import Testing
@testable import SiftKernels

/// PackedLinear (Sources/SiftKernelsC kernels) against `Gemm.reference` on odd shapes and `Gemm.multiply` on the
/// model's shapes.
///
/// Tolerances are relative to the dot product's magnitude `m = Σ_k |x_k·w_k| + |b|`, per output element:
/// - float32: |error| ≤ 1e-5·m on small K (fp32 accumulation of ≤ 65 terms is ≤ 65·2⁻²⁴ ≈ 4e-6·m), 1e-4·m at K=1536;
/// - bfloat16: |error| ≤ 1e-2·m (each of x, w rounded to 8 significant bits: ≤ 2⁻⁸ ≈ 4e-3 per product, plus
///   fp32 accumulation).
@Suite struct PackedGemmTests {
    typealias Kernel = PackedLinear.Kernel

    /// Kernels this process can run for `precision`: the plain C reference, the portable and OpenBLAS ones, and the best
    /// kernel of every vector tier the CPU has (AVX-512 and AVX2 on an AVX-512 machine), so each tier is tested on every
    /// CI machine.
    static func kernels(_ precision: PackedLinear.Precision) -> [Kernel] {
        var result: [Kernel] = [.scalar, .portable, .openBLAS]
        for tier in KernelTier.supportedByCPU {
            let kernel = Kernel.best(for: precision, tier: tier)
            if !result.contains(kernel) { result.append(kernel) }
        }
        return result
    }

    /// `Σ_k |x_k·w_k| + |b|` for every output: the magnitude tolerances are relative to.
    static func magnitude(x: [Float], w: [Float], bias: [Float]?, rows: Int, n: Int, k: Int) -> [Float] {
        var m = [Float](repeating: 0, count: rows * n)
        let ax = x.map(abs), aw = w.map(abs)
        ax.withUnsafeBufferPointer { xp in
            aw.withUnsafeBufferPointer { wp in
                m.withUnsafeMutableBufferPointer { mp in
                    Gemm.multiply(transB: true, m: rows, n: n, k: k, a: xp, lda: k, b: wp, ldb: k, c: mp, ldc: n)
                }
            }
        }
        if let bias { for r in 0..<rows { for j in 0..<n { m[r * n + j] += abs(bias[j]) } } }
        return m
    }

    static func run(_ layer: PackedLinear, x: [Float], rows: Int, threads: Int = 1) -> [Float] {
        var y = [Float](repeating: .nan, count: rows * layer.outFeatures)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in layer.apply(xp, rows: rows, into: yp, threads: threads) }
        }
        return y
    }

    /// Largest |error| / magnitude over all outputs (NaN, e.g. an unwritten output, counts as infinite).
    static func worstRelativeError(_ actual: [Float], _ expected: [Float], magnitude: [Float]) -> Float {
        var worst: Float = 0
        for i in actual.indices {
            let e = abs(actual[i] - expected[i]) / max(magnitude[i], 1e-30)
            worst = e.isNaN ? .infinity : max(worst, e)
        }
        return worst
    }

    static let oddShapes: [(rows: Int, n: Int, k: Int)] = [
        (1, 1, 1), (1, 33, 7), (13, 31, 17), (15, 64, 3), (29, 70, 33), (14, 32, 32), (30, 100, 65), (3, 17, 2),
    ]

    @Test(arguments: [PackedLinear.Precision.float32, .bfloat16], [true, false])
    func oddShapesMatchReference(precision: PackedLinear.Precision, withBias: Bool) {
        let tolerance: Float = precision == .float32 ? 1e-5 : 1e-2
        for (index, shape) in Self.oddShapes.enumerated() {
            let (rows, n, k) = shape
            let x = GemmTests.values(rows * k, seed: UInt64(10 + index))
            let w = GemmTests.values(n * k, seed: UInt64(100 + index))
            let bias = withBias ? GemmTests.values(n, seed: UInt64(1000 + index)) : nil
            var expected = [Float](repeating: 0, count: rows * n)
            Gemm.reference(transB: true, m: rows, n: n, k: k, a: x, lda: k, b: w, ldb: k, c: &expected, ldc: n)
            if let bias { for r in 0..<rows { for j in 0..<n { expected[r * n + j] += bias[j] } } }
            let m = Self.magnitude(x: x, w: w, bias: bias, rows: rows, n: n, k: k)
            for kernel in Self.kernels(precision) {
                let layer = PackedLinear(weight: w, bias: bias, outFeatures: n, inFeatures: k, precision: precision, kernel: kernel)
                let err = Self.worstRelativeError(Self.run(layer, x: x, rows: rows), expected, magnitude: m)
                #expect(err <= tolerance, "\(kernel.name) \(precision) rows=\(rows) n=\(n) k=\(k): relative error \(err)")
            }
        }
    }

    /// The native bf16 kernel rounds exactly like the scalar emulation (x and w to bf16, nearest even), so the two
    /// differ only by fp32 summation order — far below the bf16 tolerance. Catches a wrong pair order in packing.
    @Test(.enabled(if: Kernel.avx512bf16.isSupported, "needs AVX-512 BF16 (absent, or SIFT_KERNELS is below avx512)"))
    func bf16KernelMatchesScalarEmulation() {
        let (rows, n, k) = (31, 45, 37)
        let x = GemmTests.values(rows * k, seed: 7), w = GemmTests.values(n * k, seed: 8), bias = GemmTests.values(n, seed: 9)
        let native = Self.run(PackedLinear(weight: w, bias: bias, outFeatures: n, inFeatures: k, precision: .bfloat16, kernel: .avx512bf16), x: x, rows: rows)
        let scalar = Self.run(PackedLinear(weight: w, bias: bias, outFeatures: n, inFeatures: k, precision: .bfloat16, kernel: .scalar), x: x, rows: rows)
        let err = Self.worstRelativeError(native, scalar, magnitude: Self.magnitude(x: x, w: w, bias: bias, rows: rows, n: n, k: k))
        #expect(err <= 1e-5, "relative difference \(err)")
        // And the emulation really is bf16: it differs from fp32 by more than fp32 rounding.
        let fp32 = Self.run(PackedLinear(weight: w, bias: bias, outFeatures: n, inFeatures: k, precision: .float32, kernel: .scalar), x: x, rows: rows)
        #expect(zip(fp32, scalar).contains { abs($0 - $1) > 1e-4 })
    }

    /// bf16 hand-off between layers (`apply(_:intoBFloat16:)` then `apply(bfloat16:)`, as the encoder's FFN does):
    /// the stored bits are the fp32 output rounded to nearest even, and the next layer's result from them is
    /// bit-identical to feeding it the fp32 output. Feature tails (70 = 2·32 + 6) use masked stores; nothing past the
    /// output is written. One and two workers.
    @Test(.enabled(if: Kernel.avx512bf16.isSupported, "needs AVX-512 BF16 (absent, or SIFT_KERNELS is below avx512)"),
          arguments: [1, 2])
    func bf16ActivationHandOffIsExact(threads: Int) {
        let (rows, k, hidden, n) = (31, 37, 70, 45)
        let x = GemmTests.values(rows * k, seed: 31)
        let first = PackedLinear(weight: GemmTests.values(hidden * k, seed: 32), bias: GemmTests.values(hidden, seed: 33),
                                 outFeatures: hidden, inFeatures: k, precision: .bfloat16, activation: .gelu, kernel: .avx512bf16)
        let second = PackedLinear(weight: GemmTests.values(n * hidden, seed: 34), bias: GemmTests.values(n, seed: 35),
                                  outFeatures: n, inFeatures: hidden, precision: .bfloat16, kernel: .avx512bf16)
        #expect(first.exchangesBFloat16 && second.exchangesBFloat16)
        let viaFloat = Self.run(first, x: x, rows: rows, threads: threads)
        let sentinel: UInt16 = 0xABCD
        var half = [UInt16](repeating: sentinel, count: rows * hidden + 8)
        x.withUnsafeBufferPointer { xp in half.withUnsafeMutableBufferPointer { hp in
            first.apply(xp, rows: rows, intoBFloat16: hp, threads: threads)
        } }
        func roundedToBFloat16(_ v: Float) -> UInt16 {
            let bits = v.bitPattern
            return UInt16((bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
        }
        #expect(Array(half.prefix(rows * hidden)) == viaFloat.map(roundedToBFloat16))
        #expect(half.suffix(8).allSatisfy { $0 == sentinel }, "written past the output")
        var fromHalf = [Float](repeating: .nan, count: rows * n)
        half.withUnsafeBufferPointer { hp in fromHalf.withUnsafeMutableBufferPointer { yp in
            second.apply(bfloat16: UnsafeBufferPointer(rebasing: hp.prefix(rows * hidden)), rows: rows, into: yp, threads: threads)
        } }
        #expect(fromHalf == Self.run(second, x: viaFloat, rows: rows, threads: threads))
    }

    /// Row strides on X and Y (padding columns of Y untouched) with two workers splitting rows give the dense
    /// single-thread result.
    @Test(arguments: PackedLinear.Precision.allCases)
    func stridedRows(precision: PackedLinear.Precision) {
        let (rows, n, k, xStride, yStride) = (47, 70, 37, 41, 75)
        let x = GemmTests.values(rows * xStride, seed: 21), w = GemmTests.values(n * k, seed: 22)
        let dense = (0..<rows).flatMap { r in x[(r * xStride)..<(r * xStride + k)] }
        let layer = PackedLinear(weight: w, bias: nil, outFeatures: n, inFeatures: k, precision: precision)
        let expected = Self.run(layer, x: dense, rows: rows)
        var y = [Float](repeating: -7, count: rows * yStride)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                layer.apply(xp, rows: rows, rowStride: xStride, into: yp, rowStride: yStride, threads: 2)
            }
        }
        for r in 0..<rows {
            #expect(Array(y[(r * yStride)..<(r * yStride + n)]) == Array(expected[(r * n)..<(r * n + n)]), "row \(r)")
            #expect(y[(r * yStride + n)..<(r * yStride + yStride)].allSatisfy { $0 == -7 }, "padding of row \(r)")
        }
    }

    /// Strided weight views (attention): P·V with V [S×hidden] packed transposed, against the reference.
    @Test func stridedWeightView() {
        let (s, hidden, head, offset) = (23, 96, 32, 32) // head 1 of 3
        let p = GemmTests.values(s * s, seed: 31), v = GemmTests.values(s * hidden, seed: 32)
        let vHead = (0..<s).flatMap { r in v[(r * hidden + offset)..<(r * hidden + offset + head)] } // [S×32]
        var expected = [Float](repeating: 0, count: s * head)
        Gemm.reference(m: s, n: head, k: s, a: p, lda: s, b: vHead, ldb: head, c: &expected, ldc: head)
        let layer = v.withUnsafeBufferPointer { vp in
            PackedLinear(weight: UnsafeBufferPointer(rebasing: vp[offset...]), bias: nil, outFeatures: head, inFeatures: s,
                         featureStride: 1, inputStride: hidden, precision: .float32)
        }
        let actual = Self.run(layer, x: p, rows: s)
        for i in expected.indices { #expect(abs(actual[i] - expected[i]) <= 1e-5 * Float(s), "index \(i)") }
    }

    /// Two workers (row split for many rows, panel split for few) give bit-identical results to one.
    @Test(arguments: [PackedLinear.Precision.float32, .bfloat16], [3, 100])
    func threadsAreBitIdentical(precision: PackedLinear.Precision, rows: Int) {
        let (n, k) = (200, 48)
        let x = GemmTests.values(rows * k, seed: 41), w = GemmTests.values(n * k, seed: 42), bias = GemmTests.values(n, seed: 43)
        let layer = PackedLinear(weight: w, bias: bias, outFeatures: n, inFeatures: k, precision: precision)
        #expect(Self.run(layer, x: x, rows: rows, threads: 2) == Self.run(layer, x: x, rows: rows, threads: 1))
    }

    /// The model's shapes (T = 200 tokens) against OpenBLAS.
    @Test(arguments: [PackedLinear.Precision.float32, .bfloat16], [(1152, 384), (384, 384), (1536, 384), (384, 1536)])
    func modelShapesMatchOpenBLAS(precision: PackedLinear.Precision, shape: (Int, Int)) {
        let (n, k) = shape, rows = 200
        let x = GemmTests.values(rows * k, seed: 51), w = GemmTests.values(n * k, seed: 52), bias = GemmTests.values(n, seed: 53)
        let blas = Self.run(PackedLinear(weight: w, bias: bias, outFeatures: n, inFeatures: k, precision: precision, kernel: .openBLAS), x: x, rows: rows)
        let layer = PackedLinear(weight: w, bias: bias, outFeatures: n, inFeatures: k, precision: precision)
        let err = Self.worstRelativeError(Self.run(layer, x: x, rows: rows, threads: 2), blas,
                                          magnitude: Self.magnitude(x: x, w: w, bias: bias, rows: rows, n: n, k: k))
        #expect(err <= (precision == .float32 ? 1e-4 : 1e-2), "\(layer.kernel) \(n)×\(k): relative error \(err)")
    }

    /// Fused GELU on an identity weight isolates the activation: each kernel against `KernelReference.gelu`
    /// over x ∈ [-10, 10]. Native erf is Abramowitz–Stegun 7.1.26 (|Δerf| ≤ 1.5e-7), so |Δgelu| ≤ ~1e-7·|x| + rounding:
    /// tolerance 5e-7·max(1, |x|).
    @Test func fusedGeluMatchesReference() {
        let width = 64, rows = 40
        let x = (0..<(rows * width)).map { Float($0) / Float(rows * width - 1) * 20 - 10 }
        var identity = [Float](repeating: 0, count: width * width)
        for i in 0..<width { identity[i * width + i] = 1 }
        let expected = KernelReference.gelu(x)
        for kernel in Self.kernels(.float32) {
            let layer = PackedLinear(weight: identity, bias: nil, outFeatures: width, inFeatures: width,
                                     precision: .float32, activation: .gelu, kernel: kernel)
            let actual = Self.run(layer, x: x, rows: rows)
            let worst = zip(zip(actual, expected), x).map { pair, v in abs(pair.0 - pair.1) / max(1, abs(v)) }.max() ?? .nan
            #expect(worst <= 5e-7, "\(kernel.name): GELU error \(worst)·max(1,|x|)")
        }
    }

    /// GELU fused into a real-shaped layer (bf16 and fp32) matches linear-then-`KernelReference.gelu`: within
    /// 5e-7·max(1, |x|) for the exact-form GELU (fp32, scalar), 5e-5 absolute for the AVX-512 bf16 kernel's
    /// polynomial GELU (FastMathTests: ≤ 3.7e-5).
    @Test(arguments: [PackedLinear.Precision.float32, .bfloat16])
    func fusedGeluLayer(precision: PackedLinear.Precision) {
        let (rows, n, k) = (33, 96, 40)
        let x = GemmTests.values(rows * k, seed: 61).map { $0 * 2 }, w = GemmTests.values(n * k, seed: 62), bias = GemmTests.values(n, seed: 63)
        let plain = Self.run(PackedLinear(weight: w, bias: bias, outFeatures: n, inFeatures: k, precision: precision), x: x, rows: rows)
        let fused = Self.run(PackedLinear(weight: w, bias: bias, outFeatures: n, inFeatures: k, precision: precision, activation: .gelu), x: x, rows: rows)
        // Same kernel and summation order, so only the activation differs.
        let expected = KernelReference.gelu(plain)
        let layer = PackedLinear(weight: w, bias: bias, outFeatures: n, inFeatures: k, precision: precision)
        let polynomial = layer.kernel == PackedLinear.Kernel.avx512bf16.name
        for i in expected.indices {
            let tolerance: Float = polynomial ? 5e-5 : 5e-7 * max(1, abs(plain[i]))
            #expect(abs(fused[i] - expected[i]) <= tolerance, "\(layer.kernel) index \(i)")
        }
    }

    @Test func reportsKernel() {
        #expect(PackedLinear.activeKernel == Kernel.best(for: .float32).name)
        let layer = PackedLinear(weight: [1, 2], bias: [3], outFeatures: 1, inFeatures: 2, precision: .bfloat16)
        #expect(layer.kernel == PackedLinear.activeKernel(for: .bfloat16))
        #expect(Self.run(layer, x: [1, 1], rows: 1) == [6]) // small integers are exact in bf16
    }
}
