import SiftKernels

/// Agglomerative (hierarchical) clustering, as scikit-learn's `AgglomerativeClustering` with `distance_threshold`
/// or `n_clusters`: the nearest-neighbour-chain algorithm (Müllner 2011) over a condensed distance matrix with
/// Lance–Williams updates, which gives the exact dendrogram for the reducible linkages offered here in O(n²) time.
///
/// The matrix holds n(n−1)/2 floats, so the number of items is capped (`maximumItems`); k-means or community
/// detection cluster larger sets.
public enum Agglomerative {
    public enum Linkage: String, Sendable, CaseIterable {
        /// Mean distance between members (UPGMA); the usual choice for sentence embeddings with cosine distance.
        case average
        /// Largest distance between members.
        case complete
        /// Smallest distance between members.
        case single
        /// Ward's minimum-variance criterion; always on Euclidean distances.
        case ward
    }

    public enum Metric: String, Sendable, CaseIterable {
        /// 1 − cosine similarity, in [0, 2].
        case cosine
        case euclidean
    }

    /// Where to cut the dendrogram.
    public enum Cut: Sendable, Hashable {
        /// Merges whose linkage distance is below this (scikit-learn's `distance_threshold`: "at or above which
        /// clusters will not be merged").
        case distance(Double)
        /// Stop at this many clusters.
        case clusters(Int)
    }

    public struct Merge: Sendable, Hashable {
        /// Representative items of the two clusters merged.
        public var first: Int
        public var second: Int
        public var distance: Double
        /// Items in the merged cluster.
        public var size: Int
    }

    public struct Result: Sendable, Hashable {
        /// Cluster of each item: 0 is the largest cluster, ties by lowest member.
        public var labels: [Int]
        public var clusterCount: Int
        /// The whole dendrogram, by increasing distance.
        public var merges: [Merge]
    }

    /// 25,000 items → 312 M distances = 1.25 GB: the chunks of a documentation set such as the Python docs.
    public static let maximumItems = 25_000

    public static func fit(_ x: VectorMatrix, cut: Cut, linkage: Linkage = .average, metric: Metric = .cosine) throws -> Result {
        let n = x.rows
        if n == 0 { throw ClusterError.empty }
        if n > maximumItems {
            throw ClusterError.tooManyItems(method: "agglomerative", items: n, limit: maximumItems,
                                            hint: "use k-means or community detection, or cluster documents instead of chunks")
        }
        switch cut {
        case .distance(let t) where !(t >= 0) || !t.isFinite:
            throw ClusterError.invalidArgument(name: "threshold", value: "\(t)", expected: "a distance ≥ 0")
        case .clusters(let k) where k < 1 || k > n:
            if k > n { throw ClusterError.tooFewItems(method: "agglomerative", items: n, distinct: nil, requested: k) }
            throw ClusterError.invalidArgument(name: "k", value: "\(k)", expected: "at least 1")
        default: break
        }
        let effectiveMetric = linkage == .ward ? Metric.euclidean : metric
        var distances = condensedDistances(x, metric: effectiveMetric)
        let merges = nearestNeighbourChain(n: n, distances: &distances, linkage: linkage)
        let applied: ArraySlice<Merge>
        switch cut {
        case .distance(let t): applied = merges.prefix { $0.distance < t }
        case .clusters(let k): applied = merges.prefix(n - k)
        }
        var sets = UnionFind(count: n)
        for merge in applied { sets.union(merge.first, merge.second) }
        let labels = canonicalLabels((0..<n).map { sets.find($0) })
        return Result(labels: labels, clusterCount: (labels.max() ?? -1) + 1, merges: merges)
    }

    /// Condensed upper triangle, row-major: pair (i, j), i < j, at `n·i − i(i+1)/2 + j − i − 1`.
    @inline(__always) static func index(_ i: Int, _ j: Int, _ n: Int) -> Int {
        let (a, b) = i < j ? (i, j) : (j, i)
        return n * a - a * (a + 1) / 2 + b - a - 1
    }

    static func condensedDistances(_ x: VectorMatrix, metric: Metric) -> [Float] {
        let n = x.rows, d = x.dimension
        let data = metric == .cosine ? x.normalized() : x
        let norms = KMeans.squaredNorms(data)
        var out = [Float](repeating: 0, count: n * (n - 1) / 2)
        let block = 256
        var dots = [Float](repeating: 0, count: block * n)
        data.values.withUnsafeBufferPointer { xp in dots.withUnsafeMutableBufferPointer { dp in
            for start in stride(from: 0, to: n, by: block) {
                let rows = min(block, n - start)
                // dots[rows × n] = X[start..<start+rows] · Xᵀ
                Gemm.multiply(transB: true, m: rows, n: n, k: d, a: UnsafeBufferPointer(rebasing: xp[(start * d)..<((start + rows) * d)]),
                              lda: d, b: xp, ldb: d, c: dp, ldc: n)
                for r in 0..<rows {
                    let i = start + r
                    for j in (i + 1)..<max(i + 1, n) {
                        let dot = dp[r * n + j]
                        out[index(i, j, n)] = metric == .cosine ? max(0, 1 - dot) : max(0, norms[i] + norms[j] - 2 * dot).squareRoot()
                    }
                }
            }
        } }
        return out
    }

    static func nearestNeighbourChain(n: Int, distances d: inout [Float], linkage: Linkage) -> [Merge] {
        var size = [Int](repeating: 1, count: n)
        var active = [Bool](repeating: true, count: n)
        var merges: [Merge] = []
        merges.reserveCapacity(max(0, n - 1))
        var chain: [Int] = []
        var remaining = n
        var nextStart = 0
        while remaining > 1 {
            if chain.isEmpty {
                while !active[nextStart] { nextStart += 1 }
                chain.append(nextStart)
            }
            var a = 0, b = 0
            var distance: Float = 0
            while true {
                a = chain[chain.count - 1]
                let previous = chain.count >= 2 ? chain[chain.count - 2] : -1
                // Nearest active neighbour of a; on a tie the chain's previous element wins, which ends the chain.
                var best = -1
                var bestDistance = Float.infinity
                if previous >= 0 { best = previous; bestDistance = d[index(a, previous, n)] }
                for c in 0..<n where active[c] && c != a {
                    let value = d[index(a, c, n)]
                    if value < bestDistance { bestDistance = value; best = c }
                }
                b = best
                distance = bestDistance
                if b == previous { break }
                chain.append(b)
            }
            chain.removeLast(2)
            // Merge a into b's slot (the lower index keeps the cluster, so representatives are stable).
            let (keep, drop) = a < b ? (a, b) : (b, a)
            let ni = Double(size[keep]), nj = Double(size[drop])
            for k in 0..<n where active[k] && k != keep && k != drop {
                let dki = Double(d[index(k, keep, n)]), dkj = Double(d[index(k, drop, n)])
                let updated: Double
                switch linkage {
                case .single: updated = min(dki, dkj)
                case .complete: updated = max(dki, dkj)
                case .average: updated = (ni * dki + nj * dkj) / (ni + nj)
                case .ward:
                    let nk = Double(size[k]), dij = Double(distance)
                    updated = max(0, ((ni + nk) * dki * dki + (nj + nk) * dkj * dkj - nk * dij * dij) / (ni + nj + nk)).squareRoot()
                }
                d[index(k, keep, n)] = Float(updated)
            }
            active[drop] = false
            size[keep] += size[drop]
            remaining -= 1
            merges.append(Merge(first: keep, second: drop, distance: Double(distance), size: size[keep]))
            // Chain elements stay valid: `keep` is still active, `drop` was a or b and left the chain.
        }
        // Stable: equal distances keep the order they were found in.
        return merges.enumerated().sorted { $0.element.distance != $1.element.distance ? $0.element.distance < $1.element.distance : $0.offset < $1.offset }
            .map(\.element)
    }
}

/// Renumbers cluster ids so that 0 is the largest cluster, ties broken by the lowest member index.
/// Negative ids (unclustered) stay −1.
public func canonicalLabels(_ raw: [Int]) -> [Int] {
    var members: [Int: (count: Int, first: Int)] = [:]
    for (i, label) in raw.enumerated() where label >= 0 {
        if let entry = members[label] { members[label] = (entry.count + 1, entry.first) } else { members[label] = (1, i) }
    }
    let order = members.sorted { $0.value.count != $1.value.count ? $0.value.count > $1.value.count : $0.value.first < $1.value.first }
    var mapping: [Int: Int] = [:]
    for (position, entry) in order.enumerated() { mapping[entry.key] = position }
    return raw.map { $0 >= 0 ? mapping[$0]! : -1 }
}

struct UnionFind {
    private var parent: [Int]
    init(count: Int) { parent = Array(0..<count) }
    mutating func find(_ x: Int) -> Int {
        var root = x
        while parent[root] != root { root = parent[root] }
        var node = x
        while parent[node] != root { let next = parent[node]; parent[node] = root; node = next }
        return root
    }
    mutating func union(_ a: Int, _ b: Int) {
        let ra = find(a), rb = find(b)
        if ra != rb { parent[max(ra, rb)] = min(ra, rb) }
    }
}
