import Foundation
import SiftCore
import SiftKernels

/// k-means (Lloyd's algorithm) with k-means++ seeding and restarts, following scikit-learn's `KMeans`
/// (`algorithm="lloyd"`): the same greedy k-means++ (2 + ⌊ln k⌋ local trials per centre), the same stopping rule
/// (labels unchanged, or the summed squared centre shift ≤ tolerance × the mean per-feature variance), the same
/// relocation of empty clusters to the farthest points, and a last assignment so labels match the centres.
///
/// The assignment step is one GEMM per block of rows on the packed kernels: with weights = centres and bias
/// = −½‖c‖², `x·c − ½‖c‖²` is largest for the nearest centre, so no n×k distance matrix is kept beyond a block,
/// and memory stays O(n + k·d) however many items there are. Work is split over `threads` fixed, contiguous row
/// ranges, so a run is deterministic for a given seed and thread count.
public enum KMeans {
    public struct Options: Sendable, Hashable {
        public var k: Int
        /// Independent k-means++ starts; the run with the lowest inertia wins (scikit-learn's `n_init`).
        public var restarts: Int
        public var maxIterations: Int
        /// Relative tolerance (scikit-learn's `tol`), scaled by the mean per-feature variance of the data.
        public var tolerance: Double
        public var seed: UInt64
        public var threads: Int

        public init(k: Int, restarts: Int = 3, maxIterations: Int = 300, tolerance: Double = 1e-4, seed: UInt64 = 0,
                    threads: Int = 2) {
            self.k = k
            self.restarts = restarts
            self.maxIterations = maxIterations
            self.tolerance = tolerance
            self.seed = seed
            self.threads = threads
        }
    }

    public struct Result: Sendable, Hashable {
        public var centers: VectorMatrix
        /// Cluster of each row, in `0..<k`.
        public var labels: [Int]
        /// Sum of squared Euclidean distances from each row to its centre.
        public var inertia: Double
        /// Lloyd iterations of the winning run.
        public var iterations: Int
        /// Whether the winning run stopped by the tolerance rule rather than `maxIterations`.
        public var converged: Bool
    }

    /// Clusters the rows of `x` into `options.k` clusters.
    public static func fit(_ x: VectorMatrix, options: Options) throws -> Result {
        try validate(x, k: options.k, restarts: options.restarts, maxIterations: options.maxIterations,
                     tolerance: options.tolerance, threads: options.threads)
        var rng = SplitMix64(state: options.seed)
        let norms = squaredNorms(x)
        var best: Result?
        for _ in 0..<options.restarts {
            let initial = kMeansPlusPlus(x, k: options.k, squaredNorms: norms, rng: &rng, threads: options.threads)
            let result = lloyd(x, initialCenters: initial, squaredNorms: norms, maxIterations: options.maxIterations,
                               tolerance: options.tolerance, threads: options.threads)
            if best == nil || result.inertia < best!.inertia { best = result }
        }
        return best!
    }

    /// One Lloyd run from given initial centres (`k` = their row count): what scikit-learn's
    /// `KMeans(init=centres, n_init=1)` does, for parity checks and for callers that seed centres themselves.
    public static func fit(_ x: VectorMatrix, initialCenters: VectorMatrix, maxIterations: Int = 300, tolerance: Double = 1e-4,
                           threads: Int = 2) throws -> Result {
        precondition(initialCenters.dimension == x.dimension, "KMeans: centres of dimension \(initialCenters.dimension) for data of \(x.dimension)")
        try validate(x, k: initialCenters.rows, restarts: 1, maxIterations: maxIterations, tolerance: tolerance, threads: threads)
        return lloyd(x, initialCenters: initialCenters, squaredNorms: squaredNorms(x), maxIterations: maxIterations,
                     tolerance: tolerance, threads: threads)
    }

    private static func validate(_ x: VectorMatrix, k: Int, restarts: Int, maxIterations: Int, tolerance: Double, threads: Int) throws {
        if x.rows == 0 { throw ClusterError.empty }
        if k < 1 { throw ClusterError.invalidArgument(name: "k", value: "\(k)", expected: "at least 1") }
        if restarts < 1 { throw ClusterError.invalidArgument(name: "restarts", value: "\(restarts)", expected: "at least 1") }
        if maxIterations < 1 { throw ClusterError.invalidArgument(name: "max_iterations", value: "\(maxIterations)", expected: "at least 1") }
        if !(tolerance >= 0) || !tolerance.isFinite { throw ClusterError.invalidArgument(name: "tolerance", value: "\(tolerance)", expected: "a finite number ≥ 0") }
        if threads < 1 { throw ClusterError.invalidArgument(name: "threads", value: "\(threads)", expected: "at least 1") }
        if k > x.rows { throw ClusterError.tooFewItems(method: "k-means", items: x.rows, distinct: nil, requested: k) }
        let distinct = x.distinctRowCount(limit: k)
        if distinct < k { throw ClusterError.tooFewItems(method: "k-means", items: x.rows, distinct: distinct, requested: k) }
    }

    // MARK: k-means++

    /// scikit-learn's greedy k-means++: the first centre uniformly at random, then each next centre the best (lowest
    /// resulting potential) of 2 + ⌊ln k⌋ candidates drawn with probability proportional to D².
    static func kMeansPlusPlus(_ x: VectorMatrix, k: Int, squaredNorms norms: [Float], rng: inout SplitMix64,
                               threads: Int) -> VectorMatrix {
        let n = x.rows, d = x.dimension
        let trials = 2 + Int(log(Double(k)))
        var centers = [Float](repeating: 0, count: k * d)
        let first = Int(rng.nextUnit() * Double(n))
        centers.replaceSubrange(0..<d, with: x.row(first))
        var closest = squaredDistances(x, norms: norms, to: [first], threads: threads)[0]
        var potential = closest.reduce(0.0) { $0 + Double($1) }
        var cumulative = [Double](repeating: 0, count: n)
        for c in 1..<max(1, k) {
            var running = 0.0
            for i in 0..<n { running += Double(closest[i]); cumulative[i] = running }
            let candidates = (0..<trials).map { _ -> Int in
                let target = rng.nextUnit() * potential
                // searchsorted (left): the first index whose cumulative sum reaches the target.
                var lo = 0, hi = n
                while lo < hi { let mid = (lo + hi) / 2; if cumulative[mid] < target { lo = mid + 1 } else { hi = mid } }
                return min(lo, n - 1)
            }
            let distances = squaredDistances(x, norms: norms, to: candidates, threads: threads)
            var bestTrial = 0, bestPotential = Double.infinity
            var bestRow: [Float] = []
            for (t, row) in distances.enumerated() {
                var merged = row
                var total = 0.0
                for i in 0..<n { merged[i] = min(merged[i], closest[i]); total += Double(merged[i]) }
                if total < bestPotential { bestPotential = total; bestTrial = t; bestRow = merged }
            }
            potential = bestPotential
            closest = bestRow
            centers.replaceSubrange((c * d)..<((c + 1) * d), with: x.row(candidates[bestTrial]))
        }
        return VectorMatrix(rows: k, dimension: d, values: centers)
    }

    /// Squared distances from the rows `ids` of `x` to every row: `[ids.count][n]`, clamped at 0.
    private static func squaredDistances(_ x: VectorMatrix, norms: [Float], to ids: [Int], threads: Int) -> [[Float]] {
        let targets = ids.flatMap { x.row($0) }
        let scores = blockScores(x, weights: targets, count: ids.count, bias: ids.map { -0.5 * norms[$0] }, threads: threads)
        return ids.indices.map { t in (0..<x.rows).map { i in max(0, norms[i] - 2 * scores[i * ids.count + t]) } }
    }

    /// `x · wᵀ + bias` for all rows, `[n × count]`, on the packed kernels (used by k-means++ only; its `count` is small).
    private static func blockScores(_ x: VectorMatrix, weights: [Float], count: Int, bias: [Float], threads: Int) -> [Float] {
        let packed = PackedLinear(weight: weights, bias: bias, outFeatures: count, inFeatures: x.dimension, precision: .float32)
        var out = [Float](repeating: 0, count: x.rows * count)
        x.values.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { op in
            packed.apply(xp, rows: x.rows, into: op, threads: threads)
        } }
        return out
    }

    // MARK: Lloyd

    static func lloyd(_ x: VectorMatrix, initialCenters: VectorMatrix, squaredNorms norms: [Float], maxIterations: Int,
                      tolerance: Double, threads: Int) -> Result {
        let k = initialCenters.rows
        let tol = scaledTolerance(x, tolerance)
        var centers = initialCenters.values
        var labels = [Int](repeating: -1, count: x.rows)
        var previous = labels
        var strict = false, converged = false
        var iterations = 0
        for iteration in 0..<maxIterations {
            iterations = iteration + 1
            let step = assign(x, centers: centers, k: k, norms: norms, labels: &labels, accumulate: true, threads: threads)
            var next = step.means(old: centers, k: k, dimension: x.dimension)
            relocateEmptyClusters(x, step: step, labels: &labels, centers: &next, k: k)
            var shift = 0.0
            for j in 0..<(k * x.dimension) { let delta = Double(next[j] - centers[j]); shift += delta * delta }
            centers = next
            if labels == previous { strict = true; converged = true; break }
            if shift <= tol { converged = true; break }
            previous = labels
        }
        if !strict {
            // Labels were assigned against the previous centres; assign once more so they match the final ones.
            _ = assign(x, centers: centers, k: k, norms: norms, labels: &labels, accumulate: false, threads: threads)
        }
        let centerMatrix = VectorMatrix(rows: k, dimension: x.dimension, values: centers)
        return Result(centers: centerMatrix, labels: labels, inertia: inertia(x, centers: centerMatrix, labels: labels),
                      iterations: iterations, converged: converged)
    }

    /// tolerance × mean over features of the per-feature variance (scikit-learn's `_tolerance`).
    static func scaledTolerance(_ x: VectorMatrix, _ tolerance: Double) -> Double {
        if tolerance == 0 { return 0 }
        let n = x.rows, d = x.dimension
        var mean = [Double](repeating: 0, count: d), squares = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { let v = Double(x.values[i * d + j]); mean[j] += v; squares[j] += v * v } }
        var total = 0.0
        for j in 0..<d { let m = mean[j] / Double(n); total += squares[j] / Double(n) - m * m }
        return total / Double(d) * tolerance
    }

    /// Per-worker sums from one assignment pass.
    struct Step {
        var sums: [Float]       // k × d, summed over workers
        var counts: [Int]       // k
        var distances: [Float]  // n: squared distance of each row to its assigned centre

        func means(old: [Float], k: Int, dimension d: Int) -> [Float] {
            var next = old
            for j in 0..<k where counts[j] > 0 {
                let scale = 1 / Float(counts[j])
                for f in 0..<d { next[j * d + f] = sums[j * d + f] * scale }
            }
            return next
        }
    }

    /// Rows of one GEMM block: small enough that the block's scores stay in L2, large enough to amortise the kernel.
    static let blockRows = 256

    /// Assigns every row to its nearest centre (ties: the lower index) and, when `accumulate`, sums rows per cluster.
    static func assign(_ x: VectorMatrix, centers: [Float], k: Int, norms: [Float], labels: inout [Int], accumulate: Bool,
                       threads: Int) -> Step {
        let n = x.rows, d = x.dimension
        var bias = [Float](repeating: 0, count: k)
        for j in 0..<k {
            var s: Float = 0
            for f in 0..<d { s += centers[j * d + f] * centers[j * d + f] }
            bias[j] = -0.5 * s
        }
        let packed = PackedLinear(weight: centers, bias: bias, outFeatures: k, inFeatures: d, precision: .float32)
        let workers = max(1, min(threads, n / blockRows))
        var sums = [Float](repeating: 0, count: workers * (accumulate ? k * d : 0))
        var counts = [Int](repeating: 0, count: workers * k)
        var distances = [Float](repeating: 0, count: n)
        x.values.withUnsafeBufferPointer { xp in
            labels.withUnsafeMutableBufferPointer { lp in
                sums.withUnsafeMutableBufferPointer { sp in
                    counts.withUnsafeMutableBufferPointer { cp in
                        distances.withUnsafeMutableBufferPointer { dp in
                            let shared = AssignBuffers(x: xp, labels: lp, sums: sp, counts: cp, distances: dp)
                            DispatchQueue.concurrentPerform(iterations: workers) { w in
                                let rows = (n * w / workers)..<(n * (w + 1) / workers)
                                assignRange(rows, shared: shared, worker: w, packed: packed, norms: norms, k: k, d: d,
                                            accumulate: accumulate)
                            }
                        }
                    }
                }
            }
        }
        // Fixed worker order: the reduction is the same on every run with this thread count.
        var totalSums = [Float](repeating: 0, count: accumulate ? k * d : 0)
        var totalCounts = [Int](repeating: 0, count: k)
        for w in 0..<workers {
            if accumulate { for j in 0..<(k * d) { totalSums[j] += sums[w * k * d + j] } }
            for j in 0..<k { totalCounts[j] += counts[w * k + j] }
        }
        return Step(sums: totalSums, counts: totalCounts, distances: distances)
    }

    /// Buffers the workers share; each writes only its own rows and its own slice of the sums.
    private struct AssignBuffers: @unchecked Sendable {
        let x: UnsafeBufferPointer<Float>
        let labels: UnsafeMutableBufferPointer<Int>
        let sums: UnsafeMutableBufferPointer<Float>
        let counts: UnsafeMutableBufferPointer<Int>
        let distances: UnsafeMutableBufferPointer<Float>
    }

    private static func assignRange(_ rows: Range<Int>, shared: AssignBuffers, worker w: Int, packed: PackedLinear,
                                    norms: [Float], k: Int, d: Int, accumulate: Bool) {
        var scores = [Float](repeating: 0, count: blockRows * k)
        scores.withUnsafeMutableBufferPointer { sc in
            var start = rows.lowerBound
            while start < rows.upperBound {
                let count = min(blockRows, rows.upperBound - start)
                packed.apply(UnsafeBufferPointer(rebasing: shared.x[(start * d)..<((start + count) * d)]), rows: count, into: sc, threads: 1)
                for r in 0..<count {
                    let i = start + r
                    var best = 0
                    var bestScore = sc[r * k]
                    for j in 1..<max(1, k) where sc[r * k + j] > bestScore { bestScore = sc[r * k + j]; best = j }
                    shared.labels[i] = best
                    shared.distances[i] = max(0, norms[i] - 2 * bestScore)
                    shared.counts[w * k + best] += 1
                    if accumulate {
                        let base = w * k * d + best * d
                        for f in 0..<d { shared.sums[base + f] += shared.x[i * d + f] }
                    }
                }
                start += count
            }
        }
    }

    /// Empty clusters take the rows farthest from their centres (scikit-learn's relocation), each row leaving the
    /// cluster it was in.
    private static func relocateEmptyClusters(_ x: VectorMatrix, step: Step, labels: inout [Int], centers: inout [Float], k: Int) {
        let empty = (0..<k).filter { step.counts[$0] == 0 }
        if empty.isEmpty { return }
        let d = x.dimension
        var sums = step.sums, counts = step.counts
        let far = (0..<x.rows).sorted { step.distances[$0] != step.distances[$1] ? step.distances[$0] > step.distances[$1] : $0 < $1 }
        for (cluster, row) in zip(empty, far) {
            let old = labels[row]
            for f in 0..<d { sums[old * d + f] -= x.values[row * d + f]; sums[cluster * d + f] = x.values[row * d + f] }
            counts[old] -= 1
            counts[cluster] = 1
            labels[row] = cluster
        }
        for j in 0..<k where counts[j] > 0 {
            for f in 0..<d { centers[j * d + f] = sums[j * d + f] / Float(counts[j]) }
        }
    }

    static func squaredNorms(_ x: VectorMatrix) -> [Float] {
        (0..<x.rows).map { i in
            var s: Float = 0
            for f in 0..<x.dimension { let v = x.values[i * x.dimension + f]; s += v * v }
            return s
        }
    }

    /// Σ ‖xᵢ − c_labelᵢ‖², from the differences themselves (no cancellation), accumulated in Double.
    public static func inertia(_ x: VectorMatrix, centers: VectorMatrix, labels: [Int]) -> Double {
        precondition(labels.count == x.rows && centers.dimension == x.dimension, "inertia: shapes differ")
        let d = x.dimension
        var total = 0.0
        for i in 0..<x.rows {
            let c = labels[i]
            for f in 0..<d { let delta = Double(x.values[i * d + f]) - Double(centers.values[c * d + f]); total += delta * delta }
        }
        return total
    }
}
