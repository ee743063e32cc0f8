import Foundation
import SiftTestSupport
import Testing

/// `sift train` on the real binary and the tiny two-page collection: both kinds train, write folders the other
/// commands take through --set, print before/after on a held-out fold, and refuse bad input with the usual codes.
@Suite(.serialized) struct TrainCommandTests {
    /// The tiny collection indexed, with EvalTuningTests' four labelled questions.
    func workspace() throws -> Workspace { try EvalTuningTests().workspace() }

    static let small = ["--batch-size", "2", "--passage-tokens", "48", "--query-tokens", "16", "--hard-negatives", "1", "--skip-top", "0"]

    @Test func rerankerTrainsEvaluatesAHeldOutFoldAndIsUsable() throws {
        let workspace = try workspace()
        let out = workspace.path("reranker")
        let run = try sift(["train", "reranker", "-p", workspace.path("tiny.yaml"), "--labels", workspace.path("labels.jsonl"),
                            "--out", out, "--fold", "1/2", "--epochs", "2"] + Self.small)
        #expect(run.code == 0, "\(run.stderr)")
        #expect(run.stdout.contains("Held-out: 2 questions from 1 documents"), "\(run.stdout)")
        #expect(run.stdout.contains("rerank "), "the held-out table has the trained re-ranker's stage:\n\(run.stdout)")
        #expect(run.stderr.contains("initialised classifier.weight"), "\(run.stderr)")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/config.json"))) as? [String: Any]
        #expect(config?["architectures"] as? [String] == ["BertForSequenceClassification"])
        #expect(config?["num_labels"] as? Int == 1)
        let ask = try sift(["ask", "-p", workspace.path("tiny.yaml"), "--set", "reranker.model=\(out)", "--set", "reranker.top_k=5", "--json",
                            "How many days off do employees have each year?"])
        #expect(ask.code == 0, "\(ask.stderr)")
        #expect(ask.stdout.contains("\"rerank_score\"") || ask.stdout.contains("rerankScore"), "answers carry re-rank scores: \(ask.stdout.prefix(400))")
    }

    @Test func embedderTrainsFromHeadingsAndNeedsAReindex() throws {
        let workspace = try workspace()
        let out = workspace.path("embedder")
        let run = try sift(["train", "embedder", "-p", workspace.path("tiny.yaml"), "--from-headings", "--out", out] + Self.small)
        #expect(run.code == 0, "\(run.stderr)")
        for file in ["model.safetensors", "modules.json", "1_Pooling/config.json", "vocab.txt"] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + file), "\(file)")
        }
        // The old index was embedded with the base model: asking with the new one is refused with the usual hint.
        let mismatched = try sift(["ask", "-p", workspace.path("tiny.yaml"), "--set", "embedder.model=\(out)", "vacation days"])
        #expect(mismatched.code != 0 && mismatched.stderr.contains("index"), "\(mismatched.stderr)")
        let index = try sift(["index", "-p", workspace.path("tiny.yaml"), "--set", "embedder.model=\(out)",
                              "--set", "index.path=\(workspace.path("adapted-index"))", "-q"])
        #expect(index.code == 0, "\(index.stderr)")
        let ask = try sift(["ask", "-p", workspace.path("tiny.yaml"), "--set", "embedder.model=\(out)",
                            "--set", "index.path=\(workspace.path("adapted-index"))", "vacation days"])
        #expect(ask.code == 0 && ask.stdout.contains("leave.html"), "\(ask.stdout)\(ask.stderr)")
    }

    /// Labels as a BEIR folder (queries.jsonl, qrels/train.tsv) whose corpus ids are the collection's targets.
    @Test func beirFolderLabelsTrain() throws {
        let workspace = try workspace()
        try FileManager.default.createDirectory(atPath: workspace.path("beir/qrels"), withIntermediateDirectories: true)
        try workspace.write("beir/queries.jsonl", """
            {"_id": "a", "text": "How many days off do employees have each year?"}
            {"_id": "b", "text": "How much can I spend on food when travelling?"}
            {"_id": "c", "text": "Which flights may I book?"}
            """)
        try workspace.write("beir/qrels/train.tsv", "query-id\tcorpus-id\tscore\na\tleave.html#vacation\t1\nb\texpenses.html#meals\t1\nc\texpenses.html\t1\n")
        let run = try sift(["train", "embedder", "-p", workspace.path("tiny.yaml"), "--labels", workspace.path("beir"),
                            "--out", workspace.path("beir-model")] + Self.small)
        #expect(run.code == 0, "\(run.stderr)")
        #expect(run.stderr.contains("3 examples"), "\(run.stderr)")
        try workspace.write("beir/qrels/train.tsv", "query-id\tcorpus-id\tscore\na\tleave.html\tone\n")
        let bad = try sift(["train", "embedder", "-p", workspace.path("tiny.yaml"), "--labels", workspace.path("beir"),
                            "--out", workspace.path("beir-model")])
        #expect(bad.code == 65 && bad.stderr.contains("train.tsv:2"), "\(bad.stderr)")
    }

    /// Ctrl-C: the run writes a checkpoint, says how to go on, and exits 130.
    @Test func interruptWritesACheckpointAndSaysHowToResume() throws {
        let workspace = try workspace()
        let process = Process()
        process.executableURL = TestPaths.siftBinary
        process.arguments = ["train", "embedder", "-p", workspace.path("tiny.yaml"), "--from-headings", "--epochs", "500",
                             "--out", workspace.path("interrupted")] + Self.small
        let errURL = URL(fileURLWithPath: workspace.path("stderr.txt"))
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let err = try FileHandle(forWritingTo: errURL)
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Wait for the first progress line (training has started), then interrupt.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, !((try? String(contentsOf: errURL, encoding: .utf8)) ?? "").contains("train epoch") {
            Thread.sleep(forTimeInterval: 0.1)
        }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        try err.close()
        let stderr = try String(contentsOf: errURL, encoding: .utf8)
        #expect(process.terminationStatus == 130, "\(stderr)")
        #expect(stderr.contains("--resume"), "\(stderr)")
        #expect(FileManager.default.fileExists(atPath: workspace.path("interrupted/checkpoint/state.json")))
    }

    @Test func badInputIsRefusedWithItsLocation() throws {
        let workspace = try workspace()
        let base = ["-p", workspace.path("tiny.yaml"), "--out", workspace.path("never")]
        let kind = try sift(["train", "classifier"] + base)
        #expect(kind.code == 64 && kind.stderr.contains("embedder or reranker"), "\(kind.stderr)")
        try workspace.write("bad.jsonl", "{\"question\": \"ok?\", \"relevant\": [\"leave.html\"]}\n{\"question\": \"no targets\"}\n")
        let bad = try sift(["train", "embedder", "--labels", workspace.path("bad.jsonl")] + base)
        #expect(bad.code == 65 && bad.stderr.contains("bad.jsonl:2"), "\(bad.stderr)")
        try workspace.write("empty.jsonl", "\n")
        let empty = try sift(["train", "embedder", "--labels", workspace.path("empty.jsonl")] + base)
        #expect(empty.code == 65 && empty.stderr.contains("empty.jsonl"), "\(empty.stderr)")
        let none = try sift(["train", "embedder"] + base)
        #expect(none.code == 65 && none.stderr.contains("--from-headings"), "\(none.stderr)")
        let fold = try sift(["train", "embedder", "--from-headings", "--fold", "3/2"] + base)
        #expect(fold.code == 64, "\(fold.stderr)")
        #expect(!FileManager.default.fileExists(atPath: workspace.path("never")), "nothing written on refusal")
    }
}
