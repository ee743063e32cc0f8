import Foundation

/// What a label points at: a document, or a section of it (`page.html#anchor`).
public struct LabelTarget: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var documentID: String
    /// Section anchor; nil means "anywhere in the document".
    public var anchor: String?

    public init(documentID: String, anchor: String? = nil) {
        self.documentID = documentID
        self.anchor = anchor
    }

    /// Parses `doc` or `doc#anchor` (split at the first "#"; an empty anchor means none).
    public init(_ reference: String) {
        if let hash = reference.firstIndex(of: "#") {
            documentID = String(reference[..<hash])
            let anchor = String(reference[reference.index(after: hash)...])
            self.anchor = anchor.isEmpty ? nil : anchor
        } else {
            documentID = reference
            anchor = nil
        }
    }

    /// `doc#anchor` or `doc`: the id used in qrels and rankings.
    public var description: String { anchor.map { "\(documentID)#\($0)" } ?? documentID }

    /// A chunk from `documentID` starting in section `anchor` matches when the documents are equal and,
    /// if this target has an anchor, the anchors are equal too.
    public func matches(documentID: String, anchor: String?) -> Bool {
        documentID == self.documentID && (self.anchor == nil || self.anchor == anchor)
    }

    public static func < (a: LabelTarget, b: LabelTarget) -> Bool { a.description < b.description }
}

/// A question with the targets that answer it and their grades (1 unless the file gives grades).
public struct LabeledQuestion: Sendable, Hashable {
    public var id: String
    public var question: String
    public var relevant: [LabelTarget: Int]

    public init(id: String, question: String, relevant: [LabelTarget: Int]) {
        self.id = id
        self.question = question
        self.relevant = relevant
    }
}

/// A chunk as a retrieval stage returned it, reduced to what label matching needs.
public struct RetrievedChunk: Sendable, Hashable {
    public var documentID: String
    public var anchor: String?
    public var score: Double

    public init(documentID: String, anchor: String?, score: Double) {
        self.documentID = documentID
        self.anchor = anchor
        self.score = score
    }
}

/// Labeled questions for a pipeline's own collection, read from JSON Lines:
/// `{"id"?: "q1", "question": "...", "relevant": ["faq/programming.html#why-...", "tutorial/inputoutput.html"]}`
/// or with grades `"relevant": {"faq/programming.html#why-...": 2}`. Without `id` the id is `q<line number>`.
public struct LabeledQuestionSet: Sendable {
    public var questions: [LabeledQuestion]

    public init(questions: [LabeledQuestion]) {
        self.questions = questions
    }

    /// The same questions judged by page: each section target becomes its page (the best grade of a page's
    /// targets), so a hit is any passage of a relevant page — what a reader scanning the answers' pages sees.
    public var pageLevel: LabeledQuestionSet {
        LabeledQuestionSet(questions: questions.map { question in
            var pages: [LabelTarget: Int] = [:]
            for (target, grade) in question.relevant {
                let page = LabelTarget(documentID: target.documentID)
                pages[page] = max(pages[page] ?? grade, grade)
            }
            return LabeledQuestion(id: question.id, question: question.question, relevant: pages)
        })
    }

    /// Qrels over label-target ids (`doc#anchor`), for `evaluate(rankings:qrels:)`.
    public var qrels: Qrels {
        Qrels(Dictionary(uniqueKeysWithValues: questions.map { question in
            (question.id, Dictionary(uniqueKeysWithValues: question.relevant.map { ($0.key.description, $0.value) }))
        }))
    }

    /// Reads a labels file. Throws `EvalError` with the line for malformed JSON, a missing/empty question,
    /// an empty or mistyped `relevant`, non-integer grades and duplicate ids.
    public static func load(_ url: URL) throws -> LabeledQuestionSet {
        let path = url.path
        var questions: [LabeledQuestion] = []
        var firstLine: [String: Int] = [:]
        for (number, text) in try readLines(url) where !text.allSatisfy(\.isWhitespace) {
            let object = try parseJSONObject(text, path: path, number: number)
            let id: String
            switch object["id"] {
            case nil, is NSNull: id = "q\(number)"
            case let string as String: id = string
            case let value? where jsonInteger(value) != nil: id = String(jsonInteger(value)!)
            default: throw EvalError.wrongFieldType(path: path, line: number, field: "id", expected: "a string or an integer")
            }
            let question = try requiredString(object, "question", path: path, line: number)
            guard !question.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw EvalError.invalidLabel(path: path, line: number, reason: "empty question")
            }
            var relevant: [LabelTarget: Int] = [:]
            switch object["relevant"] {
            case nil: throw EvalError.missingField(path: path, line: number, field: "relevant")
            case let list as [Any]:
                for item in list {
                    guard let reference = item as? String else {
                        throw EvalError.wrongFieldType(path: path, line: number, field: "relevant", expected: "a list of strings")
                    }
                    relevant[LabelTarget(reference)] = 1
                }
            case let graded as [String: Any]:
                for (reference, grade) in graded {
                    guard let grade = jsonInteger(grade) else {
                        throw EvalError.wrongFieldType(path: path, line: number, field: "relevant", expected: "an object of integer grades")
                    }
                    relevant[LabelTarget(reference)] = grade
                }
            default:
                throw EvalError.wrongFieldType(path: path, line: number, field: "relevant", expected: "a list or an object")
            }
            if let empty = relevant.keys.first(where: { $0.documentID.isEmpty }) {
                throw EvalError.invalidLabel(path: path, line: number, reason: "target \"\(empty)\" has no document")
            }
            guard relevant.values.contains(where: { $0 > 0 }) else {
                throw EvalError.invalidLabel(path: path, line: number, reason: "no relevant target")
            }
            if let first = firstLine[id] { throw EvalError.duplicateID(path: path, line: number, id: id, firstLine: first) }
            firstLine[id] = number
            questions.append(LabeledQuestion(id: id, question: question, relevant: relevant))
        }
        if questions.isEmpty { throw EvalError.emptyFile(path: path) }
        return LabeledQuestionSet(questions: questions)
    }
}

extension LabeledQuestionSet {
    /// The questions without the label targets whose document is not in `documentIDs` (nothing can retrieve them),
    /// and without the questions then left with no relevant target (they could only score zero), plus warnings that
    /// count what was dropped with examples. `source` (the labels file) starts each warning.
    public func restricted(toDocuments documentIDs: Set<String>, source: String) -> (questions: LabeledQuestionSet, warnings: [String]) {
        var unknown = OrderedIDs()
        var emptied: [String] = []
        var kept: [LabeledQuestion] = []
        for question in questions {
            var restricted = question
            for target in question.relevant.keys.sorted() where !documentIDs.contains(target.documentID) {
                unknown.add(target.documentID)
                restricted.relevant[target] = nil
            }
            if restricted.relevant.values.contains(where: { $0 > 0 }) { kept.append(restricted) } else { emptied.append(question.id) }
        }
        var warnings: [String] = []
        if !unknown.ids.isEmpty {
            warnings.append("\(source): labels name \(countedWithExamples(unknown.ids, singular: "document", plural: "documents")) "
                + "that the index does not hold; \(unknown.occurrences) target\(unknown.occurrences == 1 ? "" : "s") dropped")
        }
        if !emptied.isEmpty {
            warnings.append("\(source): \(countedWithExamples(emptied, singular: "question", plural: "questions")) "
                + "left without a relevant target in the index, so not evaluated")
        }
        return (LabeledQuestionSet(questions: kept), warnings)
    }
}

/// Turns a chunk ranking into a ranking over label targets with MaxP (each target scores its best chunk).
///
/// Each chunk counts for every label target it matches (see `LabelTarget.matches`). A chunk matching none still
/// takes a rank, as a non-relevant item whose id is its section (`doc#anchor`) when any of the question's labels
/// has an anchor, else its document; chunks sharing that id are likewise reduced to their best score.
/// The result feeds `evaluate(rankings:qrels:)` with `LabeledQuestionSet.qrels`.
public func aggregateMaxP(chunkRanking: [RetrievedChunk], labels: LabeledQuestion) -> [ScoredID] {
    let targets = Array(labels.relevant.keys)
    let sectionLevel = targets.contains { $0.anchor != nil }
    var best: [String: Double] = [:]
    func offer(_ id: String, _ score: Double) {
        if let existing = best[id], existing >= score { return }
        best[id] = score
    }
    for chunk in chunkRanking {
        let matched = targets.filter { $0.matches(documentID: chunk.documentID, anchor: chunk.anchor) }
        if matched.isEmpty {
            let id = sectionLevel ? LabelTarget(documentID: chunk.documentID, anchor: chunk.anchor).description : chunk.documentID
            // Cannot equal a target id: an equal id would have matched that target.
            offer(id, chunk.score)
        } else {
            for target in matched { offer(target.description, chunk.score) }
        }
    }
    return best.map { ScoredID($0.key, $0.value) }
}

/// A JSON number without a fractional part. JSON booleans are refused: Foundation bridges them to NSNumber with
/// the `char` type code "c" (and `is Bool` is also true for the numbers 0 and 1, so it cannot tell them apart).
private func jsonInteger(_ value: Any) -> Int? {
    guard let number = value as? NSNumber, String(cString: number.objCType) != "c" else { return nil }
    let double = number.doubleValue
    guard double == double.rounded(), abs(double) < 1e15 else { return nil }
    return Int(double)
}

extension LabeledQuestionSet {
    /// `aggregateMaxP` for every question: question id → chunk ranking becomes question id → target ranking.
    /// Questions absent from `chunkRankings` stay absent (they then count as 0 with `MissingRankingPolicy.countAsZero`).
    public func targetRankings(chunkRankings: [String: [RetrievedChunk]]) -> Rankings {
        var rankings: Rankings = [:]
        for question in questions {
            if let chunks = chunkRankings[question.id] {
                rankings[question.id] = aggregateMaxP(chunkRanking: chunks, labels: question)
            }
        }
        return rankings
    }
}
