import Foundation
import SiftModels
import SiftTestSupport
import Testing
@testable import SiftTraining

/// Whole-model parity with PyTorch (fp32, dropout off) on the fixtures of Scripts/fixtures/make_training_fixtures.py:
/// a tiny random BERT (2 layers, hidden 16, 2 heads) as a bi-encoder (mean pooling, normalisation,
/// MultipleNegativesRankingLoss with hard negatives) and as a cross-encoder (BertForSequenceClassification, BCE).
/// Every parameter's gradient must be within relative error 1e-3 of PyTorch's (max |difference| over max |torch|),
/// and 20 AdamW steps with warm-up, decay, weight decay and clipping must give the same losses within 1e-4.
struct ModelGradientParityTests {
    static let folder = TestPaths.fixtures.appendingPathComponent("training")

    nonisolated(unsafe) static let runs: [String: Any] = {
        guard let data = try? Data(contentsOf: folder.appendingPathComponent("training-runs.json")),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return object
    }()

    static func sequences(_ value: Any?, types: Any? = nil) -> [TokenSequence] {
        let ids = (value as? [[Int]]) ?? []
        let typeLists = (types as? [[Int]]) ?? ids.map { [Int](repeating: 0, count: $0.count) }
        return zip(ids, typeLists).map { TokenSequence(ids: $0.map(Int32.init), tokenTypeIDs: $1.map(Int32.init)) }
    }

    static func optimizerSettings() throws -> AdamW.Settings {
        let o = try #require(runs["optimizer"] as? [String: Double], "training-runs.json has no optimizer")
        return AdamW.Settings(learningRate: Float(o["lr"]!), weightDecay: Float(o["weight_decay"]!),
                              warmupSteps: Int(o["warmup"]!), totalSteps: Int(o["steps"]!),
                              maxGradientNorm: Float(o["clip"]!), epsilon: Float(o["eps"]!))
    }

    /// Compares every gradient with PyTorch's, named as the checkpoint names them.
    static func expectGradientsMatch(_ parameters: BertParameters, torchFile: String) throws {
        let torch = try SafetensorsFile(url: folder.appendingPathComponent(torchFile))
        var checked = 0
        let modelScale = try parameters.safetensors().compactMap { named in
            torch.tensors[named.name] == nil ? nil : try torch.floats(named.name).map(abs).max() ?? 0
        }.max() ?? 0
        for (tensor, named) in zip(parameters.tensors, parameters.safetensors()) {
            let ours = parameters.values(tensor.name, gradient: true)
            guard torch.tensors[named.name] != nil else {
                #expect(ours.allSatisfy { $0 == 0 }, "\(tensor.name): PyTorch has no gradient, ours is not zero")
                continue
            }
            let expected = try torch.floats(named.name, shape: tensor.shape)
            let scale = expected.map(abs).max() ?? 0
            let worst = zip(ours, expected).map { abs($0 - $1) }.max() ?? 0
            if tensor.name.hasSuffix("attention.self.key.bias") {
                // Exactly zero in exact arithmetic: a key bias adds q·b to every score of a query's row, and softmax
                // ignores a shift of its row. Both sides hold rounding noise, so check that it is noise.
                #expect(scale <= 1e-5 * modelScale && worst <= 1e-5 * modelScale,
                        "\(tensor.name): \(worst) / \(scale), model gradient scale \(modelScale)")
                checked += 1
                continue
            }
            #expect(scale > 0 ? worst / scale <= 1e-3 : worst == 0,
                    "\(tensor.name): max |ours − torch| \(worst) against max |torch| \(scale)")
            checked += 1
        }
        #expect(checked == parameters.tensors.count, "every parameter has a PyTorch gradient")
    }

    @Test func biEncoderGradientsMatchPyTorch() throws {
        let run = try #require(Self.runs["bi_encoder"] as? [String: Any], "fixture missing")
        let batch = try #require((run["batches"] as? [[String: Any]])?.first)
        let parameters = try BertParameters.load(folder: Self.folder.appendingPathComponent("tiny-bi-encoder"), head: .meanPooling).parameters
        let model = TrainableBert(parameters: parameters, hiddenDropout: 0, attentionDropout: 0)
        var random = DropoutRandom(seed: 1)
        let loss = try model.multipleNegativesRankingStep(anchors: Self.sequences(batch["anchors"]),
                                                          positives: Self.sequences(batch["positives"]),
                                                          negatives: Self.sequences(batch["negatives"]), random: &random)
        let expected = try #require((run["losses"] as? [Double])?.first)
        #expect(abs(loss - expected) <= 1e-5, "loss \(loss) vs PyTorch \(expected)")
        try Self.expectGradientsMatch(parameters, torchFile: "tiny-bi-encoder-gradients.safetensors")
    }

    @Test func crossEncoderGradientsMatchPyTorch() throws {
        let run = try #require(Self.runs["cross_encoder"] as? [String: Any], "fixture missing")
        let batch = try #require((run["batches"] as? [[String: Any]])?.first)
        let parameters = try BertParameters.load(folder: Self.folder.appendingPathComponent("tiny-cross-encoder"),
                                                 head: .classifier(labels: 1)).parameters
        let model = TrainableBert(parameters: parameters, hiddenDropout: 0, attentionDropout: 0)
        var random = DropoutRandom(seed: 1)
        let labels = try #require(batch["labels"] as? [Double]).map(Float.init)
        let loss = try model.binaryCrossEntropyStep(pairs: Self.sequences(batch["pairs"], types: batch["types"]), labels: labels,
                                                    random: &random)
        let expected = try #require((run["losses"] as? [Double])?.first)
        #expect(abs(loss - expected) <= 1e-5, "loss \(loss) vs PyTorch \(expected)")
        try Self.expectGradientsMatch(parameters, torchFile: "tiny-cross-encoder-gradients.safetensors")
    }

    /// 20 AdamW steps on the fixture's data order: the loss curve follows PyTorch's within 1e-4.
    @Test(arguments: ["bi_encoder", "cross_encoder"])
    func twentyAdamWStepsFollowPyTorch(_ which: String) throws {
        let run = try #require(Self.runs[which] as? [String: Any], "fixture missing")
        let batches = try #require(run["batches"] as? [[String: Any]])
        let expected = try #require(run["losses"] as? [Double])
        let bi = which == "bi_encoder"
        let parameters = try BertParameters.load(
            folder: Self.folder.appendingPathComponent(bi ? "tiny-bi-encoder" : "tiny-cross-encoder"),
            head: bi ? .meanPooling : .classifier(labels: 1)).parameters
        let model = TrainableBert(parameters: parameters, hiddenDropout: 0, attentionDropout: 0)
        let optimizer = AdamW(parameters: parameters, settings: try Self.optimizerSettings())
        var random = DropoutRandom(seed: 1)
        var losses: [Double] = []
        for step in 0..<expected.count {
            let batch = batches[step % batches.count]
            parameters.zeroGradients()
            if bi {
                losses.append(try model.multipleNegativesRankingStep(
                    anchors: Self.sequences(batch["anchors"]), positives: Self.sequences(batch["positives"]),
                    negatives: Self.sequences(batch["negatives"]), random: &random))
            } else {
                losses.append(try model.binaryCrossEntropyStep(
                    pairs: Self.sequences(batch["pairs"], types: batch["types"]),
                    labels: try #require(batch["labels"] as? [Double]).map(Float.init), random: &random))
            }
            optimizer.update()
        }
        let worst = zip(losses, expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-4, "\(which): loss curve differs by up to \(worst)\nours  \(losses)\ntorch \(expected)")
        #expect(expected.last! < expected.first!, "the fixture's run lowers the loss")
    }
}
