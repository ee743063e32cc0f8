import Foundation

/// A passage of a BEIR corpus.
public struct BEIRDocument: Sendable, Hashable {
    public var id: String
    public var title: String
    public var text: String

    public init(id: String, title: String, text: String) {
        self.id = id
        self.title = title
        self.text = text
    }

    /// The text to embed: BEIR's `(title + " " + text).strip()` (beir.retrieval.models.SentenceBERT.encode_corpus),
    /// so an empty title leaves just the text.
    public var embeddingText: String {
        (title + " " + text).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A BEIR query.
public struct BEIRQuery: Sendable, Hashable {
    public var id: String
    public var text: String

    public init(id: String, text: String) {
        self.id = id
        self.text = text
    }
}

/// How to treat qrels lines that name ids missing from `queries.jsonl` or `corpus.jsonl`.
public enum QrelsValidation: String, Sendable, Hashable {
    /// Throw `EvalError.unknownQuery` / `.unknownDocument` with file and line.
    case strict
    /// Drop the line; the dataset's warnings count what was dropped, with examples (BEIR's own loader keeps such
    /// lines silently).
    case lenient
}

/// A BEIR-format folder: `corpus.jsonl`, `queries.jsonl`, `qrels/<split>.tsv`.
public struct BEIRDataset: Sendable {
    /// Corpus in file order.
    public var corpus: [BEIRDocument]
    /// Queries in file order, all of them (use `evaluatedQueries` for the judged ones).
    public var queries: [BEIRQuery]
    public var qrels: Qrels
    /// What lenient mode dropped, one line per kind with a count and examples, e.g.
    /// `…/qrels/test.tsv: qrels name 37 unknown corpus ids (e.g. doc12, doc99, doc7, …), not in corpus.jsonl; 40 lines skipped`.
    public var warnings: [String]

    /// Queries that appear in the qrels, in file order: the set BEIR's `GenericDataLoader` keeps.
    public var evaluatedQueries: [BEIRQuery] { queries.filter { qrels.judgements[$0.id] != nil } }

    /// Reads a BEIR folder. Throws `EvalError` naming the file and line for malformed JSON, a missing `_id`/`text`
    /// (`title` may be absent: it reads as ""), duplicate ids, empty files, a bad qrels header or row,
    /// and (strict mode) qrels rows naming unknown ids.
    public static func load(folder: URL, split: String = "test", validation: QrelsValidation = .strict) throws -> BEIRDataset {
        let corpusURL = folder.appendingPathComponent("corpus.jsonl")
        let queriesURL = folder.appendingPathComponent("queries.jsonl")
        let qrelsURL = folder.appendingPathComponent("qrels").appendingPathComponent("\(split).tsv")
        try checkLayout(folder: folder, files: [corpusURL, queriesURL, qrelsURL], split: split)

        let corpus = try readRecords(corpusURL) { object, path, line in
            BEIRDocument(id: try requiredString(object, "_id", path: path, line: line),
                         title: try optionalString(object, "title", path: path, line: line),
                         text: try requiredString(object, "text", path: path, line: line))
        }
        let queries = try readRecords(queriesURL) { object, path, line in
            BEIRQuery(id: try requiredString(object, "_id", path: path, line: line),
                      text: try requiredString(object, "text", path: path, line: line))
        }
        let (qrels, warnings) = try readQrels(qrelsURL, queryIDs: Set(queries.map(\.id)),
                                              documentIDs: Set(corpus.map(\.id)), validation: validation)
        return BEIRDataset(corpus: corpus, queries: queries, qrels: qrels, warnings: warnings)
    }

    /// Throws `notABEIRFolder` when `folder` is not a folder or lacks one of `files`: a plain file-system error
    /// would not say what was expected there.
    private static func checkLayout(folder: URL, files: [URL], split: String) throws {
        let fm = FileManager.default
        var isFolder: ObjCBool = false
        guard fm.fileExists(atPath: folder.path, isDirectory: &isFolder) else {
            throw EvalError.notABEIRFolder(path: folder.path, problem: "no such folder", split: split)
        }
        guard isFolder.boolValue else {
            throw EvalError.notABEIRFolder(path: folder.path, problem: "is a file, not a folder", split: split)
        }
        let prefix = folder.path.count + 1
        let missing = files.filter { !fm.fileExists(atPath: $0.path) }.map { String($0.path.dropFirst(prefix)) }
        guard missing.isEmpty else {
            var problem = "no " + missing.joined(separator: ", ")
            // The usual slip is the split: say which ones exist.
            let splits = ((try? fm.contentsOfDirectory(atPath: folder.appendingPathComponent("qrels").path)) ?? [])
                .filter { $0.hasSuffix(".tsv") }.map { String($0.dropLast(4)) }.sorted()
            if !splits.isEmpty, missing.contains("qrels/\(split).tsv") { problem += " (qrels/ has splits: \(splits.joined(separator: ", ")))" }
            throw EvalError.notABEIRFolder(path: folder.path, problem: problem, split: split)
        }
    }

    /// Reads a TREC/BEIR qrels TSV: a header line `query-id\tcorpus-id\tscore`, then one judgement per line.
    /// Pass nil id sets to skip the unknown-id checks. A repeated (query, document) pair keeps the last grade, as BEIR does.
    public static func readQrels(_ url: URL, queryIDs: Set<String>? = nil, documentIDs: Set<String>? = nil,
                                 validation: QrelsValidation = .strict) throws -> (Qrels, warnings: [String]) {
        let path = url.path
        let lines = try readLines(url).filter { !$0.text.allSatisfy(\.isWhitespace) }
        guard let header = lines.first else { throw EvalError.emptyFile(path: path) }
        let headerFields = header.text.split(separator: "\t", omittingEmptySubsequences: false)
        guard headerFields.count == 3, Int(headerFields[2].trimmingCharacters(in: .whitespaces)) == nil else {
            throw EvalError.malformedQrels(path: path, line: header.number,
                                           reason: "expected the header \"query-id<TAB>corpus-id<TAB>score\"")
        }
        guard lines.count > 1 else { throw EvalError.emptyFile(path: path) }
        var judgements: [String: [String: Int]] = [:]
        // Lenient mode: what was dropped, in first-seen order, and how many lines each kind cost.
        var unknownQueries = OrderedIDs(), unknownDocuments = OrderedIDs()
        var queriesWithDroppedLines = OrderedIDs()
        for (number, text) in lines.dropFirst() {
            let fields = text.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 3 else {
                throw EvalError.malformedQrels(path: path, line: number, reason: "expected 3 tab-separated fields, found \(fields.count)")
            }
            let queryID = String(fields[0]), documentID = String(fields[1])
            guard !queryID.isEmpty, !documentID.isEmpty else {
                throw EvalError.malformedQrels(path: path, line: number, reason: "empty id")
            }
            guard let grade = Int(fields[2].trimmingCharacters(in: .whitespaces)) else {
                throw EvalError.malformedQrels(path: path, line: number, reason: "score \"\(fields[2])\" is not an integer")
            }
            if let queryIDs, !queryIDs.contains(queryID) {
                if validation == .strict { throw EvalError.unknownQuery(path: path, line: number, queryID: queryID) }
                unknownQueries.add(queryID)
                continue
            }
            if let documentIDs, !documentIDs.contains(documentID) {
                if validation == .strict { throw EvalError.unknownDocument(path: path, line: number, documentID: documentID) }
                unknownDocuments.add(documentID)
                queriesWithDroppedLines.add(queryID)
                continue
            }
            judgements[queryID, default: [:]][documentID] = grade
        }
        var warnings: [String] = []
        if !unknownQueries.ids.isEmpty {
            warnings.append("\(path): qrels name \(countedWithExamples(unknownQueries.ids, singular: "unknown query id", plural: "unknown query ids")), "
                + "not in queries.jsonl; \(unknownQueries.occurrences) line\(unknownQueries.occurrences == 1 ? "" : "s") skipped")
        }
        if !unknownDocuments.ids.isEmpty {
            warnings.append("\(path): qrels name \(countedWithExamples(unknownDocuments.ids, singular: "unknown corpus id", plural: "unknown corpus ids")), "
                + "not in corpus.jsonl; \(unknownDocuments.occurrences) line\(unknownDocuments.occurrences == 1 ? "" : "s") skipped")
        }
        let emptied = queriesWithDroppedLines.ids.filter { judgements[$0] == nil }
        if !emptied.isEmpty {
            warnings.append("\(path): \(countedWithExamples(emptied, singular: "query", plural: "queries")) "
                + "judged only against unknown corpus ids, so not evaluated")
        }
        return (Qrels(judgements), warnings)
    }
}

/// Distinct ids in first-seen order, and how many times any of them was seen.
struct OrderedIDs {
    private(set) var ids: [String] = []
    private(set) var occurrences = 0
    private var seen: Set<String> = []

    mutating func add(_ id: String) {
        occurrences += 1
        if seen.insert(id).inserted { ids.append(id) }
    }
}

/// An optional string field; absent or null reads as "".
func optionalString(_ object: [String: Any], _ field: String, path: String, line: Int) throws -> String {
    guard let value = object[field], !(value is NSNull) else { return "" }
    guard let string = value as? String else {
        throw EvalError.wrongFieldType(path: path, line: line, field: field, expected: "a string")
    }
    return string
}

/// Reads a JSON Lines file of records with an `id`, rejecting empty files and duplicate ids. Blank lines are skipped.
private func readRecords<Record: Identifiable>(
    _ url: URL, _ make: ([String: Any], String, Int) throws -> Record
) throws -> [Record] where Record.ID == String {
    let path = url.path
    var records: [Record] = []
    var firstLine: [String: Int] = [:]
    for (number, text) in try readLines(url) where !text.allSatisfy(\.isWhitespace) {
        let record = try make(try parseJSONObject(text, path: path, number: number), path, number)
        if let first = firstLine[record.id] {
            throw EvalError.duplicateID(path: path, line: number, id: record.id, firstLine: first)
        }
        firstLine[record.id] = number
        records.append(record)
    }
    if records.isEmpty { throw EvalError.emptyFile(path: path) }
    return records
}

extension BEIRDocument: Identifiable {}
extension BEIRQuery: Identifiable {}

extension LabeledQuestionSet {
    /// A BEIR folder's queries and qrels as labelled questions, for training on a pipeline's own collection: the
    /// folder needs `queries.jsonl` and `qrels/<split>.tsv` (no `corpus.jsonl`: the corpus is the pipeline's index),
    /// and each qrels corpus id is a label target (`page.html` or `page.html#anchor`). Positive grades only; queries
    /// without one are left out. Errors name the file and line, as for the eval format.
    public static func load(beirFolder folder: URL, split: String = "train") throws -> LabeledQuestionSet {
        let queriesURL = folder.appendingPathComponent("queries.jsonl")
        let qrelsURL = folder.appendingPathComponent("qrels").appendingPathComponent("\(split).tsv")
        for url in [queriesURL, qrelsURL] where !FileManager.default.fileExists(atPath: url.path) {
            throw EvalError.notABEIRFolder(path: folder.path, problem: "no \(url.path.dropFirst(folder.path.count + 1))", split: split)
        }
        let queries = try readRecords(queriesURL) { object, path, line in
            BEIRQuery(id: try requiredString(object, "_id", path: path, line: line),
                      text: try requiredString(object, "text", path: path, line: line))
        }
        let (qrels, _) = try BEIRDataset.readQrels(qrelsURL, queryIDs: Set(queries.map(\.id)))
        let questions = queries.compactMap { query -> LabeledQuestion? in
            let relevant = (qrels.judgements[query.id] ?? [:]).filter { $0.value > 0 }
            guard !relevant.isEmpty else { return nil }
            return LabeledQuestion(id: query.id, question: query.text,
                                   relevant: Dictionary(uniqueKeysWithValues: relevant.map { (LabelTarget($0.key), $0.value) }))
        }
        if questions.isEmpty { throw EvalError.nothingToEvaluate(path: qrelsURL.path, reason: "no query has a positive judgement") }
        return LabeledQuestionSet(questions: questions)
    }
}
