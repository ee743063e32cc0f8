import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SiftCore
import SiftPipeline

/// Turns every failure into a JSON reply (`{error, field?}` with its status, and `Retry-After` for 503), logs the
/// detail a client must not see, and records the request in the metrics by its matched route.
struct ReplyMiddleware: RouterMiddleware {
    let server: SiftServer

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let reply = Self.reply(for: error, request: request)
            if let detail = reply.logDetail { server.log("\(request.method) \(context.endpointPath ?? request.uri.path): \(reply.status): \(detail)") }
            response = Response(status: HTTPResponse.Status(code: reply.status), headers: [.contentType: "application/json"],
                                body: ResponseBody(byteBuffer: ByteBuffer(bytes: reply.body)))
            if let seconds = reply.retryAfter { response.headers[.retryAfter] = String(seconds) }
            if let allow = reply.allow { response.headers[.allow] = allow }
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        server.metrics.request(route: context.endpointPath ?? "unmatched", status: response.status.code, seconds: seconds)
        return response
    }

    /// The reply for an error: Hummingbird's own (404 for an unknown route, 413) keep their status, except that a
    /// known route asked with another method gets 405 and `Allow`.
    static func reply(for error: any Error, request: Request) -> ServerError {
        if let error = error as? HTTPError, error.status == .notFound, let allowed = SiftServer.allowedMethods(path: request.uri.path) {
            var reply = ServerError(status: 405, "\(request.method) is not allowed here; use \(allowed)")
            reply.allow = allowed
            return reply
        }
        if let error = error as? HTTPError {
            let message = error.body ?? (error.status == .notFound ? "no such route" : error.status.reasonPhrase)
            return ServerError(status: error.status.code, message)
        }
        if !(error is ServerError), !(error is PipelineError), let error = error as? any HTTPResponseError {
            return ServerError(status: error.status.code, error.status.reasonPhrase)
        }
        return ServerError.from(error)
    }
}

/// API keys for `/v1/*` and `/metrics`, sent as `Authorization: Bearer KEY` or `X-API-Key: KEY`. Keys are compared
/// in constant time: every byte of every configured key is looked at whatever the key sent.
struct APIKeyMiddleware: RouterMiddleware {
    let keys: [[UInt8]]

    init(keys: [String]) { self.keys = keys.map { Array($0.utf8) } }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard path.hasPrefix("/v1/") || path == "/metrics" else { return try await next(request, context) }
        // CORS preflights carry no credentials.
        if request.method == .options { return try await next(request, context) }
        var sent: [UInt8]?
        if let value = request.headers[.authorization], value.lowercased().hasPrefix("bearer ") {
            sent = Array(value.dropFirst(7).trimmingCharacters(in: .whitespaces).utf8)
        } else if let value = request.headers[HTTPField.Name("X-API-Key")!] {
            sent = Array(value.trimmingCharacters(in: .whitespaces).utf8)
        }
        guard let sent, Self.matches(sent, any: keys) else {
            var response = Response(status: .unauthorized, headers: [.contentType: "application/json"],
                                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: ServerError.unauthorized.body)))
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        }
        return try await next(request, context)
    }

    /// True when `sent` equals one of `keys`; the time taken depends only on the keys' lengths and `sent`'s length.
    static func matches(_ sent: [UInt8], any keys: [[UInt8]]) -> Bool {
        var found: UInt8 = 0
        for key in keys {
            var difference = UInt8(truncatingIfNeeded: key.count ^ sent.count)
            for i in 0..<key.count {
                difference |= key[i] ^ (i < sent.count ? sent[i] : 0)
            }
            found |= difference == 0 ? 1 : 0
        }
        return found == 1
    }
}

/// CORS for the configured origins only (`server.cors_origins`; `*` allows any): preflights are answered here, and
/// replies to an allowed origin say so. With no origins configured this middleware is not installed at all.
struct CORSOriginsMiddleware: RouterMiddleware {
    let origins: Set<String>

    init(origins: [String]) { self.origins = Set(origins) }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin], origins.contains("*") || origins.contains(origin) else {
            return try await next(request, context)
        }
        var response: Response
        if request.method == .options {
            response = Response(status: .noContent)
            response.headers[.accessControlAllowMethods] = "GET, POST, OPTIONS"
            response.headers[.accessControlAllowHeaders] = "Content-Type, Authorization, X-API-Key"
            response.headers[.accessControlMaxAge] = "600"
        } else {
            response = try await next(request, context)
        }
        response.headers[.accessControlAllowOrigin] = origins.contains("*") ? "*" : origin
        response.headers[.vary] = "Origin"
        return response
    }
}
