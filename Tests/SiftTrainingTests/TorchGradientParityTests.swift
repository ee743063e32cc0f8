import Foundation
import SiftTestSupport
import Testing
@testable import SiftTraining

/// The reference backward passes against PyTorch autograd in float64 on the same inputs
/// (Tests/Fixtures/training/op-gradients.json, written by Scripts/fixtures/make_gradient_fixtures.py): BERT's
/// linear, layer norm (ε 1e-12), erf GELU and packed multi-head attention, sentence-transformers' mean pooling with
/// normalisation and MultipleNegativesRankingLoss (cosine · 20), and BCE with logits. Both sides compute in Double,
/// so the tolerance is 1e-9 relative to the largest gradient entry.
struct TorchGradientParityTests {
    typealias R = ReferenceGradients

    nonisolated(unsafe) static let cases: [String: [String: Any]] = {
        let url = TestPaths.fixtures.appendingPathComponent("training/op-gradients.json")
        guard let data = try? Data(contentsOf: url),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let cases = object["cases"] as? [String: [String: Any]] else { return [:] }
        return cases
    }()

    static func values(_ name: String, _ key: String) throws -> [Double] {
        let raw = try #require(cases[name]?[key] as? [Any], "\(name).\(key) missing from op-gradients.json")
        return raw.map { ($0 as? NSNumber)?.doubleValue ?? .nan }
    }

    static func int(_ name: String, _ key: String) throws -> Int { try #require(cases[name]?[key] as? Int, "\(name).\(key)") }

    static func expectClose(_ ours: [Double], _ torch: [Double], _ what: String) {
        #expect(ours.count == torch.count, "\(what): \(ours.count) vs \(torch.count)")
        let scale = max(torch.map(abs).max() ?? 0, 1e-12)
        let worst = zip(ours, torch).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst / scale <= 1e-9, "\(what): max difference \(worst) at scale \(scale)")
    }

    @Test func linear() throws {
        let (n, k, m) = (try Self.int("linear", "n"), try Self.int("linear", "k"), try Self.int("linear", "m"))
        let g = R.linearBackward(try Self.values("linear", "up"), try Self.values("linear", "x"), try Self.values("linear", "w"), n: n, k: k, m: m)
        Self.expectClose(g.dx, try Self.values("linear", "dx"), "linear dX")
        Self.expectClose(g.dw, try Self.values("linear", "dw"), "linear dW")
        Self.expectClose(g.db, try Self.values("linear", "db"), "linear db")
    }

    @Test func layerNorm() throws {
        let x = try Self.values("layer_norm", "x"), gamma = try Self.values("layer_norm", "gamma")
        let rows = try Self.int("layer_norm", "rows")
        let forward = R.layerNorm(x, gamma: gamma, beta: try Self.values("layer_norm", "beta"), rows: rows)
        let g = R.layerNormBackward(try Self.values("layer_norm", "up"), x, mean: forward.mean, rstd: forward.rstd, gamma: gamma, rows: rows)
        Self.expectClose(g.dx, try Self.values("layer_norm", "dx"), "layer norm dX")
        Self.expectClose(g.dgamma, try Self.values("layer_norm", "dgamma"), "layer norm dγ")
        Self.expectClose(g.dbeta, try Self.values("layer_norm", "dbeta"), "layer norm dβ")
    }

    @Test func gelu() throws {
        Self.expectClose(R.geluBackward(try Self.values("gelu", "up"), try Self.values("gelu", "x")), try Self.values("gelu", "dx"), "GELU")
    }

    @Test func attention() throws {
        let qkv = try Self.values("attention", "qkv")
        let offsets = try #require(Self.cases["attention"]?["offsets"] as? [Int])
        let (h, heads) = (try Self.int("attention", "hidden"), try Self.int("attention", "heads"))
        let forward = R.attention(qkv, offsets: offsets, hidden: h, heads: heads)
        let dqkv = R.attentionBackward(try Self.values("attention", "up"), qkv, probabilities: forward.probabilities, offsets: offsets,
                                       hidden: h, heads: heads)
        Self.expectClose(dqkv, try Self.values("attention", "dqkv"), "attention dQKV")
    }

    @Test func meanPooling() throws {
        let x = try Self.values("mean_pool", "x")
        let offsets = try #require(Self.cases["mean_pool"]?["offsets"] as? [Int])
        let h = try Self.int("mean_pool", "hidden")
        let forward = R.meanPoolNormalize(x, offsets: offsets, hidden: h)
        Self.expectClose(R.meanPoolNormalizeBackward(try Self.values("mean_pool", "up"), pooled: forward.pooled, offsets: offsets, hidden: h),
                         try Self.values("mean_pool", "dx"), "mean pooling dX")
    }

    @Test func multipleNegativesRankingLoss() throws {
        let result = R.multipleNegativesRankingLoss(anchors: try Self.values("mnrl", "anchors"), candidates: try Self.values("mnrl", "candidates"),
                                                    n: try Self.int("mnrl", "n"), m: try Self.int("mnrl", "m"),
                                                    dimension: try Self.int("mnrl", "dimension"))
        let loss = try #require(Self.cases["mnrl"]?["loss"] as? Double)
        #expect(abs(result.loss - loss) <= 1e-12 * max(1, abs(loss)))
        Self.expectClose(result.danchors, try Self.values("mnrl", "danchors"), "MNRL d anchors")
        Self.expectClose(result.dcandidates, try Self.values("mnrl", "dcandidates"), "MNRL d candidates")
    }

    @Test func binaryCrossEntropy() throws {
        let result = R.binaryCrossEntropy(logits: try Self.values("bce", "logits"), labels: try Self.values("bce", "labels"))
        let loss = try #require(Self.cases["bce"]?["loss"] as? Double)
        #expect(abs(result.loss - loss) <= 1e-12 * max(1, abs(loss)))
        Self.expectClose(result.dlogits, try Self.values("bce", "dlogits"), "BCE dlogits")
    }
}
