import ArgumentParser
import Foundation
import SiftPipeline

/// `sift-bench ask`: end-to-end question latency on a built index, the way `sift prompt` serves it
/// (models and index loaded once), with and without re-ranking. Prints, never asserts.
struct AskBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ask",
        abstract: "sift ask latency (p50/p95) on a pipeline's index, with and without re-ranking.",
        discussion: """
        The index must exist (sift index -p PIPELINE). Re-ranking is measured when the pipeline configures a
        cross-encoder or --set reranker.model=DIR names one; a random-weight checkpoint gives real latency but
        meaningless ranking.
          sift-bench ask -p Pipelines/handbook.yaml --questions Corpora/handbook/questions.txt
        """)

    @Option(name: .shortAndLong, help: "Pipeline file (YAML).")
    var pipeline: String
    @Option(help: "Questions, one per line.")
    var questions: String
    @Option(name: .customLong("set"), help: "Override a pipeline setting (repeatable).")
    var overrides: [String] = []
    @Option(help: "Rounds over the question list.")
    var rounds: Int = 2

    func validate() throws {
        guard rounds > 0 else { throw ValidationError("--rounds must be positive") }
    }

    func run() throws {
        let config = try PipelineConfig.load(contentsOf: URL(fileURLWithPath: pipeline),
                                             overrides: try overrides.map(PipelineOverride.init))
        let runner = try PipelineRunner(config: config)
        let lines = try String(contentsOfFile: questions, encoding: .utf8)
            .split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !lines.isEmpty else { throw ValidationError("no questions in \(questions)") }

        // Warm-up: loads models and maps the index outside the timed loop.
        _ = try runner.ask(lines[0], options: AskOptions(rerank: false))
        var modes: [(name: String, rerank: Bool)] = [("retrieval + fusion", false)]
        if config.reranker != nil {
            _ = try runner.ask(lines[0], options: AskOptions(rerank: true))
            modes.append(("with re-ranking", true))
        }
        print("sift ask on \(config.name): \(lines.count) questions × \(rounds) rounds (in-process; models loaded once)")
        print("mode                 | p50 ms | p95 ms | max ms")
        for mode in modes {
            var millis: [Double] = []
            for _ in 0..<rounds {
                for question in lines {
                    let start = DispatchTime.now().uptimeNanoseconds
                    _ = try runner.ask(question, options: AskOptions(rerank: mode.rerank))
                    millis.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
                }
            }
            millis.sort()
            func percentile(_ p: Double) -> Double { millis[min(millis.count - 1, Int((p * Double(millis.count - 1)).rounded()))] }
            let name = mode.name.padding(toLength: 20, withPad: " ", startingAt: 0)
            print(name + String(format: " | %6.1f | %6.1f | %6.1f", percentile(0.5), percentile(0.95), millis.last!))
        }
    }
}
