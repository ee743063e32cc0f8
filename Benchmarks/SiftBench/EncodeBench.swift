import ArgumentParser

// Placeholder: replaced by the stage's benchmark.
struct EncodeBench: ParsableCommand {
    func run() throws { throw ValidationError("not implemented yet") }
}
