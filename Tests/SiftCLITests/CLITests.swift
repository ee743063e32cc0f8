import Foundation
import Testing
import SiftTestSupport

/// What one run of the `sift` binary produced.
struct RunResult {
    var stdout: String
    var stderr: String
    var code: Int32
    var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }
}

/// Runs the built `sift` binary (Scripts/test builds the product before the tests) with `arguments`,
/// optional stdin text, in `directory`, with `environment` added to this process's (SIFT_PIPELINE removed).
func sift(_ arguments: [String], stdin: String? = nil, in directory: URL? = nil,
          environment extra: [String: String] = [:]) throws -> RunResult {
    let binary = TestPaths.siftBinary
    guard FileManager.default.isExecutableFile(atPath: binary.path) else {
        Issue.record("no sift binary at \(binary.path); build it first: swift build --product sift (same configuration as the tests)")
        return RunResult(stdout: "", stderr: "", code: -1)
    }
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    var environment = ProcessInfo.processInfo.environment
    environment.removeValue(forKey: "SIFT_PIPELINE")
    environment.merge(extra) { _, new in new }
    process.environment = environment
    // Output goes to temporary files: no pipe can fill up and block the child while we wait.
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sift-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let outURL = scratch.appendingPathComponent("stdout"), errURL = scratch.appendingPathComponent("stderr")
    FileManager.default.createFile(atPath: outURL.path, contents: nil)
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
    let input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    process.waitUntilExit()
    try out.close()
    try err.close()
    return RunResult(stdout: try String(contentsOf: outURL, encoding: .utf8), stderr: try String(contentsOf: errURL, encoding: .utf8),
                     code: process.terminationStatus)
}

/// A temporary folder with a two-page collection and a pipeline file pointing at the repository's model.
final class Workspace {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("sift-cli-\(UUID().uuidString)")
        let docs = folder.appendingPathComponent("docs")
        try FileManager.default.createDirectory(at: docs, withIntermediateDirectories: true)
        for (name, html) in TinyPages.pages { try write("docs/\(name)", html) }
        let model = TestPaths.miniLMModel?.path ?? TestPaths.repositoryRoot.appendingPathComponent("Models/all-MiniLM-L6-v2").path
        try write("tiny.yaml", TinyPages.pipelineYAML(model: model, answers: 2))
    }

    func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: folder.appendingPathComponent(name))
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: folder) }
}

@Suite(.serialized) struct CLITests {
    static let commands = ["index", "ask", "batch", "prompt", "eval", "inspect", "embed", "similarity", "search", "mine", "rerank", "cluster", "train", "serve"]

    @Test func helpListsEveryCommandWithExamples() throws {
        let top = try sift(["--help"])
        #expect(top.code == 0)
        for command in Self.commands { #expect(top.stdout.contains("  \(command) "), "\(command) missing from sift --help") }
        for command in Self.commands {
            let help = try sift([command, "--help"])
            #expect(help.code == 0, "\(command) --help")
            #expect(help.stdout.contains("Examples:"), "\(command) --help has no examples")
            #expect(help.stdout.contains("sift \(command)"), "\(command) --help examples do not use the command")
        }
    }

    @Test func usageErrorsAreOneLine() throws {
        let missing = try sift(["ask"])
        #expect(missing.code != 0)
        #expect(missing.stderrLines.count == 1)
        #expect(missing.stderr.hasPrefix("sift: error: "))
        #expect(missing.stdout.isEmpty)

        let noPipeline = try sift(["ask", "question"])
        #expect(noPipeline.code != 0)
        #expect(noPipeline.stderr == "sift: error: no pipeline given; pass -p FILE, e.g. -p Pipelines/handbook.yaml\n")

        let unknown = try sift(["frobnicate"])
        #expect(unknown.code != 0)
        #expect(unknown.stderrLines.count == 1)
        #expect(unknown.stderr.hasPrefix("sift: error: "))
    }

    @Test func badPipelineNamesKeyPathLineAndSuggestion() throws {
        let workspace = try Workspace()
        try workspace.write("bad.yaml", """
        source: { root: docs }
        embedder: { model: m }
        retriever:
          topk: 10
          fusion: rff
        """)
        let result = try sift(["ask", "-p", workspace.path("bad.yaml"), "question"])
        #expect(result.code == 65)
        #expect(result.stdout.isEmpty)
        #expect(result.stderrLines.first == "sift: error: invalid pipeline (2 problems):")
        #expect(result.stderr.contains("retriever.topk: unknown key; did you mean 'top_k'? (line 4)"))
        #expect(result.stderr.contains("retriever.fusion: unknown fusion 'rff'; expected one of rrf, weighted, none; did you mean 'rrf'? (line 5)"))

        let override = try sift(["index", "-p", workspace.path("tiny.yaml"), "--set", "answers.topk=3"])
        #expect(override.code == 65)
        #expect(override.stderr == "sift: error: invalid pipeline: answers.topk: unknown key; did you mean 'top_k'?\n")
    }

    @Test func missingModelSaysWhereItLookedAndHowToGetIt() throws {
        let workspace = try Workspace()
        let result = try sift(["index", "-p", workspace.path("tiny.yaml"), "--set", "embedder.model=nowhere/minilm"], in: workspace.folder)
        #expect(result.code == 66)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.contains("bi-encoder model not found at \(workspace.folder.path)/nowhere/minilm"))
        #expect(result.stderr.contains("Scripts/setup"))

        let rerank = try sift(["rerank", "--model", workspace.path("ce"), "query", "passage"])
        #expect(rerank.code == 66)
        #expect(rerank.stderr.contains("cross-encoder model not found at \(workspace.path("ce"))"))
        #expect(rerank.stderr.contains("cross-encoder/ms-marco-MiniLM-L-6-v2"))
    }

    @Test func indexAskBatchPromptEvalOnATinyCorpus() throws {
        try #require(TestPaths.miniLMModel != nil, "Models/all-MiniLM-L6-v2 is missing: run Scripts/setup")
        let workspace = try Workspace()
        let pipeline = workspace.path("tiny.yaml")

        let index = try sift(["index", "-p", pipeline])
        #expect(index.code == 0, "\(index.stderr)")
        #expect(index.stdout.contains("2 documents: 2 new, 0 changed, 0 unchanged, 0 deleted"))
        #expect(!index.stderr.contains("\r"), "no progress bar when stderr is not a terminal")
        let again = try sift(["index", "-p", pipeline, "--json", "--quiet"])
        #expect(again.code == 0)
        let report = try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any]
        #expect(report?["unchanged"] as? Int == 2)
        #expect(report?["chunks_embedded"] as? Int == 0)
        #expect(again.stderr.isEmpty)

        let ask = try sift(["ask", "-p", pipeline, "How many vacation days do I get?"])
        #expect(ask.code == 0, "\(ask.stderr)")
        #expect(ask.stdout.hasPrefix("1. leave.html#"))
        #expect(ask.stdout.contains("**Every employee gets 25 vacation days per year.**"))
        #expect(ask.stdout.contains("stages: dense, bm25, fusion:rrf, highlight; off: rerank (not configured)"))
        #expect(ask.stderr.isEmpty)

        let json = try sift(["ask", "-p", pipeline, "--json", "--top", "1", "--explain", "meal allowance"])
        #expect(json.code == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let answers = try #require(object["answers"] as? [[String: Any]])
        #expect(answers.count == 1)
        #expect(answers.first?["source"] as? String == "expenses.html#meals")
        let explain = try #require(object["explain"] as? [String: Any])
        #expect(Set(explain.keys) == ["dense", "bm25", "hybrid"])

        let noBM25 = try sift(["ask", "-p", pipeline, "--set", "retriever.bm25=false", "sick leave"])
        #expect(noBM25.stdout.contains("stages: dense, highlight"))
        let rerank = try sift(["ask", "-p", pipeline, "--rerank", "sick leave"])
        #expect(rerank.code == 66)
        #expect(rerank.stderr.hasPrefix("sift: error: the rerank stage is not configured"))

        try workspace.write("questions.jsonl", """
        {"id": "a", "question": "vacation days"}
        this is not json
        {"id": "b", "question": "receipts deadline"}
        {"id": "c"}
        """)
        let batch = try sift(["batch", "-p", pipeline, workspace.path("questions.jsonl"), "-o", workspace.path("answers.jsonl")])
        #expect(batch.code == 0, "\(batch.stderr)")
        #expect(batch.stderr.contains("questions.jsonl:2: not a JSON object; skipped"))
        #expect(batch.stderr.contains("questions.jsonl:4: missing \"question\" text; skipped"))
        #expect(batch.stderr.contains("answered 2 questions"))
        let lines = try String(contentsOfFile: workspace.path("answers.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
        #expect(first?["id"] as? String == "a")
        #expect(((first?["answers"] as? [[String: Any]])?.first?["document_id"]) as? String == "leave.html")

        let prompt = try sift(["prompt", "-p", pipeline], stdin: "vacation days\n:top 1\n:bogus\n:bm25 off\nmeal allowance\n:rerank on\n")
        #expect(prompt.code == 0, "\(prompt.stderr)")
        #expect(prompt.stdout.contains("1. leave.html#"))
        #expect(prompt.stdout.contains("top 1"))
        #expect(prompt.stdout.contains("bm25 off"))
        #expect(prompt.stdout.contains("1. expenses.html#meals"))
        let afterTop = prompt.stdout.components(separatedBy: "top 1").dropFirst().joined()
        #expect(afterTop.contains("1. expenses.html#meals") && !afterTop.contains("2. "), ":top 1 keeps one answer")
        #expect(prompt.stdout.contains("stages: dense, highlight"))
        #expect(prompt.stderr.contains("unknown command ':bogus'"))
        #expect(prompt.stderr.contains("no reranker is configured"))

        try workspace.write("labels.jsonl", """
        {"id": "q1", "question": "How many days off do employees have each year?", "relevant": ["leave.html#vacation"]}
        {"id": "q2", "question": "What is the daily limit for food on trips?", "relevant": ["expenses.html#meals"]}
        """)
        let eval = try sift(["eval", "-p", pipeline, "--labels", workspace.path("labels.jsonl"), "--json", "--quiet",
                             "--run-file", workspace.path("run.trec")])
        #expect(eval.code == 0, "\(eval.stderr)")
        let evaluation = try #require(try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any])
        #expect(evaluation["title"] as? String == "tiny (2 questions)")
        for stage in ["bm25", "dense", "hybrid"] {
            #expect(FileManager.default.fileExists(atPath: workspace.path("run.\(stage).trec")), "run file for \(stage)")
        }
        let table = try sift(["eval", "-p", pipeline, "--labels", workspace.path("labels.jsonl"), "--metrics", "ndcg@10,mrr@10"])
        #expect(table.stdout.contains("nDCG@10"))
        #expect(table.stdout.contains("hybrid"))
    }

    @Test func evalOnABEIRFolder() throws {
        let model = try #require(TestPaths.miniLMModel, "Models/all-MiniLM-L6-v2 is missing: run Scripts/setup")
        let workspace = try Workspace()
        try FileManager.default.createDirectory(at: workspace.folder.appendingPathComponent("beir/qrels"), withIntermediateDirectories: true)
        try workspace.write("beir/corpus.jsonl", """
        {"_id": "d1", "title": "Cats", "text": "Cats sleep for most of the day and hunt at night."}
        {"_id": "d2", "title": "Bread", "text": "Bread is baked from flour, water, salt and yeast."}
        {"_id": "d3", "title": "Trains", "text": "High-speed trains run on dedicated tracks at 300 km/h."}
        """)
        try workspace.write("beir/queries.jsonl", """
        {"_id": "q1", "text": "how is bread made"}
        {"_id": "q2", "text": "when are cats active"}
        """)
        try workspace.write("beir/qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td2\t1\nq2\td1\t1\n")
        let table = try sift(["eval", "--beir", workspace.path("beir"), "--model", model.path, "--metrics", "mrr@10,recall@1"])
        #expect(table.code == 0, "\(table.stderr)")
        #expect(table.stdout.hasPrefix("beir (test, 2 queries, 3 documents)"))
        #expect(table.stdout.contains("dense"))
        let json = try sift(["eval", "--beir", workspace.path("beir"), "--model", model.path, "--metrics", "mrr@10,recall@1", "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let stage = try #require((object["stages"] as? [[String: Any]])?.first)
        #expect(stage["name"] as? String == "dense")
        // Both queries find their document first: MRR@10 = Recall@1 = 1.
        let metrics = try #require(stage["metrics"] as? [String: Double])
        #expect(metrics["MRR@10"] == 1)
        #expect(metrics["Recall@1"] == 1)
    }

    @Test func similarityMineEmbedSearchInspect() throws {
        let model = try #require(TestPaths.miniLMModel, "Models/all-MiniLM-L6-v2 is missing: run Scripts/setup")
        let workspace = try Workspace()
        let similarity = try sift(["similarity", "--model", model.path, "--json",
                                   "A man is eating food.", "A man is eating a piece of bread.", "The sky is blue today."])
        #expect(similarity.code == 0, "\(similarity.stderr)")
        let matrix = try #require((try JSONSerialization.jsonObject(with: Data(similarity.stdout.utf8)) as? [String: Any])?["matrix"] as? [[Double]])
        #expect(matrix.count == 3)
        for i in 0..<3 { #expect(abs(matrix[i][i] - 1) < 1e-4) }           // cosine of a vector with itself, float32 noise
        #expect(abs(matrix[0][1] - matrix[1][0]) < 1e-6)
        #expect(matrix[0][1] > matrix[0][2] + 0.3)                          // the two food sentences are far closer

        try workspace.write("sentences.txt", """
        The cat sits outside.
        A man is playing guitar.
        The new movie is awesome.
        A cat is sitting outdoors.
        Someone plays the guitar.
        """)
        let mine = try sift(["mine", "--model", model.path, workspace.path("sentences.txt"), "--top", "2", "--json"])
        #expect(mine.code == 0, "\(mine.stderr)")
        let pairs = try #require(try JSONSerialization.jsonObject(with: Data(mine.stdout.utf8)) as? [[String: Any]])
        #expect(pairs.count == 2)
        let found = Set(pairs.map { [$0["i"] as? Int ?? 0, $0["j"] as? Int ?? 0] })
        #expect(found == [[1, 4], [2, 5]])

        let search = try sift(["search", "--model", model.path, "--file", workspace.path("sentences.txt"), "--top", "1", "a kitten outdoors"])
        #expect(search.code == 0)
        #expect(search.stdout.contains("The cat sits outside.") || search.stdout.contains("A cat is sitting outdoors."))

        let npy = try sift(["embed", "--model", model.path, "--file", workspace.path("sentences.txt"), "-o", workspace.path("v.npy")])
        #expect(npy.code == 0, "\(npy.stderr)")
        let bytes = try Data(contentsOf: workspace.folder.appendingPathComponent("v.npy"))
        #expect(String(decoding: bytes.prefix(128), as: UTF8.self).contains("'shape': (5, 384)"))
        let embed = try sift(["embed", "--model", model.path, "hello"])
        let line = try JSONSerialization.jsonObject(with: Data(embed.stdout.utf8)) as? [String: Any]
        #expect((line?["embedding"] as? [Double])?.count == 384)

        let inspect = try sift(["inspect", "-p", workspace.path("tiny.yaml"), workspace.path("docs/leave.html")])
        #expect(inspect.code == 0, "\(inspect.stderr)")
        #expect(inspect.stdout.hasPrefix("leave.html — \"Leave policy\""))
        #expect(inspect.stdout.contains("paragraph"))
        #expect(inspect.stdout.contains("#vacation"))
        #expect(inspect.stdout.contains("tokens"))
        let inspectJSON = try sift(["inspect", "--model", model.path, "--json", workspace.path("docs/leave.html")])
        let object = try JSONSerialization.jsonObject(with: Data(inspectJSON.stdout.utf8)) as? [String: Any]
        #expect((object?["documents"] as? [Any])?.count == 1)
    }
}
