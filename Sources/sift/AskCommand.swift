import ArgumentParser
import Foundation
import SiftPipeline

/// Switches shared by `ask` and `batch` that override the pipeline for one run.
struct AskFlags: ParsableArguments {
    @Option(name: .customLong("top"), help: "Answers to return, at most the pipeline's candidate pool (default: its answers.top_k).")
    var top: Int?

    @Flag(inversion: .prefixedNo, help: "Re-rank with the pipeline's cross-encoder (default: as configured).")
    var rerank: Bool?

    @Flag(inversion: .prefixedNo, help: "Use BM25 retrieval (default: as configured).")
    var bm25: Bool?

    @Flag(inversion: .prefixedNo, help: "Use dense (bi-encoder) retrieval (default: as configured).")
    var dense: Bool?

    func options(for config: PipelineConfig, explain: Bool = false) throws -> AskOptions {
        try AskOptions(topK: top.map { try checkedAnswerCount($0, option: "--top", config: config) },
                       dense: dense, bm25: bm25, rerank: rerank, explain: explain)
    }
}

struct AskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ask",
        abstract: "Answer a question from a pipeline's index.",
        discussion: """
        Prints ranked answers: rank, re-rank and retrieval scores, source (document#anchor), heading path and a \
        snippet with the best-matching sentence marked. The last line says which stages ran.

        Examples:
          sift ask -p Pipelines/handbook.yaml \\
            "What is the difference between 401 and 403?"
          sift ask -p Pipelines/python-docs.yaml --top 3 --json \\
            "read a file line by line"
          sift ask -p Pipelines/python-docs.yaml --explain --no-bm25 \\
            "what is a generator?"
        """)

    @OptionGroup var pipeline: PipelineOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var flags: AskFlags
    @Flag(help: "Show every stage's candidates and timings.")
    var explain = false
    @Argument(help: "The question.")
    var question: String

    func run() throws {
        guard !question.allSatisfy(\.isWhitespace) else { throw CLIError("the question is empty", exitCode: 64) }
        let runner = try pipeline.runner()
        let result = try runner.ask(question, options: try flags.options(for: runner.config, explain: explain))
        if output.json {
            Terminal.out(try jsonString(AskRecord(result), pretty: true))
            return
        }
        Terminal.out(AnswerFormatter.render(result, emphasis: Terminal.stdoutIsTTY ? .ansi : .markdown))
        if explain { Terminal.out("\n" + AnswerFormatter.renderExplanation(result)) }
    }
}
