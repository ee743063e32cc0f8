import Foundation
import SiftCore
import SiftModels
import SiftTestSupport
import Testing
@testable import SiftIndex

/// The SentenceTransformers introduction examples with the real all-MiniLM-L6-v2, against scores computed by
/// sentence-transformers (Tests/Fixtures/index/st_model_examples.json). Tolerance 1e-4 (4 decimals).
@Suite(.enabled(if: TestPaths.miniLMModel != nil, "Models/all-MiniLM-L6-v2 is missing; run Scripts/setup"))
struct ModelIntegrationTests {
    struct Hit: Decodable { var corpus_id: Int; var score: Float }
    struct Fixture: Decodable {
        struct Search: Decodable { var corpus: [String]; var queries: [String]; var cos_sim: [[Float]]; var hits: [[Hit]] }
        struct Mining: Decodable { var sentences: [String]; var pairs: [[Double]] }
        var semantic_search: Search
        var paraphrase_mining: Mining
    }

    static let fixture: Fixture = {
        let url = TestPaths.fixtures.appendingPathComponent("index/st_model_examples.json")
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()
    static let model: BiEncoder? = TestPaths.miniLMModel.flatMap { try? BiEncoder(directory: $0) }

    @Test func semanticSearchExample() throws {
        let model = try #require(Self.model), s = Self.fixture.semantic_search
        let hits = SentenceTransformersUtil.semanticSearch(queryEmbeddings: try model.embed(s.queries),
                                                           corpusEmbeddings: try model.embed(s.corpus), topK: 3)
        for (got, want) in zip(hits, s.hits) {
            #expect(got.map(\.corpusID) == want.map(\.corpus_id))
            for (g, w) in zip(got, want) { #expect(abs(g.score - w.score) < 1e-4, "\(g) vs \(w)") }
        }
        let sims = SentenceTransformersUtil.cosSim(try model.embed(s.queries), try model.embed(s.corpus))
        for (row, want) in zip(sims, s.cos_sim) { for (a, b) in zip(row, want) { #expect(abs(a - b) < 1e-4) } }
    }

    @Test func paraphraseMiningExample() throws {
        let model = try #require(Self.model), m = Self.fixture.paraphrase_mining
        let pairs = try SentenceTransformersUtil.paraphraseMining(embedder: model, sentences: m.sentences)
        #expect(pairs.count == m.pairs.count)
        // The introduction's top three: "The new movie is awesome" ~ "so great" 0.8939, cats 0.6788, pasta ~ pizza 0.5096.
        #expect(pairs.prefix(3).map { ($0.score * 10_000).rounded() / 10_000 } == [0.8939, 0.6788, 0.5096])
        #expect(pairs.map { [$0.i, $0.j] } == m.pairs.map { [Int($0[1]), Int($0[2])] })
        for (p, w) in zip(pairs, m.pairs) { #expect(abs(Double(p.score) - w[0]) < 1e-4) }
    }

    @Test func indexWithTheRealModel() throws {
        let model = try #require(Self.model), s = Self.fixture.semantic_search
        let tmp = TempFolder()
        let index = try CollectionIndex.create(at: tmp.sub("idx"), configuration:
            IndexConfiguration(embedder: model, chunkerFingerprint: "one-sentence", readerFingerprint: "none"))
        let chunks = s.corpus.enumerated().map { i, text in Corpus.chunk("intro.html", i, text) }
        try index.update(upserting: [DocumentUpdate(id: "intro.html", title: "Intro", contentHash: "h", chunks: chunks)], embedder: model)
        let retriever = TestSearch(index: try CollectionIndex.open(at: tmp.sub("idx"), verify: true), embedder: model)
        let results = try retriever.search(s.queries, mode: .dense, topK: 3)
        for (got, want) in zip(results, s.hits) {
            #expect(got.map(\.chunkID) == want.map { chunks[$0.corpus_id].id })
            for (g, w) in zip(got, want) { #expect(abs(g.score - w.score) < 1e-4) }
        }
        let hybrid = try retriever.search("What did the fox do?", mode: .hybrid(), topK: 1)
        #expect(hybrid.first?.chunkID == chunks[2].id && hybrid.first?.stageRanks[.bm25] == 1)
    }
}
