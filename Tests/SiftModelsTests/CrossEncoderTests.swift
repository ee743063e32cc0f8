import Foundation
import Testing
@testable import SiftModels
import SiftKernels
import SiftTokenizer
import SiftTestSupport

/// A randomly initialised BertForSequenceClassification (ms-marco-MiniLM-L-6-v2's shape),
/// regenerated here from the fixture's PRNG spec, written as a real HF folder, loaded through
/// `CrossEncoder` and compared with PyTorch's logits. Tolerance: 1e-4 absolute on logits of
/// magnitude ~1–5 (float32 end to end).
@Suite(.serialized) struct CrossEncoderTests {
    static let checkpoint: Result<URL, Error> = Result {
        let doc = try ModelFixtures.crossEncoder()
        let miniLM = try #require(TestPaths.miniLMModel, "Models/all-MiniLM-L6-v2 (tokenizer files) is missing: run Scripts/setup")
        let folder = try temporaryFolder("cross").appendingPathComponent("random-cross-encoder")
        try RandomCheckpoint.write(to: folder, doc: doc, tokenizerFrom: miniLM)
        return folder
    }

    static func strategy(_ name: String) -> TruncationStrategy {
        switch name {
        case "longest_first": .longestFirst
        case "only_second": .onlySecond
        case "only_first": .onlyFirst
        default: .error
        }
    }

    @Test func matchesPyTorchLogits() throws {
        let folder = try Self.checkpoint.get()
        let doc = try ModelFixtures.crossEncoder()
        #expect(doc.pairs.count >= 50)
        #expect(doc.pairs.contains { $0.untruncatedTokenCount > 512 && $0.maxLength == 512 })
        #expect(doc.pairs.contains { $0.truncation == "only_second" && $0.untruncatedTokenCount > $0.maxLength })
        // One model per (max length, truncation) setting in the fixture.
        let settings = Dictionary(grouping: doc.pairs.indices) { "\(doc.pairs[$0].maxLength)/\(doc.pairs[$0].truncation)" }
        var worst: Float = 0
        for (_, indices) in settings {
            let first = doc.pairs[indices[0]]
            let model = try CrossEncoder(directory: folder, maxLength: first.maxLength, truncation: Self.strategy(first.truncation))
            #expect(model.numLabels == 1)
            let pairs = indices.map { (doc.pairs[$0].query, doc.pairs[$0].passage) }
            let logits = try model.predict(pairs, batchSize: 8)
            for (row, index) in indices.enumerated() {
                let expected = doc.pairs[index]
                let encoding = try model.tokenize(expected.query, expected.passage)
                #expect(encoding.ids == expected.ids, "pair \(index): tokens differ from the Hugging Face tokenizer")
                #expect(encoding.tokenTypeIDs == expected.tokenTypeIDs, "pair \(index): token types differ")
                #expect(encoding.truncatedTokenCount == expected.untruncatedTokenCount - expected.ids.count)
                let diff = ModelFixtures.maxAbsDiff(logits[row], expected.logits)
                worst = max(worst, diff)
                #expect(diff <= 1e-4, "pair \(index) (\(expected.maxLength)/\(expected.truncation)): logits \(logits[row]) vs \(expected.logits)")
            }
        }
        print("cross-encoder parity over \(doc.pairs.count) pairs: worst abs diff \(worst)")
    }

    /// The opt-in bf16 path against PyTorch's fp32 logits. Tolerance: 0.1 absolute on logits of
    /// magnitude ~1–5 (bf16 inputs to every matmul, fp32 accumulation; measured worst 0.042–0.049 on this
    /// random-weight model, whose untrained activations are less regular than a real checkpoint's).
    @Test func bfloat16LogitsStayClose() throws {
        try Self.expectLogitsClose(precision: .bfloat16, tolerance: 0.1)
    }

    /// Runs the random checkpoint at `precision` on the max_length-512 longest_first fixture pairs and checks
    /// each pair's logits against PyTorch's fp32 ones within `tolerance` (absolute).
    static func expectLogitsClose(precision: ModelPrecision, tolerance: Float) throws {
        let folder = try checkpoint.get()
        let doc = try ModelFixtures.crossEncoder()
        let pairs = doc.pairs.filter { $0.maxLength == 512 && $0.truncation == "longest_first" }
        #expect(pairs.count >= 20)
        let model = try CrossEncoder(directory: folder, maxLength: 512, precision: precision)
        let logits = try model.predict(pairs.map { ($0.query, $0.passage) })
        var worst: Float = 0, sum: Float = 0
        for (row, expected) in pairs.enumerated() {
            let diff = ModelFixtures.maxAbsDiff(logits[row], expected.logits)
            worst = max(worst, diff)
            sum += diff
            #expect(diff <= tolerance, "pair \(row): \(precision) logits \(logits[row]) vs \(expected.logits)")
        }
        print("cross-encoder \(precision) (\(model.kernel)) over \(pairs.count) pairs: worst abs diff \(worst), mean \(sum / Float(pairs.count))")
    }

    /// The first 24 fixture pairs, tokenized (lengths vary widely: one packed batch of many shapes).
    static func fixturePairs(_ model: CrossEncoder) throws -> [TokenSequence] {
        try ModelFixtures.crossEncoder().pairs.prefix(24).map { pair in
            let e = try model.tokenizer.encodePair(pair.query, pair.passage, maxLength: 512, truncation: TruncationStrategy.longestFirst)
            return TokenSequence(ids: e.ids, tokenTypeIDs: e.tokenTypeIDs)
        }
    }

    /// The classifier runs the last layer for [CLS] alone (`BertEncoder.firstTokenStates`): its logits must be
    /// bit-identical to taking [CLS] from the full last hidden states, in every precision, for pairs of many lengths
    /// in one packed batch (within 1e-5 on the OpenBLAS fallback of CPUs without AVX-512).
    @Test(arguments: ModelPrecision.allCases)
    func lastLayerForClsOnlyIsExact(precision: ModelPrecision) throws {
        let model = try CrossEncoder(directory: Self.checkpoint.get(), maxLength: 512, precision: precision)
        let pairs = try Self.fixturePairs(model)
        #expect(Set(pairs.map { $0.ids.count }).count > 10)
        let fast = try model.encoder.classifierLogits(pairs), full = try model.encoder.classifierLogits(pairs, fullLastLayer: true)
        let worst = zip(fast, full).map { abs($0 - $1) }.max() ?? 0
        #expect(PackedLinear.isAvailable ? fast == full : worst <= 1e-5, "\(precision): max difference \(worst)")
    }

    /// Pairs grouped per worker (each group's layers single-threaded) and pairs run with every layer split across
    /// the workers give bit-identical logits in every precision (each kernel computes a row the same way whatever
    /// the other rows and the thread count).
    @Test(arguments: ModelPrecision.allCases)
    func workerGroupingIsExact(precision: ModelPrecision) throws {
        let model = try CrossEncoder(directory: Self.checkpoint.get(), maxLength: 512, precision: precision)
        let pairs = try Self.fixturePairs(model)
        let split = try model.encoder.classifierLogits(pairs, fullLastLayer: false, grouping: .never)
        #expect(try model.encoder.classifierLogits(pairs, fullLastLayer: false, grouping: .always) == split, "\(precision)")
        #expect(try model.encoder.classifierLogits(pairs) == split, "\(precision)")
    }

    static let pythonCheckpoint = TestPaths.generatedFixtures.appendingPathComponent("random-cross-encoder/model.safetensors")

    /// When the Python script has been run, its checkpoint and ours are bit-identical.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: pythonCheckpoint.path),
                   "needs Tests/Fixtures/generated/random-cross-encoder (run Scripts/fixtures/make_model_fixtures.py checkpoint)"))
    func prngMatchesPythonCheckpoint() throws {
        let python = Self.pythonCheckpoint
        let ours = try SafetensorsFile(url: Self.checkpoint.get().appendingPathComponent("model.safetensors"))
        let theirs = try SafetensorsFile(url: python)
        for name in ["bert.embeddings.LayerNorm.weight", "bert.encoder.layer.3.attention.self.key.bias", "classifier.weight"] {
            #expect(try ours.floats(name) == theirs.floats(name), "\(name)")
        }
    }

    @Test func scoresRankAndActivations() throws {
        let model = try CrossEncoder(directory: Self.checkpoint.get())
        let doc = try ModelFixtures.crossEncoder()
        let query = doc.pairs[0].query
        let passages = doc.pairs.prefix(12).map(\.passage)
        let scores = try model.scores(query: query, passages: passages)
        let logits = try model.predict(passages.map { (query, $0) }, batchSize: 5)
        // Different batch sizes change BLAS blocking, so agreement is to float rounding, not bits.
        #expect(ModelFixtures.maxAbsDiff(scores, logits.map { $0[0] }) <= 1e-5)
        let ranked = try model.rank(query: query, documents: passages, topK: 5)
        #expect(ranked.count == 5)
        #expect(ranked.map(\.score) == scores.sorted(by: >).prefix(5).map { $0 })
        #expect(ranked.allSatisfy { scores[$0.index] == $0.score })
        let sigmoid = try model.scores(query: query, passages: passages, activation: .sigmoid)
        for (s, l) in zip(sigmoid, scores) { #expect(abs(s - 1 / (1 + exp(-l))) < 1e-6) }
        let softmax = try model.predict([(query, passages[0])], activation: .softmax)
        #expect(softmax == [[1]])
    }
}
