import Foundation
import SiftCore
import SiftPipeline

/// Everything a request can fail with, as the reply it gets: a status, a message safe to show to any client and,
/// for a bad field, its name. Messages never carry a secret or a path outside the collection: a stage failure's
/// full description goes to the server's log, and the client gets the stage and the kind of failure.
public struct ServerError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var message: String
    /// The request field at fault (`top_k`, `question`), when there is one.
    public var field: String?
    /// Seconds after which a retry may work (503).
    public var retryAfter: Int?
    /// The methods a route takes (405).
    public var allow: String?
    /// What the log gets beyond `message` (a stage's own error, with paths); never sent to the client.
    public var logDetail: String?

    public init(status: Int, _ message: String, field: String? = nil, retryAfter: Int? = nil, logDetail: String? = nil) {
        self.status = status
        self.message = message
        self.field = field
        self.retryAfter = retryAfter
        self.logDetail = logDetail
    }

    public var description: String { "\(status) \(message)" + (field.map { " (field \($0))" } ?? "") }

    static func badRequest(_ message: String, field: String? = nil) -> ServerError { ServerError(status: 400, message, field: field) }
    static func unprocessable(_ message: String, field: String? = nil) -> ServerError { ServerError(status: 422, message, field: field) }
    static let unauthorized = ServerError(status: 401, "a valid API key is required (Authorization: Bearer KEY)")
    static func overloaded(queue: Int) -> ServerError {
        ServerError(status: 503, "the server is busy: \(queue) questions are waiting; retry shortly", retryAfter: 1)
    }
    static func timedOut(milliseconds: Int) -> ServerError {
        ServerError(status: 504, "no answer within \(milliseconds) ms (server.timeout_ms)")
    }

    /// The reply for a pipeline failure, chosen by its kind: the request asked for something the pipeline refuses
    /// (422), something is missing or busy (503), stored data is damaged or a stage failed (500).
    static func from(_ error: PipelineError) -> ServerError {
        let stage = error.stage.map { "the \($0) stage" } ?? "the pipeline"
        switch (error, error.kind) {
        case let (.stageNotConfigured(stage, _), _):
            let field = stage == .rerank ? "rerank" : (stage == .dense || stage == .bm25 ? stage.rawValue : nil)
            return ServerError(status: 422, "the \(stage) stage is not configured or switched off in this server's pipeline",
                               field: field, logDetail: error.description)
        case (_, .invalidInput):
            return ServerError(status: 422, "\(stage) refused the request", logDetail: error.description)
        case (_, .missing):
            return ServerError(status: 503, "\(stage) is not available (see the server log)", retryAfter: 5, logDetail: error.description)
        case (_, .busy):
            return ServerError(status: 503, "the index is being written by another process; retry shortly", retryAfter: 1,
                               logDetail: error.description)
        case (_, .damaged):
            return ServerError(status: 500, "\(stage) found damaged or incompatible index data (see the server log)",
                               logDetail: error.description)
        case (_, .failed):
            return ServerError(status: 500, "\(stage) failed (see the server log)", logDetail: error.description)
        }
    }

    /// Any error as a reply: a `ServerError` as it is, a `PipelineError` by its kind, anything else 500.
    static func from(_ error: any Error) -> ServerError {
        if let error = error as? ServerError { return error }
        if let error = error as? PipelineError { return from(error) }
        return ServerError(status: 500, "internal error (see the server log)", logDetail: "\(error)")
    }

    /// The JSON body: `{"error": "...", "field": "..."}`.
    var body: Data {
        var object: [String: String] = ["error": message]
        if let field { object["field"] = field }
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data(#"{"error":"internal error"}"#.utf8)
    }
}
