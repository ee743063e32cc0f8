import ArgumentParser
import Foundation
import SiftPipeline

struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Build or update a pipeline's index (only new and changed documents are embedded).",
        discussion: """
        Reads every file of the pipeline's source, hashes each document's extracted content, and chunks and \
        embeds only documents that are new or changed since the last run; documents whose files disappeared \
        are removed. Files that cannot be read are listed and skipped; if they were indexed before, their \
        previous version is kept. After changing the model, the chunker or the reader rules, rebuild with \
        --rebuild: the old index keeps answering until the new one is complete.

        Only one process updates an index at a time; another one fails at once, or waits with --wait. \
        --verify checks the index (vector checksum, finite unit vectors, SQLite and full-text integrity) \
        without changing it, and exits 1 when something is damaged.

        Examples:
          sift index -p Pipelines/handbook.yaml
          sift index -p Pipelines/python-docs.yaml --rebuild \\
            --set chunker.max_tokens=128
          sift index -p Pipelines/handbook.yaml --json
          sift index -p Pipelines/handbook.yaml --verify
          sift index -p Pipelines/handbook-postgres.yaml --copy-from .sift/handbook
          sift index -p Pipelines/handbook.yaml --copy-from Pipelines/handbook-postgres.yaml

        --copy-from replaces the index with a copy of another one (an index folder, or the index of another \
        pipeline file), vectors included, so nothing is embedded again: it moves an index from the embedded \
        store into PostgreSQL and back. Both must use the same model, chunker and reader settings.
        """)

    @OptionGroup var pipeline: PipelineOptions
    @OptionGroup var output: OutputOptions
    @Flag(help: "Build the index from scratch as a new generation (after changing the model, chunker or reader settings).")
    var rebuild = false
    @Flag(help: "If another process is updating the index, wait for it instead of failing.")
    var wait = false
    @Flag(help: "Check the index without changing it; exit 1 if it is damaged.")
    var verify = false
    @Option(name: .customLong("copy-from"), help: ArgumentHelp("Replace the index with a copy of this index folder or pipeline file's index, without re-embedding.", valueName: "index-folder|pipeline.yaml"))
    var copyFrom: String?

    func validate() throws {
        if verify && rebuild { throw ValidationError("--verify checks the index as it is; it cannot be combined with --rebuild") }
        if copyFrom != nil && (verify || rebuild) { throw ValidationError("--copy-from replaces the index; it cannot be combined with --verify or --rebuild") }
    }

    func run() throws {
        let runner = try pipeline.runner()
        if verify { return try runVerify(runner) }
        if let copyFrom { return try runCopy(runner, from: copyFrom) }
        let bar = ProgressLine(quiet: output.quiet)
        let report = try runner.index(rebuild: rebuild, wait: wait, onWait: { pid in
            output.note("waiting for \(pid.map { "process \($0)" } ?? "another process") to finish updating the index …")
        }) { step in
            bar.update(step.phase.rawValue, step.completed, step.total)
        }
        bar.finish()
        if output.json {
            Terminal.out(try jsonString(IndexReportRecord(report, name: runner.config.name), pretty: true))
            return
        }
        let megabytes = Double(report.bytesRead) / 1_048_576
        Terminal.out("\(runner.config.name): read \(report.filesRead) files (\(String(format: "%.1f", megabytes)) MB), \(report.documentsRead) documents: "
            + "\(report.new) new, \(report.changed) changed, \(report.unchanged) unchanged, \(report.deleted) deleted")
        if report.kept > 0 {
            Terminal.out("kept the previous version of \(report.kept) document\(report.kept == 1 ? "" : "s") whose file could not be read")
        }
        if report.upToDate {
            Terminal.out("index is up to date: \(report.documents) documents, \(report.chunks) chunks (\(report.indexPath))")
        } else {
            Terminal.out("embedded \(report.chunksEmbedded) chunks; index now holds \(report.documents) documents, \(report.chunks) chunks, \(report.tokens) tokens (\(report.indexPath))")
        }
        if !report.skipped.isEmpty {
            Terminal.out("skipped \(report.skipped.count) file\(report.skipped.count == 1 ? "" : "s"):")
            for file in report.skipped { Terminal.out("  \(file)") }
        }
        output.note("time: " + report.timings.summed.map { "\($0.stage) \(String(format: "%.2f", $0.milliseconds / 1000)) s" }.joined(separator: ", ")
            + String(format: "; total %.2f s", report.seconds))
    }
}

extension IndexCommand {
    func runCopy(_ runner: PipelineRunner, from path: String) throws {
        let source = try PipelineRunner.openStore(copyingFrom: path)
        let bar = ProgressLine(quiet: output.quiet)
        let report = try runner.copyIndex(from: source.store, sourceLocation: source.location, wait: wait) { step in
            bar.update(step.phase.rawValue, step.completed, step.total)
        }
        bar.finish()
        if output.json {
            Terminal.out(try jsonString(CopyRecord(from: report.from, to: report.to, documents: report.documents, chunks: report.chunks,
                                                   seconds: report.seconds), pretty: true))
            return
        }
        Terminal.out("copied \(report.documents) documents, \(report.chunks) chunks with their vectors from \(report.from) to \(report.to) "
            + String(format: "in %.1f s", report.seconds))
    }

    struct CopyRecord: Encodable {
        var from: String
        var to: String
        var documents: Int
        var chunks: Int
        var seconds: Double
    }

    func runVerify(_ runner: PipelineRunner) throws {
        let (stats, problems) = try runner.verifyIndex()
        if output.json {
            Terminal.out(try jsonString(VerifyRecord(index: runner.indexLocation, generation: stats.generation, documents: stats.documents,
                                                     chunks: stats.chunks, ok: problems.isEmpty, problems: problems), pretty: true))
        } else if problems.isEmpty {
            Terminal.out("index OK: \(runner.indexLocation), generation \(stats.generation), \(stats.documents) documents, \(stats.chunks) chunks "
                + "(vectors checksum, finite unit vectors, SQLite integrity, full-text index)")
        } else {
            Terminal.out("index DAMAGED: \(runner.indexLocation), generation \(stats.generation)")
            for problem in problems { Terminal.out("  \(problem)") }
            Terminal.out("rebuild it with `sift index --rebuild -p \(runner.config.file?.path ?? runner.config.name)`")
        }
        if !problems.isEmpty { throw ExitCode(1) }
    }

    struct VerifyRecord: Encodable {
        var index: String
        var generation: Int
        var documents: Int
        var chunks: Int
        var ok: Bool
        var problems: [String]
    }
}

/// `sift index --json`.
struct IndexReportRecord: Encodable {
    var pipeline: String
    var index: String
    var filesRead: Int
    var bytesRead: Int
    var documentsRead: Int
    var new: Int
    var changed: Int
    var unchanged: Int
    var deleted: Int
    var kept: Int
    var rebuilt: Bool
    var chunksEmbedded: Int
    var documents: Int
    var chunks: Int
    var tokens: Int
    var skipped: [SkippedFile]
    var timingsMs: [String: Double]
    var seconds: Double

    init(_ report: IndexReport, name: String) {
        pipeline = name
        index = report.indexPath
        filesRead = report.filesRead
        bytesRead = report.bytesRead
        documentsRead = report.documentsRead
        new = report.new
        changed = report.changed
        unchanged = report.unchanged
        deleted = report.deleted
        kept = report.kept
        rebuilt = report.rebuilt
        chunksEmbedded = report.chunksEmbedded
        documents = report.documents
        chunks = report.chunks
        tokens = report.tokens
        skipped = report.skipped
        timingsMs = Dictionary(report.timings.map { ($0.stage.rawValue, $0.milliseconds) }, uniquingKeysWith: +)
        seconds = report.seconds
    }

    enum CodingKeys: String, CodingKey {
        case pipeline, index, new, changed, unchanged, deleted, kept, rebuilt, documents, chunks, tokens, skipped, seconds
        case filesRead = "files_read", bytesRead = "bytes_read", documentsRead = "documents_read"
        case chunksEmbedded = "chunks_embedded", timingsMs = "timings_ms"
    }
}
