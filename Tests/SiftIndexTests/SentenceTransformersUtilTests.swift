import Foundation
import SiftTestSupport
import Testing
@testable import SiftIndex

/// Compares with sentence-transformers' util functions run by Scripts/fixtures/make_index_fixtures.py on
/// seeded clustered random embeddings (100 × 16, committed). Scores to 1e-5 (float32 sgemm vs torch.mm).
@Suite struct SentenceTransformersUtilTests {
    struct Hit: Decodable { var corpus_id: Int; var score: Float }
    struct Fixture: Decodable {
        struct Search: Decodable { var query_rows: [Int]; var top_k: Int; var hits: [[Hit]] }
        struct Mining: Decodable { var top_k: Int; var max_pairs: Int; var pairs: [[Double]] }
        struct Communities: Decodable { var threshold: Float; var min_community_size: Int; var communities: [[Int]] }
        var embeddings: [[Float]]
        var cos_sim_first5: [[Float]]
        var semantic_search: Search
        var paraphrase_mining: Mining
        var community_detection: [Communities]
    }

    static let fixture: Fixture = {
        let url = TestPaths.fixtures.appendingPathComponent("index/st_util_random.json")
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    @Test func cosSimAndDotScore() {
        let f = Self.fixture
        let sims = SentenceTransformersUtil.cosSim(Array(f.embeddings.prefix(5)), f.embeddings)
        #expect(sims.count == 5 && sims.allSatisfy { $0.count == f.embeddings.count })
        for (row, expected) in zip(sims, f.cos_sim_first5) {
            for (a, b) in zip(row, expected) { #expect(abs(a - b) < 1e-5) }
        }
        let dots = SentenceTransformersUtil.dotScore([[1, 2, 3]], [[4, 5, 6], [-1, 0, 1]])
        #expect(dots == [[32, 2]])
        #expect(SentenceTransformersUtil.cosSim([[3, 4]], [[6, 8], [0, 0]]) == [[1, 0]])
    }

    @Test func semanticSearchMatchesST() {
        let f = Self.fixture, s = f.semantic_search
        let hits = SentenceTransformersUtil.semanticSearch(queryEmbeddings: s.query_rows.map { f.embeddings[$0] },
                                                           corpusEmbeddings: f.embeddings, topK: s.top_k)
        #expect(hits.count == s.hits.count)
        for (got, want) in zip(hits, s.hits) {
            #expect(got.map(\.corpusID) == want.map(\.corpus_id))
            for (g, w) in zip(got, want) { #expect(abs(g.score - w.score) < 1e-5) }
        }
        #expect(SentenceTransformersUtil.semanticSearch(queryEmbeddings: [[1, 0]], corpusEmbeddings: [[1, 0]], topK: 5).map { $0.map(\.corpusID) } == [[0]])
    }

    @Test func paraphraseMiningMatchesST() {
        let f = Self.fixture, m = f.paraphrase_mining
        let pairs = SentenceTransformersUtil.paraphraseMining(embeddings: f.embeddings, topK: m.top_k, maxPairs: m.max_pairs)
        #expect(pairs.count == m.pairs.count)
        #expect(pairs.map { [$0.i, $0.j] } == m.pairs.map { [Int($0[1]), Int($0[2])] })
        for (p, w) in zip(pairs, m.pairs) { #expect(abs(Double(p.score) - w[0]) < 1e-5) }
        // Without the cap every sentence contributes its neighbours; pairs are unique and i < j.
        let all = SentenceTransformersUtil.paraphraseMining(embeddings: f.embeddings, topK: 3)
        #expect(all.count > m.max_pairs && Set(all.map { [$0.i, $0.j] }).count == all.count && all.allSatisfy { $0.i < $0.j })
    }

    @Test func communityDetectionMatchesST() {
        let f = Self.fixture
        for c in f.community_detection {
            let got = SentenceTransformersUtil.communityDetection(embeddings: f.embeddings, threshold: c.threshold,
                                                                  minCommunitySize: c.min_community_size, batchSize: 32)
            #expect(got == c.communities, "threshold \(c.threshold), min size \(c.min_community_size)")
        }
        #expect(SentenceTransformersUtil.communityDetection(embeddings: Array(f.embeddings.prefix(3)), minCommunitySize: 4).isEmpty)
        #expect(SentenceTransformersUtil.communityDetection(embeddings: []).isEmpty)
    }
}
