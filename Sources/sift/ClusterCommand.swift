import ArgumentParser
import Foundation
import SiftCluster
import SiftPipeline

struct ClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Group a collection (or the lines of a file) into topics, with keywords, examples and a map.",
        discussion: """
        Clusters the chunks or documents of a pipeline's index (their stored vectors: no model run), or the lines \
        of a text file (embedded on the fly). Each topic gets its size, its top keywords by class-based TF-IDF \
        (stop words removed) and its most central members. --html writes a self-contained page with a 2-D PCA \
        map, each point linking to its source page.

        Methods:
          kmeans         k-means++ seeding, --restarts runs, Lloyd's iterations
                         on the GEMM kernels; --k defaults to sqrt(items/2),
                         between 2 and 50
          agglomerative  average linkage on cosine distance (--linkage,
                         --metric), cut where the linkage distance reaches
                         --threshold (default 0.7) or at --k clusters; at most
                         25,000 items
          community      sentence-transformers' community_detection: groups of
                         at least --min-size items within cosine --threshold
                         (default 0.75) of a centre; others are in no topic

        Runs are deterministic for a given --seed (and thread count). When documents sit in folders, the \
        adjusted Rand index against the top-level folders is printed too.

        Examples:
          sift cluster -p Pipelines/handbook.yaml --level document --k 6
          sift cluster -p Pipelines/python-docs.yaml --level document \\
            --k 20 --html topics.html
          sift cluster --file questions.txt --method community \\
            --threshold 0.7 --min-size 3 --json
        """)

    enum Method: String, ExpressibleByArgument, CaseIterable { case kmeans, agglomerative, community }

    @OptionGroup var pipeline: PipelineOptions
    @OptionGroup var modelOptions: ModelOptions
    @Option(name: [.short, .customLong("file")], help: ArgumentHelp("Cluster the lines of this file instead of an index (- for stdin).", valueName: "file"))
    var file: String?
    @Option(help: "What to cluster from an index: chunk, or document (the mean of its chunk vectors).")
    var level: ClusterLevel = .chunk
    @Option(help: "kmeans, agglomerative or community.")
    var method: Method = .kmeans
    @Option(help: "Number of clusters (kmeans; agglomerative instead of --threshold).")
    var k: Int?
    @Option(help: "community: minimum cosine similarity to the centre, in [-1, 1]. agglomerative: the linkage distance at which merging stops.")
    var threshold: Double?
    @Option(name: .customLong("min-size"), help: "community: smallest community kept.")
    var minSize = 10
    @Option(help: "agglomerative: average, complete, single or ward.")
    var linkage: Agglomerative.Linkage = .average
    @Option(help: "agglomerative: cosine or euclidean (ward is always euclidean).")
    var metric: Agglomerative.Metric = .cosine
    @Option(help: "kmeans: independent k-means++ starts; the lowest inertia wins.")
    var restarts = 3
    @Option(help: "Random seed.")
    var seed: UInt64 = 0
    @Option(help: "Keywords per topic.")
    var keywords = 8
    @Option(help: "Most central members shown per topic.")
    var examples = 3
    @Option(help: ArgumentHelp("Also write the topic map as a self-contained HTML page.", valueName: "file.html"))
    var html: String?
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if file != nil && pipeline.pipeline != nil { throw ValidationError("give -p PIPELINE or --file FILE, not both") }
        if let k, k < 1 { throw ValidationError("--k must be at least 1") }
        if method == .community, k != nil { throw ValidationError("--k is for kmeans and agglomerative; community detection finds its own number of groups") }
        if method == .kmeans, threshold != nil { throw ValidationError("--threshold is for agglomerative and community") }
        if method == .agglomerative, k != nil, threshold != nil { throw ValidationError("give --k or --threshold for agglomerative, not both") }
        if restarts < 1 { throw ValidationError("--restarts must be at least 1") }
        if keywords < 0 || examples < 0 { throw ValidationError("--keywords and --examples must not be negative") }
    }

    func run() throws {
        let bar = ProgressLine(quiet: output.quiet)
        let items: [ClusterItem], vectors: VectorMatrix, title: String
        var sourceRoot: URL?
        if let file {
            let lines = try readTextLines(file)
            guard !lines.isEmpty else { throw CLIError("\(file) holds no lines to cluster") }
            (items, vectors) = try modelOptions.tools(pipeline: pipeline).clusterItems(lines: lines) { bar.update("embedding", $0, $1) }
            bar.finish()
            title = file == "-" ? "stdin" : URL(fileURLWithPath: file).lastPathComponent
        } else {
            guard pipeline.hasPipeline else {
                throw CLIError("give -p PIPELINE (cluster its index) or --file FILE (cluster its lines)", exitCode: 64)
            }
            let runner = try pipeline.runner()
            (items, vectors) = try runner.clusterItems(level: level) { bar.update("reading index", $0, $1) }
            bar.finish()
            sourceRoot = runner.sourceRoot
            title = runner.config.name
        }
        let request = ClusterRequest(method: try clusterMethod(items: items.count), keywords: keywords, examples: examples, seed: seed)
        let report = try Clustering.run(items: items, vectors: vectors, level: file == nil ? level.rawValue : "line", request: request) { phase in
            if !output.quiet && Terminal.stderrIsTTY { Terminal.error(phase) }
        }
        if let html {
            let page = ClusterPage.html(report, title: title, linkPrefix: sourceRoot.map { Self.relativeLink(from: URL(fileURLWithPath: html), to: $0) } ?? "")
            guard FileManager.default.createFile(atPath: html, contents: Data(page.utf8)) else { throw CLIError("cannot write \(html)") }
            output.note("wrote \(html)")
        }
        if output.json {
            Terminal.out(try jsonString(report))
            return
        }
        printTable(report)
    }

    func clusterMethod(items: Int) throws -> ClusterMethod {
        switch method {
        case .kmeans:
            return .kMeans(k: k ?? ClusterRequest.defaultK(items: items), restarts: restarts)
        case .agglomerative:
            return .agglomerative(cut: k.map { .clusters($0) } ?? .distance(threshold ?? 0.7), linkage: linkage, metric: metric)
        case .community:
            return .community(threshold: Float(threshold ?? 0.75), minimumSize: minSize)
        }
    }

    func printTable(_ report: ClusterReport) {
        var summary = "\(report.items.count) \(report.level)s → \(report.clusters.count) topics (\(report.method)"
        summary += report.settings.sorted { $0.key < $1.key }.map { ", \($0.key) \($0.value)" }.joined() + ")"
        if report.unclustered > 0 { summary += ", \(report.unclustered) in no topic" }
        if let inertia = report.inertia { summary += String(format: ", inertia %.3f", inertia) }
        if let ari = report.folderAgreement { summary += String(format: ", adjusted Rand index vs top-level folders %.3f", ari) }
        Terminal.out(summary)
        if report.clusters.isEmpty {
            Terminal.out("no topic found; for community detection lower --threshold or --min-size")
            return
        }
        Terminal.out("topic   size  keywords")
        for cluster in report.clusters {
            Terminal.out(String(format: "%5d %6d  %@", cluster.id + 1, cluster.size, cluster.keywords.map(\.term).joined(separator: ", ")))
            for example in cluster.examples {
                let label = example.label.split(whereSeparator: \.isWhitespace).joined(separator: " ")
                Terminal.out("               · " + String(label.prefix(90)) + (example.source.map { "  (\($0))" } ?? ""))
            }
        }
    }

    /// Path from the folder of `page` to `root`, ending in `/`, so links work when the page is opened from disk.
    static func relativeLink(from page: URL, to root: URL) -> String {
        let from = page.standardizedFileURL.deletingLastPathComponent().pathComponents
        let to = root.standardizedFileURL.pathComponents
        var common = 0
        while common < min(from.count, to.count) && from[common] == to[common] { common += 1 }
        let ups = Array(repeating: "..", count: from.count - common)
        let path = (ups + to[common...]).joined(separator: "/")
        return path.isEmpty ? "" : path + "/"
    }
}

extension ClusterLevel: ExpressibleByArgument {}
extension Agglomerative.Linkage: ExpressibleByArgument {}
extension Agglomerative.Metric: ExpressibleByArgument {}
