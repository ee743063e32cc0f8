import ArgumentParser
import Foundation
import SiftPipeline

struct BatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Answer many questions, streaming JSON Lines.",
        discussion: """
        Questions come from a .txt file (one per line) or a .jsonl file ({"id": "q1", "question": "..."} per \
        line; "id" optional; a repeated id is warned about). Questions are embedded and searched in batches; each answer set is written as one \
        JSON line as soon as its batch is done. A malformed line is reported on stderr and skipped.

        Examples:
          sift batch -p Pipelines/handbook.yaml questions.txt -o answers.jsonl
          sift batch -p Pipelines/python-docs.yaml --top 3 questions.jsonl > out.jsonl
        """)

    @OptionGroup var pipeline: PipelineOptions
    @OptionGroup var flags: AskFlags
    @Flag(name: [.short, .long], help: "No progress bar or summary on stderr.")
    var quiet = false
    @Option(name: .customLong("batch-size"), help: "Questions embedded and searched together.")
    var batchSize = 32
    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Write answers here instead of stdout.", valueName: "file"))
    var outputPath: String?
    @Argument(help: "Questions file (.txt or .jsonl); - reads text lines from stdin.")
    var questionsFile: String

    struct Question { var id: String; var text: String }

    struct Record: Encodable {
        var id: String
        var result: AskRecord
        func encode(to encoder: Encoder) throws {
            try result.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
        }
        enum CodingKeys: String, CodingKey { case id }
    }

    func run() throws {
        guard batchSize > 0 else { throw CLIError("--batch-size must be positive", exitCode: 64) }
        let questions = try readQuestions()
        guard !questions.isEmpty else { throw CLIError("\(questionsFile) holds no questions") }
        let runner = try pipeline.runner()
        let options = try flags.options(for: runner.config)

        var sink: FileHandle = .standardOutput
        if let outputPath {
            guard FileManager.default.createFile(atPath: outputPath, contents: nil), let handle = FileHandle(forWritingAtPath: outputPath) else {
                throw CLIError("cannot write \(outputPath)")
            }
            sink = handle
        }
        defer { if outputPath != nil { try? sink.close() } }

        let bar = ProgressLine(quiet: quiet)
        let started = Date()
        var answered = 0
        for start in stride(from: 0, to: questions.count, by: batchSize) {
            let batch = Array(questions[start..<min(questions.count, start + batchSize)])
            let results = try runner.askBatch(batch.map(\.text), options: options)
            var lines = ""
            for (question, result) in zip(batch, results) {
                lines += try jsonString(Record(id: question.id, result: AskRecord(result))) + "\n"
            }
            sink.write(Data(lines.utf8))
            answered += batch.count
            bar.update("questions", answered, questions.count)
        }
        bar.finish()
        let seconds = Date().timeIntervalSince(started)
        if !quiet {
            Terminal.error(String(format: "answered %d questions in %.2f s (%.1f questions/s)", answered, seconds, Double(answered) / max(seconds, 1e-9)))
        }
    }

    /// Reads the questions, reporting (not failing on) malformed lines.
    func readQuestions() throws -> [Question] {
        let isJSONL = questionsFile.hasSuffix(".jsonl") || questionsFile.hasSuffix(".json")
        let text: String
        if questionsFile == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            guard let data = FileManager.default.contents(atPath: questionsFile) else {
                throw CLIError("cannot read \(questionsFile): no such file or not readable")
            }
            text = String(decoding: data, as: UTF8.self)
        }
        var questions: [Question] = []
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            let number = offset + 1
            if line.isEmpty { continue }
            guard isJSONL else {
                questions.append(Question(id: "q\(number)", text: line))
                continue
            }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                Terminal.error("sift: warning: \(questionsFile):\(number): not a JSON object; skipped")
                continue
            }
            guard let question = object["question"] as? String, !question.allSatisfy(\.isWhitespace) else {
                Terminal.error("sift: warning: \(questionsFile):\(number): missing \"question\" text; skipped")
                continue
            }
            let id = (object["id"] as? String) ?? (object["id"] as? NSNumber)?.stringValue ?? "q\(number)"
            questions.append(Question(id: id, text: question))
        }
        if let warning = Self.duplicateIDWarning(questions.map(\.id)) {
            Terminal.error("sift: warning: \(questionsFile): \(warning)")
        }
        return questions
    }

    /// Says which ids repeat (count and a few examples), or nil when all are distinct. Every question is still
    /// answered, but answers can then only be told apart by their order.
    static func duplicateIDWarning(_ ids: [String]) -> String? {
        var seen: [String: Int] = [:]
        var repeated: [String] = []
        for id in ids {
            seen[id, default: 0] += 1
            if seen[id] == 2 { repeated.append(id) }
        }
        guard !repeated.isEmpty else { return nil }
        let lines = repeated.reduce(0) { $0 + seen[$1]! }
        let examples = repeated.prefix(3).joined(separator: ", ") + (repeated.count > 3 ? ", …" : "")
        return "\(repeated.count) id\(repeated.count == 1 ? "" : "s") used more than once (e.g. \(examples)), on \(lines) questions; "
            + "all are answered, so the output repeats those ids"
    }
}
