import ArgumentParser
import Foundation
import SiftPipeline

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what the reader extracts from a file and how the chunker cuts it.",
        discussion: """
        Lists the document's blocks (kind, Unicode-scalar range, anchor, heading path, text) and its chunks \
        (token count, range, anchor, heading path, text) as the pipeline's reader rules and chunker settings \
        produce them. Without -p, the generic reader rules (or --preset) and the default chunker are used, \
        counting tokens with --model.

        Examples:
          sift inspect -p Pipelines/python-faq-eval.yaml \\
            /usr/share/doc/python3.11/html/faq/general.html
          sift inspect page.html --preset sphinx --json
        """)

    @OptionGroup var pipeline: PipelineOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "Reader preset when no pipeline is given (default, sphinx, postgres, sqlite).")
    var preset: String?
    @Option(name: .long, help: ArgumentHelp("Tokenizer/model folder when no pipeline is given (default ./Models/all-MiniLM-L6-v2).", valueName: "folder"))
    var model: String?
    @Option(help: "Characters of block and chunk text shown (text output).")
    var width = 100
    @Argument(help: "An HTML or XML file.")
    var file: String

    func run() throws {
        let url = URL(fileURLWithPath: file)
        let config: PipelineConfig
        if pipeline.hasPipeline {
            config = try pipeline.load()
        } else {
            config = try PipelineConfig.standalone(
                root: url.deletingLastPathComponent(), preset: preset,
                model: URL(fileURLWithPath: model ?? "Models/all-MiniLM-L6-v2"))
        }
        let inspection = try PipelineRunner(config: config).inspect(file: url)
        if output.json {
            Terminal.out(try jsonString(inspection, pretty: true))
            return
        }
        for (document, chunks) in zip(inspection.documents, inspection.chunks) {
            Terminal.out("\(document.id) — \"\(document.title)\"\(document.language.map { " (\($0))" } ?? ""): "
                + "\(document.text.unicodeScalars.count) characters, \(document.blocks.count) blocks, \(chunks.count) chunks")
            Terminal.out("blocks:")
            for (i, block) in document.blocks.enumerated() {
                Terminal.out("  \(i + 1). \(block.kind.rawValue) \(block.range.lowerBound)..<\(block.range.upperBound)"
                    + (block.anchor.map { " #\($0)" } ?? "")
                    + (block.headingPath.isEmpty ? "" : " [\(block.headingPath.joined(separator: " > "))]"))
                Terminal.out("     \(clip(block.text))")
            }
            Terminal.out("chunks:")
            for (i, chunk) in chunks.enumerated() {
                Terminal.out("  \(i + 1). \(chunk.tokenCount) tokens \(chunk.range.lowerBound)..<\(chunk.range.upperBound)"
                    + (chunk.anchor.map { " #\($0)" } ?? "")
                    + (chunk.headingPath.isEmpty ? "" : " [\(chunk.headingPath.joined(separator: " > "))]"))
                Terminal.out("     \(clip(chunk.text))")
            }
        }
    }

    func clip(_ text: String) -> String {
        let flat = text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        return flat.count > width ? String(flat.prefix(width)) + "…" : flat
    }
}
