import Foundation
import Testing
import SiftTestSupport

/// `sift cluster` end to end: an index's chunks and documents, the lines of a file, every output format, and bad input.
@Suite(.serialized) struct ClusterCommandTests {
    struct Report: Decodable {
        struct Keyword: Decodable { var term: String; var weight: Double }
        struct Example: Decodable { var item: Int; var id: String; var source: String?; var similarity: Float }
        struct Cluster: Decodable { var id: Int; var size: Int; var keywords: [Keyword]; var examples: [Example]; var members: [Int] }
        struct Item: Decodable { var id: String; var source: String? }
        struct Point: Decodable { var x: Double; var y: Double }
        var method: String
        var level: String
        var items: [Item]
        var labels: [Int]
        var clusters: [Cluster]
        var unclustered: Int
        var inertia: Double?
        var map: [Point]
    }

    static func decode(_ result: RunResult) throws -> Report {
        try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
    }

    @Test func clustersAnIndexWithKeywordsExamplesAndAMap() throws {
        let workspace = try Workspace()
        let index = try sift(["index", "-p", workspace.path("tiny.yaml"), "--quiet"])
        #expect(index.code == 0, "\(index.stderr)")
        let chunks = try sift(["cluster", "-p", workspace.path("tiny.yaml"), "--k", "2", "--json", "--html", workspace.path("out/topics.html")])
        // The output folder does not exist: a clear error, nothing half written.
        #expect(chunks.code != 0 && chunks.stderr.contains("cannot write"), "\(chunks.stderr)")
        try FileManager.default.createDirectory(atPath: workspace.path("out"), withIntermediateDirectories: true)
        let result = try sift(["cluster", "-p", workspace.path("tiny.yaml"), "--k", "2", "--json", "--html", workspace.path("out/topics.html")])
        #expect(result.code == 0, "\(result.stderr)")
        let report = try Self.decode(result)
        #expect(report.method == "kmeans" && report.level == "chunk" && report.inertia != nil)
        #expect(report.clusters.count == 2 && report.unclustered == 0)
        #expect(report.clusters.map(\.size).reduce(0, +) == report.items.count && report.map.count == report.items.count)
        #expect(report.clusters.allSatisfy { !$0.keywords.isEmpty && !$0.examples.isEmpty && $0.members.count == $0.size })
        #expect(report.items.allSatisfy { $0.source?.contains(".html") == true })
        for cluster in report.clusters { #expect(cluster.members.allSatisfy { report.labels[$0] == cluster.id }) }
        // Same seed, same answer.
        let again = try Self.decode(try sift(["cluster", "-p", workspace.path("tiny.yaml"), "--k", "2", "--json"]))
        #expect(again.labels == report.labels)

        let page = try String(contentsOfFile: workspace.path("out/topics.html"), encoding: .utf8)
        #expect(page.hasPrefix("<!DOCTYPE html>") && page.contains("<svg") && page.contains("<circle"))
        // Links resolve from the page's folder to the collection's source folder.
        #expect(page.contains("href=\"../docs/leave.html") && page.contains("href=\"../docs/expenses.html"))
        #expect(!page.contains("<script"))

        let documents = try sift(["cluster", "-p", workspace.path("tiny.yaml"), "--level", "document", "--k", "2", "--json"])
        let byDocument = try Self.decode(documents)
        #expect(byDocument.items.map(\.id).sorted() == ["expenses.html", "leave.html"])
        #expect(Set(byDocument.labels) == [0, 1])

        let table = try sift(["cluster", "-p", workspace.path("tiny.yaml"), "--method", "agglomerative", "--k", "2"])
        #expect(table.code == 0 && table.stdout.contains("topics (agglomerative") && table.stdout.contains("keywords"))
    }

    /// The bi-encoder separates two unrelated themes: k-means with k = 2 and community detection both recover them.
    @Test func clustersTheLinesOfAFileByMeaning() throws {
        let workspace = try Workspace()
        let cooking = ["Simmer the tomato sauce for twenty minutes.", "Knead the bread dough until it is smooth.",
                       "Season the soup with salt and pepper.", "Bake the cake at 180 degrees for forty minutes."]
        let code = ["The function returns a list of strings.", "Compile the program with optimisations enabled.",
                    "A null pointer dereference crashes the process.", "Unit tests run on every commit."]
        try workspace.write("lines.txt", (cooking + code).joined(separator: "\n"))
        let kmeans = try Self.decode(try sift(["cluster", "--file", workspace.path("lines.txt"), "--k", "2", "--json"]))
        #expect(kmeans.level == "line" && kmeans.items.first?.id == "line 1")
        #expect(Set(kmeans.labels[0..<4]).count == 1 && Set(kmeans.labels[4..<8]).count == 1 && kmeans.labels[0] != kmeans.labels[4],
                "labels \(kmeans.labels)")
        let community = try Self.decode(try sift(["cluster", "--file", workspace.path("lines.txt"), "--method", "community",
                                                  "--threshold", "0.2", "--min-size", "3", "--json"]))
        #expect(community.method == "community")
        // The four cooking lines are each within cosine 0.2 of the first; no code line has two others that close.
        #expect(community.clusters.map(\.members) == [[0, 2, 3, 1]] || community.clusters.map { Set($0.members) } == [[0, 1, 2, 3]])
        #expect(community.unclustered == 4)
        for cluster in community.clusters {
            #expect(cluster.members.allSatisfy { $0 < 4 } || cluster.members.allSatisfy { $0 >= 4 }, "mixed community \(cluster.members)")
        }
        let none = try sift(["cluster", "--file", workspace.path("lines.txt"), "--method", "community", "--threshold", "0.99", "--min-size", "3"])
        #expect(none.code == 0 && none.stdout.contains("no topic found"))
    }

    @Test func badInputGetsOneClearLine() throws {
        let workspace = try Workspace()
        let unbuilt = try sift(["cluster", "-p", workspace.path("tiny.yaml")])
        #expect(unbuilt.code == 66 && unbuilt.stderr.contains("sift index"), "\(unbuilt.stderr)")
        #expect(try sift(["index", "-p", workspace.path("tiny.yaml"), "--quiet"]).code == 0)

        let tooMany = try sift(["cluster", "-p", workspace.path("tiny.yaml"), "--level", "document", "--k", "5"])
        #expect(tooMany.code == 65)
        #expect(tooMany.stderr == "sift: error: cluster: k-means asked for 5 clusters, but there are only 2 items\n")
        let threshold = try sift(["cluster", "-p", workspace.path("tiny.yaml"), "--method", "community", "--threshold", "1.5"])
        #expect(threshold.code == 65)
        #expect(threshold.stderr == "sift: error: cluster: threshold = 1.5 is out of range: expected a cosine similarity in [-1, 1]\n")
        let mixed = try sift(["cluster", "-p", workspace.path("tiny.yaml"), "--method", "community", "--k", "3"])
        #expect(mixed.code == 64 && mixed.stderrLines.count == 1)
        try workspace.write("empty.txt", "\n  \n")
        let empty = try sift(["cluster", "--file", workspace.path("empty.txt")])
        #expect(empty.code != 0 && empty.stderr.contains("holds no lines to cluster"))
        try workspace.write("same.txt", Array(repeating: "the same sentence", count: 5).joined(separator: "\n"))
        let same = try sift(["cluster", "--file", workspace.path("same.txt"), "--k", "2"])
        #expect(same.code == 65 && same.stderr.contains("only 1 distinct vectors"), "\(same.stderr)")
    }
}

/// The topic page in a real browser: headless Chromium (Debian's `chromium`, installed by `Scripts/setup --browser`)
/// loads the page `sift cluster --html` wrote, and its DOM and a screenshot are checked.
@Suite(.serialized) struct ClusterPageBrowserTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromium!)
        process.arguments = arguments
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sift-chromium-\(UUID().uuidString).out")
        FileManager.default.createFile(atPath: scratch.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let out = try FileHandle(forWritingTo: scratch)
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try out.close()
        return try String(contentsOf: scratch, encoding: .utf8)
    }

    @Test(.enabled(if: chromium != nil, "needs Debian's chromium (Scripts/setup --browser)"))
    func pageRendersInHeadlessChromium() throws {
        let workspace = try Workspace()
        #expect(try sift(["index", "-p", workspace.path("tiny.yaml"), "--quiet"]).code == 0)
        let json = try sift(["cluster", "-p", workspace.path("tiny.yaml"), "--k", "2", "--json", "--html", workspace.path("topics.html")])
        #expect(json.code == 0, "\(json.stderr)")
        let report = try ClusterCommandTests.decode(json)
        let profile = workspace.path("chromium-profile")
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile)", "--window-size=1100,1400"]
        let dom = try Self.run(common + ["--dump-dom", "file://\(workspace.path("topics.html"))"])
        // One circle per item, one label and one table row per topic, every point a link to its source.
        #expect(dom.components(separatedBy: "<circle").count - 1 == report.items.count)
        #expect(dom.components(separatedBy: "class=\"label\"").count - 1 == report.clusters.count)
        #expect(dom.components(separatedBy: "class=\"swatch\"").count - 1 == report.clusters.count)
        #expect(dom.contains("href=\"docs/leave.html"))
        for keyword in report.clusters.compactMap({ $0.keywords.first?.term }) { #expect(dom.contains(keyword)) }
        _ = try Self.run(common + ["--screenshot=\(workspace.path("topics.png"))", "file://\(workspace.path("topics.html"))"])
        let png = try Data(contentsOf: URL(fileURLWithPath: workspace.path("topics.png")))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 10_000, "screenshot of \(png.count) bytes")
    }
}
