import Foundation
import Testing
@testable import SiftEval

@Suite struct ReportTests {
    let qrels = Qrels(["q1": ["a": 1], "q2": ["b": 2, "c": 1]])

    func comparison() -> StageComparison {
        StageComparison(title: "unit", qrels: qrels, stages: [
            StageRun(name: "bm25", rankings: ["q1": [ScoredID("x", 3), ScoredID("a", 2)], "q2": [ScoredID("b", 1)]],
                     latenciesMilliseconds: [1, 2, 3, 4]),
            StageRun(name: "rerank", rankings: ["q1": [ScoredID("a", 9)], "q2": [ScoredID("b", 5), ScoredID("c", 4)]]),
        ], metrics: [.mrr(10), .ndcg(10)])
    }

    @Test func tableHasAlignedColumnsAndTheMeans() {
        let table = comparison().table()
        let lines = table.split(separator: "\n")
        #expect(lines.count == 4)
        #expect(Set(lines.map(\.count)).count == 1) // every row padded to the same width
        #expect(lines[0].hasPrefix("stage") && lines[0].contains("MRR@10") && lines[0].contains("p95 ms"))
        #expect(lines[2].hasPrefix("bm25") && lines[2].contains("0.7500") && lines[2].contains("2.5")) // (1/2 + 1) / 2; p50 of 1…4
        #expect(lines[3].hasPrefix("rerank") && lines[3].contains("1.0000") && lines[3].hasSuffix("-"))
    }

    @Test func jsonCarriesMeansLatencyAndConventions() throws {
        let data = try comparison().json(includePerQuery: true)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["convention"] as? String == "trec_eval")
        let stages = try #require(object["stages"] as? [[String: Any]])
        #expect(stages.map { $0["name"] as? String } == ["bm25", "rerank"])
        let metrics = try #require(stages[0]["metrics"] as? [String: Double])
        #expect(metrics["MRR@10"] == 0.75)
        let latency = try #require(stages[0]["latencyMilliseconds"] as? [String: Double])
        #expect(latency["p50"] == 2.5)
        #expect((stages[1]["latencyMilliseconds"] as? [String: Double])?.isEmpty == true)
        let perQuery = try #require(stages[0]["perQuery"] as? [String: [String: Double]])
        #expect(perQuery["q1"]?["MRR@10"] == 0.5)
    }

    @Test func markdownAndSVG() {
        let report = comparison()
        let markdown = report.markdown(chartFileName: "chart.svg")
        #expect(markdown.contains("| bm25 | 0.7500 |"))
        #expect(markdown.contains("![metrics per stage](chart.svg)"))
        let svg = report.svgChart()
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
        // 2 metrics × 2 stages bars + 2 legend swatches + background.
        #expect(svg.components(separatedBy: "<rect").count - 1 == 7)
    }

    @Test func runFilesRoundTripInTrecOrder() throws {
        let rankings: Rankings = ["q2": [ScoredID("b", 1), ScoredID("c", 1), ScoredID("a", 2)], "q1": [ScoredID("x", 0.25)]]
        let text = try TRECRunFile.format(rankings, tag: "dense", depth: 2)
        #expect(text == "q1 Q0 x 1 0.25 dense\nq2 Q0 a 1 2.0 dense\nq2 Q0 c 2 1.0 dense\n")
        let url = try temporaryFolder([:]).appendingPathComponent("run.trec")
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        try TRECRunFile.write(rankings, tag: "dense", to: url)
        let read = try TRECRunFile.read(url)
        #expect(read.mapValues { Set($0) } == rankings.mapValues { Set($0) })
        #expect(throws: EvalError.self) { try TRECRunFile.format(["q": [ScoredID("has space", 1)]], tag: "t") }
        try Data("q1 Q0 x 1 notanumber t\n".utf8).write(to: url)
        #expect(throws: EvalError.malformedRunFile(path: url.path, line: 1, reason: "score \"notanumber\" is not a number")) {
            try TRECRunFile.read(url)
        }
    }

    @Test func writesAllReportFiles() throws {
        let folder = try temporaryFolder([:]).appendingPathComponent("report")
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        let written = try comparison().write(to: folder)
        #expect(written.map(\.lastPathComponent) == ["report.json", "report.md", "metrics.svg", "bm25.trec", "rerank.trec"])
        for url in written { #expect(FileManager.default.fileExists(atPath: url.path)) }
    }
}
