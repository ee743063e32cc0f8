import Foundation
import SiftTestSupport
import Testing

/// `sift eval --level page` and `--tune` on the real binary and the tiny collection.
@Suite(.serialized) struct EvalTuningTests {
    static let labels = """
        {"id": "q1", "question": "How many days off do employees have each year?", "relevant": ["leave.html#vacation"]}
        {"id": "q2", "question": "What do I need if I am ill for a week?", "relevant": ["leave.html#sick"]}
        {"id": "q3", "question": "How much can I spend on food when travelling?", "relevant": ["expenses.html#meals"]}
        {"id": "q4", "question": "Which flights may I book?", "relevant": ["expenses.html#expenses"]}
        """

    func workspace() throws -> Workspace {
        try #require(TestPaths.miniLMModel != nil, "Models/all-MiniLM-L6-v2 is missing: run Scripts/setup")
        let workspace = try Workspace()
        try #require(try sift(["index", "-p", workspace.path("tiny.yaml"), "-q"]).code == 0)
        try workspace.write("labels.jsonl", Self.labels)
        return workspace
    }

    @Test func pageLevelJudgesAnyPassageOfARelevantPage() throws {
        let workspace = try workspace()
        let base = ["eval", "-p", workspace.path("tiny.yaml"), "--labels", workspace.path("labels.jsonl"), "--json", "-q",
                    "--metrics", "hits@1,mrr@10"]
        func hits(_ run: RunResult, _ stage: String) -> Double? {
            let object = try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
            let stages = object?["stages"] as? [[String: Any]]
            return (stages?.first { $0["name"] as? String == stage }?["metrics"] as? [String: Double])?["Hits@1"]
        }
        let sections = try sift(base), pages = try sift(base + ["--level", "page"])
        #expect(sections.code == 0 && pages.code == 0, "\(sections.stderr)\(pages.stderr)")
        // Two pages only: judged by page, each stage puts a relevant page first at least as often as by section.
        for stage in ["bm25", "dense", "hybrid"] {
            let s = try #require(hits(sections, stage)), p = try #require(hits(pages, stage))
            #expect(p >= s, "\(stage): page \(p) < section \(s)")
        }
        #expect((try JSONSerialization.jsonObject(with: Data(pages.stdout.utf8)) as? [String: Any])?["title"] as? String
                == "tiny (4 questions, judged by page)")
        let bad = try sift(base + ["--level", "chapter"])
        #expect(bad.code == 64 && bad.stderr.contains("--level chapter: expected labels or page"))
    }

    @Test func tuneRanksFusionSettingsOnDevAndReportsTest() throws {
        let workspace = try workspace()
        try workspace.write("test.jsonl", Self.labels.replacingOccurrences(of: "\"id\": \"q", with: "\"id\": \"t"))
        let run = try sift(["eval", "-p", workspace.path("tiny.yaml"), "--tune", "--labels", workspace.path("labels.jsonl"),
                            "--test-labels", workspace.path("test.jsonl"), "--metrics", "mrr@10", "-q"])
        #expect(run.code == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "chosen by MRR@10 on the dev labels (4 questions); test labels (4 questions) not used to choose")
        let rows = lines.filter { $0.hasPrefix("fusion: ") }
        #expect(rows.count >= 5 && rows.count <= 6)
        #expect(rows.contains { $0.contains("(configured)") })
        // Rows are best first by the dev metric. Each row ends with 4 dev and 4 test numbers: nDCG, MRR, Hits@1, Hits@5.
        let devMRR = rows.map { row in Double(row.split(separator: " ").suffix(8).dropFirst().first ?? "") ?? -1 }
        let ranked = rows.filter { !$0.contains("(configured)") }.count
        #expect(Array(devMRR.prefix(ranked)) == devMRR.prefix(ranked).sorted(by: >), "\(rows)")
        #expect(lines.last?.hasPrefix("best on dev: retriever: { fusion: ") == true)
        let missing = try sift(["eval", "-p", workspace.path("tiny.yaml"), "--tune", "--labels", workspace.path("labels.jsonl")])
        #expect(missing.code == 64 && missing.stderr.contains("--tune needs -p PIPELINE, --labels DEV_FILE and --test-labels TEST_FILE"))
    }

    @Test func tuneSweepsChunkSizesEachInItsOwnIndex() throws {
        let workspace = try workspace()
        try workspace.write("test.jsonl", Self.labels.replacingOccurrences(of: "\"id\": \"q", with: "\"id\": \"t"))
        let sweep = workspace.path("sweep")
        let args = ["eval", "-p", workspace.path("tiny.yaml"), "--tune", "--labels", workspace.path("labels.jsonl"),
                    "--test-labels", workspace.path("test.jsonl"), "--metrics", "mrr@10", "-q",
                    "--chunk-sizes", "48,128", "--overlaps", "0,40", "--tune-dir", sweep]
        let run = try sift(args)
        #expect(run.code == 0, "\(run.stderr)")
        // 128/0 is the configured index; 48/0 and 128/40 are built under --tune-dir; 48/40 leaves no room for text.
        let fm = FileManager.default
        #expect(fm.fileExists(atPath: sweep + "/chunks-48-0/sift-index.json"))
        #expect(fm.fileExists(atPath: sweep + "/chunks-128-40/sift-index.json"))
        #expect(!fm.fileExists(atPath: sweep + "/chunks-48-40"))
        #expect(!fm.fileExists(atPath: sweep + "/chunks-128-0"), "the configured chunking uses the pipeline's own index")
        #expect(run.stderr.contains("chunking sweep: left out max_tokens 48, overlap_tokens 40"), "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        let rows = lines.filter { $0.contains(" tokens, fusion: ") }
        // The best row of every chunking is shown, whatever the overall ranking.
        for chunking in ["48/0 tokens", "128/0 tokens", "128/40 tokens"] {
            #expect(rows.contains { $0.hasPrefix(chunking) }, "\(chunking) missing in \(rows)")
        }
        #expect(rows.contains { $0.hasPrefix("128/0 tokens") && $0.contains("(configured)") })
        #expect(lines.last?.hasPrefix("best on dev: chunker: { max_tokens: ") == true, "\(lines)")
        // A second sweep finds the indexes up to date and gives the same table.
        let again = try sift(args)
        #expect(again.code == 0 && again.stdout == run.stdout, "\(again.stderr)")
        // Other settings (here the heading prefix) make the kept sweep indexes stale: they are rebuilt, not refused.
        // (The pipeline's own index is the user's: it is rebuilt by hand first, as `sift` tells them to.)
        let setting = ["--set", "chunker.heading_prefix=false"]
        #expect(try sift(["index", "-p", workspace.path("tiny.yaml"), "-q", "--rebuild"] + setting).code == 0)
        let changed = try sift(args + setting)
        #expect(changed.code == 0, "\(changed.stderr)")
        #expect(changed.stdout.contains("128/40 tokens"))

        let bad = try sift(["eval", "-p", workspace.path("tiny.yaml"), "--tune", "--labels", workspace.path("labels.jsonl"),
                            "--test-labels", workspace.path("test.jsonl"), "--chunk-sizes", "64,lots"])
        #expect(bad.code == 64 && bad.stderr.contains("--chunk-sizes 64,lots: expected comma-separated integers"), "\(bad.stderr)")
        let noTune = try sift(["eval", "-p", workspace.path("tiny.yaml"), "--labels", workspace.path("labels.jsonl"), "--chunk-sizes", "64"])
        #expect(noTune.code == 64 && noTune.stderr.contains("go with --tune"), "\(noTune.stderr)")
    }
}
