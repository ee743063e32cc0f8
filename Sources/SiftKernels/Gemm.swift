import COpenBLAS

/// Dense matrix multiply on row-major float32 buffers, through OpenBLAS `cblas_sgemm`.
///
/// Computes `C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C`, where `op(X)` is `X` or `Xᵀ`.
/// With `transA == false`, A is stored m×k (leading dimension `lda ≥ k`); with `transA == true`, A is stored k×m (`lda ≥ m`).
/// Likewise B is k×n (`ldb ≥ n`) or, transposed, n×k (`ldb ≥ k`). C is m×n with `ldc ≥ n`.
/// Shapes are checked before calling C: a mismatch is a programmer error and traps.
public enum Gemm {
    public static func multiply(
        transA: Bool = false, transB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafeBufferPointer<Float>, lda: Int,
        b: UnsafeBufferPointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutableBufferPointer<Float>, ldc: Int
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "gemm: negative dimension m=\(m) n=\(n) k=\(k)")
        if m == 0 || n == 0 { return }
        let (aRows, aCols) = transA ? (k, m) : (m, k)
        let (bRows, bCols) = transB ? (n, k) : (k, n)
        precondition(lda >= max(1, aCols) && ldb >= max(1, bCols) && ldc >= max(1, n),
                     "gemm: leading dimension too small (lda=\(lda) ldb=\(ldb) ldc=\(ldc))")
        precondition(aRows == 0 || a.count >= (aRows - 1) * lda + aCols, "gemm: A has \(a.count) elements, needs \(aRows)×\(aCols) (lda \(lda))")
        precondition(bRows == 0 || b.count >= (bRows - 1) * ldb + bCols, "gemm: B has \(b.count) elements, needs \(bRows)×\(bCols) (ldb \(ldb))")
        precondition(c.count >= (m - 1) * ldc + n, "gemm: C has \(c.count) elements, needs \(m)×\(n) (ldc \(ldc))")
        if k == 0 {
            // BLAS leaves C·beta; do it here so the reference and BLAS agree on the degenerate case.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } }
            return
        }
        cblas_sgemm(CblasRowMajor,
                    transA ? CblasTrans : CblasNoTrans,
                    transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k),
                    alpha, a.baseAddress, Int32(lda),
                    b.baseAddress, Int32(ldb),
                    beta, c.baseAddress, Int32(ldc))
    }

    /// Plain Swift reference for `multiply`, used by tests. Same conventions, accumulates in Double.
    public static func reference(
        transA: Bool = false, transB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: [Float], lda: Int,
        b: [Float], ldb: Int,
        beta: Float = 0,
        c: inout [Float], ldc: Int
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(av) * Double(bv)
                }
                c[i * ldc + j] = alpha * Float(sum) + beta * c[i * ldc + j]
            }
        }
    }

    /// Number of threads OpenBLAS may use. Sift keeps one owner of the cores: callers that
    /// parallelise themselves set this to 1.
    public static var threadCount: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(max(1, newValue))) }
    }
}
