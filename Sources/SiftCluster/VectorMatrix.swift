/// Row-major float32 matrix of item vectors: `rows` vectors of `dimension` values each.
public struct VectorMatrix: Sendable, Hashable {
    public let rows: Int
    public let dimension: Int
    public var values: [Float]

    public init(rows: Int, dimension: Int, values: [Float]) {
        precondition(rows >= 0 && dimension > 0 && values.count == rows * dimension,
                     "VectorMatrix: \(values.count) values for \(rows)×\(dimension)")
        self.rows = rows
        self.dimension = dimension
        self.values = values
    }

    /// From one array per vector; all must have the same, non-zero length.
    public init(_ vectors: [[Float]]) {
        let dimension = vectors.first?.count ?? 1
        precondition(dimension > 0 && vectors.allSatisfy { $0.count == dimension }, "VectorMatrix: rows of different lengths")
        self.init(rows: vectors.count, dimension: dimension, values: vectors.flatMap { $0 })
    }

    public func row(_ i: Int) -> ArraySlice<Float> { values[(i * dimension)..<((i + 1) * dimension)] }

    /// A copy with every row scaled to unit length (zero rows stay zero).
    public func normalized() -> VectorMatrix {
        var copy = self
        copy.values.withUnsafeMutableBufferPointer { v in
            for r in 0..<rows {
                var sum: Float = 0
                for j in 0..<dimension { sum += v[r * dimension + j] * v[r * dimension + j] }
                guard sum > 0 else { continue }
                let scale = 1 / sum.squareRoot()
                for j in 0..<dimension { v[r * dimension + j] *= scale }
            }
        }
        return copy
    }

    /// Number of distinct rows, stopping early once `limit` is reached (k-means needs at least k).
    public func distinctRowCount(limit: Int) -> Int {
        var seen = Set<ArraySlice<Float>>()
        for r in 0..<rows {
            seen.insert(row(r))
            if seen.count >= limit { break }
        }
        return seen.count
    }
}
