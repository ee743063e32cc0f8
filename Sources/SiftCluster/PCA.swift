import SiftKernels

/// Principal component analysis by eigen-decomposition of the covariance matrix (cyclic Jacobi, in Double):
/// d×d work, independent of the number of rows beyond one GEMM, so a 2-D map of 100k vectors costs one pass.
/// Signs follow scikit-learn's `svd_flip` on the components: each component's largest-magnitude entry is positive.
public struct PCA: Sendable {
    /// `[components × dimension]`, row-major, unit length.
    public let components: [[Double]]
    /// Variance along each component (eigenvalues of the covariance, n − 1 denominator).
    public let explainedVariance: [Double]
    public let explainedVarianceRatio: [Double]
    public let mean: [Double]

    public init(fitting x: VectorMatrix, components count: Int = 2) throws {
        let n = x.rows, d = x.dimension
        if n < 2 { throw ClusterError.tooFewItems(method: "PCA", items: n, distinct: nil, requested: 2) }
        if count < 1 || count > d { throw ClusterError.invalidArgument(name: "components", value: "\(count)", expected: "1...\(d)") }
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += Double(x.values[i * d + j]) } }
        for j in 0..<d { mean[j] /= Double(n) }
        var centred = x.values
        for i in 0..<n { for j in 0..<d { centred[i * d + j] -= Float(mean[j]) } }
        var gram = [Float](repeating: 0, count: d * d)
        centred.withUnsafeBufferPointer { cp in gram.withUnsafeMutableBufferPointer { gp in
            // gram[d × d] = Xcᵀ · Xc
            Gemm.multiply(transA: true, m: d, n: d, k: n, a: cp, lda: d, b: cp, ldb: d, c: gp, ldc: d)
        } }
        var covariance = gram.map { Double($0) / Double(n - 1) }
        for i in 0..<d { for j in 0..<i { let s = (covariance[i * d + j] + covariance[j * d + i]) / 2; covariance[i * d + j] = s; covariance[j * d + i] = s } }
        let (values, vectors) = Self.symmetricEigen(&covariance, d)
        let order = (0..<d).sorted { values[$0] != values[$1] ? values[$0] > values[$1] : $0 < $1 }
        let total = values.reduce(0) { $0 + max(0, $1) }
        var components: [[Double]] = []
        for c in order.prefix(count) {
            var v = (0..<d).map { vectors[$0 * d + c] }
            let largest = v.indices.max { abs(v[$0]) < abs(v[$1]) }!
            if v[largest] < 0 { v = v.map { -$0 } }
            components.append(v)
        }
        self.components = components
        self.explainedVariance = order.prefix(count).map { max(0, values[$0]) }
        self.explainedVarianceRatio = explainedVariance.map { total > 0 ? $0 / total : 0 }
        self.mean = mean
    }

    /// Coordinates of each row of `x` on the components: `[rows][components]`.
    public func transform(_ x: VectorMatrix) -> [[Double]] {
        precondition(x.dimension == mean.count, "PCA.transform: dimension \(x.dimension), fitted on \(mean.count)")
        let d = x.dimension
        return (0..<x.rows).map { i in
            components.map { component in
                var s = 0.0
                for j in 0..<d { s += (Double(x.values[i * d + j]) - mean[j]) * component[j] }
                return s
            }
        }
    }

    /// Eigenvalues and eigenvectors (columns of the returned row-major matrix) of the symmetric `a [n × n]`,
    /// by cyclic Jacobi rotations until the off-diagonal mass is negligible. `a` is destroyed.
    static func symmetricEigen(_ a: inout [Double], _ n: Int) -> (values: [Double], vectors: [Double]) {
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        var scale = 0.0
        for i in 0..<(n * n) { scale += a[i] * a[i] }
        let limit = 1e-22 * max(scale, .leastNormalMagnitude)
        for _ in 0..<60 {
            var off = 0.0
            for p in 0..<n { for q in (p + 1)..<max(p + 1, n) { off += a[p * n + q] * a[p * n + q] } }
            if off <= limit { break }
            for p in 0..<n {
                for q in (p + 1)..<max(p + 1, n) {
                    let apq = a[p * n + q]
                    if abs(apq) < 1e-300 { continue }
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * apq)
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {
                        let akp = a[k * n + p], akq = a[k * n + q]
                        a[k * n + p] = c * akp - s * akq
                        a[k * n + q] = s * akp + c * akq
                    }
                    for k in 0..<n {
                        let apk = a[p * n + k], aqk = a[q * n + k]
                        a[p * n + k] = c * apk - s * aqk
                        a[q * n + k] = s * apk + c * aqk
                    }
                    for k in 0..<n {
                        let vkp = v[k * n + p], vkq = v[k * n + q]
                        v[k * n + p] = c * vkp - s * vkq
                        v[k * n + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        return ((0..<n).map { a[$0 * n + $0] }, v)
    }
}

/// Agreement between two partitions, corrected for chance (Hubert & Arabie), as scikit-learn's
/// `adjusted_rand_score`: 1 for identical partitions (whatever the label names), about 0 for random ones.
public func adjustedRandIndex(_ a: [Int], _ b: [Int]) -> Double {
    precondition(a.count == b.count, "adjustedRandIndex: \(a.count) and \(b.count) labels")
    let n = a.count
    if n < 2 { return 1 }
    func pairs(_ x: Int) -> Double { Double(x) * Double(x - 1) / 2 }
    var table: [Int: [Int: Int]] = [:]
    var rows: [Int: Int] = [:], columns: [Int: Int] = [:]
    for (x, y) in zip(a, b) { table[x, default: [:]][y, default: 0] += 1; rows[x, default: 0] += 1; columns[y, default: 0] += 1 }
    let index = table.values.flatMap(\.values).reduce(0.0) { $0 + pairs($1) }
    let sumRows = rows.values.reduce(0.0) { $0 + pairs($1) }, sumColumns = columns.values.reduce(0.0) { $0 + pairs($1) }
    let expected = sumRows * sumColumns / pairs(n)
    let maximum = (sumRows + sumColumns) / 2
    // Both partitions trivial in the same way (all singletons, or one cluster): scikit-learn returns 1.
    if maximum == expected { return 1 }
    return (index - expected) / (maximum - expected)
}
