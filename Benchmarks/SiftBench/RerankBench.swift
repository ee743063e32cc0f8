import ArgumentParser

// Placeholder: replaced by the stage's benchmark.
struct RerankBench: ParsableCommand {
    func run() throws { throw ValidationError("not implemented yet") }
}
