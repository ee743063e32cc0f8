import SiftCore
import SiftKernels

/// Library versions of sentence-transformers' `util` functions, with the same results and ordering.
/// Embedding matrices are given as rows (`[[Float]]`, one vector per sentence, all the same length).
public enum SentenceTransformersUtil {
    /// Similarity used by `semanticSearch` and `paraphraseMining`.
    public enum ScoreFunction: Sendable, Hashable {
        /// Cosine similarity (ST's default `cos_sim`).
        case cosine
        /// Plain inner product (`dot_score`).
        case dot
    }

    /// `cos_sim(a, b)`: result[i][j] = cosine(a[i], b[j]). Shape [a.count × b.count].
    public static func cosSim(_ a: [[Float]], _ b: [[Float]]) -> [[Float]] {
        score(a, b, .cosine)
    }

    /// `dot_score(a, b)`: result[i][j] = a[i]·b[j]. Shape [a.count × b.count].
    public static func dotScore(_ a: [[Float]], _ b: [[Float]]) -> [[Float]] {
        score(a, b, .dot)
    }

    private static func score(_ a: [[Float]], _ b: [[Float]], _ function: ScoreFunction) -> [[Float]] {
        if a.isEmpty || b.isEmpty { return a.map { _ in [] } }
        let dim = commonDimension(a + b)
        let fa = flatten(a, dim, normalize: function == .cosine), fb = flatten(b, dim, normalize: function == .cosine)
        var c = [Float](repeating: 0, count: a.count * b.count)
        fa.withUnsafeBufferPointer { pa in fb.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            // c[|a| × |b|] = A[|a| × dim] · B[|b| × dim]ᵀ
            Gemm.multiply(transB: true, m: a.count, n: b.count, k: dim, a: pa, lda: dim, b: pb, ldb: dim, c: pc, ldc: b.count)
        } } }
        return (0..<a.count).map { Array(c[($0 * b.count)..<(($0 + 1) * b.count)]) }
    }

    /// `semantic_search`: for each query the `topK` most similar corpus rows, best first
    /// (equal scores: lower corpus id first). The corpus is scanned in blocks with sgemm.
    public static func semanticSearch(queryEmbeddings: [[Float]], corpusEmbeddings: [[Float]], topK: Int = 10,
                                      scoreFunction: ScoreFunction = .cosine) -> [[(corpusID: Int, score: Float)]] {
        precondition(topK >= 0, "topK must not be negative")
        if queryEmbeddings.isEmpty { return [] }
        if corpusEmbeddings.isEmpty { return queryEmbeddings.map { _ in [] } }
        let hits = nearest(queryEmbeddings, corpusEmbeddings, k: topK, normalize: scoreFunction == .cosine)
        return hits.map { $0.map { (corpusID: $0.slot, score: $0.score) } }
    }

    /// `paraphrase_mining_embeddings`: for every sentence its `topK` most similar other sentences; pairs
    /// deduplicated (i < j), at most `maxPairs` kept (the best), sorted by score descending.
    public static func paraphraseMining(embeddings: [[Float]], topK: Int = 100, maxPairs: Int = 500_000,
                                        scoreFunction: ScoreFunction = .cosine) -> [(score: Float, i: Int, j: Int)] {
        precondition(topK >= 0 && maxPairs >= 0, "topK and maxPairs must not be negative")
        if embeddings.count < 2 || maxPairs == 0 { return [] }
        // topK + 1 because each sentence usually finds itself first.
        let hits = nearest(embeddings, embeddings, k: topK + 1, normalize: scoreFunction == .cosine)
        var heap = PairHeap()
        var queued = Set<PairKey>()
        var minScore = -Float.infinity
        for (i, list) in hits.enumerated() {
            for hit in list.filter({ $0.slot != i }).prefix(topK) {
                if hit.score <= minScore { continue }
                let key = PairKey(i: min(i, hit.slot), j: max(i, hit.slot))
                if !queued.insert(key).inserted { continue }
                let entry = PairHeap.Entry(score: hit.score, key: key)
                if heap.count < maxPairs {
                    heap.push(entry)
                } else {
                    // Python's heappushpop: the new entry itself is evicted when it is the smallest.
                    let evicted = heap.pushPop(entry)
                    queued.remove(evicted.key)
                    minScore = evicted.score
                }
            }
        }
        return heap.entries
            .sorted { $0.score != $1.score ? $0.score > $1.score : ($0.key.i, $0.key.j) < ($1.key.i, $1.key.j) }
            .map { (score: $0.score, i: $0.key.i, j: $0.key.j) }
    }

    /// `paraphrase_mining` with a model: embeds `sentences`, then mines.
    public static func paraphraseMining(embedder: any TextEmbedder, sentences: [String], topK: Int = 100,
                                        maxPairs: Int = 500_000) throws -> [(score: Float, i: Int, j: Int)] {
        paraphraseMining(embeddings: try embedder.embed(sentences), topK: topK, maxPairs: maxPairs)
    }

    /// `community_detection`: groups of at least `minCommunitySize` rows whose cosine similarity to a central row
    /// is ≥ `threshold`. Each community starts with its centre, then members by decreasing similarity; communities
    /// are disjoint and ordered largest first (ties keep the order of their centres).
    public static func communityDetection(embeddings: [[Float]], threshold: Float = 0.75, minCommunitySize: Int = 10,
                                          batchSize: Int = 1024) -> [[Int]] {
        precondition(minCommunitySize >= 0 && batchSize > 0, "bad communityDetection arguments")
        let n = embeddings.count
        if n == 0 || n < minCommunitySize { return [] }
        let dim = commonDimension(embeddings)
        let flat = flatten(embeddings, dim, normalize: true)
        var extracted = [(center: Int, members: [Int])]()
        var scores = [Float](repeating: 0, count: min(batchSize, n) * n)
        flat.withUnsafeBufferPointer { e in
            scores.withUnsafeMutableBufferPointer { s in
                for start in stride(from: 0, to: n, by: batchSize) {
                    let rows = min(batchSize, n - start)
                    // s[rows × n] = E[start..<start+rows] · Eᵀ
                    Gemm.multiply(transB: true, m: rows, n: n, k: dim,
                                  a: UnsafeBufferPointer(rebasing: e[(start * dim)..<((start + rows) * dim)]), lda: dim,
                                  b: e, ldb: dim, c: s, ldc: n)
                    for r in 0..<rows {
                        let row = UnsafeBufferPointer(rebasing: s[(r * n)..<((r + 1) * n)])
                        var members = [(Int, Float)]()
                        for j in 0..<n where row[j] >= threshold { members.append((j, row[j])) }
                        // ST checks the min_community_size-th best score against the threshold: the same as counting.
                        guard members.count >= max(1, minCommunitySize) else { continue }
                        members.sort { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
                        extracted.append((start + r, members.map(\.0)))
                    }
                }
            }
        }
        // Largest first; Swift's sort is stable, like Python's.
        extracted.sort { $0.members.count > $1.members.count }
        var used = [Bool](repeating: false, count: n)
        var communities = [[Int]]()
        for (center, members) in extracted where !used[center] {
            let free = members.filter { !used[$0] }
            guard free.count >= minCommunitySize else { continue }
            let community = [center] + free.filter { $0 != center }
            for m in community { used[m] = true }
            communities.append(community)
        }
        communities.sort { $0.count > $1.count }
        return communities
    }

    // MARK: Helpers

    static func nearest(_ queries: [[Float]], _ corpus: [[Float]], k: Int, normalize: Bool) -> [[ScoredSlot]] {
        let dim = commonDimension(queries + corpus)
        let q = flatten(queries, dim, normalize: normalize), c = flatten(corpus, dim, normalize: normalize)
        return q.withUnsafeBufferPointer { qp in c.withUnsafeBufferPointer { cp in
            ExactSearch.topK(queries: qp, queryCount: queries.count, corpus: cp, corpusCount: corpus.count, dimension: dim, k: k)
        } }
    }

    private static func commonDimension(_ rows: [[Float]]) -> Int {
        let dim = rows.first?.count ?? 0
        precondition(dim > 0 && rows.allSatisfy { $0.count == dim }, "embeddings must be non-empty rows of one length")
        return dim
    }

    private static func flatten(_ rows: [[Float]], _ dim: Int, normalize: Bool) -> [Float] {
        var flat = [Float]()
        flat.reserveCapacity(rows.count * dim)
        for r in rows { flat.append(contentsOf: r) }
        if normalize { normalizeRows(&flat, dimension: dim) }
        return flat
    }
}

struct PairKey: Hashable { var i: Int; var j: Int }

/// Min-heap ordered like Python tuples (score, i, j), for paraphrase mining's pair cap.
struct PairHeap {
    struct Entry { var score: Float; var key: PairKey }
    private(set) var entries: [Entry] = []
    var count: Int { entries.count }

    private static func less(_ a: Entry, _ b: Entry) -> Bool {
        if a.score != b.score { return a.score < b.score }
        return (a.key.i, a.key.j) < (b.key.i, b.key.j)
    }

    mutating func push(_ e: Entry) {
        entries.append(e)
        var i = entries.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if Self.less(entries[i], entries[p]) { entries.swapAt(i, p); i = p } else { break }
        }
    }

    /// Pushes `e` and pops the smallest (which is `e` itself when it is not larger than the root).
    mutating func pushPop(_ e: Entry) -> Entry {
        guard let root = entries.first, Self.less(root, e) else { return e }
        entries[0] = e
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < entries.count && Self.less(entries[l], entries[m]) { m = l }
            if r < entries.count && Self.less(entries[r], entries[m]) { m = r }
            if m == i { break }
            entries.swapAt(i, m); i = m
        }
        return root
    }
}
