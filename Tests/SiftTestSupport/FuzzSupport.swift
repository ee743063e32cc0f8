import Foundation

/// One run of a random-mutation fuzz test, configured from the environment so CI runs a few iterations and the
/// Scripts/fuzz_* wrappers run for minutes: PREFIX_ITERATIONS, PREFIX_SECONDS (stop early), PREFIX_SEED,
/// PREFIX_SAVE (where each input is written before it is tried, so a crash leaves its reproducer).
public struct FuzzRun {
    public let iterations: Int
    public let seconds: Double
    public let seed: UInt64
    public let savePath: String?
    public private(set) var done = 0
    public private(set) var slowest = 0.0
    let started = Date()

    public init(environmentPrefix prefix: String, defaultIterations: Int) {
        let env = ProcessInfo.processInfo.environment
        iterations = Int(env["\(prefix)_ITERATIONS"] ?? "") ?? defaultIterations
        seconds = Double(env["\(prefix)_SECONDS"] ?? "") ?? .infinity
        seed = UInt64(env["\(prefix)_SEED"] ?? "") ?? 1
        savePath = env["\(prefix)_SAVE"]
    }

    /// Calls `body` with the iteration number until the iterations or the seconds run out; returns each call's
    /// duration to `check` (a hang shows as one slow iteration, with the seed to replay it).
    public mutating func run(_ body: (Int) throws -> Void, check: (Int, Double) -> Void) rethrows {
        while done < iterations, Date().timeIntervalSince(started) < seconds {
            let start = Date()
            try body(done)
            let elapsed = Date().timeIntervalSince(start)
            slowest = max(slowest, elapsed)
            check(done, elapsed)
            done += 1
        }
    }

    /// `name: seed S, N iterations, <details>, slowest X ms, T s`, for the log of a long run.
    public func summary(_ name: String, _ details: String) -> String {
        "\(name): seed \(seed), \(done) iterations, \(details), slowest \(Int(slowest * 1000)) ms, \(Int(Date().timeIntervalSince(started))) s"
    }
}

/// Byte-level mutations shared by the fuzzers.
public enum ByteMutation {
    /// Up to `count` single-bit flips, within the first `within` bytes when given.
    public static func flipBits(_ bytes: inout [UInt8], count: Int, within: Int? = nil, rng: inout SplitMix64) {
        guard !bytes.isEmpty else { return }
        let span = min(bytes.count, within ?? bytes.count)
        for _ in 0...rng.below(count) { bytes[rng.below(span)] ^= UInt8(1 << rng.below(8)) }
    }

    /// Drops a random-length tail.
    public static func truncate(_ bytes: inout [UInt8], rng: inout SplitMix64) {
        bytes.removeLast(rng.below(bytes.count + 1))
    }

    /// Repeats a slice of up to `length` bytes in place, `times` more times.
    public static func duplicateRange(_ bytes: inout [UInt8], length: Int, times: Int, rng: inout SplitMix64) {
        guard !bytes.isEmpty else { return }
        let start = rng.below(bytes.count)
        let range = Array(bytes[start..<min(bytes.count, start + 1 + rng.below(length))])
        for _ in 0...times { bytes.insert(contentsOf: range, at: start) }
    }

    /// Inserts up to 8 random bytes at random places.
    public static func insertRandom(_ bytes: inout [UInt8], rng: inout SplitMix64) {
        for _ in 0...rng.below(8) { bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: rng.below(bytes.count + 1)) }
    }
}
