import Foundation

/// What a pipeline hands in for one stage: its rankings for every question and the time each question took.
public struct StageRun: Sendable {
    /// Stage name as shown in reports: "bm25", "dense", "hybrid", "rerank" (any name works).
    public var name: String
    public var rankings: Rankings
    /// Wall-clock latency per question in milliseconds (empty if not measured).
    public var latenciesMilliseconds: [Double]

    public init(name: String, rankings: Rankings, latenciesMilliseconds: [Double] = []) {
        self.name = name
        self.rankings = rankings
        self.latenciesMilliseconds = latenciesMilliseconds
    }
}

/// One stage's evaluation and latency summary.
public struct StageReport: Sendable {
    public var name: String
    public var evaluation: EvaluationResult
    public var rankings: Rankings
    /// Latency percentiles in ms (linear interpolation between order statistics, numpy's default); nil if not measured.
    public var latencyP50: Double?
    public var latencyP95: Double?
}

/// Averaged metrics and latency per stage over one question set; renders a terminal table, JSON, Markdown + SVG,
/// and TREC run files.
public struct StageComparison: Sendable {
    /// Free text naming the evaluation, e.g. "python-faq (156 questions)".
    public var title: String
    public var metrics: [Metric]
    public var options: EvaluationOptions
    public var stages: [StageReport]

    /// Evaluates each stage's rankings against `qrels` with the same metrics and options.
    public init(title: String, qrels: Qrels, stages: [StageRun], metrics: [Metric] = Metric.standard,
                options: EvaluationOptions = EvaluationOptions()) {
        self.title = title
        self.metrics = metrics
        self.options = options
        self.stages = stages.map { run in
            StageReport(name: run.name,
                        evaluation: evaluate(rankings: run.rankings, qrels: qrels, metrics: metrics, options: options),
                        rankings: run.rankings,
                        latencyP50: percentile(run.latenciesMilliseconds, 0.50),
                        latencyP95: percentile(run.latenciesMilliseconds, 0.95))
        }
    }

    // MARK: Terminal table

    /// Plain-text table, one row per stage, one column per metric (4 decimals) plus latency p50/p95 in ms.
    public func table() -> String {
        let header = ["stage"] + metrics.map(\.description) + ["queries", "p50 ms", "p95 ms"]
        let rows = stages.map { stage in
            [stage.name] + metrics.map { String(format: "%.4f", stage.evaluation.mean[$0] ?? 0) }
                + [String(stage.evaluation.evaluatedQueryCount), formatMilliseconds(stage.latencyP50),
                   formatMilliseconds(stage.latencyP95)]
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max()! }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column == 0 ? cell + pad : pad + cell // names left, numbers right
            }.joined(separator: "  ")
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n") + "\n"
    }

    // MARK: JSON

    private struct JSONReport: Encodable {
        struct Stage: Encodable {
            var name: String
            var evaluatedQueries: Int
            var skippedQueries: [String]
            var unjudgedQueries: [String]
            var metrics: [String: Double]
            var latencyMilliseconds: [String: Double]
            var perQuery: [String: [String: Double]]?
        }
        var title: String
        var convention: String
        var ignoreIdenticalIDs: Bool
        var missingRankings: String
        var metrics: [String]
        var stages: [Stage]
    }

    /// Pretty, key-sorted JSON: conventions, and per stage the mean metrics (keyed by `Metric.description`),
    /// latency `p50`/`p95`, skipped queries and optionally every query's metrics.
    public func json(includePerQuery: Bool = false) throws -> Data {
        func named(_ values: [Metric: Double]) -> [String: Double] {
            Dictionary(uniqueKeysWithValues: metrics.map { ($0.description, values[$0] ?? 0) })
        }
        let report = JSONReport(
            title: title, convention: options.convention.rawValue, ignoreIdenticalIDs: options.ignoreIdenticalIDs,
            missingRankings: options.missingRankings.rawValue, metrics: metrics.map(\.description),
            stages: stages.map { stage in
                var latency: [String: Double] = [:]
                latency["p50"] = stage.latencyP50
                latency["p95"] = stage.latencyP95
                return JSONReport.Stage(
                    name: stage.name, evaluatedQueries: stage.evaluation.evaluatedQueryCount,
                    skippedQueries: stage.evaluation.skippedQueries, unjudgedQueries: stage.evaluation.unjudgedQueries,
                    metrics: named(stage.evaluation.mean), latencyMilliseconds: latency,
                    perQuery: includePerQuery ? stage.evaluation.perQuery.mapValues(named) : nil)
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(report)
    }

    // MARK: Markdown + SVG

    /// Markdown report: a stage × metric table with latencies, the chart as an image link to `chartFileName`
    /// (written next to it by `write(to:)`), and the conventions used.
    public func markdown(chartFileName: String = "metrics.svg") -> String {
        var text = "# Retrieval evaluation: \(title)\n\n"
        let header = ["stage"] + metrics.map(\.description) + ["queries", "p50 ms", "p95 ms"]
        text += "| " + header.joined(separator: " | ") + " |\n"
        text += "|" + header.indices.map { $0 == 0 ? "---|" : "---:|" }.joined() + "\n"
        for stage in stages {
            let cells = [stage.name] + metrics.map { String(format: "%.4f", stage.evaluation.mean[$0] ?? 0) }
                + [String(stage.evaluation.evaluatedQueryCount), formatMilliseconds(stage.latencyP50),
                   formatMilliseconds(stage.latencyP95)]
            text += "| " + cells.joined(separator: " | ") + " |\n"
        }
        text += "\n![metrics per stage](\(chartFileName))\n\n"
        text += "Conventions: \(options.convention.rawValue) (ties in score broken by document id "
        text += options.convention == .trecEval ? "descending, as trec_eval does" : "ascending, as sentence-transformers does"
        text += "); judged queries without a ranking \(options.missingRankings == .countAsZero ? "count as 0" : "are skipped")"
        text += options.ignoreIdenticalIDs ? "; retrieved ids equal to the query id are ignored" : ""
        text += ". MRR@k is the reciprocal rank of the first relevant item within the top k. Latency percentiles interpolate linearly.\n"
        let skipped = stages.map { "\($0.name): \($0.evaluation.skippedQueries.count)" }.joined(separator: ", ")
        text += "\nSkipped judged queries per stage: \(skipped).\n"
        return text
    }

    /// A grouped bar chart (one group per metric, one bar per stage, y from 0 to 1) as a standalone SVG document.
    public func svgChart() -> String {
        let palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"]
        let barWidth = 16.0, barGap = 2.0, groupGap = 24.0
        let plotHeight = 220.0, left = 48.0, top = 36.0, bottom = 48.0
        let groupWidth = Double(max(stages.count, 1)) * (barWidth + barGap) - barGap
        let width = left + Double(metrics.count) * (groupWidth + groupGap) + 16
        let height = top + plotHeight + bottom
        func y(_ value: Double) -> Double { top + plotHeight * (1 - min(max(value, 0), 1)) }
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
        font-family="sans-serif" font-size="11">\n
        """
        svg += "<title>\(escapeXML(title))</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        for tick in stride(from: 0.0, through: 1.0, by: 0.25) {
            svg += "<line x1=\"\(left)\" x2=\"\(width - 8)\" y1=\"\(y(tick))\" y2=\"\(y(tick))\" stroke=\"#ddd\"/>"
            svg += "<text x=\"\(left - 6)\" y=\"\(y(tick) + 4)\" text-anchor=\"end\">\(String(format: "%.2f", tick))</text>\n"
        }
        for (group, metric) in metrics.enumerated() {
            let x0 = left + groupGap / 2 + Double(group) * (groupWidth + groupGap)
            for (index, stage) in stages.enumerated() {
                let value = stage.evaluation.mean[metric] ?? 0
                let x = x0 + Double(index) * (barWidth + barGap)
                svg += "<rect x=\"\(x)\" y=\"\(y(value))\" width=\"\(barWidth)\" height=\"\(top + plotHeight - y(value))\" "
                svg += "fill=\"\(palette[index % palette.count])\"><title>\(escapeXML(stage.name)) \(metric): "
                svg += "\(String(format: "%.4f", value))</title></rect>\n"
            }
            svg += "<text x=\"\(x0 + groupWidth / 2)\" y=\"\(top + plotHeight + 16)\" text-anchor=\"middle\">\(metric)</text>\n"
        }
        for (index, stage) in stages.enumerated() {
            let x = left + Double(index) * 90
            svg += "<rect x=\"\(x)\" y=\"10\" width=\"12\" height=\"12\" fill=\"\(palette[index % palette.count])\"/>"
            svg += "<text x=\"\(x + 16)\" y=\"20\">\(escapeXML(stage.name))</text>\n"
        }
        svg += "<text x=\"\(left)\" y=\"\(height - 10)\">\(escapeXML(title))</text>\n</svg>\n"
        return svg
    }

    /// Writes `report.json`, `report.md`, `metrics.svg` and, when `runDepth` is given, `runs/<stage>.trec`
    /// (top `runDepth` per query) into `directory` (created if needed). Returns the written files.
    @discardableResult
    public func write(to directory: URL, runDepth: Int? = 100, includePerQuery: Bool = true) throws -> [URL] {
        let files: [(String, Data)] = [
            ("report.json", try json(includePerQuery: includePerQuery)),
            ("report.md", Data(markdown(chartFileName: "metrics.svg").utf8)),
            ("metrics.svg", Data(svgChart().utf8)),
        ]
        var written: [URL] = []
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for (name, data) in files {
                let url = directory.appendingPathComponent(name)
                try data.write(to: url, options: .atomic)
                written.append(url)
            }
        } catch let error as EvalError {
            throw error
        } catch {
            throw EvalError.cannotWrite(path: directory.path, reason: error.localizedDescription)
        }
        if let runDepth {
            let runs = directory.appendingPathComponent("runs")
            do { try FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true) } catch {
                throw EvalError.cannotWrite(path: runs.path, reason: error.localizedDescription)
            }
            for stage in stages {
                let url = runs.appendingPathComponent("\(stage.name).trec")
                try TRECRunFile.write(stage.rankings, tag: "sift-\(stage.name)", depth: runDepth, to: url)
                written.append(url)
            }
        }
        return written
    }
}

/// The q-quantile (0…1) with linear interpolation between closest ranks (numpy's default); nil for no values.
public func percentile(_ values: [Double], _ q: Double) -> Double? {
    guard !values.isEmpty else { return nil }
    precondition((0...1).contains(q), "quantile must be in 0…1")
    let sorted = values.sorted()
    let position = q * Double(sorted.count - 1)
    let lower = Int(position.rounded(.down)), upper = min(lower + 1, sorted.count - 1)
    return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - Double(lower))
}

private func formatMilliseconds(_ value: Double?) -> String {
    value.map { String(format: "%.1f", $0) } ?? "-"
}

private func escapeXML(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}
