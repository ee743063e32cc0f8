import Foundation

/// TREC run files: one line per retrieved item, `qid Q0 docid rank score tag`, readable by trec_eval.
public enum TRECRunFile {
    /// Formats rankings with queries in byte order of their ids and each ranking in trec_eval's order
    /// (score descending, ties by id descending), ranks 1-based, keeping the first `depth` items per query.
    /// Throws when an id or the tag is empty or contains whitespace, which the format cannot carry.
    public static func format(_ rankings: Rankings, tag: String, depth: Int? = nil) throws -> String {
        try checkToken(tag, what: "run tag")
        var output = ""
        let queryIDs = rankings.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        for queryID in queryIDs {
            try checkToken(queryID, what: "query id")
            var ranking = sortRanking(rankings[queryID]!, convention: .trecEval)
            if let depth { ranking = Array(ranking.prefix(depth)) }
            for (index, item) in ranking.enumerated() {
                try checkToken(item.id, what: "document id")
                output += "\(queryID) Q0 \(item.id) \(index + 1) \(item.score) \(tag)\n"
            }
        }
        return output
    }

    /// Writes `format(rankings, tag:, depth:)` to `url`.
    public static func write(_ rankings: Rankings, tag: String, depth: Int? = nil, to url: URL) throws {
        let text = try format(rankings, tag: tag, depth: depth)
        do { try Data(text.utf8).write(to: url, options: .atomic) } catch {
            throw EvalError.cannotWrite(path: url.path, reason: error.localizedDescription)
        }
    }

    /// Reads a run file (whitespace-separated `qid Q0 docid rank score tag`; the rank column is ignored,
    /// as trec_eval ignores it). Throws `EvalError.malformedRunFile` with the line number.
    public static func read(_ url: URL) throws -> Rankings {
        var rankings: Rankings = [:]
        for (number, text) in try readLines(url) where !text.allSatisfy(\.isWhitespace) {
            let fields = text.split(whereSeparator: \.isWhitespace)
            guard fields.count == 6 else {
                throw EvalError.malformedRunFile(path: url.path, line: number, reason: "expected 6 fields, found \(fields.count)")
            }
            guard let score = Double(fields[4]) else {
                throw EvalError.malformedRunFile(path: url.path, line: number, reason: "score \"\(fields[4])\" is not a number")
            }
            rankings[String(fields[0]), default: []].append(ScoredID(String(fields[2]), score))
        }
        return rankings
    }

    private static func checkToken(_ token: String, what: String) throws {
        if token.isEmpty || token.contains(where: \.isWhitespace) {
            throw EvalError.cannotWrite(path: "TREC run", reason: "\(what) \"\(token)\" is empty or contains whitespace")
        }
    }
}
