import Foundation
import Testing
import SiftKernelsC
import SiftKernels

/// The element-wise functions fused into the vector kernels (sift_simd.h, AVX-512 and AVX2 versions, reached through
/// the `sift_vector_function` test hook) against Double references over dense ranges, for every vector tier this
/// process can run. The fast variants serve only the reduced-precision paths: exp in the bf16 attention softmax (P is
/// rounded to bf16, relative step 2^-8, before P·V; AVX-512 only) and GELU in the bf16 / int8 GEMM stores (the next
/// layer rounds to bf16 or quantizes to 8 bits).
@Suite struct FastMathTests {
    /// The vector kernels whose functions run here (AVX-512 and AVX2 on an AVX-512 machine).
    static let vectorKernels = [SIFT_KERNEL_AVX512, SIFT_KERNEL_AVX2].map(Int32.init).filter { sift_kernel_supported($0) != 0 }
    static let hasAVX512 = vectorKernels.contains(Int32(SIFT_KERNEL_AVX512))

    static func apply(_ function: Int32, _ x: [Float], kernel: Int32) -> [Float] {
        var y = [Float](repeating: .nan, count: x.count)
        let status = x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { sift_vector_function(function, xp.baseAddress, $0.baseAddress, x.count, kernel) }
        }
        #expect(status == 0)
        return y
    }

    /// `count` evenly spaced floats over [lo, hi] (both ends included); an odd count also exercises the masked tail.
    static func grid(_ lo: Double, _ hi: Double, count: Int) -> [Float] {
        (0..<count).map { Float(lo + (hi - lo) * Double($0) / Double(count - 1)) }
    }

    static func exactGelu(_ v: Float) -> Double { Double(v) * 0.5 * (1 + erf(Double(v) / 2.0.squareRoot())) }

    /// Worst relative error of exp over x ∈ [−87, 0] (1 M points, plus x ∈ [−1e-3, 0] densely, where 2^f ≈ 1).
    static func worstExpError(_ function: Int32, kernel: Int32) -> Double {
        let x = grid(-87, 0, count: 1_000_001) + grid(-1e-3, 0, count: 10_001)
        let y = apply(function, x, kernel: kernel)
        return zip(x, y).map { v, e in abs(Double(e) / Foundation.exp(Double(v)) - 1) }.max()!
    }

    /// Degree-3 polynomial after the 2^n range reduction: measured 7.9e-5; tolerance 1e-4 (bf16 P: 3.9e-3 relative
    /// rounding). The fp32 kernel's degree-6 exp stays at ≤ 1e-6 (measured ~1e-7).
    @Test(.enabled(if: hasAVX512, "needs AVX-512 (absent, or SIFT_KERNELS is below avx512)"))
    func fastExpRelativeError() {
        let fast = Self.worstExpError(Int32(SIFT_VECTOR_EXP_FAST), kernel: Int32(SIFT_KERNEL_AVX512))
        #expect(fast <= 1e-4, "fast exp relative error \(fast)")
        let tail = Self.apply(Int32(SIFT_VECTOR_EXP_FAST), [-1000, -Float.greatestFiniteMagnitude, -.infinity],
                              kernel: Int32(SIFT_KERNEL_AVX512))
        #expect(tail.allSatisfy { $0 >= 0 && $0 < 1e-37 }, "fast exp: \(tail)")
    }

    @Test(.enabled(if: !vectorKernels.isEmpty, "needs AVX2 or AVX-512 (absent, or SIFT_KERNELS is portable/openblas)"),
          arguments: vectorKernels)
    func expRelativeError(kernel: Int32) {
        let exact = Self.worstExpError(Int32(SIFT_VECTOR_EXP), kernel: kernel)
        #expect(exact <= 1e-6, "kernel \(kernel): exp relative error \(exact)")
        // Far below the clamp at −87 it still gives a finite, non-negative value (scores far below the row max).
        let tail = Self.apply(Int32(SIFT_VECTOR_EXP), [-1000, -Float.greatestFiniteMagnitude, -.infinity], kernel: kernel)
        #expect(tail.allSatisfy { $0 >= 0 && $0 < 1e-37 }, "kernel \(kernel): \(tail)")
    }

    /// Polynomial GELU over x ∈ [−12, 12] (2.4 M points): measured 3.7e-5 absolute (worst at |x| ≈ 4.3, where it
    /// switches to max(x, 0)); tolerance 5e-5. The fp32 kernel's exact-form GELU stays within 5e-7·max(1, |x|).
    @Test(.enabled(if: !vectorKernels.isEmpty, "needs AVX2 or AVX-512 (absent, or SIFT_KERNELS is portable/openblas)"),
          arguments: vectorKernels)
    func geluAbsoluteError(kernel: Int32) {
        let x = Self.grid(-12, 12, count: 2_400_001)
        let fast = Self.apply(Int32(SIFT_VECTOR_GELU_FAST), x, kernel: kernel)
        let exact = Self.apply(Int32(SIFT_VECTOR_GELU), x, kernel: kernel)
        let fastError = x.indices.map { abs(Double(fast[$0]) - Self.exactGelu(x[$0])) }.max()!
        let exactError = x.indices.map { abs(Double(exact[$0]) - Self.exactGelu(x[$0])) / max(1, Double(abs(x[$0]))) }.max()!
        #expect(fastError <= 5e-5, "kernel \(kernel): fast GELU absolute error \(fastError)")
        #expect(exactError <= 5e-7, "kernel \(kernel): GELU error \(exactError)·max(1,|x|)")
        // Saturation: identity far right, zero far left, including values whose square overflows.
        let edges: [Float] = [5, 100, 1e30, -5, -100, -1e30, 0]
        #expect(Self.apply(Int32(SIFT_VECTOR_GELU_FAST), edges, kernel: kernel) == [5, 100, 1e30, 0, 0, 0, 0])
    }

    /// Unknown functions, the AVX2 fast exp (AVX2 has no bf16 softmax to use it) and the plain C kernel (it fuses no
    /// vector function) are refused without touching the output.
    @Test func rejectsWhatNoKernelHas() {
        for (function, kernel) in [(99, SIFT_KERNEL_AVX2), (99, SIFT_KERNEL_AVX512), (Int(SIFT_VECTOR_EXP_FAST), SIFT_KERNEL_AVX2),
                                   (Int(SIFT_VECTOR_GELU), SIFT_KERNEL_SCALAR)] {
            var y: [Float] = [7]
            let status = y.withUnsafeMutableBufferPointer { sift_vector_function(Int32(function), [1], $0.baseAddress, 1, Int32(kernel)) }
            #expect(status == -1 && y == [7], "function \(function) on kernel \(kernel)")
        }
    }
}
