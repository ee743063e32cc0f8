import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import SiftCore
import SiftPipeline

/// How `sift serve` listens: everything that is not in the pipeline's `server:` section.
public struct ServeOptions: Sendable {
    /// Loopback unless asked otherwise.
    public var host: String
    /// 0 picks a free port (reported through `onListening`).
    public var port: Int
    /// Accepted API keys; empty serves without keys.
    public var apiKeys: [String]

    public init(host: String = "127.0.0.1", port: Int = 8080, apiKeys: [String] = []) {
        self.host = host
        self.port = port
        self.apiKeys = apiKeys
    }

    /// API keys from a file: one per line; blank lines and lines starting with `#` are skipped. Throws a
    /// `ServerError` naming the file (never a key) when it cannot be read or holds no key.
    public static func apiKeys(fromFile path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ServerError(status: 0, "cannot read the API key file \(path)")
        }
        let keys = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard !keys.isEmpty else { throw ServerError(status: 0, "the API key file \(path) holds no key") }
        if let short = keys.firstIndex(where: { $0.utf8.count < 16 }) {
            throw ServerError(status: 0, "API key \(short + 1) in \(path) is shorter than 16 characters")
        }
        return keys
    }
}

/// `sift serve`: the HTTP API, the question page and the collection's own pages over one `PipelineRunner`, whose
/// models and index are loaded once. Runs until SIGTERM or SIGINT, then stops accepting connections, lets requests in
/// flight finish, and returns.
public final class SiftServer: Sendable {
    let runner: PipelineRunner
    let options: ServeOptions
    let settings: ServerConfig
    let metrics = ServerMetrics()
    let batcher: QuestionBatcher
    let sources: SourceFiles
    let log: @Sendable (String) -> Void
    /// Work on the utility endpoints (embed, similarity, search, rerank) under way, against `server.max_queue`.
    let utilityLoad = LoadCounter()

    /// Loads the embedder, the re-ranker (when configured) and the index, so that a missing model or index fails
    /// here, before the port opens. `log` receives one line per event (start, reload, a failed request's detail).
    public init(runner: PipelineRunner, options: ServeOptions, log: @escaping @Sendable (String) -> Void) throws {
        self.runner = runner
        self.options = options
        self.settings = runner.config.server
        self.log = log
        try runner.preload()
        RuntimeInfo.useSingleThreadedBLASForSmallProducts()
        sources = SourceFiles(root: runner.config.source.root)
        batcher = QuestionBatcher(runner: runner, settings: settings, metrics: metrics, log: log)
        metrics.indexGeneration.set(Double(runner.indexGeneration ?? 0))
    }

    /// Serves until SIGTERM or SIGINT. `onListening` gets the address and the port bound (the one chosen, for port 0).
    public func run(onListening: @escaping @Sendable (String, Int) -> Void) async throws {
        var logger = Logger(label: "sift.serve")
        logger.logLevel = .warning
        let app = Application(
            router: makeRouter(),
            configuration: ApplicationConfiguration(address: .hostname(options.host, port: options.port), serverName: "sift"),
            onServerRunning: { channel in
                onListening(self.options.host, channel.localAddress?.port ?? self.options.port)
            },
            logger: logger)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        batcher.stop()
    }

    /// The OpenAPI 3.1 document served at `/openapi.json`.
    public static var openAPIDocument: String { OpenAPIDocument.json }

    /// Runs the server on this thread until it stops (for a synchronous `main`).
    public func runBlocking(onListening: @escaping @Sendable (String, Int) -> Void) throws {
        let done = DispatchSemaphore(value: 0)
        let failure = ErrorBox()
        Task {
            do { try await self.run(onListening: onListening) } catch { failure.error = error }
            done.signal()
        }
        done.wait()
        if let error = failure.error { throw error }
    }
}

/// The first error of a background task, read after it ends.
final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: (any Error)?
    var error: (any Error)? {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}

/// A bounded count of work under way.
final class LoadCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    /// Takes a slot unless `limit` are taken.
    func enter(limit: Int) -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard count < limit else { return false }
        count += 1
        return true
    }

    func leave() { lock.lock(); count -= 1; lock.unlock() }
}
