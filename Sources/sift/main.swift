import ArgumentParser
import Foundation
import SiftPipeline

/// The `sift` command line.
struct SiftCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sift",
        abstract: "Retrieve-and-re-rank question answering over HTML and XML collections.",
        discussion: """
        A pipeline file (YAML) says which documents to read and how to chunk, embed, index, retrieve, re-rank \
        and answer. Shipped pipelines live in Pipelines/.

        Examples:
          sift index -p Pipelines/handbook.yaml
          sift ask -p Pipelines/handbook.yaml "What does exit status 137 mean?"
          sift ask -p Pipelines/handbook.yaml --explain --set retriever.bm25=false \\
            "What is a fast-forward merge?"
          sift prompt -p Pipelines/python-docs.yaml
          sift eval -p Pipelines/python-faq-eval.yaml
          sift serve -p Pipelines/handbook.yaml          # HTTP API and question page on :8080
          sift train reranker -p Pipelines/handbook.yaml --labels Corpora/handbook/labels.jsonl --out Models/hb-rr
          sift similarity "A man is eating food." "A man eats." "The sky is blue."

        Environment: SIFT_KERNELS=avx512|avx2|portable|openblas forces a lower kernel tier (default: the fastest \
        this CPU has); `sift --version` shows the CPU and the kernels in use.

        Exit status: 0 success; 64 wrong usage; 65 bad input (pipeline file, --set value, questions or labels \
        file); 66 something missing (a model, the index, a stage that is not configured); 75 the index is being \
        written by another process; 1 anything else (damaged index data, a failed stage).
        """,
        version: RuntimeInfo.versionText,
        subcommands: [IndexCommand.self, AskCommand.self, BatchCommand.self, PromptCommand.self, EvalCommand.self,
                      InspectCommand.self, EmbedCommand.self, SimilarityCommand.self, SearchCommand.self,
                      MineCommand.self, RerankCommand.self, ClusterCommand.self, TrainCommand.self, ServeCommand.self, PipelineCommand.self]
    )
}

// Parse and run; failures end with one `sift: error: …` line on stderr (plus the list of problems for an
// invalid pipeline) and a non-zero exit code. Help and usage output stay ArgumentParser's.
do {
    // A mistyped tier must not silently run other kernels than the user asked for (--version still reports it).
    if let problem = RuntimeInfo.kernelTierProblem, !CommandLine.arguments.contains("--version") {
        Terminal.fail(problem, code: 2)
    }
    var command = try SiftCommand.parseAsRoot()
    try command.run()
} catch let error as PipelineError {
    Terminal.fail(error.description, code: error.exitCode)
} catch let error as CLIError {
    Terminal.fail(error.description, code: error.exitCode)
} catch {
    let code = SiftCommand.exitCode(for: error)
    if code == .success {
        SiftCommand.exit(withError: error)
    } else if error is ExitCode {
        SiftCommand.exit(withError: error)
    } else {
        let message = SiftCommand.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
        let hint = Terminal.helpHint(arguments: CommandLine.arguments)
        Terminal.fail(message + hint, code: code.rawValue)
    }
}
