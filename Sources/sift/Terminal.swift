import ArgumentParser
import Foundation
import SiftPipeline

/// A failure of the command line itself (bad input file, bad flag combination), with its exit code.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    var exitCode: Int32 = 1
    init(_ description: String, exitCode: Int32 = 1) {
        self.description = description
        self.exitCode = exitCode
    }
}

extension PipelineError {
    /// The exit status for this failure, by its kind (sysexits.h numbers, so scripts can tell them apart):
    /// 65 bad input (a pipeline file, --set value, questions or labels file), 66 something missing (a model, the
    /// index, a stage that is not configured), 75 the index is being written by another process (retry later),
    /// 1 anything else (damaged data, a failed stage). Usage errors are 64 (`CLIError`).
    var exitCode: Int32 {
        switch kind {
        case .invalidInput: 65
        case .missing: 66
        case .busy: 75
        case .damaged, .failed: 1
        }
    }
}

/// Standard streams, TTY detection and the progress line.
enum Terminal {
    static let stderrIsTTY = isatty(STDERR_FILENO) == 1
    static let stdoutIsTTY = isatty(STDOUT_FILENO) == 1

    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Prints `sift: error: message` and exits.
    static func fail(_ message: String, code: Int32) -> Never {
        error("sift: error: \(message)")
        exit(code == 0 ? 1 : code)
    }

    /// Writes to stdout immediately (no buffering surprises when stdout is a pipe read line by line).
    static func out(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    /// " (see `sift ask --help`)" for the subcommand on the command line, if any.
    static func helpHint(arguments: [String]) -> String {
        let names = SiftCommand.configuration.subcommands.compactMap { $0.configuration.commandName }
        if let name = arguments.dropFirst().first(where: { names.contains($0) }) { return " (see `sift \(name) --help`)" }
        return " (see `sift --help`)"
    }
}

/// A one-line progress bar on stderr, drawn only when stderr is a terminal and not `--quiet`; thread-safe.
final class ProgressLine: @unchecked Sendable {
    private let enabled: Bool
    private let lock = NSLock()
    private var lastDraw = Date.distantPast
    private var drawn = false

    init(quiet: Bool) { enabled = !quiet && Terminal.stderrIsTTY }

    func update(_ label: String, _ completed: Int, _ total: Int) {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        let now = Date()
        // Redraw at most 10 times a second, and always at the end.
        guard completed >= total || now.timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = now
        let width = 28
        let fraction = total > 0 ? min(1, Double(completed) / Double(total)) : 0
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        FileHandle.standardError.write(Data("\r\u{1B}[2K\(label) \(bar) \(completed)/\(total)".utf8))
        drawn = true
    }

    /// Clears the line so following output starts clean.
    func finish() {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
        drawn = false
    }
}

/// Reads non-empty lines of a text file (or stdin for "-").
func readTextLines(_ path: String) throws -> [String] {
    let text: String
    if path == "-" {
        text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
    } else {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError("cannot read \(path): no such file or not readable")
        }
        text = String(decoding: data, as: UTF8.self)
    }
    return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}

/// JSON with sorted keys, one line (for JSON Lines) or pretty.
func jsonString<T: Encodable>(_ value: T, pretty: Bool = false) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
