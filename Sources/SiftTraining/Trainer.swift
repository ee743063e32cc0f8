import Foundation
import SiftCore
import SiftModels
import SiftTokenizer

/// One training example: a query, a passage that answers it, and passages that do not (hard negatives, best
/// first). `group` names where the positive comes from (its document), for splitting and for keeping one batch
/// free of two examples with the same passage.
public struct TrainingExample: Sendable, Hashable, Codable {
    public var query: String
    public var positive: String
    public var negatives: [String]
    public var group: String

    public init(query: String, positive: String, negatives: [String] = [], group: String) {
        self.query = query
        self.positive = positive
        self.negatives = negatives
        self.group = group
    }
}

/// Which model is trained, and with which loss.
public enum TrainedModelKind: String, Sendable, Codable, CaseIterable {
    /// A bi-encoder (mean pooling, normalised) under MultipleNegativesRankingLoss: in-batch negatives plus each
    /// example's first `hardNegatives` negatives as extra candidates.
    case embedder
    /// A cross-encoder (BertForSequenceClassification, one logit) under binary cross-entropy: each example gives
    /// (query, positive, 1) and (query, negative, 0) for its first `hardNegatives` negatives.
    case reranker
}

/// The knobs sentence-transformers' fit has, with its defaults.
public struct TrainerSettings: Sendable, Codable, Equatable {
    public var epochs = 1
    /// Examples per step.
    public var batchSize = 32
    public var learningRate: Float = 2e-5
    /// Fraction of the steps spent warming the learning rate up (linear), before the linear decay to 0.
    public var warmupFraction: Float = 0.1
    public var weightDecay: Float = 0.01
    public var maxGradientNorm: Float = 1
    public var seed: UInt64 = 42
    /// Hard negatives used per example.
    public var hardNegatives = 1
    /// Token limits: queries, and passages (a cross-encoder's pair gets `passageTokens` + `queryTokens`).
    public var queryTokens = 64
    public var passageTokens = 256
    public var hiddenDropout: Float = 0.1
    public var attentionDropout: Float = 0.1
    /// MultipleNegativesRankingLoss's scale (sentence-transformers' default 20).
    public var scale: Double = 20
    /// A checkpoint every this many steps (and at the end of every epoch); 0: only at the end of epochs.
    public var checkpointEvery = 200

    public init() {}

    func validate() throws {
        func check(_ ok: Bool, _ reason: String) throws { if !ok { throw TrainingError.invalidSettings(reason: reason) } }
        try check(epochs >= 1 && epochs <= 1000, "epochs must be in 1...1000, got \(epochs)")
        try check(batchSize >= 2 && batchSize <= 4096, "batch size must be in 2...4096, got \(batchSize)")
        try check(learningRate > 0 && learningRate < 1, "learning rate must be in (0, 1), got \(learningRate)")
        try check(warmupFraction >= 0 && warmupFraction <= 1, "warm-up fraction must be in [0, 1]")
        try check(hardNegatives >= 0 && hardNegatives <= 32, "hard negatives must be in 0...32")
        try check(queryTokens >= 4 && passageTokens >= 8, "token limits too small")
        try check((0..<1).contains(hiddenDropout) && (0..<1).contains(attentionDropout), "dropout must be in [0, 1)")
    }
}

/// Where training is.
public struct TrainingProgress: Sendable {
    public var step: Int
    public var totalSteps: Int
    public var epoch: Int
    /// Mean loss over the last (up to) 20 steps.
    public var loss: Double
    public var samplesPerSecond: Double
    public var secondsLeft: Double
}

/// What a finished run did.
public struct TrainingSummary: Sendable {
    public var steps: Int
    public var examples: Int
    public var firstLoss: Double
    public var lastLoss: Double
    public var seconds: Double
    public var resumedFromStep: Int?
    /// Head tensors the base checkpoint lacked and that were initialised (a cross-encoder from a bi-encoder).
    public var initialised: [String]
}

/// Trains a bi-encoder or cross-encoder from a Hugging Face BERT folder and writes a standard model folder:
/// for an embedder a sentence-transformers folder (the base's modules.json, pooling and tokenizer files, new
/// weights), for a re-ranker a `BertForSequenceClassification` folder with one label.
///
/// Runs are deterministic for a seed and thread count: the data order comes from the seed and the epoch, dropout
/// from the seed. Checkpoints (`<output>/checkpoint/`: weights, AdamW moments, step and generator state) let a
/// killed run resume where the last checkpoint left it.
public final class Trainer {
    public let kind: TrainedModelKind
    public let settings: TrainerSettings
    public let baseModel: URL
    public let tokenizer: WordPieceTokenizer
    let model: TrainableBert
    let initialised: [String]

    public init(kind: TrainedModelKind, baseModel: URL, settings: TrainerSettings, threads: Int? = nil) throws {
        try settings.validate()
        self.kind = kind
        self.settings = settings
        self.baseModel = baseModel
        do { tokenizer = try WordPieceTokenizer(directory: baseModel) } catch {
            throw TrainingError.checkpoint(path: baseModel.path, reason: "cannot load the tokenizer: \(error)")
        }
        let loaded: (parameters: BertParameters, initialised: [String])
        do {
            loaded = try BertParameters.load(folder: baseModel, head: kind == .embedder ? .meanPooling : .classifier(labels: 1),
                                             seed: settings.seed)
        } catch let error as TrainingError { throw error } catch {
            throw TrainingError.checkpoint(path: baseModel.path, reason: "\(error)")
        }
        initialised = loaded.initialised
        model = TrainableBert(parameters: loaded.parameters, hiddenDropout: settings.hiddenDropout,
                              attentionDropout: settings.attentionDropout, threads: threads)
    }

    public var parameters: BertParameters { model.parameters }

    /// Steps per epoch for `count` examples (the last partial batch is kept when it holds at least 2).
    public func stepsPerEpoch(_ count: Int) -> Int {
        count / settings.batchSize + (count % settings.batchSize >= 2 ? 1 : 0)
    }

    /// The epoch's batches: the examples shuffled by (seed, epoch), then cut into batches with no passage twice in a
    /// batch (for in-batch negatives a duplicate would be a false negative); a displaced example moves to the next batch.
    func batches(_ examples: [TrainingExample], epoch: Int) -> [[TrainingExample]] {
        var rng = SplitMix64(state: settings.seed &+ UInt64(epoch) &* 0x9E37_79B9)
        var order = Array(examples.indices)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.below(i + 1)) }
        var batches: [[TrainingExample]] = []
        var pending = order.map { examples[$0] }
        while !pending.isEmpty {
            var batch: [TrainingExample] = [], seen = Set<String>(), rest: [TrainingExample] = []
            for example in pending {
                if batch.count < settings.batchSize && (kind == .reranker || seen.insert(example.positive).inserted) {
                    batch.append(example)
                } else {
                    rest.append(example)
                }
            }
            // Only duplicates left: they train in later batches of their own rather than never.
            if batch.count < 2 { break }
            batches.append(batch)
            pending = rest
        }
        return batches
    }

    /// The tokens of a query or a passage (bi-encoder), or of a (query, passage) pair (cross-encoder).
    func sequence(_ text: String, limit: Int) throws -> TokenSequence {
        let e = try tokenizer.encode(text, maxLength: limit)
        return TokenSequence(ids: e.ids, tokenTypeIDs: e.tokenTypeIDs)
    }

    func pair(_ query: String, _ passage: String) throws -> TokenSequence {
        let e = try tokenizer.encodePair(query, passage, maxLength: settings.queryTokens + settings.passageTokens,
                                         truncation: .longestFirst)
        return TokenSequence(ids: e.ids, tokenTypeIDs: e.tokenTypeIDs)
    }

    /// One optimizer step's loss on a batch (gradients accumulated, not applied).
    func loss(_ batch: [TrainingExample], random: inout DropoutRandom) throws -> Double {
        model.parameters.zeroGradients()
        switch kind {
        case .embedder:
            let anchors = try batch.map { try sequence($0.query, limit: settings.queryTokens) }
            let positives = try batch.map { try sequence($0.positive, limit: settings.passageTokens) }
            let negatives = try batch.flatMap { try $0.negatives.prefix(settings.hardNegatives).map { try sequence($0, limit: settings.passageTokens) } }
            return try model.multipleNegativesRankingStep(anchors: anchors, positives: positives, negatives: negatives,
                                                          scale: settings.scale, random: &random)
        case .reranker:
            var pairs: [TokenSequence] = [], labels: [Float] = []
            for example in batch {
                pairs.append(try pair(example.query, example.positive))
                labels.append(1)
                for negative in example.negatives.prefix(settings.hardNegatives) {
                    pairs.append(try pair(example.query, negative))
                    labels.append(0)
                }
            }
            return try model.binaryCrossEntropyStep(pairs: pairs, labels: labels, random: &random)
        }
    }

    /// Trains on `examples` and writes the model folder to `output`; `resume` continues from
    /// `output/checkpoint` when one is there (with the same data and settings). `shouldStop` is polled between steps
    /// (a checkpoint is written before stopping early).
    public func train(_ examples: [TrainingExample], output: URL, resume: Bool = false,
                      progress: (TrainingProgress) -> Void = { _ in }, shouldStop: () -> Bool = { false }) throws -> TrainingSummary {
        guard examples.count >= 2 else {
            throw TrainingError.invalidSettings(reason: "\(examples.count) training example(s): at least 2 are needed")
        }
        let perEpoch = stepsPerEpoch(examples.count)
        let total = perEpoch * settings.epochs
        let optimizer = AdamW(parameters: model.parameters, settings: .init(
            learningRate: settings.learningRate, weightDecay: settings.weightDecay,
            warmupSteps: Int((Float(total) * settings.warmupFraction).rounded()), totalSteps: total,
            maxGradientNorm: settings.maxGradientNorm))
        var random = DropoutRandom(seed: settings.seed)
        let fingerprint = Self.fingerprint(examples, settings: settings, kind: kind)
        let checkpoint = Checkpoint(folder: output.appendingPathComponent("checkpoint"))
        var resumedFrom: Int?
        if resume, let state = try checkpoint.load(into: model.parameters, optimizer: optimizer, fingerprint: fingerprint) {
            random = state.random
            resumedFrom = state.step
        }
        var step = optimizer.step
        var recent: [Double] = [], first: Double?, last = 0.0
        let start = Date()
        var samples = 0
        for epoch in (step / max(perEpoch, 1))..<settings.epochs {
            // Exactly `perEpoch` batches, so step numbers (the schedule, checkpoints) follow the data order: the
            // displaced duplicates can add a batch, which waits for the next epoch; many duplicates can leave fewer,
            // and then the first batches are repeated.
            var batches = Array(self.batches(examples, epoch: epoch).prefix(perEpoch))
            let formed = batches.count
            while batches.count < perEpoch && formed > 0 { batches.append(batches[batches.count % formed]) }
            for (index, batch) in batches.enumerated() where epoch * perEpoch + index >= step {
                if shouldStop() {
                    try checkpoint.save(model.parameters, optimizer: optimizer, random: random, fingerprint: fingerprint)
                    throw TrainingError.stopped(step: step, total: total)
                }
                let value = try loss(batch, random: &random)
                guard value.isFinite else {
                    throw TrainingError.invalidSettings(reason: "the loss is \(value) at step \(step): lower the learning rate")
                }
                optimizer.update()
                step += 1
                samples += batch.count
                first = first ?? value
                last = value
                recent.append(value)
                if recent.count > 20 { recent.removeFirst() }
                let elapsed = Date().timeIntervalSince(start)
                let rate = Double(samples) / max(elapsed, 1e-9)
                progress(TrainingProgress(step: step, totalSteps: total, epoch: epoch + 1,
                                          loss: recent.reduce(0, +) / Double(recent.count), samplesPerSecond: rate,
                                          secondsLeft: Double(total - step) * Double(settings.batchSize) / max(rate, 1e-9)))
                if settings.checkpointEvery > 0 && step % settings.checkpointEvery == 0 && step < total {
                    try checkpoint.save(model.parameters, optimizer: optimizer, random: random, fingerprint: fingerprint)
                }
            }
            if step < total { try checkpoint.save(model.parameters, optimizer: optimizer, random: random, fingerprint: fingerprint) }
        }
        try ModelFolderWriter.write(model.parameters, kind: kind, base: baseModel, to: output, settings: settings)
        checkpoint.remove()
        return TrainingSummary(steps: step, examples: examples.count, firstLoss: first ?? last, lastLoss: last,
                               seconds: Date().timeIntervalSince(start), resumedFromStep: resumedFrom, initialised: initialised)
    }

    /// Identifies the data and settings a checkpoint belongs to (resuming with others would mix two runs).
    static func fingerprint(_ examples: [TrainingExample], settings: TrainerSettings, kind: TrainedModelKind) -> String {
        var hash = StableHash.fnv1a64(kind.rawValue)
        func combine(_ text: String) { hash = StableHash.fnv1a64(text + "\u{1F}", seed: hash) }
        if let data = try? JSONEncoder.sorted.encode(settings) { combine(String(decoding: data, as: UTF8.self)) }
        for e in examples {
            combine(e.query)
            combine(e.positive)
            for n in e.negatives { combine(n) }
        }
        return StableHash.hex(hash)
    }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return encoder
    }
}
