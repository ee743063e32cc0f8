import SiftKernels

/// Bounded selection of the k best (score, slot) pairs: a min-heap whose root is the worst kept item.
/// "Better" means higher score, then lower slot, so results are deterministic under ties.
struct TopKHeap {
    let k: Int
    private(set) var items: [ScoredSlot] = []

    init(k: Int) {
        self.k = k
        items.reserveCapacity(k)
    }

    @inline(__always) static func isWorse(_ a: ScoredSlot, _ b: ScoredSlot) -> Bool {
        a.score < b.score || (a.score == b.score && a.slot > b.slot)
    }

    /// The worst kept score once full; anything strictly below it can be skipped cheaply.
    @inline(__always) var threshold: Float { items.count < k ? -.infinity : items[0].score }

    @inline(__always) mutating func offer(score: Float, slot: Int) {
        guard k > 0 else { return }
        let item = ScoredSlot(slot: slot, score: score)
        if items.count < k {
            items.append(item)
            siftUp(items.count - 1)
        } else if Self.isWorse(items[0], item) {
            items[0] = item
            siftDown(0)
        }
    }

    private mutating func siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            if Self.isWorse(items[i], items[parent]) { items.swapAt(i, parent); i = parent } else { break }
        }
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        let n = items.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var worst = i
            if l < n && Self.isWorse(items[l], items[worst]) { worst = l }
            if r < n && Self.isWorse(items[r], items[worst]) { worst = r }
            if worst == i { return }
            items.swapAt(i, worst)
            i = worst
        }
    }

    /// Best first.
    func sorted() -> [ScoredSlot] {
        items.sorted { Self.isWorse($1, $0) }
    }
}

/// Exact top-k by inner product, blocked so the score matrix never exceeds `queryBlock × corpusBlock`.
enum ExactSearch {
    /// Corpus rows scored per sgemm call (scores buffer: queries × corpusBlock floats).
    static let corpusBlock = 8192
    /// Queries per pass over the corpus.
    static let queryBlock = 256
    /// Up to this many queries are scored with a SIMD dot-product loop instead of sgemm: for a handful of
    /// queries sgemm spends most of its time packing the corpus block (measured ~4× slower for one query at
    /// 100k × 384), while the loop streams each corpus row once from memory.
    static let smallBatchLimit = 8

    /// queries: row-major [queryCount × dimension]; corpus: row-major [corpusCount × dimension].
    /// Returns per query the k best corpus rows, best first (ties: lower row first).
    static func topK(queries: UnsafeBufferPointer<Float>, queryCount: Int,
                     corpus: UnsafeBufferPointer<Float>, corpusCount: Int,
                     dimension: Int, k: Int) -> [[ScoredSlot]] {
        var ignored: Int?
        return topK(queries: queries, queryCount: queryCount, corpus: corpus, corpusCount: corpusCount, dimension: dimension,
                    k: k, nonFiniteSlot: &ignored)
    }

    /// `topK` that also reports a corpus row whose score was NaN or +infinity (a damaged stored vector). Such
    /// scores reach the heap's slow path (NaN fails every comparison), so noting them there costs nothing.
    static func topK(queries: UnsafeBufferPointer<Float>, queryCount: Int,
                     corpus: UnsafeBufferPointer<Float>, corpusCount: Int,
                     dimension: Int, k: Int, nonFiniteSlot: inout Int?) -> [[ScoredSlot]] {
        precondition(k >= 0, "k must not be negative")
        precondition(queries.count >= queryCount * dimension && corpus.count >= corpusCount * dimension, "ExactSearch: buffer too small")
        let keep = min(k, corpusCount)
        var results = [[ScoredSlot]]()
        results.reserveCapacity(queryCount)
        if keep == 0 { return Array(repeating: [], count: queryCount) }
        if queryCount <= smallBatchLimit {
            return smallBatch(queries: queries, queryCount: queryCount, corpus: corpus, corpusCount: corpusCount, dimension: dimension,
                              k: keep, nonFiniteSlot: &nonFiniteSlot)
        }
        var scores = [Float](repeating: 0, count: min(queryBlock, queryCount) * min(corpusBlock, corpusCount))
        var q0 = 0
        while q0 < queryCount {
            let qn = min(queryBlock, queryCount - q0)
            var heaps = (0..<qn).map { _ in TopKHeap(k: keep) }
            var c0 = 0
            while c0 < corpusCount {
                let cn = min(corpusBlock, corpusCount - c0)
                scores.withUnsafeMutableBufferPointer { s in
                    // scores[qn × cn] = Q[qn × d] · C[cn × d]ᵀ
                    Gemm.multiply(transB: true, m: qn, n: cn, k: dimension,
                                  a: UnsafeBufferPointer(rebasing: queries[(q0 * dimension)..<((q0 + qn) * dimension)]), lda: dimension,
                                  b: UnsafeBufferPointer(rebasing: corpus[(c0 * dimension)..<((c0 + cn) * dimension)]), ldb: dimension,
                                  c: s, ldc: cn)
                    for qi in 0..<qn {
                        // Move the heap out so mutating it does not copy its storage (copy-on-write).
                        var heap = TopKHeap(k: 0)
                        swap(&heap, &heaps[qi])
                        let row = qi * cn
                        var threshold = heap.threshold
                        for j in 0..<cn {
                            let v = s[row + j]
                            // Equal scores from a later block lose the tie (higher slot), so `>=` skipping stays exact.
                            if v < threshold || (v == threshold && heap.items.count == keep) { continue }
                            if !v.isFinite { nonFiniteSlot = nonFiniteSlot ?? (c0 + j) }
                            heap.offer(score: v, slot: c0 + j)
                            threshold = heap.threshold
                        }
                        heaps[qi] = heap
                    }
                }
                c0 += cn
            }
            for heap in heaps { results.append(heap.sorted()) }
            q0 += qn
        }
        return results
    }
}

extension ExactSearch {
    /// `topK` for a few queries: per corpus row, one dot product per query (the row stays in L1 between them).
    static func smallBatch(queries: UnsafeBufferPointer<Float>, queryCount: Int,
                           corpus: UnsafeBufferPointer<Float>, corpusCount: Int,
                           dimension: Int, k: Int, nonFiniteSlot: inout Int?) -> [[ScoredSlot]] {
        var heaps = (0..<queryCount).map { _ in TopKHeap(k: k) }
        var thresholds = [Float](repeating: -.infinity, count: queryCount)
        guard let cBase = corpus.baseAddress, let qBase = queries.baseAddress else { return heaps.map { $0.sorted() } }
        let wide = dimension / 16 * 16
        for j in 0..<corpusCount {
            let row = UnsafeRawPointer(cBase + j * dimension)
            for qi in 0..<queryCount {
                let qp = qBase + qi * dimension
                let q = UnsafeRawPointer(qp)
                var acc = SIMD16<Float>()
                var p = 0
                while p < wide {
                    acc += row.loadUnaligned(fromByteOffset: p * 4, as: SIMD16<Float>.self)
                         * q.loadUnaligned(fromByteOffset: p * 4, as: SIMD16<Float>.self)
                    p += 16
                }
                var score = acc.sum()
                while p < dimension { score += cBase[j * dimension + p] * qp[p]; p += 1 }
                // Slots arrive in increasing order, so an equal score never displaces a kept one.
                if score < thresholds[qi] || (score == thresholds[qi] && heaps[qi].items.count == k) { continue }
                if !score.isFinite { nonFiniteSlot = nonFiniteSlot ?? j }
                heaps[qi].offer(score: score, slot: j)
                thresholds[qi] = heaps[qi].threshold
            }
        }
        return heaps.map { $0.sorted() }
    }
}

/// Row-wise L2 normalisation like `torch.nn.functional.normalize` (eps 1e-12), in place.
func normalizeRows(_ values: inout [Float], dimension: Int) {
    precondition(dimension > 0 && values.count % dimension == 0, "normalizeRows: \(values.count) not a multiple of \(dimension)")
    values.withUnsafeMutableBufferPointer { Kernels.l2Normalize($0, rows: $0.count / dimension, width: dimension) }
}
