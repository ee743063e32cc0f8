import Foundation

/// Everything that can go wrong reading evaluation inputs or writing reports.
/// Input problems carry the file and 1-based line number so users can fix the data.
public enum EvalError: Error, Sendable, Equatable, LocalizedError, CustomStringConvertible {
    case cannotRead(path: String, reason: String)
    case cannotWrite(path: String, reason: String)
    /// The file holds no records (only blank lines, or nothing; a qrels file with only its header).
    case emptyFile(path: String)
    case malformedJSON(path: String, line: Int, reason: String)
    case missingField(path: String, line: Int, field: String)
    case wrongFieldType(path: String, line: Int, field: String, expected: String)
    case duplicateID(path: String, line: Int, id: String, firstLine: Int)
    case malformedQrels(path: String, line: Int, reason: String)
    /// A qrels line names a query that `queries.jsonl` lacks (strict mode).
    case unknownQuery(path: String, line: Int, queryID: String)
    /// A qrels line names a document that `corpus.jsonl` lacks (strict mode).
    case unknownDocument(path: String, line: Int, documentID: String)
    case invalidLabel(path: String, line: Int, reason: String)
    case malformedRunFile(path: String, line: Int, reason: String)
    /// `path` is not a folder in BEIR's layout (it is a file, does not exist, or lacks one of the three files).
    case notABEIRFolder(path: String, problem: String, split: String)
    /// After dropping what names unknown ids, no query or question is left: any metric would be a meaningless zero.
    case nothingToEvaluate(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotRead(path, reason): "cannot read \(path): \(reason)"
        case let .cannotWrite(path, reason): "cannot write \(path): \(reason)"
        case let .emptyFile(path): "\(path): file has no records"
        case let .malformedJSON(path, line, reason): "\(path):\(line): malformed JSON: \(reason)"
        case let .missingField(path, line, field): "\(path):\(line): missing field \"\(field)\""
        case let .wrongFieldType(path, line, field, expected): "\(path):\(line): field \"\(field)\" must be \(expected)"
        case let .duplicateID(path, line, id, firstLine): "\(path):\(line): duplicate id \"\(id)\" (first seen on line \(firstLine))"
        case let .malformedQrels(path, line, reason): "\(path):\(line): malformed qrels line: \(reason)"
        case let .unknownQuery(path, line, queryID): "\(path):\(line): unknown query id \"\(queryID)\" (not in queries.jsonl)"
        case let .unknownDocument(path, line, documentID): "\(path):\(line): unknown corpus id \"\(documentID)\" (not in corpus.jsonl)"
        case let .invalidLabel(path, line, reason): "\(path):\(line): invalid label: \(reason)"
        case let .malformedRunFile(path, line, reason): "\(path):\(line): malformed run line: \(reason)"
        case let .notABEIRFolder(path, problem, split):
            "\(path): \(problem); a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/\(split).tsv"
        case let .nothingToEvaluate(path, reason): "\(path): nothing to evaluate: \(reason)"
        }
    }

    public var errorDescription: String? { description }
}

/// Splits a UTF-8 file into lines with their 1-based numbers; a final newline does not make an extra line.
/// A trailing "\r" (CRLF files) is removed.
func readLines(_ url: URL) throws -> [(number: Int, text: Substring)] {
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
        throw EvalError.cannotRead(path: url.path, reason: error.localizedDescription)
    }
    guard let content = String(data: data, encoding: .utf8) else {
        throw EvalError.cannotRead(path: url.path, reason: "not valid UTF-8")
    }
    var lines: [(number: Int, text: Substring)] = []
    var number = 0
    for var line in content.split(separator: "\n", omittingEmptySubsequences: false) {
        number += 1
        if line.hasSuffix("\r") { line = line.dropLast() }
        lines.append((number, line))
    }
    if let last = lines.last, last.text.isEmpty { lines.removeLast() }
    return lines
}

/// Parses one JSON Lines record that must be an object.
func parseJSONObject(_ line: Substring, path: String, number: Int) throws -> [String: Any] {
    let object: Any
    do {
        object = try JSONSerialization.jsonObject(with: Data(line.utf8), options: [])
    } catch {
        throw EvalError.malformedJSON(path: path, line: number, reason: error.localizedDescription)
    }
    guard let dictionary = object as? [String: Any] else {
        throw EvalError.malformedJSON(path: path, line: number, reason: "expected an object")
    }
    return dictionary
}

/// A required string field of a JSON Lines record.
func requiredString(_ object: [String: Any], _ field: String, path: String, line: Int) throws -> String {
    guard let value = object[field] else { throw EvalError.missingField(path: path, line: line, field: field) }
    guard let string = value as? String else {
        throw EvalError.wrongFieldType(path: path, line: line, field: field, expected: "a string")
    }
    return string
}

/// "3 unknown corpus ids (e.g. d7, d9, d12, …)": a count with the first few examples, for warnings that must stay
/// one line however many ids a file gets wrong.
func countedWithExamples(_ ids: [String], singular: String, plural: String, examples: Int = 3) -> String {
    let shown = ids.prefix(examples).joined(separator: ", ") + (ids.count > examples ? ", …" : "")
    return "\(ids.count) \(ids.count == 1 ? singular : plural) (e.g. \(shown))"
}
