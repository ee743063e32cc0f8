import Foundation
import SiftCluster
import SiftCore
import SiftIndex

/// `sift cluster`: groups the chunks or documents of an index (or the lines of a file), labels each group with its
/// c-TF-IDF keywords and most central members, and lays everything out on a 2-D PCA map.

/// Whole chunks or whole documents.
public enum ClusterLevel: String, Sendable, CaseIterable, Codable {
    case chunk
    /// One vector per document: the mean of its chunk vectors, normalised.
    case document
}

public enum ClusterMethod: Sendable, Hashable {
    /// k-means with k-means++ seeding and `restarts` runs.
    case kMeans(k: Int, restarts: Int)
    case agglomerative(cut: Agglomerative.Cut, linkage: Agglomerative.Linkage, metric: Agglomerative.Metric)
    /// sentence-transformers' `community_detection`: items with no community stay unclustered.
    case community(threshold: Float, minimumSize: Int)

    public var name: String {
        switch self {
        case .kMeans: "kmeans"
        case .agglomerative: "agglomerative"
        case .community: "community"
        }
    }
}

/// One thing to cluster. Its JSON leaves out `text`: the report names items, it does not copy the collection.
public struct ClusterItem: Sendable, Hashable, Encodable {
    /// Chunk id, document id, or `line N` for a text file.
    public var id: String
    /// What c-TF-IDF reads: the chunk text, a document's chunk texts, or the line.
    public var text: String
    /// Short label for tables and the map: heading path, document title, or the line itself.
    public var label: String
    /// `page.html#anchor` (relative to the collection's source folder), or nil for lines of a file.
    public var source: String?
    /// Top-level folder of the document (`library`, `tutorial`, …), for comparing with the collection's own sections.
    public var folder: String?

    enum CodingKeys: String, CodingKey { case id, label, source, folder }

    public init(id: String, text: String, label: String, source: String? = nil, folder: String? = nil) {
        self.id = id
        self.text = text
        self.label = label
        self.source = source
        self.folder = folder
    }
}

public struct ClusterRequest: Sendable, Hashable {
    public var method: ClusterMethod
    public var keywords: Int
    public var examples: Int
    public var seed: UInt64
    public var threads: Int

    public init(method: ClusterMethod, keywords: Int = 8, examples: Int = 3, seed: UInt64 = 0,
                threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.method = method
        self.keywords = keywords
        self.examples = examples
        self.seed = seed
        self.threads = threads
    }

    /// sqrt(n/2) clamped to 2…50: the rule of thumb for a first overview; `--k` overrides it.
    public static func defaultK(items: Int) -> Int { max(2, min(50, Int((Double(items) / 2).squareRoot().rounded()))) }
}

/// What `sift cluster` prints (`--json` is this, encoded).
public struct ClusterReport: Sendable, Encodable {
    public struct Example: Sendable, Encodable {
        public var item: Int
        public var id: String
        public var label: String
        public var source: String?
        /// Cosine similarity to the cluster's mean direction.
        public var similarity: Float
    }

    public struct Cluster: Sendable, Encodable {
        public var id: Int
        public var size: Int
        public var keywords: [ClassTFIDF.Keyword]
        /// The most central members first.
        public var examples: [Example]
        /// Indexes into `items`.
        public var members: [Int]
    }

    public struct Point: Sendable, Encodable {
        public var x: Double
        public var y: Double
    }

    public var method: String
    public var level: String
    public var settings: [String: String]
    public var items: [ClusterItem]
    /// Cluster of each item (−1: in no cluster; community detection leaves items out).
    public var labels: [Int]
    /// Largest first.
    public var clusters: [Cluster]
    public var unclustered: Int
    /// k-means only: the sum of squared distances to the centres.
    public var inertia: Double?
    /// PCA coordinates of each item, for the map.
    public var map: [Point]
    public var explainedVarianceRatio: [Double]
    /// Adjusted Rand index against the items' top-level folders, when there is more than one folder.
    public var folderAgreement: Double?
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case method, level, settings, items, labels, clusters, unclustered, inertia, map, seconds
        case explainedVarianceRatio = "explained_variance_ratio"
        case folderAgreement = "adjusted_rand_index_vs_folders"
    }
}

public enum Clustering {
    /// Clusters `vectors` (one per item, any length > 0, all the same) and describes the clusters.
    public static func run(items: [ClusterItem], vectors: VectorMatrix, level: String, request: ClusterRequest,
                           progress: (@Sendable (String) -> Void)? = nil) throws -> ClusterReport {
        precondition(items.count == vectors.rows, "Clustering: \(items.count) items, \(vectors.rows) vectors")
        let started = Date()
        guard !items.isEmpty else { throw PipelineError.clustering(.empty) }
        guard request.keywords >= 0, request.examples >= 0, request.threads >= 1 else {
            throw PipelineError.clustering(.invalidArgument(name: "keywords/examples/threads", value: "\(request.keywords)/\(request.examples)/\(request.threads)",
                                                            expected: "keywords ≥ 0, examples ≥ 0, threads ≥ 1"))
        }
        let unit = vectors.normalized()
        var labels: [Int]
        var inertia: Double?
        var settings: [String: String] = [:]
        progress?("clustering \(items.count) items (\(request.method.name))")
        do {
            switch request.method {
            case let .kMeans(k, restarts):
                let result = try KMeans.fit(unit, options: KMeans.Options(k: k, restarts: restarts, seed: request.seed, threads: request.threads))
                labels = canonicalLabels(result.labels)
                inertia = result.inertia
                settings["k"] = "\(k)"; settings["restarts"] = "\(restarts)"; settings["iterations"] = "\(result.iterations)"
                settings["seed"] = "\(request.seed)"
            case let .agglomerative(cut, linkage, metric):
                labels = try Agglomerative.fit(unit, cut: cut, linkage: linkage, metric: metric).labels
                switch cut {
                case .distance(let t): settings["threshold"] = "\(t)"
                case .clusters(let k): settings["k"] = "\(k)"
                }
                settings["linkage"] = linkage.rawValue; settings["metric"] = linkage == .ward ? "euclidean" : metric.rawValue
            case let .community(threshold, minimumSize):
                guard (-1...1).contains(threshold) else {
                    throw ClusterError.invalidArgument(name: "threshold", value: "\(threshold)", expected: "a cosine similarity in [-1, 1]")
                }
                guard minimumSize >= 1 else {
                    throw ClusterError.invalidArgument(name: "min_size", value: "\(minimumSize)", expected: "at least 1")
                }
                let rows = (0..<unit.rows).map { Array(unit.row($0)) }
                let communities = SentenceTransformersUtil.communityDetection(embeddings: rows, threshold: threshold,
                                                                              minCommunitySize: minimumSize)
                labels = [Int](repeating: -1, count: items.count)
                for (c, members) in communities.enumerated() { for m in members { labels[m] = c } }
                settings["threshold"] = "\(threshold)"; settings["min_size"] = "\(minimumSize)"
            }
        } catch let error as ClusterError {
            throw PipelineError.clustering(error)
        }
        let clusterCount = (labels.max() ?? -1) + 1
        progress?("labelling \(clusterCount) clusters")
        let keywords = ClassTFIDF.keywords(texts: items.map(\.text), labels: labels, clusterCount: clusterCount, top: request.keywords)
        var members = [[Int]](repeating: [], count: clusterCount)
        for (i, label) in labels.enumerated() where label >= 0 { members[label].append(i) }
        let clusters = (0..<clusterCount).map { c in
            ClusterReport.Cluster(id: c, size: members[c].count, keywords: keywords[c],
                                  examples: centralMembers(members[c], unit: unit, count: request.examples, items: items),
                                  members: members[c])
        }
        progress?("projecting onto 2-D")
        var map = items.map { _ in ClusterReport.Point(x: 0, y: 0) }
        var explained: [Double] = []
        if items.count >= 2 {
            let pca = try PCA(fitting: unit, components: min(2, unit.dimension))
            map = pca.transform(unit).map { ClusterReport.Point(x: $0[0], y: $0.count > 1 ? $0[1] : 0) }
            explained = pca.explainedVarianceRatio
        }
        let folders = items.map { $0.folder ?? "" }
        var agreement: Double?
        if Set(folders).count > 1 {
            var ids: [String: Int] = [:]
            let truth = folders.map { folder in ids[folder] ?? { ids[folder] = ids.count; return ids.count - 1 }() }
            // Unclustered items count as one more group, so the index covers every item.
            agreement = adjustedRandIndex(labels.map { $0 >= 0 ? $0 : clusterCount }, truth)
        }
        return ClusterReport(method: request.method.name, level: level, settings: settings, items: items, labels: labels,
                             clusters: clusters, unclustered: labels.filter { $0 < 0 }.count, inertia: inertia, map: map,
                             explainedVarianceRatio: explained, folderAgreement: agreement,
                             seconds: Date().timeIntervalSince(started))
    }

    /// Members closest in direction to the cluster's mean.
    static func centralMembers(_ members: [Int], unit: VectorMatrix, count: Int, items: [ClusterItem]) -> [ClusterReport.Example] {
        guard !members.isEmpty, count > 0 else { return [] }
        let d = unit.dimension
        var mean = [Float](repeating: 0, count: d)
        for m in members { for f in 0..<d { mean[f] += unit.values[m * d + f] } }
        let length = mean.reduce(0) { $0 + $1 * $1 }.squareRoot()
        if length > 0 { mean = mean.map { $0 / length } }
        let scored = members.map { m -> (Int, Float) in
            var s: Float = 0
            for f in 0..<d { s += unit.values[m * d + f] * mean[f] }
            return (m, s)
        }
        return scored.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(count).map {
            ClusterReport.Example(item: $0.0, id: items[$0.0].id, label: items[$0.0].label, source: items[$0.0].source, similarity: $0.1)
        }
    }
}

extension PipelineRunner {
    /// The chunks or documents of this pipeline's index with their stored vectors (no model needed). Throws
    /// `indexMissing` / `indexUnusable` for an index that is not built or holds no chunks.
    public func clusterItems(level: ClusterLevel, progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> (items: [ClusterItem], vectors: VectorMatrix) {
        let store = try openIndex()
        let ids = try store.documents.documentIDs().sorted()
        var items: [ClusterItem] = []
        var values: [Float] = []
        let dimension = store.vectors.dimension
        let batch = 200
        for start in stride(from: 0, to: ids.count, by: batch) {
            let documents = try store.documents.export(documentIDs: Array(ids[start..<min(ids.count, start + batch)]))
            let found = try store.vectors.vectors(chunkIDs: documents.flatMap { $0.chunks.map(\.id) })
            for document in documents {
                let folder = document.id.split(separator: "/").count > 1 ? String(document.id.split(separator: "/")[0]) : ""
                let chunks = document.chunks.filter { found[$0.id] != nil }
                guard !chunks.isEmpty else { continue }
                switch level {
                case .chunk:
                    for chunk in chunks {
                        let path = chunk.headingPath.isEmpty ? document.title : chunk.headingPath.joined(separator: " › ")
                        items.append(ClusterItem(id: chunk.id, text: chunk.text, label: path, source: chunk.source, folder: folder))
                        values += found[chunk.id]!
                    }
                case .document:
                    var mean = [Float](repeating: 0, count: dimension)
                    for chunk in chunks { for (f, v) in found[chunk.id]!.enumerated() { mean[f] += v } }
                    let length = mean.reduce(0) { $0 + $1 * $1 }.squareRoot()
                    if length > 0 { mean = mean.map { $0 / length } }
                    let title = document.title.isEmpty ? document.id : document.title
                    items.append(ClusterItem(id: document.id, text: chunks.map(\.text).joined(separator: "\n"), label: title,
                                             source: document.id, folder: folder))
                    values += mean
                }
            }
            progress?(min(ids.count, start + batch), ids.count)
        }
        return (items, VectorMatrix(rows: items.count, dimension: dimension, values: values))
    }

    /// The collection's source folder, where `ClusterItem.source` paths resolve.
    public var sourceRoot: URL { config.source.root }
}

extension ModelTools {
    /// Lines of a text file as cluster items (`line N`), embedded with this bi-encoder 512 at a time.
    public func clusterItems(lines: [String], progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> (items: [ClusterItem], vectors: VectorMatrix) {
        var values: [Float] = []
        values.reserveCapacity(lines.count * embedder.dimension)
        for start in stride(from: 0, to: lines.count, by: 512) {
            for vector in try embed(Array(lines[start..<min(lines.count, start + 512)])) { values += vector }
            progress?(min(lines.count, start + 512), lines.count)
        }
        let items = lines.enumerated().map { ClusterItem(id: "line \($0.offset + 1)", text: $0.element, label: $0.element) }
        return (items, VectorMatrix(rows: lines.count, dimension: embedder.dimension, values: values))
    }
}
