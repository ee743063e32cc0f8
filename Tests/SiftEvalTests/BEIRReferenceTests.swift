// SiftModels reaches this target through SiftEval → SiftIndex; the guard keeps the file compiling where it does not.
#if canImport(SiftModels) && canImport(SiftIndex)
import Foundation
import SiftIndex
import SiftModels
import SiftTestSupport
import Testing
@testable import SiftEval

/// Dense retrieval on Tests/Fixtures/eval/beir-mini (599 SQLite-doc passages ≤ 128 tokens, 83 queries) with the
/// Swift BiEncoder and exact cosine search, evaluated by SiftEval, against the numbers
/// Scripts/eval/beir_reference.py got from sentence-transformers + pytrec_eval (beir-mini-reference.json).
///
/// Tolerance 0.002 on each mean: float32 embeddings from a different GEMM order can swap near-tied passages,
/// moving a few ranks. Release builds only (`swift test -c release -Xswiftc -enable-testing`): encoding the corpus
/// in a debug build takes minutes.
@Suite struct BEIRReferenceTests {
    struct Reference: Decodable {
        var pytrec_eval: [String: Double]
        var sentence_transformers: [String: Double]
        var top_k: Int
    }

    static var isReleaseBuild: Bool {
        #if DEBUG
        false
        #else
        true
        #endif
    }

    @Test(.enabled(if: isReleaseBuild && TestPaths.miniLMModel != nil, "needs a release build and Models/all-MiniLM-L6-v2"))
    func denseRetrievalMatchesSentenceTransformersAndPytrecEval() throws {
        let folder = TestPaths.fixtures.appendingPathComponent("eval/beir-mini")
        let reference = try JSONDecoder().decode(
            Reference.self, from: Data(contentsOf: TestPaths.fixtures.appendingPathComponent("eval/beir-mini-reference.json")))
        let dataset = try BEIRDataset.load(folder: folder)
        let encoder = try BiEncoder(directory: try #require(TestPaths.miniLMModel))
        let queries = dataset.evaluatedQueries
        let corpusVectors = try encoder.encode(dataset.corpus.map(\.embeddingText))
        let queryVectors = try encoder.encode(queries.map(\.text))
        let hits = SentenceTransformersUtil.semanticSearch(queryEmbeddings: queryVectors, corpusEmbeddings: corpusVectors,
                                                           topK: reference.top_k)
        var rankings: Rankings = [:]
        for (query, queryHits) in zip(queries, hits) {
            rankings[query.id] = queryHits.map { ScoredID(dataset.corpus[$0.corpusID].id, Double($0.score)) }
        }

        let trecNames: [String: Metric] = [
            "ndcg_cut_10": .ndcg(10), "recip_rank_cut_10": .mrr(10), "recall_100": .recall(100), "map_cut_100": .map(100),
            "recall_10": .recall(10), "P_10": .precision(10), "success_1": .hits(1),
        ]
        let trec = evaluate(rankings: rankings, qrels: dataset.qrels, metrics: Array(trecNames.values))
        #expect(trec.evaluatedQueryCount == queries.count)
        for (name, metric) in trecNames {
            let expected = try #require(reference.pytrec_eval[name], "reference lacks \(name)")
            #expect(abs(trec.mean[metric]! - expected) < 0.002, "\(metric): Sift \(trec.mean[metric]!) vs pytrec_eval \(expected)")
        }

        let stNames: [String: Metric] = [
            "cosine_ndcg@10": .ndcg(10), "cosine_mrr@10": .mrr(10), "cosine_map@100": .map(100),
            "cosine_recall@100": .recall(100), "cosine_accuracy@1": .hits(1),
        ]
        let st = evaluate(rankings: rankings, qrels: dataset.qrels, metrics: Array(stNames.values),
                          options: EvaluationOptions(convention: .sentenceTransformers))
        for (name, metric) in stNames {
            let expected = try #require(reference.sentence_transformers[name], "reference lacks \(name)")
            #expect(abs(st.mean[metric]! - expected) < 0.002, "\(metric): Sift \(st.mean[metric]!) vs ST \(expected)")
        }
    }
}
#endif
