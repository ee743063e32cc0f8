import Foundation
import SiftChunker
import SiftCore
import SiftEval
import SiftIndex

/// Progress of an evaluation: which stage, and how many questions (or corpus batches) are done.
public struct EvalProgress: Sendable, Hashable {
    public var stage: String
    public var completed: Int
    public var total: Int
}

/// Glue for `sift eval`: runs retrieval stages over labelled questions and hands the rankings to SiftEval.
public enum EvalRunner {
    /// A BEIR folder, evaluated with the bi-encoder on the corpus as given (title + text, no reader or chunker):
    /// the whole corpus is embedded, then each query is embedded and searched on its own so latency is per query.
    public static func beir(folder: URL, modelFolder: URL, split: String = "test", batchSize: Int = 32, depth: Int = 100,
                            metrics: [Metric] = Metric.standard,
                            progress: (@Sendable (EvalProgress) -> Void)? = nil) throws -> EvalReport {
        let dataset: BEIRDataset
        do { dataset = try BEIRDataset.load(folder: folder, split: split, validation: .lenient) } catch {
            throw PipelineError.evaluation(underlying: error)
        }
        let queries = dataset.evaluatedQueries
        if queries.isEmpty {
            // Checked before the corpus is embedded: an empty evaluation would report zeros and succeed.
            let reason = (["no query in queries.jsonl has a judgement in qrels/\(split).tsv that names a corpus id"] + dataset.warnings)
            throw PipelineError.evaluation(underlying: EvalError.nothingToEvaluate(path: folder.path, reason: reason.joined(separator: "; ")))
        }
        let tools = try ModelTools(modelFolder: modelFolder, batchSize: batchSize)
        var corpusVectors: [[Float]] = []
        corpusVectors.reserveCapacity(dataset.corpus.count)
        for start in stride(from: 0, to: dataset.corpus.count, by: batchSize) {
            let batch = dataset.corpus[start..<min(dataset.corpus.count, start + batchSize)]
            corpusVectors += try tools.embed(batch.map(\.embeddingText))
            progress?(EvalProgress(stage: "embed corpus", completed: start + batch.count, total: dataset.corpus.count))
        }
        var rankings: Rankings = [:]
        var latencies: [Double] = []
        for (i, query) in queries.enumerated() {
            let t0 = Date()
            let hits = SentenceTransformersUtil.semanticSearch(queryEmbeddings: try tools.embed([query.text]),
                                                               corpusEmbeddings: corpusVectors, topK: depth)[0]
            latencies.append(Date().timeIntervalSince(t0) * 1000)
            rankings[query.id] = hits.map { ScoredID(dataset.corpus[$0.corpusID].id, Double($0.score)) }
            progress?(EvalProgress(stage: "dense", completed: i + 1, total: queries.count))
        }
        return EvalReport(StageComparison(title: "\(folder.lastPathComponent) (\(split), \(queries.count) queries, \(dataset.corpus.count) documents)",
                               qrels: dataset.qrels, stages: [StageRun(name: "dense", rankings: rankings, latenciesMilliseconds: latencies)],
                               metrics: metrics), warnings: dataset.warnings)
    }

    /// The stages compared on a pipeline's own collection: each first-stage retriever alone, their fusion, and
    /// the re-ranker when one is configured.
    public static func stages(for config: PipelineConfig) -> [(name: String, options: AskOptions)] {
        var stages: [(String, AskOptions)] = [
            ("bm25", AskOptions(dense: false, bm25: true, rerank: false)),
            ("dense", AskOptions(dense: true, bm25: false, rerank: false)),
            ("hybrid", AskOptions(dense: true, bm25: true, rerank: false)),
        ]
        if config.reranker != nil {
            stages.append(("rerank", AskOptions(dense: config.retriever.dense, bm25: config.retriever.bm25, rerank: true)))
        }
        return stages
    }

    /// How labels are judged: as written (section targets need a passage of that section), or by page.
    public enum Level: String, Sendable, CaseIterable {
        case labels
        case page
    }

    /// Labelled questions against a pipeline's index. Chunk rankings become section/document rankings with MaxP
    /// (`aggregateMaxP`); each question is asked on its own so the latencies are per question.
    public static func labels(runner: PipelineRunner, labelsFile: URL, level: Level = .labels, metrics: [Metric] = Metric.standard,
                              progress: (@Sendable (EvalProgress) -> Void)? = nil) throws -> EvalReport {
        let (labels, warnings) = try loadLabels(labelsFile, runner: runner, level: level)
        let runs = try stages(for: runner.config).map { name, options in
            try run(name, options: options, runner: runner, labels: labels, progress: progress)
        }
        return EvalReport(StageComparison(title: "\(runner.config.name) (\(labels.questions.count) questions\(level == .page ? ", judged by page" : ""))",
                                          qrels: labels.qrels, stages: runs, metrics: metrics), warnings: warnings)
    }

    /// Reads a labels file and keeps the targets the index holds (with warnings for the rest); fails when no
    /// question is left.
    static func loadLabels(_ file: URL, runner: PipelineRunner, level: Level) throws -> (LabeledQuestionSet, [String]) {
        let allLabels: LabeledQuestionSet
        // EvalError messages already name the file and line.
        do { allLabels = try LabeledQuestionSet.load(file) } catch {
            throw PipelineError.evaluation(underlying: error)
        }
        let indexed: Set<String>
        do { indexed = Set(try runner.openIndex().documents.documentIDs()) } catch let error as PipelineError { throw error } catch {
            throw PipelineError.stage(.index, underlying: error)
        }
        let (restricted, warnings) = allLabels.restricted(toDocuments: indexed, source: file.path)
        if restricted.questions.isEmpty {
            throw PipelineError.evaluation(underlying: EvalError.nothingToEvaluate(path: file.path,
                reason: "no question has a relevant target in the index (\(runner.indexLocation)); " + warnings.joined(separator: "; ")))
        }
        return (level == .page ? restricted.pageLevel : restricted, warnings)
    }

    /// One stage over every question: the retriever's whole candidate list, ungrouped, reduced by MaxP.
    static func run(_ name: String, options base: AskOptions, runner: PipelineRunner, labels: LabeledQuestionSet,
                    progress: (@Sendable (EvalProgress) -> Void)?) throws -> StageRun {
        var options = base
        options.topK = runner.config.retriever.topK
        options.highlight = false
        // Every passage, ungrouped: MaxP below groups them by the labels' own level.
        options.groupBy = AnswerGrouping.none
        var rankings: Rankings = [:]
        var latencies: [Double] = []
        for (i, question) in labels.questions.enumerated() {
            let t0 = Date()
            let result = try runner.ask(question.question, options: options)
            latencies.append(Date().timeIntervalSince(t0) * 1000)
            let chunks = result.answers.map { answer in
                RetrievedChunk(documentID: answer.chunk.documentID, anchor: answer.chunk.anchor,
                               score: Double(answer.rerankScore ?? answer.retrievalScore))
            }
            rankings[question.id] = aggregateMaxP(chunkRanking: chunks, labels: question)
            progress?(EvalProgress(stage: name, completed: i + 1, total: labels.questions.count))
        }
        return StageRun(name: name, rankings: rankings, latenciesMilliseconds: latencies)
    }

    /// Fusion settings `tune` tries: RRF over a grid of k and dense weights, and min-max weighting. Dense weights
    /// reach 0.9 because on some collections (PostgreSQL's docs) BM25 only helps as a tie-breaker.
    public static let tuningGrid: [RetrieverConfig] = {
        var grid: [RetrieverConfig] = []
        let weights = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
        for k in [5, 10, 20, 40, 60, 100] {
            for w in weights { grid.append(RetrieverConfig(fusion: .rrf, rrfK: k, denseWeight: Float(w))) }
        }
        for w in weights { grid.append(RetrieverConfig(fusion: .weighted, denseWeight: Float(w))) }
        return grid
    }()

    /// Chunk sizes and overlaps `tune` also tries; each pair other than the configured one is indexed into its own
    /// local index under `folder` (kept, so a later sweep only updates it).
    public struct ChunkingSweep: Sendable, Hashable {
        public var maxTokens: [Int]
        public var overlapTokens: [Int]
        public var folder: URL
        public init(maxTokens: [Int], overlapTokens: [Int], folder: URL) {
            self.maxTokens = maxTokens
            self.overlapTokens = overlapTokens
            self.folder = folder
        }

        /// The configured settings first, then every (max_tokens, overlap_tokens) pair of the grid, other keys as
        /// configured; pairs the chunker or the model cannot take are left out with a reason.
        func settings(configured: ChunkerConfig, tokenizer: any TokenCounter, modelLimit: Int?) -> (settings: [ChunkerConfig], skipped: [String]) {
            var result = [configured], skipped: [String] = []
            for size in maxTokens.isEmpty ? [configured.maxTokens] : maxTokens {
                for overlap in overlapTokens.isEmpty ? [configured.overlapTokens] : overlapTokens {
                    var setting = configured
                    setting.maxTokens = size
                    setting.overlapTokens = overlap
                    guard !result.contains(setting) else { continue }
                    if let modelLimit, size > modelLimit {
                        skipped.append("max_tokens \(size) exceeds the embedder's max_seq_length (\(modelLimit))")
                    } else {
                        do {
                            _ = try Chunker(settings: setting, counter: tokenizer)
                            result.append(setting)
                        } catch {
                            skipped.append("max_tokens \(size), overlap_tokens \(overlap): \(error)")
                        }
                    }
                }
            }
            return (result, skipped)
        }

        func folder(for setting: ChunkerConfig) -> URL {
            folder.appendingPathComponent("chunks-\(setting.maxTokens)-\(setting.overlapTokens)", isDirectory: true)
        }
    }

    /// `sift eval --tune`: every fusion setting of `tuningGrid` (top_k, dense and bm25 as configured) is scored on
    /// the dev labels by `metric` (hybrid stage), for the configured chunking and, with `chunking`, for every chunk
    /// size and overlap of that grid (each indexed first). The best settings, the best of each chunking, and the
    /// configured one are then scored on the test labels, which play no part in the choice.
    public static func tune(runner: PipelineRunner, devFile: URL, testFile: URL, level: Level = .labels, metric: Metric = .ndcg(10),
                            reported: [Metric] = [.ndcg(10), .mrr(10), .hits(1), .hits(5)], keep: Int = 5,
                            chunking: ChunkingSweep? = nil,
                            progress: (@Sendable (EvalProgress) -> Void)? = nil) throws -> TuningReport {
        let (dev, devWarnings) = try loadLabels(devFile, runner: runner, level: level)
        let (test, testWarnings) = try loadLabels(testFile, runner: runner, level: level)
        var warnings = devWarnings + testWarnings
        let hybrid = AskOptions(dense: true, bm25: true, rerank: false)
        let configuredChunker = runner.config.chunker

        // One runner (and index) per chunking; the configured one uses the pipeline's own index.
        var runners: [(chunker: ChunkerConfig, runner: PipelineRunner)] = [(configuredChunker, runner)]
        if let chunking {
            let embedder = try runner.embedder()
            let (settings, skipped) = chunking.settings(configured: configuredChunker, tokenizer: try runner.tokenizer(),
                                                        modelLimit: (embedder as? BatchedEmbedder)?.maxSequenceLength)
            warnings += skipped.map { "chunking sweep: left out \($0)" }
            for setting in settings.dropFirst() {
                let swept = try runner.with(chunker: setting, indexFolder: chunking.folder(for: setting))
                let stage = "index max_tokens \(setting.maxTokens), overlap \(setting.overlapTokens)"
                let report: @Sendable (IndexingProgress) -> Void = { step in
                    progress?(EvalProgress(stage: "\(stage) (\(step.phase.rawValue))", completed: step.completed, total: step.total))
                }
                do {
                    _ = try swept.index(progress: report)
                } catch let error as PipelineError {
                    // A sweep index of an earlier run with other settings (model, reader, other chunker keys): it is
                    // this command's own scratch index, so it is rebuilt rather than refused. Anything else (damage,
                    // a full disk) is reported as it came, with its hint.
                    guard case .stage(.index, let underlying as IndexError, _) = error, case .incompatible = underlying else { throw error }
                    _ = try swept.index(rebuild: true, progress: report)
                }
                runners.append((setting, swept))
            }
        }

        func score(_ retriever: RetrieverConfig, _ base: PipelineRunner, _ labels: LabeledQuestionSet) throws -> [Metric: Double] {
            let run = try Self.run("hybrid", options: hybrid, runner: try base.with(retriever: retriever), labels: labels, progress: nil)
            return evaluate(rankings: run.rankings, qrels: labels.qrels, metrics: Array(Set(reported + [metric]))).mean
        }
        let current = runner.config.retriever
        var candidates: [(chunker: ChunkerConfig, runner: PipelineRunner, retriever: RetrieverConfig, dev: [Metric: Double])] = []
        let total = tuningGrid.count * runners.count
        for (c, entry) in runners.enumerated() {
            for (i, setting) in tuningGrid.enumerated() {
                var retriever = current
                retriever.fusion = setting.fusion
                retriever.rrfK = setting.rrfK
                retriever.denseWeight = setting.denseWeight
                candidates.append((entry.chunker, entry.runner, retriever, try score(retriever, entry.runner, dev)))
                progress?(EvalProgress(stage: "tune (dev)", completed: c * tuningGrid.count + i + 1, total: total))
            }
        }
        // Best first; ties keep sweep order (configured chunking first, then smaller k, lower dense weight first).
        let ranked = candidates.enumerated().sorted { a, b in
            let x = a.element.dev[metric] ?? 0, y = b.element.dev[metric] ?? 0
            return x != y ? x > y : a.offset < b.offset
        }.map(\.element)
        var chosen = Array(ranked.prefix(keep))
        // The best of every chunking, so the table shows what chunk size alone does.
        for entry in runners where !chosen.contains(where: { $0.chunker == entry.chunker }) {
            if let best = ranked.first(where: { $0.chunker == entry.chunker }) { chosen.append(best) }
        }
        var rows: [TuningReport.Row] = []
        let swept = runners.count > 1
        for candidate in chosen {
            rows.append(TuningReport.Row(retriever: candidate.retriever, chunker: swept ? candidate.chunker : nil, dev: candidate.dev,
                                         test: try score(candidate.retriever, candidate.runner, test),
                                         isConfigured: candidate.retriever == current && candidate.chunker == configuredChunker))
        }
        if !rows.contains(where: \.isConfigured) {
            rows.append(TuningReport.Row(retriever: current, chunker: swept ? configuredChunker : nil, dev: try score(current, runner, dev),
                                         test: try score(current, runner, test), isConfigured: true))
        }
        return TuningReport(metric: metric, reported: reported, devQuestions: dev.questions.count, testQuestions: test.questions.count,
                            rows: rows, warnings: warnings,
                            sweptIndexes: runners.dropFirst().map { chunking?.folder(for: $0.chunker).path ?? "" })
    }
}

/// What `sift eval --tune` found: the best fusion settings on the dev labels with their test numbers.
public struct TuningReport: Sendable {
    public struct Row: Sendable {
        public var retriever: RetrieverConfig
        /// The chunker settings of the row's index, when chunk sizes were swept (nil: the configured index only).
        public var chunker: ChunkerConfig?
        public var dev: [Metric: Double]
        public var test: [Metric: Double]
        public var isConfigured: Bool

        /// As it would be written in the pipeline's `retriever:` block.
        public var setting: String {
            retriever.fusion == .rrf
                ? "fusion: rrf, rrf_k: \(retriever.rrfK), dense_weight: \(String(format: "%.1f", retriever.denseWeight))"
                : "fusion: weighted, dense_weight: \(String(format: "%.1f", retriever.denseWeight))"
        }

        /// As it would be written in the pipeline's `chunker:` block (nil when chunk sizes were not swept).
        public var chunkerSetting: String? {
            chunker.map { "max_tokens: \($0.maxTokens), overlap_tokens: \($0.overlapTokens)" }
        }

        /// The table's first column.
        var label: String {
            (chunker.map { "\($0.maxTokens)/\($0.overlapTokens) tokens, " } ?? "") + setting + (isConfigured ? " (configured)" : "")
        }
    }
    public var metric: Metric
    public var reported: [Metric]
    public var devQuestions: Int
    public var testQuestions: Int
    public var rows: [Row]
    public var warnings: [String]
    /// The indexes built for the chunking sweep (kept for the next sweep; safe to delete).
    public var sweptIndexes: [String] = []

    public func table() -> String {
        let names = reported.map(\.description)
        let width = max(58, rows.map(\.label.count).max() ?? 0)
        var lines = ["chosen by \(metric.description) on the dev labels (\(devQuestions) questions); test labels (\(testQuestions) questions) not used to choose",
                     ([(rows.contains { $0.chunker != nil } ? "chunk size/overlap, setting" : "setting").padding(toLength: width, withPad: " ", startingAt: 0)]
                        + names.map { "dev " + $0 } + names.map { "test " + $0 })
                        .joined(separator: "  ")]
        for row in rows {
            let label = row.label.padding(toLength: width, withPad: " ", startingAt: 0)
            let values = reported.map { String(format: "%.4f", row.dev[$0] ?? 0) } + reported.map { String(format: "%.4f", row.test[$0] ?? 0) }
            lines.append(([label] + values.map { $0.padding(toLength: max(6, 4 + names[0].count), withPad: " ", startingAt: 0) }).joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }
}

/// The outcome of `sift eval`, with the renderings the command line needs (so it need not import SiftEval).
public struct EvalReport: Sendable {
    /// A metric, for callers that do not import SiftEval.
    public typealias MetricName = Metric

    public let comparison: StageComparison
    /// What was left out of the evaluation and why (unknown ids in qrels or labels), for the caller to show.
    public let warnings: [String]
    public init(_ comparison: StageComparison, warnings: [String] = []) {
        self.comparison = comparison
        self.warnings = warnings
    }

    public var title: String { comparison.title }
    public var stageNames: [String] { comparison.stages.map(\.name) }
    /// Mean value of a metric (by name, e.g. "nDCG@10") for a stage, if both exist.
    public func mean(_ metricName: String, stage: String) -> Double? {
        guard let metric = Metric(name: metricName), let report = comparison.stages.first(where: { $0.name == stage }) else { return nil }
        return report.evaluation.mean[metric]
    }
    public func table() -> String { comparison.table() }

    public func json() throws -> String {
        do { return String(decoding: try comparison.json(), as: UTF8.self) } catch {
            throw PipelineError.evaluation(underlying: error)
        }
    }

    /// report.json, report.md, metrics.svg and runs/<stage>.trec in `directory`.
    public func writeReport(to directory: URL) throws -> [URL] {
        do { return try comparison.write(to: directory) } catch {
            throw PipelineError.evaluation(underlying: error)
        }
    }

    /// TREC run files, top 100 per question: `base` itself for a single stage, else `<base stem>.<stage>.trec`.
    public func writeRunFiles(base: URL) throws -> [URL] {
        let stem = base.pathExtension.isEmpty ? base : base.deletingPathExtension()
        var written: [URL] = []
        for stage in comparison.stages {
            let target = comparison.stages.count == 1 ? base : stem.appendingPathExtension("\(stage.name).trec")
            do { try TRECRunFile.write(stage.rankings, tag: "sift-\(stage.name)", depth: 100, to: target) } catch {
                throw PipelineError.evaluation(underlying: error)
            }
            written.append(target)
        }
        return written
    }

    /// Parses "ndcg@10,mrr@10"; nil means the standard set. Throws `badInput` naming the bad metric.
    public static func metrics(parsing names: String?) throws -> [Metric] {
        guard let names else { return Metric.standard }
        return try names.split(separator: ",").map { name in
            let trimmed = name.trimmingCharacters(in: .whitespaces)
            guard let metric = Metric(name: trimmed) else {
                throw PipelineError.badInput(file: "--metrics", line: nil,
                                             message: "unknown metric '\(trimmed)'; use e.g. ndcg@10, mrr@10, map@100, recall@5, hits@1, p@10")
            }
            return metric
        }
    }
}
