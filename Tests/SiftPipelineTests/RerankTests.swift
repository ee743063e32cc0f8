import Foundation
import SiftCore
import Testing
import SiftTestSupport
@testable import SiftPipeline

/// A tiny randomly initialised BertForSequenceClassification folder (hidden 8, one layer, a 60-word vocabulary),
/// written from a fixed-seed generator: enough to run the re-ranking stage end to end (its scores mean nothing).
enum TinyCrossEncoder {
    static let words = ["vacation", "days", "year", "sick", "leave", "manager", "doctor", "note", "receipts", "meals",
                        "travel", "euros", "finance", "portal", "flights", "economy", "class", "every", "employee", "gets",
                        "how", "many", "do", "i", "get", "per", "the", "a", "is", "are", "what", "when", "after", "within",
                        "up", "to", "day", "call", "your", "before", "ill", "needed", "three", "submit", "through", "must",
                        "be", "booked", "in", "business"]

    static func write(to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "'", "?", "s"] + words
        try Data((vocabulary.joined(separator: "\n") + "\n").utf8).write(to: folder.appendingPathComponent("vocab.txt"))
        try Data(#"{"do_lower_case": true, "model_max_length": 512}"#.utf8).write(to: folder.appendingPathComponent("tokenizer_config.json"))
        let h = 8, i = 16, positions = 512
        let config = """
        {"architectures": ["BertForSequenceClassification"], "model_type": "bert", "vocab_size": \(vocabulary.count),
         "hidden_size": \(h), "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": \(i),
         "hidden_act": "gelu", "max_position_embeddings": \(positions), "type_vocab_size": 2, "layer_norm_eps": 1e-12,
         "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}
        """
        try Data(config.utf8).write(to: folder.appendingPathComponent("config.json"))

        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func random(_ count: Int, scale: Float = 0.5) -> [Float] {
            (0..<count).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return (Float(state >> 40) / Float(1 << 24) - 0.5) * 2 * scale
            }
        }
        let ones = { (n: Int) in [Float](repeating: 1, count: n) }
        let zeros = { (n: Int) in [Float](repeating: 0, count: n) }
        var tensors: [(String, [Int], [Float])] = [
            ("bert.embeddings.word_embeddings.weight", [vocabulary.count, h], random(vocabulary.count * h)),
            ("bert.embeddings.position_embeddings.weight", [positions, h], random(positions * h, scale: 0.05)),
            ("bert.embeddings.token_type_embeddings.weight", [2, h], random(2 * h)),
            ("bert.embeddings.LayerNorm.weight", [h], ones(h)),
            ("bert.embeddings.LayerNorm.bias", [h], zeros(h)),
        ]
        let p = "bert.encoder.layer.0."
        for name in ["query", "key", "value"] {
            tensors.append((p + "attention.self.\(name).weight", [h, h], random(h * h)))
            tensors.append((p + "attention.self.\(name).bias", [h], random(h)))
        }
        tensors += [
            (p + "attention.output.dense.weight", [h, h], random(h * h)), (p + "attention.output.dense.bias", [h], random(h)),
            (p + "attention.output.LayerNorm.weight", [h], ones(h)), (p + "attention.output.LayerNorm.bias", [h], zeros(h)),
            (p + "intermediate.dense.weight", [i, h], random(i * h)), (p + "intermediate.dense.bias", [i], random(i)),
            (p + "output.dense.weight", [h, i], random(h * i)), (p + "output.dense.bias", [h], random(h)),
            (p + "output.LayerNorm.weight", [h], ones(h)), (p + "output.LayerNorm.bias", [h], zeros(h)),
            ("bert.pooler.dense.weight", [h, h], random(h * h)), ("bert.pooler.dense.bias", [h], random(h)),
            ("classifier.weight", [1, h], random(h, scale: 2)), ("classifier.bias", [1], [0.1]),
        ]
        // safetensors: 8-byte little-endian header length, JSON header, raw float32 data.
        var header: [String] = []
        var payload = Data()
        for (name, shape, values) in tensors {
            precondition(values.count == shape.reduce(1, *))
            let start = payload.count
            for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { payload.append(contentsOf: $0) } }
            header.append(#""\#(name)": {"dtype": "F32", "shape": \#(shape), "data_offsets": [\#(start), \#(payload.count)]}"#)
        }
        var json = Data(("{" + header.joined(separator: ", ") + "}").utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var file = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        file.append(payload)
        try file.write(to: folder.appendingPathComponent("model.safetensors"))
    }
}

@Suite(.serialized) struct RerankTests {
    @Test func rerankerReordersCandidatesByCrossEncoderScore() throws {
        let model = try #require(TestPaths.miniLMModel, "Models/all-MiniLM-L6-v2 is missing: run Scripts/setup")
        let collection = try TinyCollection()
        let crossEncoder = collection.folder.appendingPathComponent("Models/tiny-ce")
        try TinyCrossEncoder.write(to: crossEncoder)
        let config = try collection.pipeline(model: model, overrides: ["reranker.model=\(crossEncoder.path)", "reranker.top_k=4"])
        #expect(config.reranker?.topK == 4)
        let runner = try PipelineRunner(config: config)
        _ = try runner.index()

        let question = "how many vacation days do i get per year?"
        let result = try runner.ask(question, options: AskOptions(explain: true))
        #expect(result.stagesRun.map(\.description) == ["dense", "bm25", "fusion:rrf", "rerank", "highlight"])
        #expect(result.stagesSkipped.isEmpty)
        #expect(result.stageCandidates.map(\.stage) == [.dense, .bm25, .hybrid, .rerank])
        let reranked = result.stageCandidates[3].candidates
        let hybrid = result.stageCandidates[2].candidates
        #expect(reranked.count == min(4, hybrid.count))
        #expect(Set(reranked.map(\.chunkID)) == Set(hybrid.prefix(4).map(\.chunkID)))
        #expect(reranked.map { $0.stageRanks[.rerank] } == Array(1...reranked.count).map { Optional($0) })

        // The answers carry the cross-encoder's own scores for their texts, best first, and keep their retrieval score.
        let answers = result.answers
        // One per page by default: the tiny collection has two.
        #expect(answers.count == 2)
        let scores = answers.map { $0.rerankScore ?? .nan }
        #expect(scores == scores.sorted(by: >))
        let direct = try ModelTools.rerankScores(modelFolder: crossEncoder, query: question, passages: answers.map(\.chunk.text))
        for (answer, score) in zip(answers, direct) { #expect(abs((answer.rerankScore ?? .nan) - score) < 1e-5) }
        for answer in answers {
            let fused = hybrid.first { $0.chunkID == answer.chunk.id }
            #expect(answer.retrievalScore == fused?.score)
        }

        let off = try runner.ask(question, options: AskOptions(rerank: false))
        #expect(!off.stagesRun.contains { $0.stage == .rerank })
        #expect(off.stagesSkipped.map(\.description) == ["rerank (switched off)"])
        #expect(off.answers.allSatisfy { $0.rerankScore == nil })
    }
}

/// `reranker.blend`: the order mixes the cross-encoder's and the retrieval scores, each min-max-normalised over the
/// pool; 0 is the cross-encoder alone, 1 the retrieval order.
struct RerankBlendTests {
    struct FixedScorer: PassageScorer {
        let byText: [String: Float]
        func scores(query: String, passages: [String]) throws -> [Float] { passages.map { byText[$0]! } }
    }

    static let chunks = Dictionary(uniqueKeysWithValues: ["a", "b", "c"].map {
        ($0, Chunk(id: $0, documentID: "\($0).html", anchor: nil, headingPath: [], range: 0..<1, text: "text \($0)", tokenCount: 3))
    })
    // Retrieval prefers a > b > c; the cross-encoder c > b > a, with b close to c.
    static let pool = [Candidate(chunkID: "a", score: 0.9), Candidate(chunkID: "b", score: 0.5), Candidate(chunkID: "c", score: 0.1)]
    static let scorer = FixedScorer(byText: ["text a": -4, "text b": 3.5, "text c": 4])

    func order(_ blend: Float) throws -> [String] {
        try PipelineRunner.rerank(Self.pool, question: "q", chunks: Self.chunks, scorer: Self.scorer,
                                  retrievalScores: Dictionary(uniqueKeysWithValues: Self.pool.map { ($0.chunkID, $0.score) }),
                                  blend: blend).map(\.chunkID)
    }

    @Test func blendMovesFromTheCrossEncoderToRetrieval() throws {
        #expect(try order(0) == ["c", "b", "a"])
        // 0.5: a = 0.5·0 + 0.5·1 = 0.5, b = 0.5·0.9375 + 0.5·0.5 = 0.72, c = 0.5·1 + 0.5·0 = 0.5 → b first.
        #expect(try order(0.5).first == "b")
        #expect(try order(1) == ["a", "b", "c"])
        let mixed = try PipelineRunner.rerank(Self.pool, question: "q", chunks: Self.chunks, scorer: Self.scorer,
                                              retrievalScores: [:], blend: 0.5)
        #expect(abs(mixed[0].stageScores[.rerank]! - 0.71875) < 1e-6, "the mix is the answer's re-rank score")
    }
}
