import Testing
@testable import SiftKernels

/// `PackedLinear(precision: .int8)`: every native int8 kernel this process can run (AVX-512 VNNI, AVX-VNNI, AVX2
/// `vpmaddwd` on int16) against the portable scalar C kernel on the same packing (same quantization, so the int32
/// accumulators must be bit-identical) and all against a Double reference of the unquantized layer.
///
/// Quantization bound (sift_int8.h): with `s_x = (max(0, max x) − min(0, min x)) / 255` per row and
/// `s_w = max|W_n| / 127` per output, `y − y_ref = Σ (x̂−x)·ŵ + Σ x·(ŵ−w)`, where `|x̂−x| ≤ s_x` (half a step, or one
/// step where the clamp at 255 bites) and `|ŵ−w| ≤ s_w/2`, `|ŵ| ≤ |w| + s_w/2`; so per output
/// `|error| ≤ s_x·(Σ|w| + K·s_w/2) + ½·s_w·Σ|x|`, plus fp32 slack `1e-5·(Σ|x·w| + |b|)` for the dequantization.
@Suite struct Int8GemmTests {
    typealias Kernel = PackedLinear.Kernel

    /// The native int8 kernels this process can run (each vector tier the CPU has).
    static let nativeKernels = [Kernel.avx512vnni, .avxvnni, .avx2int8].filter(\.isSupported)

    /// Kernels that compute int8 arithmetic here: scalar C, and the native ones.
    static var int8Kernels: [Kernel] { [.scalar] + nativeKernels }


    /// (rows, N, K): K not a multiple of 4, N not a multiple of the 32-wide panel, row tails of the 14-row tile,
    /// and (300×40×1000) more rows than one quantized row block (182 rows at K = 1000).
    static let shapes: [(rows: Int, n: Int, k: Int)] = [
        (1, 1, 1), (1, 33, 7), (13, 31, 17), (15, 64, 3), (29, 70, 33), (14, 32, 32), (30, 100, 65), (3, 17, 2),
        (300, 40, 1000), (45, 384, 1536),
    ]

    static func layer(_ w: [Float], _ bias: [Float]?, n: Int, k: Int, kernel: Kernel,
                      activation: PackedLinear.Activation = .none, inputMagnitude: [Float]? = nil) -> PackedLinear {
        PackedLinear(weight: w, bias: bias, outFeatures: n, inFeatures: k, precision: .int8, activation: activation,
                     inputMagnitude: inputMagnitude, kernel: kernel)
    }

    /// Expected input magnitudes for smoothing: positive, spread over 0.1–1.1, and 30 for feature 0 (an outlier).
    static func magnitudes(_ k: Int, seed: UInt64) -> [Float] {
        var m = GemmTests.values(k, seed: seed).map { abs($0) + 0.1 }
        m[0] = 30
        return m
    }

    /// The smoothing factors of sift_int8.h, `s_k = √(m_k / max_n |W[n][k]|)`, in Double.
    static func smoothingFactors(_ magnitude: [Float], w: [Float], n: Int, k: Int) -> [Double] {
        (0..<k).map { kk in
            let wmax = (0..<n).map { Double(abs(w[$0 * k + kk])) }.max()!
            return wmax > 0 ? (Double(magnitude[kk]) / wmax).squareRoot() : 1
        }
    }

    /// Per-output error bound of the quantization (see the suite comment).
    static func bound(x: [Float], w: [Float], bias: [Float]?, rows: Int, n: Int, k: Int) -> [Double] {
        let sw = (0..<n).map { j in Double(w[(j * k)..<(j * k + k)].map(abs).max()!) / 127 }
        let sumW = (0..<n).map { j in w[(j * k)..<(j * k + k)].reduce(0.0) { $0 + Double(abs($1)) } }
        var result = [Double](repeating: 0, count: rows * n)
        for r in 0..<rows {
            let row = x[(r * k)..<(r * k + k)]
            let sx = Double(max(0, row.max()!) - min(0, row.min()!)) / 255
            let sumX = row.reduce(0.0) { $0 + Double(abs($1)) }
            for j in 0..<n {
                var magnitude = Double(abs(bias?[j] ?? 0))
                for kk in 0..<k { magnitude += Double(abs(row[r * k + kk] * w[j * k + kk])) }
                result[r * n + j] = sx * (sumW[j] + Double(k) * sw[j] / 2) + sw[j] * sumX / 2 + 1e-5 * magnitude
            }
        }
        return result
    }

    /// `x·Wᵀ + b` in Double.
    static func reference(x: [Float], w: [Float], bias: [Float]?, rows: Int, n: Int, k: Int) -> [Double] {
        var y = [Double](repeating: 0, count: rows * n)
        for r in 0..<rows {
            for j in 0..<n {
                var sum = Double(bias?[j] ?? 0)
                for kk in 0..<k { sum += Double(x[r * k + kk]) * Double(w[j * k + kk]) }
                y[r * n + j] = sum
            }
        }
        return y
    }

    static func accumulators(_ layer: PackedLinear, x: [Float], rows: Int) -> [Int32] {
        x.withUnsafeBufferPointer { layer.int8Accumulators($0, rows: rows, rowStride: layer.inFeatures) }
    }

    @Test(.enabled(if: !nativeKernels.isEmpty, "needs AVX2 or AVX-512 VNNI (absent, or SIFT_KERNELS is portable/openblas)"),
          arguments: nativeKernels, [false, true])
    func nativeMatchesScalarBitExactly(kernel: Kernel, smoothed: Bool) {
        for (index, shape) in Self.shapes.enumerated() {
            let (rows, n, k) = shape
            // Mixed-sign rows with one outlier feature (as LayerNorm outputs have), and all-positive rows (GELU-like).
            var x = GemmTests.values(rows * k, seed: UInt64(10 + index))
            for r in 0..<rows { x[r * k + (r * 7) % k] *= 40 }
            for r in stride(from: 1, to: rows, by: 3) { for kk in 0..<k { x[r * k + kk] = abs(x[r * k + kk]) } }
            let w = GemmTests.values(n * k, seed: UInt64(100 + index)), bias = GemmTests.values(n, seed: UInt64(1000 + index))
            let magnitude = smoothed ? Self.magnitudes(k, seed: UInt64(500 + index)) : nil
            let scalar = Self.layer(w, bias, n: n, k: k, kernel: .scalar, inputMagnitude: magnitude)
            let native = Self.layer(w, bias, n: n, k: k, kernel: kernel, inputMagnitude: magnitude)
            #expect(Self.accumulators(native, x: x, rows: rows) == Self.accumulators(scalar, x: x, rows: rows),
                    "\(kernel.name): int32 accumulators differ: rows=\(rows) n=\(n) k=\(k)")
            // Same dequantization arithmetic (one fma per output), so without an activation the floats agree too.
            #expect(PackedGemmTests.run(native, x: x, rows: rows) == PackedGemmTests.run(scalar, x: x, rows: rows),
                    "\(kernel.name): outputs differ: rows=\(rows) n=\(n) k=\(k)")
        }
    }

    /// With smoothing, the bound holds for the smoothed operands `x_k / s_k` and `W[n][k]·s_k` (same product).
    @Test(arguments: [(true, false), (false, false), (true, true)])
    func matchesFloatReferenceWithinQuantizationBound(withBias: Bool, smoothed: Bool) {
        for (index, shape) in Self.shapes.enumerated() {
            let (rows, n, k) = shape
            var x = GemmTests.values(rows * k, seed: UInt64(20 + index))
            for r in 0..<rows { x[r * k + (r * 5) % k] *= 25 }
            let w = GemmTests.values(n * k, seed: UInt64(200 + index))
            let bias = withBias ? GemmTests.values(n, seed: UInt64(2000 + index)) : nil
            let expected = Self.reference(x: x, w: w, bias: bias, rows: rows, n: n, k: k)
            let magnitude = smoothed ? Self.magnitudes(k, seed: UInt64(600 + index)) : nil
            let bound: [Double]
            if let magnitude {
                let s = Self.smoothingFactors(magnitude, w: w, n: n, k: k)
                bound = Self.bound(x: x.indices.map { Float(Double(x[$0]) / s[$0 % k]) },
                                   w: w.indices.map { Float(Double(w[$0]) * s[$0 % k]) }, bias: bias, rows: rows, n: n, k: k)
            } else {
                bound = Self.bound(x: x, w: w, bias: bias, rows: rows, n: n, k: k)
            }
            for kernel in Self.int8Kernels {
                let layer = Self.layer(w, bias, n: n, k: k, kernel: kernel, inputMagnitude: magnitude)
                let actual = PackedGemmTests.run(layer, x: x, rows: rows)
                let worst = actual.indices.map { abs(Double(actual[$0]) - expected[$0]) / bound[$0] }.max()!
                #expect(worst <= 1, "\(kernel.name) rows=\(rows) n=\(n) k=\(k): error \(worst)× the quantization bound")
            }
        }
    }

    /// What smoothing is for: inputs whose feature 0 is 30× the others in every row (as a LayerNorm with one large γ
    /// gives). Unsmoothed, that feature sets every row's step; told its magnitude, the layer moves half of that range
    /// (α = ½) into the feature's weights and its worst error shrinks (measured 0.67 → 0.30; required ≥ 1.5×).
    @Test func smoothingShrinksErrorOfOutlierFeature() {
        let (rows, n, k) = (28, 64, 96)
        var x = GemmTests.values(rows * k, seed: 41)
        for r in 0..<rows { x[r * k] = 30 * (r.isMultiple(of: 2) ? 1 : -1) }
        let w = GemmTests.values(n * k, seed: 42)
        var magnitude = [Float](repeating: 0.5, count: k)
        magnitude[0] = 30
        let expected = Self.reference(x: x, w: w, bias: nil, rows: rows, n: n, k: k)
        for kernel in Self.int8Kernels {
            func worstError(_ m: [Float]?) -> Double {
                let y = PackedGemmTests.run(Self.layer(w, nil, n: n, k: k, kernel: kernel, inputMagnitude: m), x: x, rows: rows)
                return y.indices.map { abs(Double(y[$0]) - expected[$0]) }.max()!
            }
            let plain = worstError(nil), smoothed = worstError(magnitude)
            #expect(smoothed * 1.5 <= plain, "\(kernel.name): error \(smoothed) smoothed vs \(plain) plain")
        }
    }

    /// The layer really quantizes: it differs from float32 by far more than fp32 rounding (else the bound test
    /// above could pass on a float kernel).
    @Test func differsFromFloat32() {
        let (rows, n, k) = (20, 50, 64)
        let x = GemmTests.values(rows * k, seed: 71), w = GemmTests.values(n * k, seed: 72)
        let fp32 = PackedGemmTests.run(PackedLinear(weight: w, bias: nil, outFeatures: n, inFeatures: k, precision: .float32, kernel: .scalar), x: x, rows: rows)
        for kernel in Self.int8Kernels {
            let int8 = PackedGemmTests.run(Self.layer(w, nil, n: n, k: k, kernel: kernel), x: x, rows: rows)
            #expect(zip(fp32, int8).contains { abs($0 - $1) > 1e-3 }, "\(kernel.name)")
        }
    }

    /// All-zero rows and all-zero weight features give exactly the bias; a constant-sign row and small integers
    /// (exactly representable on the quantization grid) give exact results.
    @Test func degenerateRowsAndFeatures() {
        let (n, k) = (3, 5)
        let w: [Float] = [0, 0, 0, 0, 0, 1, -2, 3, 0, 127, 127, -127, 0, 0, 0] // s_w = 0, 1, 1
        let bias: [Float] = [0.5, -1, 2]
        // Row 0 all zero; row 1 only non-negative (zero point 0); row 2 only non-positive (zero point 255).
        let x: [Float] = [0, 0, 0, 0, 0, 0, 255, 0, 0, 0, 0, -255, 0, 0, 0]
        for kernel in Self.int8Kernels {
            let y = PackedGemmTests.run(Self.layer(w, bias, n: n, k: k, kernel: kernel), x: x, rows: 3)
            #expect(y == [0.5, -1, 2, 0.5, -511, -32383, 0.5, 509, 32387], "\(kernel.name): \(y)")
        }
    }

    /// Few rows with two workers: the panel split (each worker quantizes the rows again) is bit-identical to one
    /// thread. (Strided rows with the row split are covered for every precision by PackedGemmTests.stridedRows.)
    @Test func panelSplitMatchesOneThread() {
        let (n, k) = (70, 37)
        let x = GemmTests.values(3 * k, seed: 81), w = GemmTests.values(n * k, seed: 82), bias = GemmTests.values(n, seed: 83)
        let layer = PackedLinear(weight: w, bias: bias, outFeatures: n, inFeatures: k, precision: .int8)
        #expect(PackedGemmTests.run(layer, x: x, rows: 3, threads: 2) == PackedGemmTests.run(layer, x: x, rows: 3))
    }

    /// A strided weight view (packed from a mapped checkpoint, or transposed) quantizes like the dense copy.
    @Test func stridedWeightViewMatchesDense() {
        let (rows, n, k) = (9, 40, 30)
        let x = GemmTests.values(rows * k, seed: 91), wt = GemmTests.values(k * n, seed: 92) // Wᵀ [K×N]
        let w = (0..<n).flatMap { j in (0..<k).map { wt[$0 * n + j] } }
        let dense = PackedLinear(weight: w, bias: nil, outFeatures: n, inFeatures: k, precision: .int8)
        let view = wt.withUnsafeBufferPointer {
            PackedLinear(weight: $0, bias: nil, outFeatures: n, inFeatures: k, featureStride: 1, inputStride: n, precision: .int8)
        }
        #expect(PackedGemmTests.run(view, x: x, rows: rows) == PackedGemmTests.run(dense, x: x, rows: rows))
    }

    /// Fused GELU is applied to the dequantized value: it matches `KernelReference.gelu` of the plain int8 layer,
    /// within 5e-7·max(1, |x|) for the scalar kernel's exact form, 5e-5 absolute for the native kernels' polynomial
    /// (FastMathTests: ≤ 3.7e-5), far below the next layer's 8-bit quantization.
    @Test func fusedGelu() {
        let (rows, n, k) = (33, 96, 40)
        let x = GemmTests.values(rows * k, seed: 61).map { $0 * 2 }, w = GemmTests.values(n * k, seed: 62), bias = GemmTests.values(n, seed: 63)
        for kernel in Self.int8Kernels {
            let plain = PackedGemmTests.run(Self.layer(w, bias, n: n, k: k, kernel: kernel), x: x, rows: rows)
            let fused = PackedGemmTests.run(Self.layer(w, bias, n: n, k: k, kernel: kernel, activation: .gelu), x: x, rows: rows)
            let expected = KernelReference.gelu(plain)
            if kernel != .scalar {
                let worst = expected.indices.map { abs(fused[$0] - expected[$0]) }.max()!
                #expect(worst <= 5e-5, "\(kernel.name): GELU error \(worst)")
            } else {
                let worst = expected.indices.map { abs(fused[$0] - expected[$0]) / max(1, abs(plain[$0])) }.max()!
                #expect(worst <= 5e-7, "\(kernel.name): GELU error \(worst)·max(1,|x|)")
            }
        }
    }

    /// The kernel an int8 layer runs follows the active tier: VNNI where AVX-512 has it (else AVX-512 bf16 or fp32),
    /// AVX-VNNI or `vpmaddwd` on the AVX2 tier, plain C fp32 on the portable tier, fp32 OpenBLAS on the openblas tier.
    @Test func reportsKernelAndFallback() {
        let expected: String
        switch KernelTier.active {
        case .openblas: expected = "openblas"
        case .portable: expected = "portable-c"
        case .avx2: expected = Kernel.avxvnni.isSupported ? "avx-vnni-int8" : "avx2-int8"
        case .avx512: expected = Kernel.avx512vnni.isSupported ? "avx512-vnni-int8" : PackedLinear.activeKernel(for: .bfloat16)
        }
        let layer = PackedLinear(weight: [1, 127], bias: [3], outFeatures: 1, inFeatures: 2, precision: .int8)
        #expect(layer.kernel == expected && layer.kernel == PackedLinear.activeKernel(for: .int8))
        #expect(layer.precision == .int8 && PackedLinear.Precision.int8.description == "int8")
        // x = (255, 255) and w = (1, 127) lie on the quantization grid (s_x = 1, s_w = 1), and are exact in bf16 and fp32.
        #expect(PackedGemmTests.run(layer, x: [255, 255], rows: 1) == [32643])
    }
}
