import ArgumentParser
import Foundation
import SiftPipeline

struct PromptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prompt",
        abstract: "Ask questions interactively (models and index load once).",
        discussion: """
        Type a question and press Enter. Commands start with ':':
          :top N            answers per question
          :rerank on|off    cross-encoder re-ranking (needs a configured reranker)
          :bm25 on|off      BM25 retrieval
          :dense on|off     dense retrieval
          :explain on|off   show each stage's candidates and timings
          :help             this list
          :quit             leave (or Ctrl-D)

        Line editing and history: run it under rlwrap. Input can also be piped, one question or command per line.

        Examples:
          sift prompt -p Pipelines/handbook.yaml
          rlwrap sift prompt -p Pipelines/python-docs.yaml
          printf 'exit status 137\\n:top 1\\nundo git reset --hard\\n' | \\
            sift prompt -p Pipelines/handbook.yaml
        """)

    @OptionGroup var pipeline: PipelineOptions
    @OptionGroup var output: OutputOptions

    static let help = """
    :top N · :rerank on|off · :bm25 on|off · :dense on|off · :explain on|off · :help · :quit (or Ctrl-D)
    """

    func run() throws {
        let runner = try pipeline.runner()
        _ = try runner.openIndex()   // fail now, not at the first question, when there is no index
        let interactive = isatty(STDIN_FILENO) == 1
        var options = AskOptions()
        var explain = false
        if interactive {
            output.note("sift prompt: \(runner.config.name). Type a question, :help for commands, Ctrl-D to quit.")
        }
        while true {
            if interactive {
                FileHandle.standardOutput.write(Data("sift> ".utf8))
            }
            guard let line = readLine() else { break }
            let input = line.trimmingCharacters(in: .whitespaces)
            if input.isEmpty { continue }
            if input.hasPrefix(":") {
                do {
                    if try !apply(command: input, to: &options, explain: &explain, runner: runner) { break }
                } catch let error as CLIError {
                    Terminal.error("sift: \(error.description)")
                }
                continue
            }
            do {
                var request = options
                request.explain = explain
                let result = try runner.ask(input, options: request)
                if output.json {
                    Terminal.out(try jsonString(AskRecord(result)))
                } else {
                    Terminal.out(AnswerFormatter.render(result, emphasis: Terminal.stdoutIsTTY ? .ansi : .markdown))
                    if explain { Terminal.out("\n" + AnswerFormatter.renderExplanation(result)) }
                }
            } catch let error as PipelineError {
                // One bad question (or a stage switched on without a model) does not end the session.
                Terminal.error("sift: error: \(error.description)")
            }
        }
    }

    /// Applies a `:command`; returns false for :quit.
    func apply(command: String, to options: inout AskOptions, explain: inout Bool, runner: PipelineRunner) throws -> Bool {
        let words = command.dropFirst().split(separator: " ").map(String.init)
        guard let name = words.first else { throw CLIError("empty command; \(Self.help)") }
        func flag() throws -> Bool {
            guard words.count == 2, ["on", "off"].contains(words[1]) else { throw CLIError(":\(name) expects on or off") }
            return words[1] == "on"
        }
        switch name {
        case "quit", "q", "exit":
            return false
        case "help", "h", "?":
            Terminal.out(Self.help)
        case "top":
            guard words.count == 2, let n = Int(words[1]) else { throw CLIError(":top expects a number, e.g. :top 10") }
            options.topK = try checkedAnswerCount(n, option: ":top", config: runner.config)
            Terminal.out("top \(n)")
        case "rerank":
            let on = try flag()
            if on && runner.config.reranker == nil {
                throw CLIError("no reranker is configured in this pipeline; add a reranker block or start with --set reranker.model=PATH")
            }
            options.rerank = on
            Terminal.out("rerank \(on ? "on" : "off")")
        case "bm25":
            options.bm25 = try flag()
            Terminal.out("bm25 \(options.bm25! ? "on" : "off")")
        case "dense":
            options.dense = try flag()
            Terminal.out("dense \(options.dense! ? "on" : "off")")
        case "explain":
            explain = try flag()
            Terminal.out("explain \(explain ? "on" : "off")")
        default:
            throw CLIError("unknown command ':\(name)'; \(Self.help)")
        }
        return true
    }
}
