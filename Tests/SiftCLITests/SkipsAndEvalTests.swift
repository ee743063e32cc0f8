import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SiftTestSupport
import Testing

/// Nothing skipped or measured silently: files the reader cannot use are listed with a reason, evaluations that would
/// measure nothing fail, and `--top` takes the range `answers.top_k` takes. Runs the real `sift` binary.
@Suite(.serialized) struct SkipsAndEvalTests {
    /// The tiny workspace, indexed.
    func indexedWorkspace() throws -> Workspace {
        try #require(TestPaths.miniLMModel != nil, "Models/all-MiniLM-L6-v2 is missing: run Scripts/setup")
        let workspace = try Workspace()
        let index = try sift(["index", "-p", workspace.path("tiny.yaml")])
        try #require(index.code == 0, "\(index.stderr)")
        return workspace
    }

    @Test func indexReadsNonUTF8NamesAndNamesFIFOsAndReadErrors() throws {
        let workspace = try indexedWorkspace()
        let pipeline = workspace.path("tiny.yaml")
        let docs = workspace.folder.appendingPathComponent("docs")
        // "café.html" in Latin-1: the byte 0xE9 alone is not UTF-8.
        let name = Array(docs.path.utf8) + Array("/caf".utf8) + [0xE9] + Array(".html".utf8) + [0]
        let page = Array("<html><head><title>Canteen</title></head><body><p>The canteen serves lunch from noon to two.</p></body></html>".utf8)
        let fd = name.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT | O_TRUNC, 0o644) } }
        try #require(fd >= 0)
        #expect(page.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == page.count)
        close(fd)
        #expect(mkfifo(docs.appendingPathComponent("pipe.html").path, 0o644) == 0)
        // Reading /proc/self/mem at offset 0 fails with EIO: a real read error without a failing disk.
        try FileManager.default.createSymbolicLink(atPath: docs.appendingPathComponent("flaky.html").path, withDestinationPath: "/proc/self/mem")

        let index = try sift(["index", "-p", pipeline])
        #expect(index.code == 0, "\(index.stderr)")
        #expect(index.stdout.contains("1 new, 0 changed, 2 unchanged"), "\(index.stdout)")
        #expect(index.stdout.contains("skipped 2 files:"))
        #expect(index.stdout.contains("  flaky.html: cannot read: Input/output error"))
        #expect(index.stdout.contains("  pipe.html: cannot read: not a regular file (a FIFO)"))
        #expect(!index.stdout.contains("permission"))

        let ask = try sift(["ask", "-p", pipeline, "--json", "--top", "1", "When does the canteen serve lunch?"])
        #expect(ask.code == 0, "\(ask.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(ask.stdout.utf8)) as? [String: Any])
        let answer = try #require((object["answers"] as? [[String: Any]])?.first)
        #expect(answer["document_id"] as? String == #"caf\xe9.html"#)

        let again = try sift(["index", "-p", pipeline, "--json", "--quiet"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])
        #expect(report["unchanged"] as? Int == 3, "the escaped id is the same on every run")
        #expect(report["new"] as? Int == 0)
    }

    /// A two-document BEIR folder in the workspace with the given qrels lines (after the header).
    func beirFolder(_ workspace: Workspace, qrels: String) throws -> String {
        try FileManager.default.createDirectory(at: workspace.folder.appendingPathComponent("beir/qrels"), withIntermediateDirectories: true)
        try workspace.write("beir/corpus.jsonl", """
        {"_id": "d1", "title": "Tides", "text": "The moon's pull raises two tides a day on most coasts."}
        {"_id": "d2", "title": "Glue", "text": "Wood glue sets in an hour and cures fully overnight."}
        """)
        try workspace.write("beir/queries.jsonl", """
        {"_id": "q1", "text": "how long does wood glue take to dry"}
        {"_id": "q2", "text": "what causes tides"}
        """)
        try workspace.write("beir/qrels/test.tsv", "query-id\tcorpus-id\tscore\n" + qrels)
        return workspace.path("beir")
    }

    @Test func beirEvalWarnsAboutUnknownIDsAndFailsWhenNothingIsLeft() throws {
        let workspace = try Workspace()
        let folder = try beirFolder(workspace, qrels: "q1\tdoc12\t1\nq2\tdoc99\t1\nq7\td1\t1\n")
        let nothing = try sift(["eval", "--beir", folder])
        #expect(nothing.code == 65)
        #expect(nothing.stdout.isEmpty, "no table of zeros")
        #expect(nothing.stderr.hasPrefix("sift: error: "))
        #expect(nothing.stderr.contains("\(folder): nothing to evaluate"))
        #expect(nothing.stderr.contains("qrels name 2 unknown corpus ids (e.g. doc12, doc99)"))
        #expect(nothing.stderr.contains("qrels name 1 unknown query id (e.g. q7)"))

        let file = workspace.path("beir/corpus.jsonl")
        let notFolder = try sift(["eval", "--beir", file])
        #expect(notFolder.code == 65)
        #expect(notFolder.stderrLines.count == 1)
        #expect(notFolder.stderr.contains("\(file): is a file, not a folder; a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/test.tsv"))
        #expect(!notFolder.stderr.contains("NSCocoaErrorDomain"))

        let model = try #require(TestPaths.miniLMModel, "Models/all-MiniLM-L6-v2 is missing: run Scripts/setup")
        _ = try beirFolder(workspace, qrels: "q1\td2\t1\nq2\tdoc99\t1\n")
        let partial = try sift(["eval", "--beir", folder, "--model", model.path, "--metrics", "mrr@10"])
        #expect(partial.code == 0, "\(partial.stderr)")
        #expect(partial.stdout.hasPrefix("beir (test, 1 queries, 2 documents)"))
        #expect(partial.stderr.contains("sift: warning: \(folder)/qrels/test.tsv: qrels name 1 unknown corpus id (e.g. doc99), not in corpus.jsonl; 1 line skipped"))
        #expect(partial.stderr.contains("sift: warning: \(folder)/qrels/test.tsv: 1 query (e.g. q2) judged only against unknown corpus ids, so not evaluated"))
    }

    @Test func labelEvalWarnsAboutDocumentsOutsideTheIndexAndFailsWhenNothingIsLeft() throws {
        let workspace = try indexedWorkspace()
        let pipeline = workspace.path("tiny.yaml")
        try workspace.write("labels.jsonl", """
        {"id": "q1", "question": "How many days off do employees have each year?", "relevant": ["leave.html#vacation"]}
        {"id": "q2", "question": "Where is the gym?", "relevant": ["gym.html"]}
        """)
        let partial = try sift(["eval", "-p", pipeline, "--labels", workspace.path("labels.jsonl"), "--json", "--quiet"])
        #expect(partial.code == 0, "\(partial.stderr)")
        let evaluation = try #require(try JSONSerialization.jsonObject(with: Data(partial.stdout.utf8)) as? [String: Any])
        #expect(evaluation["title"] as? String == "tiny (1 questions)")
        #expect(partial.stderr.contains("sift: warning: \(workspace.path("labels.jsonl")): labels name 1 document (e.g. gym.html) that the index does not hold"))
        #expect(partial.stderr.contains("1 question (e.g. q2) left without a relevant target in the index"))

        try workspace.write("labels.jsonl", """
        {"id": "q2", "question": "Where is the gym?", "relevant": ["gym.html"]}
        """)
        let nothing = try sift(["eval", "-p", pipeline, "--labels", workspace.path("labels.jsonl")])
        #expect(nothing.code == 65)
        #expect(nothing.stdout.isEmpty)
        #expect(nothing.stderr.contains("nothing to evaluate: no question has a relevant target in the index"))
    }

    @Test func batchWarnsAboutDuplicateIDsAndAnswersEveryQuestion() throws {
        let workspace = try indexedWorkspace()
        try workspace.write("questions.jsonl", """
        {"id": "a", "question": "vacation days"}
        {"id": "a", "question": "receipts deadline"}
        {"id": "b", "question": "meal allowance"}
        {"id": "b", "question": "sick leave"}
        {"id": "b", "question": "economy class"}
        {"id": "c", "question": "doctor's note"}
        """)
        let batch = try sift(["batch", "-p", workspace.path("tiny.yaml"), workspace.path("questions.jsonl"), "-o", workspace.path("answers.jsonl")])
        #expect(batch.code == 0, "\(batch.stderr)")
        #expect(batch.stderr.contains("sift: warning: \(workspace.path("questions.jsonl")): 2 ids used more than once (e.g. a, b), on 5 questions"))
        let lines = try String(contentsOfFile: workspace.path("answers.jsonl"), encoding: .utf8).split(separator: "\n")
        let ids = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])["id"] as? String }
        #expect(ids == ["a", "a", "b", "b", "b", "c"])
    }

    @Test func topTakesTheRangeOfAnswersTopK() throws {
        let workspace = try indexedWorkspace()
        let pipeline = workspace.path("tiny.yaml")
        // tiny.yaml: retriever.top_k 10, no re-ranker, so answers.top_k may be 1...10.
        let rejected = try sift(["ask", "-p", pipeline, "--set", "answers.top_k=11", "sick leave"])
        #expect(rejected.code == 65)
        #expect(rejected.stderr.contains("answers.top_k: 11 exceeds retriever.top_k (10)"))

        let tooMany = try sift(["ask", "-p", pipeline, "--top", "100000", "sick leave"])
        #expect(tooMany.code == 64)
        #expect(tooMany.stdout.isEmpty)
        #expect(tooMany.stderr == "sift: error: --top 100000 is out of range: like answers.top_k it must be between 1 and 10 "
            + "(answers come from the retriever.top_k = 10 candidates; raise retriever.top_k with --set for more)\n")
        #expect(try sift(["ask", "-p", pipeline, "--top", "0", "sick leave"]).stderr.contains("--top 0 is out of range"))
        let raised = try sift(["ask", "-p", pipeline, "--top", "11", "--set", "retriever.top_k=11", "--json", "sick leave"])
        #expect(raised.code == 0, "\(raised.stderr)")
        let most = try sift(["ask", "-p", pipeline, "--top", "10", "--json", "sick leave"])
        #expect(most.code == 0, "\(most.stderr)")

        try workspace.write("questions.txt", "sick leave\n")
        let batch = try sift(["batch", "-p", pipeline, "--top", "11", workspace.path("questions.txt")])
        #expect(batch.code == 64)
        #expect(batch.stderr.contains("--top 11 is out of range"))

        let prompt = try sift(["prompt", "-p", pipeline], stdin: ":top 100000\n:top 10\nsick leave\n")
        #expect(prompt.code == 0, "\(prompt.stderr)")
        #expect(prompt.stderr.contains(":top 100000 is out of range: like answers.top_k it must be between 1 and 10"))
        #expect(prompt.stdout.contains("top 10"))
    }
}
