import ArgumentParser
import Foundation
import SiftPipeline

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure retrieval quality: a BEIR dataset, or labelled questions on a pipeline's collection.",
        discussion: """
        With --beir DIR, the corpus is embedded as given (title + text) and searched with the bi-encoder. \
        With -p PIPELINE, each labelled question is asked against the pipeline's index with BM25 alone, dense \
        alone, both fused, and re-ranked (when a reranker is configured); rankings of chunks become rankings of \
        sections/documents (MaxP). Labels: --labels FILE, or eval.labels in the pipeline. The table shows \
        nDCG, MRR, MAP, recall, hits and precision plus latency p50/p95 per stage. --level page judges by page: \
        any passage of a relevant page is a hit.

        --tune sweeps the fusion settings (RRF k and list weights, min-max weighting) on the --labels file (the \
        dev split), ranks them by the first --metrics entry (default nDCG@10), and prints the best with their \
        numbers on --test-labels, which take no part in the choice. With --chunk-sizes and/or --overlaps it also \
        sweeps chunking: every other (size, overlap) pair is indexed into its own folder under --tune-dir \
        (default: next to the pipeline's index; kept, so the next sweep only updates it) and tuned like the \
        configured index. Choosing a new chunking means `sift index --rebuild` with it.

        Examples:
          sift eval -p Pipelines/python-faq-eval.yaml
          sift eval -p Pipelines/handbook.yaml --json \\
            --labels Corpora/handbook/labels.jsonl
          sift eval --beir ~/data/scifact --split test --report out/scifact
          sift eval -p Pipelines/postgresql-docs.yaml --level page --metrics hits@5,mrr@10 \\
            --labels Pipelines/postgresql-docs-eval.test.jsonl
          sift eval -p Pipelines/postgresql-docs.yaml --tune --labels Pipelines/postgresql-docs-eval.dev.jsonl \\
            --test-labels Pipelines/postgresql-docs-eval.test.jsonl
          sift eval -p Pipelines/sqlite-docs.yaml --level page --tune --chunk-sizes 128,200,256 --overlaps 0,32 \\
            --labels Pipelines/sqlite-docs-eval.dev.jsonl --test-labels Pipelines/sqlite-docs-eval.test.jsonl
        """)

    @OptionGroup var pipeline: PipelineOptions
    @OptionGroup var output: OutputOptions
    @Option(help: ArgumentHelp("BEIR folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv).", valueName: "dir"))
    var beir: String?
    @Option(help: "BEIR qrels split.")
    var split = "test"
    @Option(help: ArgumentHelp("Labelled questions (JSON Lines: {\"question\": ..., \"relevant\": [\"doc#anchor\", ...]}).", valueName: "file"))
    var labels: String?
    @Option(name: .long, help: ArgumentHelp("Bi-encoder folder for --beir (default: the pipeline's, else ./Models/all-MiniLM-L6-v2).", valueName: "folder"))
    var model: String?
    @Option(name: .customLong("metrics"), help: "Comma-separated metrics, e.g. ndcg@10,mrr@10,recall@100.")
    var metricNames: String?
    @Option(name: .customLong("run-file"), help: ArgumentHelp("Write TREC run files (one per stage: NAME.<stage>.trec).", valueName: "path"))
    var runFile: String?
    @Option(help: ArgumentHelp("Write report.json, report.md, metrics.svg and runs/ into this folder.", valueName: "dir"))
    var report: String?
    @Option(help: ArgumentHelp("How labels are judged: labels (as written: section targets need that section) or page.", valueName: "level"))
    var level: String = "labels"
    @Flag(help: "Sweep fusion settings on --labels (dev) and report the best on --test-labels.")
    var tune = false
    @Option(name: .customLong("test-labels"), help: ArgumentHelp("Held-out labels for --tune.", valueName: "file"))
    var testLabels: String?
    @Option(name: .customLong("chunk-sizes"), help: ArgumentHelp("With --tune: chunker.max_tokens values to sweep, e.g. 128,200,256 (each one is indexed).", valueName: "list"))
    var chunkSizes: String?
    @Option(name: .customLong("overlaps"), help: ArgumentHelp("With --tune: chunker.overlap_tokens values to sweep, e.g. 0,32.", valueName: "list"))
    var overlaps: String?
    @Option(name: .customLong("tune-dir"), help: ArgumentHelp("With --chunk-sizes/--overlaps: where the swept indexes go (default: <index path>.tune).", valueName: "dir"))
    var tuneDirectory: String?

    func run() throws {
        let metrics = try EvalReport.metrics(parsing: metricNames)
        guard let judged = EvalRunner.Level(rawValue: level) else {
            throw CLIError("--level \(level): expected labels or page", exitCode: 64)
        }
        if tune { return try runTune(level: judged, metrics: metrics) }
        if chunkSizes != nil || overlaps != nil || tuneDirectory != nil {
            throw CLIError("--chunk-sizes, --overlaps and --tune-dir go with --tune", exitCode: 64)
        }
        let bar = ProgressLine(quiet: output.quiet)
        let progress: @Sendable (EvalProgress) -> Void = { bar.update($0.stage, $0.completed, $0.total) }
        let evaluation: EvalReport
        if let beir {
            if labels != nil { throw CLIError("use either --beir or --labels, not both", exitCode: 64) }
            let folder = try model.map { URL(fileURLWithPath: $0) }
                ?? (pipeline.hasPipeline ? pipeline.load().embedder.model : URL(fileURLWithPath: "Models/all-MiniLM-L6-v2"))
            evaluation = try EvalRunner.beir(folder: URL(fileURLWithPath: beir), modelFolder: folder, split: split,
                                             metrics: metrics, progress: progress)
        } else {
            guard pipeline.hasPipeline else {
                throw CLIError("give --beir DIR, or -p PIPELINE (with --labels FILE or eval.labels in the pipeline)", exitCode: 64)
            }
            let runner = try pipeline.runner()
            guard let labelsFile = labels.map({ URL(fileURLWithPath: $0) }) ?? runner.config.eval?.labels else {
                throw CLIError("no labels: pass --labels FILE or set eval.labels in \(pipeline.pipeline ?? "the pipeline")", exitCode: 64)
            }
            evaluation = try EvalRunner.labels(runner: runner, labelsFile: labelsFile, level: judged, metrics: metrics, progress: progress)
        }
        bar.finish()
        for warning in evaluation.warnings { Terminal.error("sift: warning: \(warning)") }
        if let runFile {
            for url in try evaluation.writeRunFiles(base: URL(fileURLWithPath: runFile)) { output.note("wrote \(url.path)") }
        }
        if let report {
            let written = try evaluation.writeReport(to: URL(fileURLWithPath: report))
            output.note("wrote \(written.count) files to \(report)")
        }
        if output.json {
            Terminal.out(try evaluation.json())
        } else {
            Terminal.out(evaluation.title)
            Terminal.out(evaluation.table())
        }
    }
}

extension EvalCommand {
    func runTune(level: EvalRunner.Level, metrics: [EvalReport.MetricName]) throws {
        guard beir == nil, pipeline.hasPipeline, let labels, let testLabels else {
            throw CLIError("--tune needs -p PIPELINE, --labels DEV_FILE and --test-labels TEST_FILE", exitCode: 64)
        }
        let sizes = try Self.integers(chunkSizes, option: "--chunk-sizes", range: 8...8192)
        let overlapValues = try Self.integers(overlaps, option: "--overlaps", range: 0...4096)
        let runner = try pipeline.runner()
        var chunking: EvalRunner.ChunkingSweep?
        if !sizes.isEmpty || !overlapValues.isEmpty {
            let folder = tuneDirectory.map { URL(fileURLWithPath: $0) }
                ?? (runner.config.index.type == IndexConfig.defaultType ? URL(fileURLWithPath: runner.config.index.path.path + ".tune")
                                                         : FileManager.default.temporaryDirectory.appendingPathComponent("sift-tune-\(runner.config.name)"))
            chunking = EvalRunner.ChunkingSweep(maxTokens: sizes, overlapTokens: overlapValues, folder: folder)
        } else if tuneDirectory != nil {
            throw CLIError("--tune-dir needs --chunk-sizes or --overlaps", exitCode: 64)
        }
        let bar = ProgressLine(quiet: output.quiet)
        let report = try EvalRunner.tune(runner: runner, devFile: URL(fileURLWithPath: labels), testFile: URL(fileURLWithPath: testLabels),
                                         level: level, metric: metricNames == nil ? .ndcg(10) : metrics[0],
                                         chunking: chunking) { bar.update($0.stage, $0.completed, $0.total) }
        bar.finish()
        for warning in report.warnings { Terminal.error("sift: warning: \(warning)") }
        Terminal.out(report.table())
        if let best = report.rows.first {
            let chunker = best.chunkerSetting.map { "chunker: { \($0) }, " } ?? ""
            let rebuild = best.chunker != nil && best.chunker != runner.config.chunker ? " (then `sift index --rebuild`)" : ""
            Terminal.out("\nbest on dev: \(chunker)retriever: { \(best.setting) }\(best.isConfigured ? " (already configured)" : rebuild)")
        }
        if !report.sweptIndexes.isEmpty {
            output.note("swept indexes (kept for the next sweep; delete when done): \(report.sweptIndexes.joined(separator: ", "))")
        }
    }

    /// A comma-separated list of integers in `range`, or [] when the option is absent.
    static func integers(_ text: String?, option: String, range: ClosedRange<Int>) throws -> [Int] {
        guard let text else { return [] }
        let values = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let parsed = values.compactMap { Int($0) }.filter(range.contains)
        guard !values.isEmpty, parsed.count == values.count else {
            throw CLIError("\(option) \(text): expected comma-separated integers in \(range.lowerBound)...\(range.upperBound)", exitCode: 64)
        }
        return parsed
    }
}
