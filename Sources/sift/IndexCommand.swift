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
        are removed. Files that cannot be read are listed and skipped. After changing the model, the chunker \
        or the reader rules, rebuild with --rebuild.

        Examples:
          sift index -p Pipelines/handbook.yaml
          sift index -p Pipelines/python-docs.yaml --rebuild \\
            --set chunker.max_tokens=128
          sift index -p Pipelines/handbook.yaml --json
        """)

    @OptionGroup var pipeline: PipelineOptions
    @OptionGroup var output: OutputOptions
    @Flag(help: "Delete the existing index first and build it from scratch.")
    var rebuild = false

    func run() throws {
        let runner = try pipeline.runner()
        let bar = ProgressLine(quiet: output.quiet)
        let report = try runner.index(rebuild: rebuild) { step in
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
        if report.upToDate {
            Terminal.out("index is up to date: \(report.documents) documents, \(report.chunks) chunks (\(report.indexPath))")
        } else {
            Terminal.out("embedded \(report.chunksEmbedded) chunks; index now holds \(report.documents) documents, \(report.chunks) chunks, \(report.tokens) tokens (\(report.indexPath))")
        }
        if !report.skipped.isEmpty {
            Terminal.out("skipped \(report.skipped.count) file\(report.skipped.count == 1 ? "" : "s"):")
            for file in report.skipped { Terminal.out("  \(file)") }
        }
        output.note("time: " + report.timings.map { "\($0.stage) \(String(format: "%.2f", $0.milliseconds / 1000)) s" }.joined(separator: ", ")
            + String(format: "; total %.2f s", report.seconds))
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
        chunksEmbedded = report.chunksEmbedded
        documents = report.documents
        chunks = report.chunks
        tokens = report.tokens
        skipped = report.skipped
        timingsMs = Dictionary(report.timings.map { ($0.stage, $0.milliseconds) }, uniquingKeysWith: +)
        seconds = report.seconds
    }

    enum CodingKeys: String, CodingKey {
        case pipeline, index, new, changed, unchanged, deleted, documents, chunks, tokens, skipped, seconds
        case filesRead = "files_read", bytesRead = "bytes_read", documentsRead = "documents_read"
        case chunksEmbedded = "chunks_embedded", timingsMs = "timings_ms"
    }
}
