import ArgumentParser
import Foundation
import SiftModels
import SiftTraining

/// `sift-bench train`: training throughput (samples/s) and peak RSS of one model on synthetic token ids, the same
/// ids, shapes and optimizer as Benchmarks/peers/train_peer.py (the PyTorch side of Benchmarks/train/run).
/// A bi-encoder sample is an (anchor, positive) pair of `length`-token sequences under MultipleNegativesRankingLoss;
/// a cross-encoder sample is one `length`-token pair under binary cross-entropy.
struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train", abstract: "Training samples per second.")

    @Option(help: "Model folder (a bi-encoder checkpoint; the cross-encoder gets a fresh head).") var model: String = "Models/all-MiniLM-L6-v2"
    @Option(help: "embedder (MNRL on pairs) or reranker (BCE on pairs).") var kind: String = "embedder"
    @Option(help: "Samples per step.") var batchSize: Int = 32
    @Option(help: "Tokens per sequence, [CLS] and [SEP] included.") var length: Int = 128
    @Option(help: "Timed steps (after one warm-up step).") var steps: Int = 5
    @Flag(help: "Dropout off (to compare losses with the peer step by step).") var noDropout = false

    func run() throws {
        let bi = kind == "embedder"
        guard bi || kind == "reranker" else { throw ValidationError("--kind is embedder or reranker") }
        let parameters = try BertParameters.load(folder: URL(fileURLWithPath: model), head: bi ? .meanPooling : .classifier(labels: 1)).parameters
        let trainer = TrainableBert(parameters: parameters, hiddenDropout: noDropout ? 0 : 0.1, attentionDropout: noDropout ? 0 : 0.1)
        let optimizer = AdamW(parameters: parameters, settings: .init(learningRate: 2e-5, warmupSteps: 1, totalSteps: steps + 1))
        // Deterministic ids (the peer draws the same): 1000 + (i·7919 + j·104729) mod 28000.
        func sequence(_ i: Int) -> TokenSequence {
            TokenSequence(ids: [101] + (1..<(length - 1)).map { j in Int32(1000 + (i * 7919 + j * 104_729) % 28_000) } + [102])
        }
        var random = DropoutRandom(seed: 42)
        func step(_ s: Int) throws -> Double {
            parameters.zeroGradients()
            let base = s * batchSize * 2
            let loss: Double
            if bi {
                loss = try trainer.multipleNegativesRankingStep(anchors: (0..<batchSize).map { sequence(base + 2 * $0) },
                                                                positives: (0..<batchSize).map { sequence(base + 2 * $0 + 1) },
                                                                random: &random)
            } else {
                let pairs = (0..<batchSize).map { i -> TokenSequence in
                    let s = sequence(base + i)
                    let half = length / 2
                    return TokenSequence(ids: s.ids, tokenTypeIDs: (0..<length).map { $0 < half ? 0 : 1 })
                }
                loss = try trainer.binaryCrossEntropyStep(pairs: pairs, labels: (0..<batchSize).map { Float($0 % 2) }, random: &random)
            }
            optimizer.update()
            return loss
        }
        var losses = [try step(0)]
        let start = Date(), cpuStart = processCPUSeconds()
        var loss = 0.0
        for s in 1...steps { loss = try step(s); losses.append(loss) }
        if noDropout { print("losses: " + losses.map { String(format: "%.5f", $0) }.joined(separator: " ")) }
        let seconds = Date().timeIntervalSince(start), cpu = processCPUSeconds() - cpuStart
        let samples = Double(steps * batchSize)
        print(String(format: "sift train %@: %.1f samples/s (batch %d × %d tokens, %d steps in %.2f s, cpu %.2f s), loss %.4f, peak RSS %.0f MiB",
                     kind, samples / seconds, batchSize, length, steps, seconds, cpu, loss, SearchBench.memory().peak))
    }
}
