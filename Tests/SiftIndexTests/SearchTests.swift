import Foundation
import SiftCore
import Testing
@testable import SiftIndex

@Suite struct LexicalQueryTests {
    @Test func termsAreLettersAndDigitsWithoutStopWords() {
        #expect(LexicalQuery.terms("What is the GIL in CPython 3.12?") == ["gil", "cpython", "3", "12"])
        #expect(LexicalQuery.terms("Zürich café naïve") == ["zürich", "café", "naïve"])
        #expect(LexicalQuery.terms("fox fox FOX") == ["fox"])
    }

    @Test func syntaxCharactersCannotInject() {
        #expect(LexicalQuery.matchExpression("\"fox\" AND NOT (dog) OR cat* NEAR(a b) ^title: x") ==
                "\"fox\" OR \"dog\" OR \"cat\" OR \"near\" OR \"b\" OR \"title\" OR \"x\"")
        #expect(LexicalQuery.matchExpression("") == nil)
        #expect(LexicalQuery.matchExpression("?!  ... \"\" ()*^:") == nil)
        #expect(LexicalQuery.matchExpression("What is the?") == nil)
    }
}

@Suite struct RetrievalTests {
    let tmp = TempFolder()
    let index: CollectionIndex
    let retriever: TestSearch

    init() throws {
        index = try buildIndex(at: tmp.sub("idx"))
        retriever = TestSearch(index: index, embedder: FakeEmbedder())
    }

    @Test func bm25RanksWithSQLite() throws {
        let hits = try retriever.search("fox dog", mode: .bm25, topK: 5)
        #expect(hits.map(\.chunkID) == ["animals.html#0"])
        #expect(hits[0].stageRanks == [.bm25: 1] && hits[0].score > 0 && hits[0].stageScores[.bm25] == hits[0].score)
        // Porter stemming ("sleeping" → "sleep") and diacritic folding ("zurich" matches "Zürich").
        #expect(try retriever.search("sleeping", mode: .bm25).map(\.chunkID) == ["animals.html#1"])
        #expect(try retriever.search("zurich naive", mode: .bm25).map(\.chunkID) == ["animals.html#2"])
        // Title and heading columns are searched: "Cats" appears in both cats chunks' headings, body of one.
        let cats = try retriever.search("cats", mode: .bm25)
        #expect(Set(cats.map(\.chunkID)) == ["animals.html#1", "animals.html#2"])
        #expect(cats.map(\.score) == cats.map(\.score).sorted(by: >))
    }

    @Test func hostileQueriesNeitherFailNorInject() throws {
        for q in ["", "   ", "?!.,;", "the of and", "\"", "\"unterminated", "AND", "OR OR OR", "NOT", "*", "fox*", "NEAR(fox dog)",
                  "^fox", "title:fox", "(fox", "fox)", "\"fox\" AND \"dog\"", "text:python", "{title}: x", "- fox", "+fox", "'fox'"] {
            let hits = try retriever.search(q, mode: .bm25)
            let words = LexicalQuery.terms(q)
            if words.isEmpty { #expect(hits.isEmpty, "\(q)") }
            // A column filter must not restrict the search: "title:fox" finds the body text "fox".
            if words == ["title", "fox"] { #expect(hits.map(\.chunkID).contains("animals.html#0")) }
        }
        // NEAR is a plain word here and matches the chunk that mentions it.
        #expect(try retriever.search("NEAR", mode: .bm25).map(\.chunkID) == ["sqlite.html#1"])
        #expect(try retriever.search("", mode: .bm25).isEmpty)
    }

    @Test func denseMatchesBruteForce() throws {
        let query = "python programming language"
        let hits = try retriever.search(query, mode: .dense, topK: 4)
        // Brute force over the same fake vectors, scored by hand.
        func unit(_ v: [Float]) -> [Float] { let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot(); return v.map { $0 / n } }
        let q = unit(FakeEmbedder.vector(16)(query))
        let all = Corpus.all.flatMap(\.chunks).enumerated().map { slot, c in
            (id: c.id, slot: slot, score: zip(q, unit(FakeEmbedder.vector(16)(c.text))).reduce(Float(0)) { $0 + $1.0 * $1.1 })
        }.sorted { $0.score != $1.score ? $0.score > $1.score : $0.slot < $1.slot }
        #expect(hits.map(\.chunkID) == all.prefix(4).map(\.id))
        for (h, e) in zip(hits, all) { #expect(abs(h.score - e.score) < 1e-5) }
        #expect(hits.map { $0.stageRanks[.dense] } == [1, 2, 3, 4])
        #expect(hits[0].chunkID == "python.html#0")
        // Batch equals singles.
        let batch = try retriever.search([query, "lazy dog", query], mode: .dense, topK: 3)
        #expect(batch[0] == Array(hits.prefix(3)) && batch[2] == batch[0])
        #expect(batch[1] == (try retriever.search("lazy dog", mode: .dense, topK: 3)))
        // The vector index searched directly, by chunk id, with a vector it normalises itself.
        let direct = try index.vectors.search([FakeEmbedder.vector(16)(query).map { $0 * 3 }], topK: 4)[0]
        #expect(direct.map(\.chunkID) == hits.map(\.chunkID))
        #expect(throws: IndexError.self) { try index.vectors.search([[1, 2, 3]], topK: 4) }
    }

    @Test func hybridCarriesBothStages() throws {
        let rrf = try retriever.search("cats hunt mice", mode: .hybrid(.reciprocalRank(k: 60), depth: 10), topK: 3)
        let top = try #require(rrf.first)
        #expect(top.chunkID == "animals.html#1")
        let d = try #require(top.stageRanks[.dense]), b = try #require(top.stageRanks[.bm25])
        #expect(abs(top.score - Float(1.0 / (60.0 + Double(d)) + 1.0 / (60.0 + Double(b)))) < 1e-7)
        #expect(top.stageRanks[.hybrid] == 1 && top.stageScores[.hybrid] == top.score)
        let weighted = try retriever.search("cats hunt mice", mode: .hybrid(.weighted(denseWeight: 0.3), depth: 10), topK: 3)
        #expect(weighted.first?.chunkID == "animals.html#1")
        #expect(weighted.map(\.score) == weighted.map(\.score).sorted(by: >))
        // Dense retrieval of questions that were never embedded is refused, not answered with nothing.
        #expect(throws: IndexError.self) { try DenseRetriever(index: index.vectors).retrieve(QueryBatch(texts: ["cats"]), depth: 5) }
        // Fusion with one list empty is that list, re-scored.
        let onlyBM25 = Fusion.reciprocalRank(k: 60).fuse([.dense: [], .bm25: try index.lexical.search("cats", topK: 5)], topK: 5)
        #expect(onlyBM25.map(\.chunkID) == (try retriever.search("cats", mode: .bm25, topK: 5)).map(\.chunkID))
    }
}

@Suite struct FusionTests {
    @Test func reciprocalRankFusion() {
        let dense = [ScoredChunk(chunkID: "a", score: 0.9), ScoredChunk(chunkID: "b", score: 0.8), ScoredChunk(chunkID: "c", score: 0.1)]
        let bm25 = [ScoredChunk(chunkID: "c", score: 12), ScoredChunk(chunkID: "a", score: 3)]
        let fused = Fusion.reciprocalRank(k: 1).fuse(dense: dense, bm25: bm25, topK: 10)
        // a: 1/2 + 1/3, c: 1/4 + 1/2, b: 1/3
        #expect(fused.map(\.chunkID) == ["a", "c", "b"])
        #expect(abs(fused[0].score - Float(1.0 / 2 + 1.0 / 3)) < 1e-7 && abs(fused[1].score - 0.75) < 1e-7)
        #expect(fused[2].stageRanks == [.dense: 2, .hybrid: 3] && fused[2].stageScores[.bm25] == nil)
        #expect(Fusion.reciprocalRank().fuse(dense: dense, bm25: bm25, topK: 1).count == 1)
    }

    @Test func weightedReciprocalRankFusion() {
        let dense = [ScoredChunk(chunkID: "a", score: 0.9), ScoredChunk(chunkID: "b", score: 0.8), ScoredChunk(chunkID: "c", score: 0.1)]
        let bm25 = [ScoredChunk(chunkID: "c", score: 12), ScoredChunk(chunkID: "b", score: 5), ScoredChunk(chunkID: "a", score: 3)]
        // Half weight each is plain RRF, to the last bit.
        #expect(Fusion.reciprocalRank(k: 1, denseWeight: 0.5).fuse(dense: dense, bm25: bm25, topK: 10)
                == Fusion.reciprocalRank(k: 1).fuse(dense: dense, bm25: bm25, topK: 10))
        // The lists' weights decide: all on dense keeps the dense order, all on BM25 the BM25 order.
        #expect(Fusion.reciprocalRank(k: 1, denseWeight: 1).fuse(dense: dense, bm25: bm25, topK: 10).map(\.chunkID) == ["a", "b", "c"])
        #expect(Fusion.reciprocalRank(k: 1, denseWeight: 0).fuse(dense: dense, bm25: bm25, topK: 10).map(\.chunkID) == ["c", "b", "a"])
        // 0.75 dense: a = 1.5/2 + 0.5/4 = 0.875, c = 1.5/4 + 0.5/2 = 0.625, b = 1.5/3 + 0.5/3 ≈ 0.667.
        let leaning = Fusion.reciprocalRank(k: 1, denseWeight: 0.75).fuse(dense: dense, bm25: bm25, topK: 10)
        #expect(leaning.map(\.chunkID) == ["a", "b", "c"])
        #expect(abs(leaning[0].score - 0.875) < 1e-6 && abs(leaning[2].score - 0.625) < 1e-6)
    }

    @Test func weightedMinMaxFusion() {
        let dense = [ScoredChunk(chunkID: "a", score: 0.9), ScoredChunk(chunkID: "b", score: 0.5), ScoredChunk(chunkID: "c", score: 0.1)]
        let bm25 = [ScoredChunk(chunkID: "c", score: 20), ScoredChunk(chunkID: "b", score: 10), ScoredChunk(chunkID: "a", score: 0)]
        // normalised dense a 1, b 0.5, c 0; bm25 c 1, b 0.5, a 0.
        let fused = Fusion.weighted(denseWeight: 0.75).fuse(dense: dense, bm25: bm25, topK: 3)
        #expect(fused.map(\.chunkID) == ["a", "b", "c"])
        for (s, e) in zip(fused.map(\.score), [Float(0.75), 0.5, 0.25]) { #expect(abs(s - e) < 1e-6) }
        // Equal fused scores: better dense rank first.
        let tie = Fusion.weighted(denseWeight: 0.5).fuse(dense: dense, bm25: bm25, topK: 3)
        #expect(tie.map(\.chunkID) == ["a", "b", "c"] && tie.allSatisfy { abs($0.score - 0.5) < 1e-6 })
    }
}

@Suite struct ExactSearchTests {
    static func random(_ rows: Int, _ dim: Int, seed: UInt64) -> [Float] {
        var s = seed
        return (0..<(rows * dim)).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: s >> 11) % 2001 - 1000) / 1000
        }
    }

    /// Covers the SIMD path (few queries) and the sgemm path, dimensions with and without a SIMD tail.
    @Test(arguments: [(2, 8), (3, 20), (ExactSearch.smallBatchLimit + 2, 8), (ExactSearch.smallBatchLimit + 2, 20)])
    func topKEqualsFullSortAcrossBlocks(qn: Int, dim: Int) {
        let n = ExactSearch.corpusBlock + 1500
        let corpus = Self.random(n, dim, seed: 1), queries = Self.random(qn, dim, seed: 2)
        let hits = queries.withUnsafeBufferPointer { q in corpus.withUnsafeBufferPointer { c in
            ExactSearch.topK(queries: q, queryCount: qn, corpus: c, corpusCount: n, dimension: dim, k: 25)
        } }
        for qi in 0..<qn {
            var scored = (0..<n).map { j in
                ScoredSlot(slot: j, score: (0..<dim).reduce(Float(0)) { $0 + queries[qi * dim + $1] * corpus[j * dim + $1] })
            }
            scored.sort { $0.score != $1.score ? $0.score > $1.score : $0.slot < $1.slot }
            #expect(hits[qi].map(\.slot) == scored.prefix(25).map(\.slot))
            for (h, e) in zip(hits[qi], scored) { #expect(abs(h.score - e.score) < 1e-4) }
        }
    }

    @Test(arguments: [1, ExactSearch.smallBatchLimit + 1])
    func tiesPreferLowerSlotAndKIsClamped(queryCount: Int) {
        // Identical rows in both blocks: exact ties must come back in slot order.
        let dim = 4, n = ExactSearch.corpusBlock + 10
        var corpus = [Float](repeating: 0, count: n * dim)
        for slot in [3, ExactSearch.corpusBlock + 5, 7, ExactSearch.corpusBlock + 2, 1] { corpus[slot * dim] = 1 }
        let q: [Float] = [1, 0, 0, 0]
        let queries = Array([[Float]](repeating: q, count: queryCount).joined())
        let hits = queries.withUnsafeBufferPointer { qp in corpus.withUnsafeBufferPointer { c in
            ExactSearch.topK(queries: qp, queryCount: queryCount, corpus: c, corpusCount: n, dimension: dim, k: 4)
        } }
        for h in hits { #expect(h.map(\.slot) == [1, 3, 7, ExactSearch.corpusBlock + 2]) }
        let small: [Float] = [1, 0, 0, 0, 0, 1, 0, 0]
        let clamped = q.withUnsafeBufferPointer { qp in small.withUnsafeBufferPointer { c in
            ExactSearch.topK(queries: qp, queryCount: 1, corpus: c, corpusCount: 2, dimension: dim, k: 10)
        } }
        #expect(clamped[0] == [ScoredSlot(slot: 0, score: 1), ScoredSlot(slot: 1, score: 0)])
    }
}
