import Foundation
import Testing
import SiftKernelsC
import SiftKernels

/// The AVX-512 element-wise functions fused into the kernels (sift_simd.h, reached through the
/// `sift_vector_function` test hook) against Double references over dense ranges. The fast variants serve only the
/// reduced-precision paths: exp in the bf16 attention softmax (P is rounded to bf16, relative step 2^-8, before P·V)
/// and GELU in the bf16 / int8 GEMM stores (the next layer rounds to bf16 or quantizes to 8 bits).
@Suite struct FastMathTests {
    static let hasAVX512 = sift_kernel_supported(Int32(SIFT_KERNEL_AVX512)) != 0

    static func apply(_ function: Int32, _ x: [Float]) -> [Float] {
        var y = [Float](repeating: .nan, count: x.count)
        let status = x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { sift_vector_function(function, xp.baseAddress, $0.baseAddress, x.count) }
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
    static func worstExpError(_ function: Int32) -> Double {
        let x = grid(-87, 0, count: 1_000_001) + grid(-1e-3, 0, count: 10_001)
        let y = apply(function, x)
        return zip(x, y).map { v, e in abs(Double(e) / Foundation.exp(Double(v)) - 1) }.max()!
    }

    /// Degree-3 polynomial after the 2^n range reduction: measured 7.9e-5; tolerance 1e-4 (bf16 P: 3.9e-3 relative
    /// rounding). The fp32 kernel's degree-6 exp stays at ≤ 1e-6 (measured ~1e-7).
    @Test(.enabled(if: hasAVX512, "needs AVX-512"))
    func expRelativeError() {
        let fast = Self.worstExpError(Int32(SIFT_VECTOR_EXP_FAST)), exact = Self.worstExpError(Int32(SIFT_VECTOR_EXP))
        #expect(fast <= 1e-4, "fast exp relative error \(fast)")
        #expect(exact <= 1e-6, "exp relative error \(exact)")
        // Far below the clamp at −87 both still give a finite, non-negative value (scores far below the row max).
        for function in [SIFT_VECTOR_EXP, SIFT_VECTOR_EXP_FAST] {
            let tail = Self.apply(Int32(function), [-1000, -Float.greatestFiniteMagnitude, -.infinity])
            #expect(tail.allSatisfy { $0 >= 0 && $0 < 1e-37 }, "\(function): \(tail)")
        }
    }

    /// Polynomial GELU over x ∈ [−12, 12] (2.4 M points): measured 3.7e-5 absolute (worst at |x| ≈ 4.3, where it
    /// switches to max(x, 0)); tolerance 5e-5. The fp32 kernel's exact-form GELU stays within 5e-7·max(1, |x|).
    @Test(.enabled(if: hasAVX512, "needs AVX-512"))
    func geluAbsoluteError() {
        let x = Self.grid(-12, 12, count: 2_400_001)
        let fast = Self.apply(Int32(SIFT_VECTOR_GELU_FAST), x), exact = Self.apply(Int32(SIFT_VECTOR_GELU), x)
        let fastError = x.indices.map { abs(Double(fast[$0]) - Self.exactGelu(x[$0])) }.max()!
        let exactError = x.indices.map { abs(Double(exact[$0]) - Self.exactGelu(x[$0])) / max(1, Double(abs(x[$0]))) }.max()!
        #expect(fastError <= 5e-5, "fast GELU absolute error \(fastError)")
        #expect(exactError <= 5e-7, "GELU error \(exactError)·max(1,|x|)")
        // Saturation: identity far right, zero far left, including values whose square overflows.
        let edges: [Float] = [5, 100, 1e30, -5, -100, -1e30, 0]
        #expect(Self.apply(Int32(SIFT_VECTOR_GELU_FAST), edges) == [5, 100, 1e30, 0, 0, 0, 0])
    }

    @Test func rejectsUnknownFunction() {
        var y: [Float] = [7]
        let status = y.withUnsafeMutableBufferPointer { sift_vector_function(99, [1], $0.baseAddress, 1) }
        #expect(status == -1 && y == [7])
    }
}
