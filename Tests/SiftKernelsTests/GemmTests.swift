import Testing
import SiftKernels

@Suite struct GemmTests {
    /// Deterministic pseudo-random values in [-1, 1).
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2_000_000) / 1_000_000 - 1
        }
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matchesReference(transA: Bool, transB: Bool) {
        let (m, n, k) = (7, 5, 9)
        let lda = (transA ? m : k) + 2, ldb = (transB ? k : n) + 1, ldc = n + 3
        let a = Self.values((transA ? k : m) * lda, seed: 1)
        let b = Self.values((transB ? n : k) * ldb, seed: 2)
        var expected = Self.values(m * ldc, seed: 3)
        var actual = expected
        Gemm.reference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb, beta: 2, c: &expected, ldc: ldc)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                actual.withUnsafeMutableBufferPointer { cp in
                    Gemm.multiply(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: ap, lda: lda, b: bp, ldb: ldb, beta: 2, c: cp, ldc: ldc)
                }
            }
        }
        for i in 0..<expected.count { #expect(abs(expected[i] - actual[i]) <= 1e-5, "index \(i)") }
    }
}
