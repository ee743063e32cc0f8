import Foundation
import SiftCore

/// The JSON form of an answer (`sift ask --json`, `sift batch`): flat, snake_case, offsets in Unicode scalars.
public struct AnswerRecord: Codable, Sendable, Hashable {
    public var rank: Int
    public var rerankScore: Float?
    public var retrievalScore: Float
    public var source: String
    public var documentID: String
    public var anchor: String?
    public var headingPath: [String]
    public var chunkID: String
    public var text: String
    /// Scalar range of the best sentence within `text`.
    public var highlight: [Int]?
    public var highlightText: String?
    /// With `answers.group_by`: the other passages of the same section or page, best first (absent when none).
    public var related: [RelatedPassageRecord]?

    enum CodingKeys: String, CodingKey {
        case rank, source, anchor, text, highlight, related
        case rerankScore = "rerank_score", retrievalScore = "retrieval_score", documentID = "document_id"
        case headingPath = "heading_path", chunkID = "chunk_id", highlightText = "highlight_text"
    }

    public struct RelatedPassageRecord: Codable, Sendable, Hashable {
        public var chunkID: String
        public var source: String
        public var score: Float
        enum CodingKeys: String, CodingKey {
            case source, score
            case chunkID = "chunk_id"
        }
    }

    public init(_ answer: Answer) {
        rank = answer.rank
        rerankScore = answer.rerankScore
        retrievalScore = answer.retrievalScore
        source = answer.chunk.source
        documentID = answer.chunk.documentID
        anchor = answer.chunk.anchor
        headingPath = answer.chunk.headingPath
        chunkID = answer.chunk.id
        text = answer.chunk.text
        highlight = answer.highlight.map { [$0.lowerBound, $0.upperBound] }
        highlightText = answer.highlight.map { answer.chunk.text.scalarSlice($0) }
        related = answer.related.isEmpty ? nil
            : answer.related.map { RelatedPassageRecord(chunkID: $0.chunkID, source: $0.source, score: $0.score) }
    }
}

/// The JSON form of one question's result.
public struct AskRecord: Codable, Sendable {
    public var question: String
    public var answers: [AnswerRecord]
    public var stages: [String]
    public var stagesOff: [String]
    public var timingsMs: [String: Double]
    /// Only with --explain: stage → candidates (chunk id, source, score, per-stage ranks).
    public var explain: [String: [CandidateRecord]]?
    /// Present only when the answer is partial (a shard did not answer): what was missing.
    public var partial: [String]?

    enum CodingKeys: String, CodingKey {
        case question, answers, stages, explain, partial
        case timingsMs = "timings_ms", stagesOff = "stages_off"
    }

    public init(_ result: AskResult, id: String? = nil) {
        question = result.question
        answers = result.answers.map(AnswerRecord.init)
        stages = result.stagesRun.map(\.description)
        stagesOff = result.stagesSkipped.map(\.description)
        partial = result.partial.isEmpty ? nil : result.partial
        timingsMs = Dictionary(result.timings.map { ($0.stage.rawValue, $0.milliseconds) }, uniquingKeysWith: +)
        if !result.stageCandidates.isEmpty {
            explain = Dictionary(result.stageCandidates.map { stage in
                (stage.stage.rawValue, stage.candidates.map { CandidateRecord($0, chunk: result.chunks[$0.chunkID]) })
            }, uniquingKeysWith: { a, _ in a })
        }
    }
}

/// A candidate as `--explain` shows it.
public struct CandidateRecord: Codable, Sendable {
    public var chunkID: String
    public var source: String?
    public var score: Float
    public var ranks: [String: Int]
    public var scores: [String: Float]

    enum CodingKeys: String, CodingKey {
        case source, score, ranks, scores
        case chunkID = "chunk_id"
    }

    public init(_ candidate: Candidate, chunk: Chunk?) {
        chunkID = candidate.chunkID
        source = chunk?.source
        score = candidate.score
        ranks = Dictionary(candidate.stageRanks.map { ($0.key.rawValue, $0.value) }, uniquingKeysWith: { a, _ in a })
        scores = Dictionary(candidate.stageScores.map { ($0.key.rawValue, $0.value) }, uniquingKeysWith: { a, _ in a })
    }
}

/// Plain-text rendering of answers for the terminal.
public enum AnswerFormatter {
    /// How the best sentence is marked: ANSI bold on a terminal, `**…**` otherwise.
    public enum Emphasis: Sendable { case ansi, markdown }

    /// A snippet of the chunk (heading prefix removed, whitespace collapsed) around the highlighted sentence,
    /// at most about `width` characters, with the sentence marked.
    public static func snippet(_ answer: Answer, width: Int = 320, emphasis: Emphasis = .markdown) -> String {
        let text = answer.chunk.text
        // Start at the first real sentence: the heading path is shown separately.
        let start = Highlighter.sentences(of: answer.chunk, limit: 1).first?.lowerBound ?? Highlighter.headingPrefixLength(answer.chunk)
        let total = text.unicodeScalars.count
        let (open, close) = emphasis == .ansi ? ("\u{1B}[1m", "\u{1B}[0m") : ("**", "**")
        guard let highlight = answer.highlight, highlight.lowerBound >= start else {
            return clip(collapse(text.scalarSlice(start..<total)), width)
        }
        let sentence = collapse(text.scalarSlice(highlight))
        let budget = max(0, width - sentence.count) / 2
        let before = collapse(text.scalarSlice(start..<highlight.lowerBound))
        let after = collapse(text.scalarSlice(highlight.upperBound..<total))
        // Cut context at word boundaries so the snippet never opens or ends with a broken word.
        let lead = before.count > budget ? "…" + wordsSuffix(before, budget) : before
        let tail = after.count > budget ? wordsPrefix(after, budget) + "…" : after
        return [lead, open + sentence + close, String(tail)].filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// The answer list as printed by `sift ask`; snippets wrap at `width` columns (indent included).
    public static func render(_ result: AskResult, emphasis: Emphasis = .markdown, showTimings: Bool = true,
                              width: Int = 80) -> String {
        var lines: [String] = result.partial.map { "PARTIAL ANSWER: \($0)" }
        if !result.partial.isEmpty { lines.append("") }
        if result.answers.isEmpty { lines.append("No answers found.") }
        for answer in result.answers {
            var scores: [String] = []
            if let rerank = answer.rerankScore { scores.append("rerank \(format(rerank))") }
            scores.append("retrieval \(format(answer.retrievalScore))")
            lines.append("\(answer.rank). \(answer.chunk.source)  (\(scores.joined(separator: ", ")))")
            if !answer.chunk.headingPath.isEmpty { lines.append("   " + answer.chunk.headingPath.joined(separator: " > ")) }
            lines.append(contentsOf: wrap(snippet(answer, emphasis: emphasis), width: width - 3).map { "   " + $0 })
            if !answer.related.isEmpty {
                let others = Set(answer.related.map(\.source)).subtracting([answer.chunk.source]).sorted()
                let more = "(+\(answer.related.count) more passage\(answer.related.count == 1 ? "" : "s") here"
                    + (others.isEmpty ? ")" : ": " + others.prefix(3).joined(separator: ", ") + (others.count > 3 ? ", …)" : ")"))
                lines.append(contentsOf: wrap(more, width: width - 3).map { "   " + $0 })
            }
            lines.append("")
        }
        if showTimings {
            let total = result.timings.reduce(0) { $0 + $1.milliseconds }
            let off = result.stagesSkipped.isEmpty ? "" : "; off: " + result.stagesSkipped.map(\.description).joined(separator: ", ")
            lines.append("stages: \(result.stagesRun.map(\.description).joined(separator: ", "))\(off) · \(String(format: "%.0f", total)) ms")
        }
        return lines.joined(separator: "\n")
    }

    /// Each stage's top candidates and the stage timings, for `--explain`.
    public static func renderExplanation(_ result: AskResult, limit: Int = 10) -> String {
        var lines: [String] = []
        for stage in result.stageCandidates {
            lines.append("[\(stage.stage)] \(stage.candidates.count) candidates")
            for (i, candidate) in stage.candidates.prefix(limit).enumerated() {
                let source = result.chunks[candidate.chunkID]?.source ?? candidate.chunkID
                let ranks = RetrievalStage.allCases.compactMap { s in candidate.stageRanks[s].map { "\(s.rawValue)#\($0)" } }
                lines.append("  \(i + 1). \(format(candidate.score))  \(source)  [\(ranks.joined(separator: " "))]")
            }
        }
        lines.append("timings: " + result.timings.summed.map { "\($0.stage) \(String(format: "%.1f", $0.milliseconds)) ms" }.joined(separator: ", "))
        return lines.joined(separator: "\n")
    }

    static func format(_ value: Float) -> String {
        abs(value) >= 100 ? String(format: "%.1f", value) : String(format: "%.4f", value)
    }

    static func collapse(_ text: String) -> String {
        text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    static func clip(_ text: String, _ width: Int) -> String {
        text.count > width ? wordsPrefix(text, width) + "…" : text
    }

    /// The longest run of whole words at the start of `text` within `limit` characters (a cut word if the
    /// first word alone is longer).
    static func wordsPrefix(_ text: String, _ limit: Int) -> String {
        let cut = text.prefix(limit)
        guard cut.count < text.count, !text[cut.endIndex].isWhitespace,
              let space = cut.lastIndex(where: \.isWhitespace) else { return String(cut) }
        return String(cut[..<space])
    }

    /// The longest run of whole words at the end of `text` within `limit` characters.
    static func wordsSuffix(_ text: String, _ limit: Int) -> String {
        let cut = text.suffix(limit)
        guard cut.count < text.count, !text[text.index(before: cut.startIndex)].isWhitespace,
              let space = cut.firstIndex(where: \.isWhitespace) else { return String(cut) }
        return String(cut[cut.index(after: space)...])
    }

    /// Greedy word wrap of single-spaced `text` into lines of at most `width` visible characters (ANSI escape
    /// sequences take no room; a word longer than `width` gets a line of its own).
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        var lineWidth = 0
        for word in text.split(separator: " ") {
            let wordWidth = visibleCount(word)
            if lineWidth > 0, lineWidth + 1 + wordWidth > max(1, width) {
                lines.append(line)
                line = ""
                lineWidth = 0
            }
            line += lineWidth > 0 ? " " + word : String(word)
            lineWidth += (lineWidth > 0 ? 1 : 0) + wordWidth
        }
        if !line.isEmpty || lines.isEmpty { lines.append(line) }
        return lines
    }

    /// Characters excluding ANSI SGR sequences (ESC [ … m).
    static func visibleCount(_ text: Substring) -> Int {
        var count = 0
        var inEscape = false
        for character in text {
            if inEscape {
                if character == "m" { inEscape = false }
            } else if character == "\u{1B}" {
                inEscape = true
            } else {
                count += 1
            }
        }
        return count
    }
}
