import Foundation
import SiftCore
import SiftEval
import SiftTraining

/// What `sift train` reports.
public struct TrainingOutcome: Sendable {
    public var summary: TrainingSummary
    public var examples: Int
    public var heldOutQuestions: Int
    public var heldOutDocuments: Int
    /// The held-out questions before and after training (nil without `--eval-split`).
    public var before: EvalReport?
    public var after: EvalReport?
    public var notes: [String]
}

/// Progress of a training run, phase by phase.
public enum TrainingPhase: Sendable {
    case evaluating(stage: String, completed: Int, total: Int)
    case training(TrainingProgress)
    case indexing(IndexingProgress)
}

extension PipelineRunner {
    /// The model `sift train` starts from: for an embedder the pipeline's embedder; for a re-ranker the pipeline's
    /// re-ranker when it has one, else the embedder (a cross-encoder head on the bi-encoder's encoder, which has
    /// ms-marco-MiniLM-L-6-v2's exact shape).
    public func trainingBaseModel(_ kind: TrainedModelKind) -> URL {
        kind == .reranker ? (config.reranker?.model ?? config.embedder.model) : config.embedder.model
    }

    /// Trains `kind` on `data` into `output` (a Hugging Face folder), and with held-out questions evaluates them
    /// before and after: an embedder through a fresh local index of the collection built with the new model (a
    /// new embedder means re-embedding; the index is removed afterwards), a re-ranker as the pipeline's re-ranker
    /// on the hybrid candidates.
    public func train(_ kind: TrainedModelKind, data: TrainingData, settings: TrainerSettings, output: URL,
                      baseModel: URL? = nil, resume: Bool = false, threads: Int? = nil,
                      progress: (@Sendable (TrainingPhase) -> Void)? = nil,
                      shouldStop: @escaping () -> Bool = { false }) throws -> TrainingOutcome {
        guard !data.examples.isEmpty else {
            throw PipelineError.training(.invalidSettings(reason: "no training examples were found (see the notes above)"))
        }
        let base = baseModel ?? trainingBaseModel(kind)
        guard FileManager.default.fileExists(atPath: base.appendingPathComponent("config.json").path) else {
            throw PipelineError.modelMissing(kind == .embedder ? .embedder : .rerank, path: base.path,
                                             hint: "a Hugging Face BERT folder (config.json, model.safetensors, vocab.txt)")
        }
        var heldOutFile: URL?
        if let heldOut = data.heldOut {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("sift-train-heldout-\(ProcessInfo.processInfo.processIdentifier).jsonl")
            try Self.writeLabels(heldOut, to: file)
            heldOutFile = file
        }
        defer { heldOutFile.map { try? FileManager.default.removeItem(at: $0) } }
        let evalProgress: @Sendable (EvalProgress) -> Void = { p in
            progress?(.evaluating(stage: p.stage, completed: p.completed, total: p.total))
        }
        let before = try heldOutFile.map {
            try EvalRunner.labels(runner: self, labelsFile: $0, metrics: Self.trainingMetrics, progress: evalProgress)
        }

        let trainer: Trainer
        let summary: TrainingSummary
        do {
            trainer = try Trainer(kind: kind, baseModel: base, settings: settings, threads: threads)
            summary = try trainer.train(data.examples, output: output, resume: resume,
                                        progress: { progress?(.training($0)) }, shouldStop: shouldStop)
        } catch let error as TrainingError { throw PipelineError.training(error) }

        var after: EvalReport?
        if let heldOutFile {
            var trained = config
            switch kind {
            case .embedder:
                trained.embedder.model = output
                trained.index = IndexConfig(path: output.deletingLastPathComponent()
                    .appendingPathComponent(".\(output.lastPathComponent)-eval-index"))
                defer { try? FileManager.default.removeItem(at: trained.index.path) }
                let runner = try PipelineRunner(config: trained)
                _ = try runner.index(rebuild: true, progress: { progress?(.indexing($0)) })
                after = try EvalRunner.labels(runner: runner, labelsFile: heldOutFile, metrics: Self.trainingMetrics, progress: evalProgress)
            case .reranker:
                var reranker = config.reranker ?? RerankerConfig(model: output, topK: min(20, config.retriever.topK),
                                                                 maxTokens: settings.queryTokens + settings.passageTokens,
                                                                 truncation: .longestFirst)
                reranker.model = output
                trained.reranker = reranker
                after = try EvalRunner.labels(runner: try PipelineRunner(config: trained), labelsFile: heldOutFile,
                                              metrics: Self.trainingMetrics, progress: evalProgress)
            }
        }
        return TrainingOutcome(summary: summary, examples: data.examples.count, heldOutQuestions: data.heldOut?.questions.count ?? 0,
                               heldOutDocuments: data.heldOutDocuments.count, before: before, after: after, notes: data.notes)
    }

    static let trainingMetrics: [Metric] = [.ndcg(10), .mrr(10), .recall(10)]

    /// Labelled questions as an eval labels file (e.g. the held-out questions of `trainingData`, to evaluate other
    /// settings on them later with `sift eval --labels`).
    public static func writeLabels(_ set: LabeledQuestionSet, to url: URL) throws {
        var lines: [String] = []
        for q in set.questions {
            let object: [String: Any] = ["id": q.id, "question": q.question,
                                         "relevant": q.relevant.filter { $0.value > 0 }.map(\.key.description).sorted()]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            lines.append(String(decoding: data, as: UTF8.self))
        }
        do { try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: url) } catch {
            throw PipelineError.unreadable(file: url.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }
}
