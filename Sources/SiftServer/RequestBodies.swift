import Foundation
import SiftPipeline

/// A JSON value read exactly as sent: `true` is not `1`, and `"3"` is not `3`.
enum JSONValue: Decodable, Sendable {
    case null, bool(Bool), integer(Int), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int.self) { self = .integer(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    /// What the value is, for messages.
    var kind: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .integer, .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// A request body's fields, checked against the fields the endpoint takes: an unknown field is refused by name (a
/// misspelt `topk` must not be silently ignored), and each accessor refuses a value of the wrong type, null
/// included (400): leave a field out to get its default.
struct RequestFields {
    let values: [String: JSONValue]
    /// Prefixed to field names in messages (`line 3: `) for JSON Lines bodies.
    let context: String

    init(json data: Data, allowed: [String], context: String = "") throws {
        let value: JSONValue
        do { value = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            throw ServerError.badRequest("\(context)the body is not valid JSON")
        }
        try self.init(value, allowed: allowed, context: context)
    }

    init(_ value: JSONValue, allowed: [String], context: String = "") throws {
        guard case let .object(values) = value else {
            throw ServerError.badRequest("\(context)expected a JSON object, got \(value.kind)")
        }
        if let unknown = values.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw ServerError.badRequest("\(context)unknown field '\(unknown)'; this endpoint takes \(allowed.joined(separator: ", "))",
                                         field: unknown)
        }
        self.values = values
        self.context = context
    }

    private func wrongType(_ name: String, _ expected: String, _ value: JSONValue) -> ServerError {
        .badRequest("\(context)\(name) must be \(expected), got \(value.kind)", field: name)
    }

    func string(_ name: String) throws -> String? {
        switch values[name] {
        case nil: return nil
        case let .string(text)?: return text
        case let value?: throw wrongType(name, "a string", value)
        }
    }

    func requiredString(_ name: String) throws -> String {
        guard let text = try string(name) else { throw ServerError.badRequest("\(context)\(name) is required", field: name) }
        return text
    }

    func bool(_ name: String) throws -> Bool? {
        switch values[name] {
        case nil: return nil
        case let .bool(flag)?: return flag
        case let value?: throw wrongType(name, "true or false", value)
        }
    }

    func integer(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        switch values[name] {
        case nil: return nil
        case let .integer(n)?:
            guard range.contains(n) else {
                throw ServerError.unprocessable("\(context)\(name) \(n) is out of range: it must be between \(range.lowerBound) and \(range.upperBound)",
                                                field: name)
            }
            return n
        case let value?: throw wrongType(name, "an integer", value)
        }
    }

    /// A non-empty list of strings, at most `limit` of them.
    func strings(_ name: String, limit: Int, required: Bool = true) throws -> [String]? {
        switch values[name] {
        case nil:
            if required { throw ServerError.badRequest("\(context)\(name) is required", field: name) }
            return nil
        case let .array(items)?:
            let texts = try items.map { item -> String in
                guard case let .string(text) = item else { throw wrongType("\(name)[]", "a string", item) }
                return text
            }
            guard !texts.isEmpty else { throw ServerError.unprocessable("\(context)\(name) is empty", field: name) }
            guard texts.count <= limit else {
                throw ServerError.unprocessable("\(context)\(name) holds \(texts.count) texts; at most \(limit) (server.max_texts)", field: name)
            }
            return texts
        case let value?: throw wrongType(name, "an array of strings", value)
        }
    }
}

/// A question and its switches, as `/v1/ask` and each line of `/v1/batch` take them.
struct QuestionRequest: Sendable {
    var id: String?
    var question: String
    var options: AskOptions

    static let fields = ["question", "top_k", "rerank", "bm25", "dense", "explain", "highlight", "group_by"]

    /// Reads and checks the fields: a question that is empty or over `server.max_question_chars` and a `top_k`
    /// outside the pipeline's answer range are refused (422).
    init(_ fields: RequestFields, config: PipelineConfig, withID: Bool = false) throws {
        if withID { id = try Self.id(fields) }
        question = try fields.requiredString("question")
        guard !question.allSatisfy(\.isWhitespace) else {
            throw ServerError.unprocessable("\(fields.context)question is empty", field: "question")
        }
        let limit = config.server.maxQuestionCharacters
        guard question.count <= limit else {
            throw ServerError.unprocessable("\(fields.context)question has \(question.count) characters; at most \(limit) (server.max_question_chars)",
                                            field: "question")
        }
        var groupBy: AnswerGrouping?
        if let name = try fields.string("group_by") {
            guard let grouping = AnswerGrouping(rawValue: name) else {
                throw ServerError.unprocessable("\(fields.context)group_by must be one of \(AnswerGrouping.allCases.map(\.rawValue).joined(separator: ", "))",
                                                field: "group_by")
            }
            groupBy = grouping
        }
        options = AskOptions(topK: try fields.integer("top_k", in: config.answerCountRange), dense: try fields.bool("dense"),
                             bm25: try fields.bool("bm25"), rerank: try fields.bool("rerank"), highlight: try fields.bool("highlight"),
                             groupBy: groupBy, explain: try fields.bool("explain") ?? false)
        if options.dense == false && options.bm25 == false {
            throw ServerError.unprocessable("\(fields.context)dense and bm25 are both false; switch one on", field: "dense")
        }
    }

    /// A batch line's `id`: a string, or an integer written as one.
    static func id(_ fields: RequestFields) throws -> String? {
        switch fields.values["id"] {
        case nil: return nil
        case let .string(text)?: return text
        case let .integer(n)?: return String(n)
        case let value?: throw ServerError.badRequest("\(fields.context)id must be a string or an integer, got \(value.kind)", field: "id")
        }
    }
}
