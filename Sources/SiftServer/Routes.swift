import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SiftCore
import SiftPipeline

typealias Context = BasicRequestContext

extension SiftServer {
    /// Every route. `/v1/*` and `/metrics` need an API key when keys are configured; the question page, its assets,
    /// the OpenAPI document, the health checks and the collection's pages do not.
    func makeRouter() -> Router<Context> {
        let router = Router(context: Context.self)
        router.middlewares.add(ReplyMiddleware(server: self))
        if !settings.corsOrigins.isEmpty { router.middlewares.add(CORSOriginsMiddleware(origins: settings.corsOrigins)) }
        if !options.apiKeys.isEmpty { router.middlewares.add(APIKeyMiddleware(keys: options.apiKeys)) }

        router.get("/healthz") { _, _ in Self.json(["status": "ok"]) }
        router.get("/readyz") { _, _ in try self.readiness() }
        router.get("/metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: self.metrics.text())))
        }
        router.get("/openapi.json") { _, _ in Self.bytes(Data(OpenAPIDocument.json.utf8), type: "application/json") }
        router.get("/") { _, _ in Self.page(QuestionPage.html, type: "text/html; charset=utf-8") }
        router.get("/static/app.js") { _, _ in Self.page(QuestionPage.script, type: "text/javascript; charset=utf-8") }
        router.get("/static/app.css") { _, _ in Self.page(QuestionPage.style, type: "text/css; charset=utf-8") }
        router.get("/source/**") { request, _ in try self.sources.response(rawPath: request.uri.path, prefix: "/source/") }

        router.get("/v1/info") { _, _ in try Self.encoded(self.info()) }
        router.post("/v1/ask") { request, _ in try await self.ask(request) }
        router.post("/v1/batch") { request, _ in try await self.batch(request) }
        router.post("/v1/search") { request, _ in try await self.search(request) }
        router.post("/v1/embed") { request, _ in try await self.embed(request) }
        router.post("/v1/similarity") { request, _ in try await self.similarity(request) }
        router.post("/v1/rerank") { request, _ in try await self.rerank(request) }
        // Preflights reach the CORS middleware through these (it answers them itself when the origin is allowed).
        for path in ["/v1/ask", "/v1/batch", "/v1/search", "/v1/embed", "/v1/similarity", "/v1/rerank", "/v1/info"] {
            router.on(RouterPath(path), method: .options) { _, _ in Response(status: .noContent) }
        }
        return router
    }

    /// The methods each route takes, for 405 replies; nil for a path that is no route.
    static func allowedMethods(path: String) -> String? {
        if path.hasPrefix("/source/") { return "GET" }
        switch path {
        case "/v1/ask", "/v1/batch", "/v1/search", "/v1/embed", "/v1/similarity", "/v1/rerank": return "POST, OPTIONS"
        case "/v1/info": return "GET, OPTIONS"
        case "/healthz", "/readyz", "/metrics", "/openapi.json", "/", "/static/app.js", "/static/app.css": return "GET"
        default: return nil
        }
    }

    // MARK: Endpoints

    func readiness() throws -> Response {
        guard let generation = runner.indexGeneration else {
            throw ServerError(status: 503, "the index is not open", retryAfter: 1)
        }
        return try Self.encoded(["status": "ready", "generation": String(generation)])
    }

    struct Info: Encodable {
        var pipeline: String
        var model: String
        var reranker: Bool
        var stages: [String: Bool]
        var answersTopK: Int
        var answerRange: [Int]
        var index: IndexInfo
        var auth: Bool
        enum CodingKeys: String, CodingKey {
            case pipeline, model, reranker, stages, index, auth
            case answersTopK = "answers_top_k", answerRange = "top_k_range"
        }
    }

    struct IndexInfo: Encodable { var documents: Int; var chunks: Int; var generation: Int }

    func info() throws -> Info {
        let config = runner.config
        let stats = try runner.openIndex().stats
        return Info(pipeline: config.name, model: config.embedder.model.lastPathComponent, reranker: runner.reranks,
                    stages: ["dense": config.retriever.dense, "bm25": config.retriever.bm25, "rerank": runner.reranks],
                    answersTopK: config.answers.topK,
                    answerRange: [config.answerCountRange.lowerBound, config.answerCountRange.upperBound],
                    index: IndexInfo(documents: stats.documents, chunks: stats.chunks, generation: stats.generation),
                    auth: !options.apiKeys.isEmpty)
    }

    func ask(_ request: Request) async throws -> Response {
        let body = try await jsonBody(request)
        let question = try QuestionRequest(RequestFields(json: body, allowed: QuestionRequest.fields), config: runner.config)
        let result = try await batcher.ask(question.question, options: question.options)
        var response = try Self.encoded(AskRecord(result))
        response.headers[HTTPField.Name("Sift-Index-Generation")!] = String(result.generation)
        return response
    }

    /// JSON Lines in (or a JSON array of the same objects, sent as application/json), JSON Lines out, streamed: questions go to the batcher `server.max_batch` at a time (so a
    /// long batch never floods the queue), and each window's answers are written, in input order, as soon as it is
    /// done. A bad line gets an error record of its own (`{"line", "id", "error", "status"}`) and the rest are
    /// answered; when no line can be answered, the request as a whole is refused with the first line's error.
    func batch(_ request: Request) async throws -> Response {
        let body = try await collect(request, accepting: ["application/x-ndjson", "application/jsonl", "application/json", "text/plain"])
        // Each item: its line (or, for a JSON array, its 1-based position) and its JSON.
        var items: [(line: Int, value: Result<JSONValue, ServerError>)] = []
        if request.headers[.contentType]?.lowercased().hasPrefix("application/json") == true {
            guard let value = try? JSONDecoder().decode(JSONValue.self, from: body) else { throw ServerError.badRequest("the body is not valid JSON") }
            guard case let .array(values) = value else {
                throw ServerError.badRequest("as application/json the body must be an array of questions, got \(value.kind); or send JSON Lines as application/x-ndjson")
            }
            items = values.enumerated().map { ($0 + 1, .success($1)) }
        } else {
            for (offset, raw) in String(decoding: body, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
                if text.isEmpty { continue }
                let value = (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)))
                    .map { Result<JSONValue, ServerError>.success($0) } ?? .failure(ServerError.badRequest("line \(offset + 1): not valid JSON"))
                items.append((offset + 1, value))
            }
        }
        var parsed: [(line: Int, id: String?, item: Result<QuestionRequest, ServerError>)] = []
        for (line, value) in items {
            var id: String?
            do {
                let fields = try RequestFields(try value.get(), allowed: ["id"] + QuestionRequest.fields, context: "line \(line): ")
                id = try? QuestionRequest.id(fields)
                parsed.append((line, id, .success(try QuestionRequest(fields, config: runner.config, withID: true))))
            } catch {
                parsed.append((line, id, .failure(ServerError.from(error))))
            }
        }
        guard !parsed.isEmpty else { throw ServerError.unprocessable("the body holds no questions (one JSON object per line)") }
        // Nothing to answer: the whole request is refused with the first line's reason, rather than a 200 of errors.
        if case let .failure(first)? = parsed.first?.item, parsed.allSatisfy({ if case .failure = $0.item { true } else { false } }) {
            throw first
        }
        guard parsed.count <= settings.maxTexts else {
            throw ServerError.unprocessable("the body holds \(parsed.count) questions; at most \(settings.maxTexts) (server.max_texts)")
        }
        let window = settings.maxBatch
        let questions = parsed
        let batcher = self.batcher
        let log = self.log
        var headers = HTTPFields()
        headers[.contentType] = "application/x-ndjson"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            for start in stride(from: 0, to: questions.count, by: window) {
                let slice = Array(questions[start..<min(questions.count, start + window)])
                let records = await withTaskGroup(of: (Int, String).self) { group in
                    for (position, entry) in slice.enumerated() {
                        group.addTask {
                            switch entry.item {
                            case let .failure(error):
                                return (position, Self.errorLine(error, line: entry.line, id: entry.id))
                            case let .success(question):
                                do {
                                    let result = try await batcher.ask(question.question, options: question.options)
                                    let record = BatchRecord(id: question.id ?? "line\(entry.line)", result: AskRecord(result))
                                    return (position, String(decoding: try JSONEncoder.sift.encode(record), as: UTF8.self))
                                } catch {
                                    let reply = ServerError.from(error)
                                    if let detail = reply.logDetail { log("batch line \(entry.line): \(detail)") }
                                    return (position, Self.errorLine(reply, line: entry.line, id: question.id))
                                }
                            }
                        }
                    }
                    var lines = [String](repeating: "", count: slice.count)
                    for await (position, line) in group { lines[position] = line }
                    return lines
                }
                try await writer.write(ByteBuffer(string: records.joined(separator: "\n") + "\n"))
            }
            try await writer.finish(nil)
        })
    }

    struct BatchRecord: Encodable {
        var id: String
        var result: AskRecord
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try result.encode(to: encoder)
        }
        enum CodingKeys: String, CodingKey { case id }
    }

    static func errorLine(_ error: ServerError, line: Int, id: String?) -> String {
        var object: [String: Any] = ["line": line, "error": error.message, "status": error.status]
        if let id { object["id"] = id }
        if let field = error.field { object["field"] = field }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    struct Hit: Sendable { var index: Int; var score: Float }
    struct SearchHit: Encodable { var rank: Int; var score: Float; var text: String; var line: Int?; var source: String? }

    /// `sift search --json`: with `corpus`, semantic search over those texts; without, the index's retrievers (no
    /// re-ranking, no highlighting).
    func search(_ request: Request) async throws -> Response {
        let fields = try RequestFields(json: try await jsonBody(request), allowed: ["query", "corpus", "top_k"])
        let query = try fields.requiredString("query")
        guard !query.allSatisfy(\.isWhitespace) else { throw ServerError.unprocessable("query is empty", field: "query") }
        guard query.count <= settings.maxQuestionCharacters else {
            throw ServerError.unprocessable("query has \(query.count) characters; at most \(settings.maxQuestionCharacters)", field: "query")
        }
        let corpus = try fields.strings("corpus", limit: settings.maxTexts, required: false)
        if let corpus {
            let top = try fields.integer("top_k", in: 1...corpus.count) ?? min(5, corpus.count)
            let tools = ModelTools(embedder: try runner.embedder())
            let hits = try await utility { try tools.search(queries: [query], corpus: corpus, topK: top)[0].map { Hit(index: $0.corpusID, score: $0.score) } }
            return try Self.encoded(hits.enumerated().map { SearchHit(rank: $0 + 1, score: $1.score, text: corpus[$1.index], line: $1.index + 1, source: nil) })
        }
        let top = try fields.integer("top_k", in: runner.config.answerCountRange) ?? 5
        let result = try await batcher.ask(query, options: AskOptions(topK: top, rerank: false, highlight: false))
        return try Self.encoded(result.answers.map { SearchHit(rank: $0.rank, score: $0.retrievalScore, text: $0.chunk.text, line: nil, source: $0.chunk.source) })
    }

    struct EmbeddingLine: Encodable { var text: String; var embedding: [Float] }

    /// `sift embed`: one `{text, embedding}` per text, unit length (the bi-encoder normalises).
    func embed(_ request: Request) async throws -> Response {
        let fields = try RequestFields(json: try await jsonBody(request), allowed: ["texts"])
        let texts = try fields.strings("texts", limit: settings.maxTexts)!
        let tools = ModelTools(embedder: try runner.embedder())
        let vectors = try await utility { try tools.embed(texts) }
        return try Self.encoded(zip(texts, vectors).map { EmbeddingLine(text: $0, embedding: $1) })
    }

    struct SimilarityOutput: Encodable { var sentences: [String]; var matrix: [[Float]] }

    /// `sift similarity --json`: `cos_sim` of every pair of sentences.
    func similarity(_ request: Request) async throws -> Response {
        let fields = try RequestFields(json: try await jsonBody(request), allowed: ["sentences"])
        let sentences = try fields.strings("sentences", limit: settings.maxTexts)!
        let tools = ModelTools(embedder: try runner.embedder())
        let matrix = try await utility { try tools.similarity(sentences) }
        return try Self.encoded(SimilarityOutput(sentences: sentences, matrix: matrix))
    }

    struct Scored: Encodable { var rank: Int; var score: Float; var index: Int; var passage: String }

    /// `sift rerank --json`: the pipeline's cross-encoder scores, best first (`index` is 1-based, as in the CLI).
    func rerank(_ request: Request) async throws -> Response {
        let fields = try RequestFields(json: try await jsonBody(request), allowed: ["query", "passages"])
        let query = try fields.requiredString("query")
        guard !query.allSatisfy(\.isWhitespace) else { throw ServerError.unprocessable("query is empty", field: "query") }
        let passages = try fields.strings("passages", limit: settings.maxTexts)!
        guard runner.reranks else {
            throw ServerError.unprocessable("this server's pipeline has no re-ranker (reranker: none)", field: "passages")
        }
        let runner = self.runner
        let scores = try await utility { try runner.rerankScores(query: query, passages: passages) }
        let ranked = scores.enumerated().sorted { $0.element > $1.element }.enumerated().map { rank, item in
            Scored(rank: rank + 1, score: item.element, index: item.offset + 1, passage: passages[item.offset])
        }
        return try Self.encoded(ranked)
    }

    // MARK: Helpers

    /// Runs model work off the event loop, bounded by `server.max_queue` (503 beyond) and `server.timeout_ms` (504).
    func utility<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        guard utilityLoad.enter(limit: settings.maxQueue) else { throw ServerError.overloaded(queue: settings.maxQueue) }
        let timeout = settings.timeoutMilliseconds
        let once = OnceContinuation<T>()
        return try await withCheckedThrowingContinuation { continuation in
            once.attach(continuation)
            DispatchQueue.global().async {
                defer { self.utilityLoad.leave() }
                once.resolve(Result { try work() })
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(timeout)) {
                once.resolve(.failure(ServerError.timedOut(milliseconds: timeout)))
            }
        }
    }

    /// The body of a JSON request: 415 for another content type, 413 over `server.max_body_bytes`.
    func jsonBody(_ request: Request) async throws -> Data {
        try await collect(request, accepting: ["application/json"])
    }

    func collect(_ request: Request, accepting types: [String]) async throws -> Data {
        let type = request.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let type, types.contains(type) else {
            throw ServerError(status: 415, "send the body as \(types[0])" + (type.map { ", not \($0)" } ?? " (Content-Type is missing)"))
        }
        let limit = settings.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw ServerError(status: 413, "the body has \(length) bytes; at most \(limit) (server.max_body_bytes)")
        }
        var request = request
        do {
            let buffer = try await request.collectBody(upTo: limit)
            return Data(buffer: buffer)
        } catch is NIOTooManyBytesError {
            throw ServerError(status: 413, "the body is larger than \(limit) bytes (server.max_body_bytes)")
        }
    }

    static func encoded<T: Encodable>(_ value: T) throws -> Response {
        bytes(try JSONEncoder.sift.encode(value), type: "application/json")
    }

    static func json(_ object: [String: String]) -> Response {
        bytes((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data(), type: "application/json")
    }

    static func bytes(_ data: Data, type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The question page and its assets, with a policy that allows nothing but this server's own files.
    static func page(_ text: String, type: String) -> Response {
        var response = bytes(Data(text.utf8), type: type)
        response.headers[.contentSecurityPolicy] = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.cacheControl] = "no-cache"
        return response
    }
}

extension JSONEncoder {
    /// Stable key order, so that replies compare byte for byte.
    static var sift: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

/// A continuation resumed once: by the work's result or by its timeout, whichever comes first; later results are
/// dropped.
final class OnceContinuation<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?

    func attach(_ continuation: CheckedContinuation<T, any Error>) {
        lock.lock(); self.continuation = continuation; lock.unlock()
    }

    /// True until resolved.
    var isOpen: Bool { lock.lock(); defer { lock.unlock() }; return continuation != nil }

    func resolve(_ result: Result<T, any Error>) {
        lock.lock()
        let waiting = continuation
        continuation = nil
        lock.unlock()
        waiting?.resume(with: result)
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = HTTPField.Name("X-Content-Type-Options")!
}
