import Foundation
import Testing
import SiftModels
import SiftTestSupport

/// The opt-in int8 path (`ModelPrecision.int8`: int8 weights per output feature, uint8 activations per token,
/// int32 sums, in every linear layer) against the fp32 golden files.
@Suite(.serialized) struct Int8ModelTests {
    /// Bi-encoder against sentence-transformers' fp32 vectors. Issue 7's bar is cosine ≥ 0.995 and it holds for
    /// every text, down to a bare [CLS] [SEP] (empty, a space): measured worst 0.99644, mean 0.99928. Before the
    /// LayerNorm-guided smoothing of QKV's and the intermediate layer's inputs (sift_int8.h) the short texts reached
    /// only 0.9926: their rows carry BERT's outlier features, which set a coarse per-token step, and with 2–3 tokens
    /// mean pooling averages nothing out. Bounds: ≥ 0.995 each, mean ≥ 0.999.
    @Test func biEncoderStaysCloseToSentenceTransformers() throws {
        let folder = try #require(TestPaths.miniLMModel, "Models/all-MiniLM-L6-v2 is missing: run Scripts/setup")
        let fixture = try BiEncoderTests.fixture.get()
        let model = try BiEncoder(directory: folder, precision: .int8)
        #expect(model.precision == .int8)
        let vectors = try model.encode(fixture.texts.map(\.value))
        var worst: Float = 1, sum: Float = 0
        for (i, entry) in fixture.texts.enumerated() {
            let cosine = ModelFixtures.cosine(vectors[i], fixture.vectors[i])
            worst = min(worst, cosine)
            sum += cosine
            #expect(cosine >= 0.995, "\(entry.id) (\(entry.ids.count) tokens): int8 cosine \(cosine)")
        }
        let mean = sum / Float(vectors.count)
        #expect(mean >= 0.999)
        print("MiniLM int8 (\(model.kernel)) over \(vectors.count) texts: worst cosine \(worst), mean \(mean)")
    }

    /// Cross-encoder on the random checkpoint against PyTorch's fp32 logits. Tolerance: 0.25 absolute on logits of
    /// magnitude ~1–5 (measured worst 0.160, mean 0.065 since the AVX-512 layer norm, 0.194 / 0.073 before it; bf16
    /// gives 0.043 there). Smoothing costs this checkpoint
    /// accuracy (0.115 / 0.045 without): its random LayerNorm γ has no outlier features to move (max/median 1.1, vs
    /// 1.3–4.6 in MiniLM), so the rescaling only coarsens weights. A trained cross-encoder is expected to behave like
    /// MiniLM, but none is obtainable here to measure.
    @Test func crossEncoderLogitsStayClose() throws {
        try CrossEncoderTests.expectLogitsClose(precision: .int8, tolerance: 0.25)
    }
}
