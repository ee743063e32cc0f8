import Foundation

/// The self-contained HTML page of `sift cluster --html`: a 2-D PCA map of the items as SVG (one colour per cluster,
/// each cluster labelled with its keywords, each point linking to its source), then the topics with their sizes,
/// keywords and most central members. No script, no external file.
public enum ClusterPage {
    /// `linkPrefix` is prepended to every item's `source` (e.g. the relative path from the page to the collection's
    /// source folder, ending in `/`).
    public static func html(_ report: ClusterReport, title: String, linkPrefix: String) -> String {
        let width = 1000.0, height = 640.0, margin = 24.0
        let xs = report.map.map(\.x), ys = report.map.map(\.y)
        let (minX, maxX) = (xs.min() ?? 0, xs.max() ?? 1), (minY, maxY) = (ys.min() ?? 0, ys.max() ?? 1)
        let spanX = max(maxX - minX, 1e-9), spanY = max(maxY - minY, 1e-9)
        func px(_ p: ClusterReport.Point) -> (Double, Double) {
            (margin + (p.x - minX) / spanX * (width - 2 * margin), height - margin - (p.y - minY) / spanY * (height - 2 * margin))
        }
        var svg = ""
        // Unclustered first, so clusters draw on top.
        let order = report.items.indices.sorted { (report.labels[$0] < 0 ? 0 : 1, $0) < (report.labels[$1] < 0 ? 0 : 1, $1) }
        for i in order {
            let (x, y) = px(report.map[i])
            let label = report.labels[i]
            let item = report.items[i]
            let topic = label >= 0 ? " — topic \(label + 1): " + report.clusters[label].keywords.prefix(3).map(\.term).joined(separator: ", ") : " — no topic"
            let circle = String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%@\" fill=\"%@\"><title>%@</title></circle>", x, y,
                                label >= 0 ? "3.6" : "2.4", color(label), escape(item.label + topic))
            if let source = item.source {
                svg += "<a href=\"\(escape(linkPrefix + source))\">\(circle)</a>\n"
            } else {
                svg += circle + "\n"
            }
        }
        // Labels at each cluster's centre of mass on the map, for the 30 largest clusters (more would be clutter),
        // kept inside the canvas and moved down or up, largest cluster first, until they no longer overlap.
        var placed: [(x0: Double, x1: Double, y0: Double, y1: Double)] = []
        for cluster in report.clusters.prefix(30) where !cluster.members.isEmpty {
            let points = cluster.members.map { px(report.map[$0]) }
            let text = "\(cluster.id + 1) " + cluster.keywords.prefix(3).map(\.term).joined(separator: " · ")
            let halfWidth = 3.8 * Double(text.count) + 4
            var cx = points.map(\.0).reduce(0, +) / Double(points.count), cy = points.map(\.1).reduce(0, +) / Double(points.count)
            cx = min(max(cx, halfWidth + 2), width - halfWidth - 2)
            let start = min(max(cy, 16), height - 6)
            for step in 0..<40 {
                let offset = Double((step + 1) / 2) * 17 * (step % 2 == 0 ? 1 : -1)
                cy = min(max(start + offset, 16), height - 6)
                let box = (x0: cx - halfWidth, x1: cx + halfWidth, y0: cy - 13, y1: cy + 3)
                if !placed.contains(where: { $0.x0 < box.x1 && box.x0 < $0.x1 && $0.y0 < box.y1 && box.y0 < $0.y1 }) { placed.append(box); break }
            }
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" class=\"label\" style=\"fill:%@\">%@</text>\n", cx, cy, darker(cluster.id), escape(text))
        }
        var rows = ""
        for cluster in report.clusters {
            let examples = cluster.examples.map { example -> String in
                let text = escape(String(example.label.prefix(120)))
                if let source = example.source { return "<li><a href=\"\(escape(linkPrefix + source))\">\(text)</a></li>" }
                return "<li>\(text)</li>"
            }.joined()
            rows += """
            <tr><td><span class="swatch" style="background:\(color(cluster.id))"></span>\(cluster.id + 1)</td><td class="num">\(cluster.size)</td>\
            <td class="kw">\(escape(cluster.keywords.map(\.term).joined(separator: ", ")))</td><td><ul>\(examples)</ul></td></tr>

            """
        }
        var facts = ["\(report.items.count) \(report.level)s", "\(report.clusters.count) topics", "method \(report.method)"]
        facts += report.settings.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        if report.unclustered > 0 { facts.append("\(report.unclustered) in no topic (grey)") }
        if let inertia = report.inertia { facts.append(String(format: "inertia %.2f", inertia)) }
        if let ari = report.folderAgreement { facts.append(String(format: "adjusted Rand index vs top-level folders %.3f", ari)) }
        if report.explainedVarianceRatio.count >= 2 {
            facts.append(String(format: "map: PCA, %.1f%% + %.1f%% of the variance", 100 * report.explainedVarianceRatio[0], 100 * report.explainedVarianceRatio[1]))
        }
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title)) — topics</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
        body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1040px;color:#1d1d1f;padding:0 12px}
        h1{font-size:22px;margin:0 0 4px} .facts{color:#555;margin:0 0 12px}
        svg{width:100%;height:auto;border:1px solid #ddd;border-radius:6px;background:#fcfcfc}
        svg circle{fill-opacity:.72;stroke:#fff;stroke-width:.4} svg a:hover circle{stroke:#000;stroke-width:1.5;fill-opacity:1}
        .label{font-size:13px;text-anchor:middle;font-weight:600;paint-order:stroke;stroke:#fff;stroke-width:4px;stroke-linejoin:round;pointer-events:none}
        table{border-collapse:collapse;width:100%;margin-top:18px} td,th{border-bottom:1px solid #e5e5e5;padding:6px 8px;vertical-align:top;text-align:left}
        th{font-size:13px;color:#555} .num{text-align:right;font-variant-numeric:tabular-nums} .kw{font-weight:600;width:34%}
        ul{margin:0;padding-left:18px} .swatch{display:inline-block;width:11px;height:11px;border-radius:50%;margin-right:6px}
        a{color:#0b57d0;text-decoration:none} a:hover{text-decoration:underline}
        </style></head><body>
        <h1>\(escape(title))</h1>
        <p class="facts">\(escape(facts.joined(separator: " · ")))</p>
        <svg viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-label="Map of the topics">
        \(svg)</svg>
        <table><thead><tr><th>topic</th><th class="num">size</th><th>keywords (c-TF-IDF)</th><th>most central</th></tr></thead><tbody>
        \(rows)</tbody></table>
        </body></html>

        """
    }

    /// Tableau's 20 colours, then golden-angle hues; grey for items in no cluster.
    static func color(_ cluster: Int) -> String {
        if cluster < 0 { return "#b0b0b0" }
        let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
                       "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5"]
        if cluster < palette.count { return palette[cluster] }
        return "hsl(\(Int((Double(cluster) * 137.508).truncatingRemainder(dividingBy: 360))),65%,48%)"
    }

    /// Label text colour: the cluster's colour, darkened for the light ones so the text stays readable.
    static func darker(_ cluster: Int) -> String {
        cluster >= 10 && cluster < 20 ? color(cluster - 10) : (cluster >= 20 ? "hsl(\(Int((Double(cluster) * 137.508).truncatingRemainder(dividingBy: 360))),70%,32%)" : color(cluster))
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
