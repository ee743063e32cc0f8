import ArgumentParser

// Placeholder: replaced by the stage's benchmark.
struct SearchBench: ParsableCommand {
    func run() throws { throw ValidationError("not implemented yet") }
}
