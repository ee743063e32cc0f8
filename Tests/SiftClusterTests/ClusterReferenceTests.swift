import Foundation
import SiftTestSupport
import Testing
@testable import SiftCluster

/// Each algorithm against a plain reference written for clarity, plus bad input.
@Suite struct ClusterReferenceTests {
    static func randomMatrix(rows: Int, dimension: Int, centres: Int, seed: UInt64) -> VectorMatrix {
        var rng = SplitMix64(state: seed)
        let centreValues = (0..<(centres * dimension)).map { _ in Float(rng.nextUnit() * 8 - 4) }
        var values: [Float] = []
        for r in 0..<rows {
            let c = r % centres
            for f in 0..<dimension { values.append(centreValues[c * dimension + f] + Float(rng.nextUnit() * 2 - 1)) }
        }
        return VectorMatrix(rows: rows, dimension: dimension, values: values)
    }

    /// Lloyd's algorithm in Double with direct distances, the same stopping rule.
    static func referenceLloyd(_ x: VectorMatrix, centres start: VectorMatrix, maxIterations: Int = 300, tolerance: Double = 1e-4) -> (labels: [Int], inertia: Double) {
        let n = x.rows, d = x.dimension, k = start.rows
        var centres = start.values.map(Double.init)
        func nearest(_ i: Int) -> (Int, Double) {
            var best = 0, bestDistance = Double.infinity
            for j in 0..<k {
                var s = 0.0
                for f in 0..<d { let delta = Double(x.values[i * d + f]) - centres[j * d + f]; s += delta * delta }
                if s < bestDistance { bestDistance = s; best = j }
            }
            return (best, bestDistance)
        }
        let tol = KMeans.scaledTolerance(x, tolerance)
        var labels = [Int](repeating: -1, count: n)
        for _ in 0..<maxIterations {
            let previous = labels
            labels = (0..<n).map { nearest($0).0 }
            var sums = [Double](repeating: 0, count: k * d), counts = [Int](repeating: 0, count: k)
            for i in 0..<n { counts[labels[i]] += 1; for f in 0..<d { sums[labels[i] * d + f] += Double(x.values[i * d + f]) } }
            var shift = 0.0
            for j in 0..<k where counts[j] > 0 {
                for f in 0..<d { let v = sums[j * d + f] / Double(counts[j]); shift += (v - centres[j * d + f]) * (v - centres[j * d + f]); centres[j * d + f] = v }
            }
            if labels == previous || shift <= tol { break }
        }
        labels = (0..<n).map { nearest($0).0 }
        return (labels, (0..<n).reduce(0.0) { $0 + nearest($1).1 })
    }

    @Test func kMeansMatchesReferenceLloyd() throws {
        let x = Self.randomMatrix(rows: 700, dimension: 24, centres: 9, seed: 11)
        let start = VectorMatrix(rows: 9, dimension: 24, values: (0..<9).flatMap { Array(x.row($0 * 3)) })
        let got = try KMeans.fit(x, initialCenters: start, threads: 2)
        let want = Self.referenceLloyd(x, centres: start)
        #expect(got.labels == want.labels)
        #expect(abs(got.inertia - want.inertia) <= 1e-5 * want.inertia)
    }

    @Test func kMeansIsDeterministicForASeed() throws {
        let x = Self.randomMatrix(rows: 1200, dimension: 16, centres: 12, seed: 3)
        let a = try KMeans.fit(x, options: KMeans.Options(k: 12, seed: 42))
        let b = try KMeans.fit(x, options: KMeans.Options(k: 12, seed: 42))
        #expect(a == b)
        // Every cluster is used and the labels agree with the nearest centre.
        #expect(Set(a.labels).count == 12)
        let c = try KMeans.fit(x, options: KMeans.Options(k: 12, seed: 43))
        #expect(adjustedRandIndex(a.labels, c.labels) > 0.9, "well-separated blobs: seeds should agree")
    }

    @Test func kMeansBadInput() throws {
        let x = Self.randomMatrix(rows: 5, dimension: 4, centres: 5, seed: 1)
        #expect(throws: ClusterError.tooFewItems(method: "k-means", items: 5, distinct: nil, requested: 6)) {
            try KMeans.fit(x, options: KMeans.Options(k: 6))
        }
        #expect(throws: ClusterError.invalidArgument(name: "k", value: "0", expected: "at least 1")) { try KMeans.fit(x, options: KMeans.Options(k: 0)) }
        #expect(throws: ClusterError.empty) { try KMeans.fit(VectorMatrix(rows: 0, dimension: 4, values: []), options: KMeans.Options(k: 1)) }
        let same = VectorMatrix(rows: 10, dimension: 3, values: Array(repeating: [0.5, 0.25, 1], count: 10).flatMap { $0 })
        let error = #expect(throws: ClusterError.self) { try KMeans.fit(same, options: KMeans.Options(k: 2)) }
        #expect(error == .tooFewItems(method: "k-means", items: 10, distinct: 1, requested: 2))
        #expect(error?.description == "k-means asked for 2 clusters, but the 10 items hold only 1 distinct vectors")
        // k = 1 on identical vectors is well defined: one cluster, inertia 0.
        let one = try KMeans.fit(same, options: KMeans.Options(k: 1))
        #expect(one.labels == Array(repeating: 0, count: 10) && one.inertia == 0)
    }

    /// Naive O(n³) agglomeration: merge the closest pair of clusters by the linkage's own definition, recomputed from
    /// the original points every time.
    static func referenceMergeDistances(_ x: VectorMatrix, linkage: Agglomerative.Linkage) -> [Double] {
        let unit = x.normalized()
        let n = x.rows, d = x.dimension
        func distance(_ i: Int, _ j: Int) -> Double {
            if linkage == .ward {
                var s = 0.0
                for f in 0..<d { let delta = Double(x.values[i * d + f] - x.values[j * d + f]); s += delta * delta }
                return s.squareRoot()
            }
            var dot = 0.0
            for f in 0..<d { dot += Double(unit.values[i * d + f]) * Double(unit.values[j * d + f]) }
            return 1 - dot
        }
        func wardDistance(_ a: [Int], _ b: [Int]) -> Double {
            // sqrt(2·|a||b|/(|a|+|b|))·‖mean(a) − mean(b)‖, the Lance–Williams Ward distance.
            var s = 0.0
            for f in 0..<d {
                let ma = a.reduce(0.0) { $0 + Double(x.values[$1 * d + f]) } / Double(a.count)
                let mb = b.reduce(0.0) { $0 + Double(x.values[$1 * d + f]) } / Double(b.count)
                s += (ma - mb) * (ma - mb)
            }
            return (2 * Double(a.count * b.count) / Double(a.count + b.count) * s).squareRoot()
        }
        var clusters = (0..<n).map { [$0] }
        var merges: [Double] = []
        while clusters.count > 1 {
            var best = (0, 1, Double.infinity)
            for a in 0..<clusters.count {
                for b in (a + 1)..<clusters.count {
                    let pairs = clusters[a].flatMap { i in clusters[b].map { j in distance(i, j) } }
                    let value: Double
                    switch linkage {
                    case .single: value = pairs.min()!
                    case .complete: value = pairs.max()!
                    case .average: value = pairs.reduce(0, +) / Double(pairs.count)
                    case .ward: value = wardDistance(clusters[a], clusters[b])
                    }
                    if value < best.2 { best = (a, b, value) }
                }
            }
            merges.append(best.2)
            clusters[best.0] += clusters[best.1]
            clusters.remove(at: best.1)
        }
        return merges.sorted()
    }

    @Test(arguments: Agglomerative.Linkage.allCases) func agglomerativeMatchesNaiveReference(linkage: Agglomerative.Linkage) throws {
        let x = Self.randomMatrix(rows: 40, dimension: 6, centres: 5, seed: 5)
        let result = try Agglomerative.fit(x, cut: .clusters(1), linkage: linkage, metric: .cosine)
        let want = Self.referenceMergeDistances(x, linkage: linkage)
        #expect(result.merges.count == 39 && result.clusterCount == 1)
        for (got, expected) in zip(result.merges.map(\.distance), want) {
            #expect(abs(got - expected) <= 1e-4 * max(1, expected), "\(linkage): \(got) vs \(expected)")
        }
    }

    @Test func agglomerativeBadInputAndDegenerateCases() throws {
        let x = Self.randomMatrix(rows: 6, dimension: 3, centres: 2, seed: 9)
        #expect(throws: ClusterError.self) { try Agglomerative.fit(x, cut: .distance(-0.5)) }
        #expect(throws: ClusterError.tooFewItems(method: "agglomerative", items: 6, distinct: nil, requested: 7)) {
            try Agglomerative.fit(x, cut: .clusters(7))
        }
        let same = VectorMatrix(rows: 8, dimension: 3, values: Array(repeating: [1, 2, 3], count: 8).flatMap { $0 })
        // Identical vectors are at distance 0: any positive threshold joins them all.
        #expect(try Agglomerative.fit(same, cut: .distance(0.1)).labels == Array(repeating: 0, count: 8))
        // A threshold of 0 merges nothing (distances below 0 do not exist).
        #expect(try Agglomerative.fit(same, cut: .distance(0)).clusterCount == 8)
    }

    @Test func classTFIDFWeightsByFormula() {
        let texts = ["Vacuum the table", "vacuum analyze table", "index scans on the index", "btree index"]
        let keywords = ClassTFIDF.keywords(texts: texts, labels: [0, 0, 1, 1], clusterCount: 2, top: 3)
        // Cluster 0: vacuum 2, table 2, analyze 1 (5 words); cluster 1: index 3, scans 1, btree 1 (5 words); A = 5.
        // "the" and "on" are stop words.
        let vacuum = 2.0 / 5 * log(1 + 5.0 / 2), index = 3.0 / 5 * log(1 + 5.0 / 3)
        #expect(keywords[0].map(\.term) == ["table", "vacuum", "analyze"])
        #expect(abs(keywords[0][0].weight - vacuum) < 1e-12 && abs(keywords[1][0].weight - index) < 1e-12)
        #expect(keywords[1].first?.term == "index")
        #expect(ClassTFIDF.terms("Then os.path.join() — max_connections, 3.11 and 42.") == ["os.path.join", "max_connections"])
    }

    /// The 8-lane distance against a Double loop, at lengths with and without a tail.
    @Test func squaredDistanceMatchesPlainSum() {
        var rng = SplitMix64(state: 17)
        for count in [0, 1, 15, 16, 17, 31, 32, 384, 389] {
            let a = (0..<count).map { _ in Float(rng.nextUnit() * 2 - 1) }, b = (0..<count).map { _ in Float(rng.nextUnit() * 2 - 1) }
            let want = zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
            let got = a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in
                KMeans.squaredDistance(ap.baseAddress ?? UnsafePointer(bitPattern: 16)!, bp.baseAddress ?? UnsafePointer(bitPattern: 16)!, count: count)
            } }
            #expect(abs(Double(got) - want) <= 1e-5 * max(1, want), "count \(count): \(got) vs \(want)")
        }
    }

    @Test func canonicalLabelsOrderBySizeThenFirstMember() {
        #expect(canonicalLabels([5, 7, 7, -1, 5, 7, 9]) == [1, 0, 0, -1, 1, 0, 2])
    }
}
