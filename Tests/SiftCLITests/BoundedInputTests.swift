import Foundation
import Testing
import SiftTestSupport

/// Hostile pipeline YAML against the real binary: each is refused with one `sift: error:` line, in well under a second
/// and well under 100 MB (before the limits, billion laughs reached 18.6 GB and deep nesting crashed with SIGSEGV).
@Suite(.serialized) struct BoundedInputTests {
    /// Nine levels of nine aliases: 387 million values once expanded.
    static let billionLaughs: String = {
        var lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for level in 1...9 {
            lines.append("a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ", ") + "]")
        }
        return lines.joined(separator: "\n") + "\nsource: *a9\n"
    }()

    static let deepFlow = String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000)

    /// Peak resident memory (KB) of one run of the binary, measured by GNU time; nil without /usr/bin/time.
    /// getrusage or wait4 from this process would not do: a child started from a large process (this one holds
    /// models) inherits its high-water mark through fork and exec, so only a small intermediate process measures it.
    static func peakRSSKilobytes(_ arguments: [String]) throws -> Int? {
        let time = URL(fileURLWithPath: "/usr/bin/time")
        guard FileManager.default.isExecutableFile(atPath: time.path) else { return nil }
        let report = FileManager.default.temporaryDirectory.appendingPathComponent("sift-rss-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: report) }
        let process = Process()
        process.executableURL = time
        process.arguments = ["-f", "%M", "-o", report.path, TestPaths.siftBinary.path] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        // GNU time writes "Command exited with non-zero status N" before the figure.
        let lines = try String(contentsOf: report, encoding: .utf8).split(separator: "\n")
        return lines.last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// Runs `arguments` and checks the refusal: non-zero exit, one `sift: error:` line mentioning `expected`,
    /// under a second, under 100 MB (where GNU time can tell).
    func expectRefused(_ arguments: [String], mentioning expected: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let started = Date()
        let run = try sift(arguments)
        let elapsed = Date().timeIntervalSince(started)
        #expect(run.code != 0, sourceLocation: sourceLocation)
        #expect(run.stderrLines.count == 1 && run.stderrLines.first?.hasPrefix("sift: error: ") == true,
                "stderr: \(run.stderr.prefix(500))", sourceLocation: sourceLocation)
        #expect(run.stderr.contains(expected), "stderr: \(run.stderr.prefix(500))", sourceLocation: sourceLocation)
        #expect(elapsed < 1, "took \(elapsed) s", sourceLocation: sourceLocation)
        if let rss = try Self.peakRSSKilobytes(arguments) {
            #expect(rss > 0 && rss < 100_000, "peak RSS \(rss) KB", sourceLocation: sourceLocation)
        }
    }

    @Test func billionLaughsIsRefusedInLittleMemory() throws {
        let workspace = try Workspace()
        try workspace.write("laughs.yaml", Self.billionLaughs)
        try expectRefused(["index", "-p", workspace.path("laughs.yaml")], mentioning: "once aliases are expanded")
    }

    @Test func deepNestingInAFileIsRefusedNotACrash() throws {
        let workspace = try Workspace()
        try workspace.write("deep.yaml", "source: \(Self.deepFlow)\n")
        try expectRefused(["index", "-p", workspace.path("deep.yaml")], mentioning: "deep.yaml:1: nested deeper than")
        try workspace.write("compact.yaml", "source:\n" + String(repeating: "- ", count: 5_000) + "x\n")
        try expectRefused(["ask", "-p", workspace.path("compact.yaml"), "q"], mentioning: "compact.yaml:2: nested deeper than")
    }

    @Test func setValuesHaveTheSameBounds() throws {
        let workspace = try Workspace()
        let pipeline = workspace.path("tiny.yaml")
        try expectRefused(["index", "-p", pipeline, "--set", "source=\(Self.deepFlow)"], mentioning: "--set source")
        let laughs = "{" + Self.billionLaughs.split(separator: "\n").joined(separator: ", ") + "}"
        try expectRefused(["index", "-p", pipeline, "--set", "source=\(laughs)"], mentioning: "once aliases are expanded")
    }

    @Test func oversizedFileIsRefusedWithoutReadingIt() throws {
        let workspace = try Workspace()
        try workspace.write("big.yaml", "# " + String(repeating: "x", count: 2 << 20) + "\n")
        try expectRefused(["index", "-p", workspace.path("big.yaml")], mentioning: "big.yaml: larger than the limit of 1048576 bytes")
        try expectRefused(["index", "-p", "/dev/zero"], mentioning: "/dev/zero: larger than the limit")
    }
}
