import ArgumentParser

/// Benchmarks print timings and ratios; they never assert. Benchmarks/run also runs the Python peers.
struct SiftBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sift-bench",
        abstract: "Measure Sift's stages (run Benchmarks/run to compare with sentence-transformers).",
        subcommands: [EncodeBench.self, RerankBench.self, ReaderBench.self, SearchBench.self, GemmBench.self, AskBench.self, PostgresBench.self, ClusterBench.self, TrainBench.self]
    )
}

SiftBench.main()
