import Foundation
import SiftTestSupport
import Testing

/// "Behaviour unchanged": the built `sift` must give exactly the answers recorded in Tests/Fixtures/golden-behaviour
/// (made by the binary of commit a04f57a, before the "Stages as components" refactor of the runner; see the README
/// there and Scripts/make_behaviour_goldens). Outputs are compared as JSON after dropping wall-clock fields and
/// replacing the index folder by `<index>`; everything else (answers, order, scores, highlights, stages, explain
/// lists, metric numbers, index reports) must be identical.
///
/// The handbook and python-faq-eval indexes are built here, into a temporary folder, by the `sift` under test. The
/// python-docs index takes ~25 minutes, so that part runs only against an existing `.sift/python-docs` with the
/// identity the goldens were made from, and is skipped otherwise, saying why.
@Suite(.serialized) struct BehaviourGoldenTests {
    static let goldens = TestPaths.fixtures.appendingPathComponent("golden-behaviour")
    static let root = TestPaths.repositoryRoot

    // MARK: Why a part cannot run here (nil: it can)

    /// The goldens hold for the avx2 kernels only (another tier changes the last bits of dense scores), and need the model.
    static let commonSkipReason: String? = {
        guard TestPaths.miniLMModel != nil else { return "Models/all-MiniLM-L6-v2 is missing; run Scripts/setup" }
        // A missing binary is not a reason to skip: the run then records it as a failure.
        guard FileManager.default.isExecutableFile(atPath: TestPaths.siftBinary.path),
              let version = try? siftPinned(["--version"]) else { return nil }
        if !version.stdout.contains("forced by SIFT_KERNELS=avx2") {
            return "the goldens are pinned to the avx2 kernels (SIFT_KERNELS=avx2), which this CPU cannot run: \(version.stdout.split(separator: "\n").last ?? "")"
        }
        return nil
    }()

    static let pythonDocsRoot = "/usr/share/doc/python3.11/html"

    static let faqSkipReason: String? = commonSkipReason
        ?? (FileManager.default.fileExists(atPath: pythonDocsRoot + "/faq") ? nil
            : "\(pythonDocsRoot)/faq is missing (Debian's python3.11-doc; Scripts/setup --docs)")

    static let pythonDocsIndex = root.appendingPathComponent(".sift/python-docs")

    /// The python-docs part runs only against the index the goldens came from: same counts, vectors and fingerprints.
    static let pythonDocsSkipReason: String? = {
        if let reason = commonSkipReason { return reason }
        let manifestURL = pythonDocsIndex.appendingPathComponent("manifest.json")
        let build = "it takes ~25 minutes: sift index -p Pipelines/python-docs.yaml"
        guard let data = try? Data(contentsOf: manifestURL),
              let manifest = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            return "no python-docs index at .sift/python-docs (too slow to build in a test; \(build))"
        }
        guard let recordedData = try? Data(contentsOf: goldens.appendingPathComponent("python-docs/index.json")),
              let recorded = (try? JSONSerialization.jsonObject(with: recordedData) as? [String: Any])?["manifest"] as? [String: Any] else {
            return "golden-behaviour/python-docs/index.json is missing or unreadable"
        }
        let differing = recorded.keys.sorted().filter { key in
            (try? canonical(recorded[key] as Any)) != (manifest[key].flatMap { try? canonical($0) })
        }
        if !differing.isEmpty {
            let detail = differing.map { "\($0): \(manifest[$0].map { "\($0)" } ?? "absent"), golden \(recorded[$0]!)" }.joined(separator: "; ")
            return ".sift/python-docs is not the index the goldens were made from (\(detail)); rebuild it (\(build))"
        }
        return nil
    }()

    // MARK: The tests

    @Test(.disabled(if: commonSkipReason != nil, Comment(rawValue: commonSkipReason ?? "")))
    func handbookIndexAskExplainAndEval() throws {
        let scratch = try Scratch()
        let index = scratch.folder.appendingPathComponent("handbook").path
        var mismatches = Mismatches()
        // The index report first: with a different index, every answer below would differ too.
        try check("handbook/index.json", index: index, into: &mismatches)
        guard mismatches.names.isEmpty else { return mismatches.report() }

        let labels = try String(contentsOf: Self.root.appendingPathComponent("Corpora/handbook/labels.jsonl"), encoding: .utf8)
        let questions = try labels.split(separator: "\n").filter { !$0.isEmpty }.map { line in
            try #require((try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["question"] as? String)
        }
        let asks = try Self.goldenFiles("handbook", prefix: "ask-")
        #expect(asks.count == questions.count && asks.count == 25,
                "\(asks.count) ask goldens for \(questions.count) labelled questions: labels.jsonl changed? (Scripts/make_behaviour_goldens)")
        for (name, question) in zip(asks, questions) {
            try check(name, index: index, into: &mismatches, expectQuestion: question)
        }
        let explains = try Self.goldenFiles("handbook", prefix: "explain-")
        #expect(explains.count == 5)
        for name in explains { try check(name, index: index, into: &mismatches) }
        try check("handbook/eval.json", index: index, into: &mismatches)
        mismatches.report()
    }

    @Test(.disabled(if: faqSkipReason != nil, Comment(rawValue: faqSkipReason ?? "")))
    func pythonFAQIndexAndEval() throws {
        let scratch = try Scratch()
        let index = scratch.folder.appendingPathComponent("python-faq-eval").path
        var mismatches = Mismatches()
        try check("python-faq-eval/index.json", index: index, into: &mismatches)
        if mismatches.names.isEmpty { try check("python-faq-eval/eval.json", index: index, into: &mismatches) }
        mismatches.report()
    }

    @Test(.disabled(if: pythonDocsSkipReason != nil, Comment(rawValue: pythonDocsSkipReason ?? "")))
    func pythonDocsAsk() throws {
        let text = try String(contentsOf: Self.goldens.appendingPathComponent("python-docs-questions.txt"), encoding: .utf8)
        let questions = text.split(separator: "\n").map(String.init).filter { !$0.isEmpty && !$0.hasPrefix("#") }
        let asks = try Self.goldenFiles("python-docs", prefix: "ask-")
        #expect(asks.count == questions.count && asks.count == 20, "\(asks.count) goldens for \(questions.count) questions")
        var mismatches = Mismatches()
        for (name, question) in zip(asks, questions) {
            try check(name, index: Self.pythonDocsIndex.path, into: &mismatches, expectQuestion: question)
        }
        mismatches.report()
    }

    // MARK: Running and comparing

    /// Runs the golden file's arguments with `--set index.path=INDEX` in the repository root and compares the
    /// normalised output; a difference is added to `mismatches`.
    func check(_ name: String, index: String, into mismatches: inout Mismatches, expectQuestion: String? = nil,
               sourceLocation: SourceLocation = #_sourceLocation) throws {
        let data = try Data(contentsOf: Self.goldens.appendingPathComponent(name))
        let golden = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(name)")
        let arguments = try #require(golden["arguments"] as? [String], "\(name) has no arguments")
        let expectedOutput = try #require(golden["output"], "\(name) has no output")
        if let expectQuestion {
            #expect(arguments.last == expectQuestion, "\(name) asks \(arguments.last ?? "?"), the list has \(expectQuestion): regenerate the goldens",
                    sourceLocation: sourceLocation)
        }
        let run = try Self.siftPinned(arguments + ["--set", "index.path=\(index)"], in: Self.root)
        guard run.code == 0 else {
            mismatches.add(name, arguments: arguments, detail: "exit status \(run.code), stderr:\n\(run.stderr)")
            return
        }
        guard let actualOutput = try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) else {
            mismatches.add(name, arguments: arguments, detail: "stdout is not JSON:\n\(run.stdout.prefix(2000))")
            return
        }
        let indexPaths = [index, URL(fileURLWithPath: index).resolvingSymlinksInPath().path]
        let expectedValue = Self.normalise(expectedOutput, indexPaths: indexPaths)
        let actualValue = Self.normalise(actualOutput, indexPaths: indexPaths)
        if !Self.same(expectedValue, actualValue) {
            let expected = try Self.canonical(expectedValue), actual = try Self.canonical(actualValue)
            let ranking = Self.rankingDiff(expected: expectedOutput, actual: actualOutput).map { $0 + "\n" } ?? ""
            mismatches.add(name, arguments: arguments, detail: ranking + Self.diff(expected: expected, actual: actual))
        }
    }

    /// For `ask` outputs whose answers differ: both rankings on one line each (source and retrieval score).
    static func rankingDiff(expected: Any, actual: Any) -> String? {
        func ranking(_ output: Any) -> String? {
            guard let answers = (output as? [String: Any])?["answers"] as? [[String: Any]] else { return nil }
            return answers.map { "\($0["source"] as? String ?? "?") \($0["retrieval_score"].map { "\($0)" } ?? "?")" }
                .joined(separator: ", ")
        }
        guard let before = ranking(expected), let now = ranking(actual), before != now else { return nil }
        return "answers, golden: \(before)\nanswers, now:    \(now)"
    }

    /// Keys holding wall-clock times, dropped at every depth (Scripts/make_behaviour_goldens drops the same).
    static let timeKeys: Set<String> = ["timings_ms", "latencyMilliseconds", "seconds"]

    /// Drops `timeKeys` at every depth and replaces the index folder in strings by `<index>`.
    static func normalise(_ value: Any, indexPaths: [String]) -> Any {
        if let object = value as? [String: Any] {
            var result: [String: Any] = [:]
            for (key, item) in object where !timeKeys.contains(key) { result[key] = normalise(item, indexPaths: indexPaths) }
            return result
        }
        if let array = value as? [Any] { return array.map { normalise($0, indexPaths: indexPaths) } }
        if var string = value as? String {
            for path in indexPaths where !path.isEmpty { string = string.replacingOccurrences(of: path, with: "<index>") }
            return string
        }
        return value
    }

    /// Equal JSON values, numbers within `numberTolerance` (relative, at least absolute 1e-5·1), everything else
    /// exactly. On the machine that made them the goldens hold byte for byte (Scripts/make_behaviour_goldens checks
    /// that); on another CPU OpenBLAS may pick another sgemm kernel, which moves dense scores in their last bits, so
    /// numbers get a tolerance while answer order, ids, texts, highlights, stages and counts stay exact.
    static func same(_ a: Any, _ b: Any) -> Bool {
        switch (a, b) {
        case let (x as [String: Any], y as [String: Any]):
            return x.count == y.count && x.allSatisfy { key, value in y[key].map { same(value, $0) } ?? false }
        case let (x as [Any], y as [Any]):
            return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case let (x as String, y as String):
            return x == y
        case let (x as NSNumber, y as NSNumber):
            let u = x.doubleValue, v = y.doubleValue
            return u == v || abs(u - v) <= numberTolerance * max(1, abs(u))
        case (is NSNull, is NSNull):
            return true
        default:
            return false
        }
    }

    static let numberTolerance = 1e-5

    /// Pretty-printed with sorted keys: equal values give equal strings, and a line diff reads well.
    static func canonical(_ value: Any) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: value,
                                              options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes, .fragmentsAllowed])
        return String(decoding: data, as: UTF8.self)
    }

    /// The differing middle of two texts (after their common first and last lines), with a little context.
    static func diff(expected: String, actual: String, context: Int = 3, limit: Int = 30) -> String {
        let a = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let b = actual.split(separator: "\n", omittingEmptySubsequences: false)
        var start = 0
        while start < min(a.count, b.count), a[start] == b[start] { start += 1 }
        var endA = a.count, endB = b.count
        while endA > start, endB > start, a[endA - 1] == b[endB - 1] { endA -= 1; endB -= 1 }
        var lines = ["first difference at line \(start + 1) (golden \(a.count) lines, now \(b.count)):"]
        lines += a[max(0, start - context)..<start].map { "  \($0)" }
        lines += a[start..<endA].prefix(limit).map { "- \($0)" }
        if endA - start > limit { lines.append("- ... \(endA - start - limit) more golden lines") }
        lines += b[start..<endB].prefix(limit).map { "+ \($0)" }
        if endB - start > limit { lines.append("+ ... \(endB - start - limit) more lines now") }
        lines += a[endA..<min(a.count, endA + context)].map { "  \($0)" }
        return lines.joined(separator: "\n")
    }

    /// `golden-behaviour/FOLDER/PREFIX*.json`, sorted (ask-01, ask-02, ...), as paths relative to golden-behaviour.
    static func goldenFiles(_ folder: String, prefix: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: goldens.appendingPathComponent(folder).path)
            .filter { $0.hasPrefix(prefix) && $0.hasSuffix(".json") }.sorted().map { "\(folder)/\($0)" }
    }

    /// `sift(...)` with the kernels pinned as when the goldens were made: another tier (avx512 on a CI machine,
    /// portable, openblas) changes the last bits of dense scores. Set for the child only: setting it in this process
    /// would cap the in-process kernel tests too.
    static func siftPinned(_ arguments: [String], in directory: URL? = nil) throws -> RunResult {
        try sift(arguments, in: directory, environment: ["SIFT_KERNELS": "avx2"])
    }

    /// A temporary folder, removed with this value.
    final class Scratch {
        let folder: URL
        init() throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("sift-golden-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(at: folder) }
    }

    /// The golden files whose output differs: the first one is reported with its diff, the rest by name.
    struct Mismatches {
        var names: [String] = []
        var first: String?

        mutating func add(_ name: String, arguments: [String], detail: String) {
            names.append(name)
            if first == nil {
                let command = (["sift"] + arguments).map { $0.contains(" ") ? "\"\($0)\"" : $0 }.joined(separator: " ")
                first = "\(name) differs from the golden: \(command)\n\(detail)"
            }
        }

        func report(sourceLocation: SourceLocation = #_sourceLocation) {
            guard let first else { return }
            var message = first
            if names.count > 1 { message += "\n\n\(names.count - 1) more differ: \(names.dropFirst().joined(separator: ", "))" }
            Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
        }
    }
}
