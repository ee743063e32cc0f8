import ArgumentParser
import Foundation
import SiftPipeline

/// `-p/--pipeline` and `--set`, shared by every command that runs a pipeline.
struct PipelineOptions: ParsableArguments {
    @Option(name: [.short, .customLong("pipeline")], help: ArgumentHelp(
        "Pipeline file (YAML). Defaults to $SIFT_PIPELINE.", valueName: "file"))
    var pipeline: String?

    @Option(name: .customLong("set"), help: ArgumentHelp(
        "Override a pipeline setting, e.g. --set retriever.top_k=50 or --set reranker=none (repeatable).",
        valueName: "key=value"))
    var overrides: [String] = []

    var hasPipeline: Bool { pipeline != nil || ProcessInfo.processInfo.environment["SIFT_PIPELINE"] != nil }

    /// The validated pipeline, overrides applied.
    func load() throws -> PipelineConfig {
        guard let path = pipeline ?? ProcessInfo.processInfo.environment["SIFT_PIPELINE"] else {
            throw CLIError("no pipeline given; pass -p FILE, e.g. -p Pipelines/handbook.yaml", exitCode: 64)
        }
        let overrides = try self.overrides.map(PipelineOverride.init)
        return try PipelineConfig.load(contentsOf: URL(fileURLWithPath: path), overrides: overrides)
    }

    func runner() throws -> PipelineRunner {
        try PipelineRunner(config: load())
    }
}

/// `--json` and `--quiet`.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print JSON instead of text.")
    var json = false

    @Flag(name: [.short, .long], help: "No progress bars or summaries on stderr.")
    var quiet = false

    /// A note on stderr unless --quiet.
    func note(_ text: String) {
        if !quiet { Terminal.error(text) }
    }
}

/// `--model`, for the model-level commands: an explicit folder, else the pipeline's embedder, else Models/all-MiniLM-L6-v2.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Bi-encoder folder (sentence-transformers layout). Default: the pipeline's embedder.model, else ./Models/all-MiniLM-L6-v2.", valueName: "folder"))
    var model: String?

    @Option(name: .customLong("batch-size"), help: "Texts per forward pass.")
    var batchSize: Int = 32

    func folder(pipeline: PipelineOptions) throws -> URL {
        if let model { return URL(fileURLWithPath: model) }
        if pipeline.hasPipeline { return try pipeline.load().embedder.model }
        return URL(fileURLWithPath: "Models/all-MiniLM-L6-v2")
    }

    func tools(pipeline: PipelineOptions) throws -> ModelTools {
        guard batchSize > 0 else { throw CLIError("--batch-size must be positive", exitCode: 64) }
        return try ModelTools(modelFolder: try folder(pipeline: pipeline), batchSize: batchSize)
    }
}

/// `n` from `--top` or `:top` when the pipeline allows that many answers: the same range as its `answers.top_k`,
/// so a command line cannot ask for what the pipeline file may not.
func checkedAnswerCount(_ n: Int, option: String, config: PipelineConfig) throws -> Int {
    let range = config.answerCountRange
    guard range.contains(n) else {
        let pool = config.reranker == nil ? "retriever.top_k" : "reranker.top_k"
        throw CLIError("\(option) \(n) is out of range: like answers.top_k it must be between \(range.lowerBound) and \(range.upperBound) "
            + "(answers come from the \(pool) = \(range.upperBound) candidates; raise \(pool) with --set for more)", exitCode: 64)
    }
    return n
}
