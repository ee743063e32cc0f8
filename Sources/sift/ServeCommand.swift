import ArgumentParser
import Foundation
import SiftPipeline
import SiftServer

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Answer questions over HTTP: a JSON API, a question page at /, and metrics.",
        discussion: """
        Loads the pipeline's models and index once, then serves until SIGTERM or Ctrl-C, which let requests in \
        flight finish. Questions that arrive together share one embedding call and one search (micro-batching); \
        a new index generation written by `sift index` is picked up without a restart. Limits, batching and CORS \
        are the pipeline's `server:` keys (`sift pipeline keys`), e.g. --set server.max_batch=16.

        Endpoints: POST /v1/ask, /v1/batch (JSON Lines), /v1/search, /v1/embed, /v1/similarity, /v1/rerank; \
        GET /v1/info, /healthz, /readyz, /metrics (Prometheus), /openapi.json, / (the question page) and \
        /source/PAGE (the collection's own files).

        Examples:
          sift serve -p Pipelines/handbook.yaml
          curl -s localhost:8080/v1/ask -H 'Content-Type: application/json' \\
            -d '{"question": "What does exit status 137 mean?"}'
          sift serve -p Pipelines/handbook.yaml --port 0 --api-key-file keys.txt
        """)

    @OptionGroup var pipeline: PipelineOptions
    @Option(help: "Address to listen on (loopback by default; 0.0.0.0 for every interface).")
    var host = "127.0.0.1"
    @Option(help: "Port to listen on; 0 picks a free one (printed on stderr).")
    var port = 8080
    @Option(name: .customLong("api-key-file"), help: ArgumentHelp(
        "Require an API key for /v1/* and /metrics: one key per line (at least 16 characters; # comments).", valueName: "file"))
    var apiKeyFile: String?
    @Flag(name: .customLong("print-openapi"), help: "Print the OpenAPI document and exit.")
    var printOpenAPI = false

    func run() throws {
        if printOpenAPI {
            FileHandle.standardOutput.write(Data(SiftServer.openAPIDocument.utf8))
            return
        }
        guard (0...65535).contains(port) else { throw CLIError("--port must be between 0 and 65535", exitCode: 64) }
        var keys: [String] = []
        if let apiKeyFile {
            do { keys = try ServeOptions.apiKeys(fromFile: apiKeyFile) } catch let error as ServerError {
                throw CLIError(error.message, exitCode: 66)
            }
        }
        let runner = try pipeline.runner()
        let server = try SiftServer(runner: runner, options: ServeOptions(host: host, port: port, apiKeys: keys)) { line in
            Terminal.error("sift serve: \(line)")
        }
        let name = runner.config.name
        let keyNote = keys.isEmpty ? "no API key" : "API keys required"
        do {
            try server.runBlocking { host, port in
                let shown = host.contains(":") ? "[\(host)]" : host
                Terminal.error("sift serve: \(name) listening on http://\(shown):\(port)/ (\(keyNote))")
            }
        } catch {
            // Binding fails before the first request: say where, in words.
            let detail = "\(error)"
            if detail.contains("Address already in use") {
                throw CLIError("cannot listen on \(host):\(port): the port is in use (another server?); choose one with --port, or --port 0 for a free one", exitCode: 75)
            }
            if detail.contains("UnknownHost") || detail.contains("Cannot assign requested address") {
                throw CLIError("cannot listen on \(host):\(port): no such local address", exitCode: 64)
            }
            throw CLIError("sift serve stopped: \(detail)")
        }
        Terminal.error("sift serve: stopped")
    }
}
