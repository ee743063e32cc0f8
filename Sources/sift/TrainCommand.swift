import ArgumentParser
import Foundation
import SiftPipeline
import SiftTraining

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Fine-tune the embedder or train a re-ranker on a pipeline's collection.",
        discussion: """
        The training data comes from the pipeline's index (run `sift index` first): labelled questions in the eval \
        format (--labels: the positive is the relevant section's passage the current embedder ranks highest), \
        and/or (section heading → section text) pairs read from the collection itself (--from-headings: no labels \
        needed). Hard negatives are mined from the index's own dense and BM25 retrievers, skipping the top \
        --skip-top ranks (likely unlabelled answers) and the positive's own section.

        embedder: MultipleNegativesRankingLoss (in-batch negatives, scale 20, plus --hard-negatives per example), \
        written as a sentence-transformers folder; use it with --set embedder.model=FOLDER and re-index. \
        reranker: binary cross-entropy on (question, passage) pairs, a cross-encoder head on the pipeline's \
        embedder (or its re-ranker, when it has one), written as a BertForSequenceClassification folder; use it \
        with --set reranker.model=FOLDER.

        --eval-split F holds out a fraction F of the documents (no page is in both parts) and prints nDCG@10 and \
        MRR@10 per stage on their questions before and after training; --fold I/K holds out the I-th of K folds \
        of documents instead (run I = 1…K for k-fold cross-validation). Checkpoints go to OUT/checkpoint every \
        --checkpoint-every steps and at each epoch's end; after a kill, the same command with --resume goes on \
        from the last one. Ctrl-C writes a checkpoint and stops. Runs are deterministic for a seed and thread count.

        Examples:
          sift train embedder -p Pipelines/handbook.yaml \
            --labels Corpora/handbook/labels.jsonl --out Models/hb-minilm --eval-split 0.3
          sift train embedder -p Pipelines/python-docs.yaml --from-headings \
            --exclude 'faq/*' --hard-negatives 0 --lr 5e-6 --out Models/py-minilm
          sift train reranker -p Pipelines/python-faq-eval.yaml --fold 1/3 \
            --hard-negatives 3 --out Models/faq-reranker-1
          sift eval -p Pipelines/handbook.yaml --set reranker.model=Models/hb-rr \
            --set reranker.top_k=20 --set reranker.blend=0.5
        """)

    @Argument(help: "What to train: embedder or reranker.")
    var kind: String
    @OptionGroup var pipeline: PipelineOptions
    @Option(help: ArgumentHelp("Output model folder (created or replaced).", valueName: "folder"))
    var out: String
    @Option(help: ArgumentHelp("Labelled questions: JSON Lines in the eval format, or a BEIR folder (queries.jsonl, qrels/train.tsv; corpus ids are page.html[#anchor]). Default without --from-headings: eval.labels.", valueName: "file|dir"))
    var labels: String?
    @Flag(help: "Train on (section heading → section text) pairs of the collection.")
    var fromHeadings = false
    @Option(help: ArgumentHelp("Leave these documents out (glob on document ids; repeatable), e.g. 'faq/*'.", valueName: "glob"))
    var exclude: [String] = []
    @Option(help: ArgumentHelp("Start from this model folder instead of the pipeline's.", valueName: "folder"))
    var from: String?
    @Option(help: "Passes over the data.") var epochs = 1
    @Option(help: "Examples per step.") var batchSize = 32
    @Option(name: .customLong("lr"), help: "Peak learning rate (linear warm-up over 10% of the steps, then linear decay).")
    var learningRate: Float = 2e-5
    @Option(help: "Random seed (data order, dropout, sampling, held-out documents).") var seed: UInt64 = 42
    @Option(help: ArgumentHelp("Fraction of documents held out for before/after evaluation (0: none).", valueName: "fraction"))
    var evalSplit = 0.0
    @Option(help: ArgumentHelp("k-fold evaluation: hold out fold I of K (documents dealt round-robin after a seeded shuffle).",
                               valueName: "I/K")) var fold: String?
    @Option(help: ArgumentHelp("Also write the held-out questions here (eval format), for `sift eval --labels` later.",
                               valueName: "file")) var heldOutLabels: String?
    @Option(help: "Hard negatives per example: mined, and used per step.") var hardNegatives = 1
    @Option(help: "Top ranks of each mined list skipped (false negatives).") var skipTop = 3
    @Option(help: "Use at most this many examples (a seeded sample).") var maxExamples: Int?
    @Option(help: "Token limit for queries.") var queryTokens = 64
    @Option(help: "Token limit for passages.") var passageTokens = 256
    @Option(help: "Steps between checkpoints (0: only at the end of each epoch).") var checkpointEvery = 200
    @Flag(help: "Go on from OUT/checkpoint (same data and settings).") var resume = false
    @Option(help: "Worker threads (default: all cores); results are reproducible for a given count.") var threads: Int?
    @Flag(name: [.short, .long], help: "No progress output.") var quiet = false

    func run() throws {
        guard let kind = TrainedModelKind(rawValue: kind) else {
            throw CLIError("what to train: expected embedder or reranker, got \(self.kind)", exitCode: 64)
        }
        guard (0..<1).contains(evalSplit) else { throw CLIError("--eval-split must be in [0, 1)", exitCode: 64) }
        let runner = try pipeline.runner()
        var settings = TrainerSettings()
        settings.epochs = epochs
        settings.batchSize = batchSize
        settings.learningRate = learningRate
        settings.seed = seed
        settings.hardNegatives = hardNegatives
        settings.queryTokens = queryTokens
        settings.passageTokens = passageTokens
        settings.checkpointEvery = checkpointEvery
        var options = TrainingDataOptions()
        // Without --labels or --from-headings, the pipeline's own eval labels.
        options.labels = labels.map { URL(fileURLWithPath: $0) } ?? (fromHeadings ? nil : runner.config.eval?.labels)
        options.fromHeadings = fromHeadings
        options.exclude = exclude
        options.hardNegatives = hardNegatives
        options.skipTop = skipTop
        options.maxExamples = maxExamples
        options.evalSplit = evalSplit
        if let fold {
            let parts = fold.split(separator: "/").compactMap { Int($0) }
            guard parts.count == 2, parts[1] >= 2, (1...parts[1]).contains(parts[0]) else {
                throw CLIError("--fold \(fold): expected I/K with 1 ≤ I ≤ K and K ≥ 2, e.g. 1/3", exitCode: 64)
            }
            options.folds = (parts[0] - 1, parts[1])
        }
        options.seed = seed
        let note = { (text: String) in if !quiet { Terminal.error(text) } }
        note("sift: mining training data from \(runner.indexLocation)…")
        let data = try runner.trainingData(options)
        for line in data.notes { note("sift: note: \(line)") }
        if let heldOutLabels {
            guard let heldOut = data.heldOut else { throw CLIError("--held-out-labels needs --eval-split or --fold", exitCode: 64) }
            try PipelineRunner.writeLabels(heldOut, to: URL(fileURLWithPath: heldOutLabels))
        }
        note("sift: \(data.examples.count) examples" + (data.heldOut.map { ", \($0.questions.count) held-out questions from \(data.heldOutDocuments.count) documents" } ?? ""))

        let stop = StopFlag()
        let signals = [SIGINT, SIGTERM].map { number -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop.set() }
            source.resume()
            return source
        }
        defer { signals.forEach { $0.cancel() } }
        let bar = ProgressLine(quiet: quiet)
        let plain = !quiet && !Terminal.stderrIsTTY
        let reported = ReportedStep()
        let outcome: TrainingOutcome
        let report: @Sendable (TrainingPhase) -> Void = { phase in
            switch phase {
            case let .evaluating(stage, completed, total): bar.update("eval \(stage)", completed, total)
            case let .indexing(p): bar.update("index (\(p.phase.rawValue))", p.completed, p.total)
            case let .training(p):
                let label = String(format: "train epoch %d · loss %.4f · %.1f samples/s · ETA %@", p.epoch, p.loss,
                                   p.samplesPerSecond, Self.duration(p.secondsLeft))
                bar.update(label, p.step, p.totalSteps)
                // Logs (not a terminal): a line every tenth of the run.
                if plain && reported.due(p.step, p.totalSteps) { Terminal.error("sift: \(label), step \(p.step)/\(p.totalSteps)") }
            }
        }
        do {
            outcome = try runner.train(kind, data: data, settings: settings, output: URL(fileURLWithPath: out),
                                       baseModel: from.map { URL(fileURLWithPath: $0) }, resume: resume, threads: threads,
                                       progress: report, shouldStop: { stop.isSet })
        } catch PipelineError.training(.stopped(let step, let total)) {
            bar.finish()
            // Interrupted on request: say where it stopped and how to go on, with the shell's exit status for SIGINT.
            throw CLIError("stopped at step \(step) of \(total); the checkpoint is in \(out)/checkpoint: run the same command with --resume to go on",
                           exitCode: 130)
        }
        bar.finish()
        let s = outcome.summary
        note(String(format: "sift: trained %@ in %d steps (%@)%@: loss %.4f → %.4f; wrote %@", kind.rawValue, s.steps,
                    Self.duration(s.seconds), s.resumedFromStep.map { ", resumed at step \($0)" } ?? "", s.firstLoss, s.lastLoss, out))
        if !s.initialised.isEmpty { note("sift: note: initialised \(s.initialised.joined(separator: ", ")) (not in the base model)") }
        if let before = outcome.before, let after = outcome.after {
            print("Held-out: \(outcome.heldOutQuestions) questions from \(outcome.heldOutDocuments) documents")
            print("stage    nDCG@10 before → after   MRR@10 before → after")
            for stage in ["bm25", "dense", "hybrid", "rerank"] {
                guard let a = after.mean("nDCG@10", stage: stage) else { continue }
                let b = before.mean("nDCG@10", stage: stage), mb = before.mean("MRR@10", stage: stage)
                let ma = after.mean("MRR@10", stage: stage) ?? 0
                let name = stage.padding(toLength: 7, withPad: " ", startingAt: 0)
                func value(_ v: Double?) -> String { v.map { String(format: "%.4f", $0) } ?? "     –" }
                print("\(name)  \(value(b)) → \(value(a))          \(value(mb)) → \(value(ma))")
            }
        }
        if kind == .embedder {
            note("sift: use it with --set embedder.model=\(out) (a new embedder needs `sift index --rebuild`)")
        } else {
            note("sift: use it with --set reranker.model=\(out)")
        }
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
    }
}

/// Set by a signal handler, read between training steps.
private final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}

/// The last tenth of a run reported in plain-line mode.
private final class ReportedStep: @unchecked Sendable {
    private let lock = NSLock()
    private var last = -1
    func due(_ step: Int, _ total: Int) -> Bool {
        lock.lock(); defer { lock.unlock() }
        let tenth = total > 0 ? step * 10 / total : 0
        guard tenth != last else { return false }
        last = tenth
        return true
    }
}
