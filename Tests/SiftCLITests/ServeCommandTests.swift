import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import SiftTestSupport

/// A real `sift serve` process on an ephemeral loopback port (`--port 0`; the port is read back from its log line).
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let logURL: URL
    private(set) var port = 0

    init(_ arguments: [String], in workspace: Workspace) throws {
        logURL = workspace.folder.appendingPathComponent("serve-\(UUID().uuidString).log")
        guard FileManager.default.createFile(atPath: logURL.path, contents: nil) else { throw ServeTestError("cannot create \(logURL.path)") }
        process.executableURL = TestPaths.siftBinary
        process.arguments = ["serve", "--port", "0"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "SIFT_PIPELINE")
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: logURL)
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && process.isRunning {
            if let match = log.firstMatch(of: /listening on http:\/\/127\.0\.0\.1:(\d+)\//) {
                port = Int(match.1)!
                return
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw ServeTestError("sift serve did not start: \(log)")
    }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// Sends `signal` and waits for the exit status.
    @discardableResult
    func stop(_ signal: Int32 = SIGTERM) -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit { if process.isRunning { process.terminate(); process.waitUntilExit() } }

    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: Data
        var text: String { String(decoding: body, as: UTF8.self) }
        func json() throws -> Any { try JSONSerialization.jsonObject(with: body) }
        func object() throws -> [String: Any] { try #require(try json() as? [String: Any]) }
        func header(_ name: String) -> String? { headers.first { $0.key.lowercased() == name.lowercased() }?.value }
    }

    /// One HTTP request to the server, waiting for the whole reply.
    func request(_ method: String, _ path: String, body: Data? = nil, type: String? = "application/json",
                 headers: [String: String] = [:]) throws -> Reply {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.httpBody = body
        request.timeoutInterval = 120
        if let type, body != nil { request.setValue(type, forHTTPHeaderField: "Content-Type") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Result<Reply, any Error> = .failure(ServeTestError("no reply"))
        let task = URLSession.shared.dataTask(with: request) { data, response, error in
            if let error { result = .failure(error) } else if let http = response as? HTTPURLResponse {
                let headers = Dictionary(http.allHeaderFields.map { ("\($0.key)", "\($0.value)") }, uniquingKeysWith: { a, _ in a })
                result = .success(Reply(status: http.statusCode, headers: headers, body: data ?? Data()))
            }
            done.signal()
        }
        task.resume()
        done.wait()
        return try result.get()
    }

    func post(_ path: String, json: String, headers: [String: String] = [:]) throws -> Reply {
        try request("POST", path, body: Data(json.utf8), headers: headers)
    }

    func get(_ path: String, headers: [String: String] = [:]) throws -> Reply { try request("GET", path, headers: headers) }
}

struct ServeTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// `sift serve` end to end: every endpoint, every bad input, API keys, hot reload, overload and timeouts, and
/// graceful shutdown, against the real binary on loopback.
@Suite(.serialized) struct ServeCommandTests {
    static func indexed() throws -> Workspace {
        let workspace = try Workspace()
        let index = try sift(["index", "-p", workspace.path("tiny.yaml"), "--quiet"])
        #expect(index.code == 0, "\(index.stderr)")
        return workspace
    }

    @Test func everyEndpointAnswersWithTheCLIShapes() throws {
        let workspace = try Self.indexed()
        let server = try ServerProcess(["-p", workspace.path("tiny.yaml")], in: workspace)
        #expect(server.log.contains("(no API key)"))
        let second = try sift(["serve", "-p", workspace.path("tiny.yaml"), "--port", String(server.port)])
        #expect(second.code == 75 && second.stderr.contains("the port is in use"), "\(second.stderr)")

        #expect(try server.get("/healthz").object()["status"] as? String == "ok")
        let ready = try server.get("/readyz")
        let readyGeneration = try ready.object()["generation"] as? String
        #expect(ready.status == 200 && readyGeneration != nil)
        let info = try server.get("/v1/info").object()
        #expect(info["pipeline"] as? String == "tiny" && info["reranker"] as? Bool == false && info["auth"] as? Bool == false)

        // /v1/ask gives the `sift ask --json` record, answer for answer.
        let question = "How many vacation days do I get per year?"
        let ask = try server.post("/v1/ask", json: #"{"question": "\#(question)", "top_k": 2}"#)
        #expect(ask.status == 200, "\(ask.text)")
        #expect(ask.header("Content-Type") == "application/json" && ask.header("Sift-Index-Generation") != nil)
        let record = try ask.object()
        let answers = try #require(record["answers"] as? [[String: Any]])
        #expect((answers.first?["source"] as? String)?.hasPrefix("leave.html#") == true)
        #expect((answers.first?["highlight_text"] as? String)?.contains("25 vacation days") == true)
        let cli = try sift(["ask", "-p", workspace.path("tiny.yaml"), "--top", "2", "--json", question])
        let cliRecord = try #require(try JSONSerialization.jsonObject(with: Data(cli.stdout.utf8)) as? [String: Any])
        let cliAnswers = try #require(cliRecord["answers"] as? [[String: Any]])
        #expect(answers.map { $0["chunk_id"] as? String } == cliAnswers.map { $0["chunk_id"] as? String })
        #expect(Set(record.keys).subtracting(["explain", "partial"]) == Set(cliRecord.keys).subtracting(["explain", "partial"]))
        let explained = try server.post("/v1/ask", json: #"{"question": "meal allowance", "explain": true, "bm25": false}"#).object()
        #expect((explained["explain"] as? [String: Any])?["dense"] != nil && (explained["stages_off"] as? [String])?.contains("bm25 (switched off)") == true)

        // /v1/batch: JSON Lines out in input order, a bad line answered with an error record of its own.
        let batch = try server.request("POST", "/v1/batch", body: Data("""
            {"id": "a", "question": "When must receipts be submitted?"}
            not json
            {"question": "What if I am ill?", "top_k": 1}
            {"id": 7, "question": "   "}
            """.utf8), type: "application/x-ndjson")
        #expect(batch.status == 200 && batch.header("Content-Type") == "application/x-ndjson")
        let lines = try batch.text.split(separator: "\n").map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(lines.count == 4)
        #expect(lines[0]["id"] as? String == "a" && ((lines[0]["answers"] as? [[String: Any]])?.first?["source"] as? String)?.hasPrefix("expenses.html") == true)
        #expect(lines[1]["line"] as? Int == 2 && lines[1]["status"] as? Int == 400)
        #expect(lines[2]["id"] as? String == "line3" && (lines[2]["answers"] as? [Any])?.count == 1)
        #expect(lines[3]["id"] as? String == "7" && lines[3]["status"] as? Int == 422 && lines[3]["field"] as? String == "question")

        let arrayBatch = try server.post("/v1/batch", json: #"[{"question": "meal allowance"}, {"id": "v", "question": "vacation days"}]"#)
        #expect(arrayBatch.status == 200 && arrayBatch.text.split(separator: "\n").count == 2 && arrayBatch.text.contains(#""id":"v""#))

        // The sentence-transformers utilities.
        let embed = try server.post("/v1/embed", json: #"{"texts": ["A man is eating food.", "A man eats."]}"#)
        let vectors = try #require(try embed.json() as? [[String: Any]]).compactMap { $0["embedding"] as? [Double] }
        #expect(vectors.count == 2 && vectors.allSatisfy { $0.count == 384 && abs($0.reduce(0) { $0 + $1 * $1 } - 1) < 1e-4 })
        let cliEmbed = try sift(["embed", "--model", TestPaths.miniLMModel?.path ?? "Models/all-MiniLM-L6-v2", "A man is eating food."])
        if let line = cliEmbed.stdout.split(separator: "\n").first,
           let cliVector = (try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["embedding"] as? [Double] {
            // The server embeds with the pipeline's precision (bf16 by default), the CLI with the model's default.
            #expect(zip(cliVector, vectors[0]).reduce(0) { $0 + $1.0 * $1.1 } > 0.999)
        }
        let similarity = try server.post("/v1/similarity", json: #"{"sentences": ["A man is eating food.", "A man eats.", "The sky is blue."]}"#).object()
        let matrix = try #require(similarity["matrix"] as? [[Double]])
        #expect(matrix.count == 3 && abs(matrix[0][0] - 1) < 1e-4 && matrix[0][1] > matrix[0][2] && abs(matrix[0][1] - matrix[1][0]) < 1e-6)
        let corpus = try #require(try server.post("/v1/search", json: #"{"query": "Someone eats pasta", "corpus": ["The sky is blue.", "A man eats food."], "top_k": 1}"#).json() as? [[String: Any]])
        #expect(corpus.count == 1 && corpus[0]["line"] as? Int == 2)
        let indexSearch = try #require(try server.post("/v1/search", json: #"{"query": "meal allowance"}"#).json() as? [[String: Any]])
        #expect((indexSearch.first?["source"] as? String)?.hasPrefix("expenses.html") == true)
        let rerank = try server.post("/v1/rerank", json: #"{"query": "q", "passages": ["p"]}"#)
        let rerankError = try rerank.object()["error"] as? String
        #expect(rerank.status == 422 && rerankError?.contains("no re-ranker") == true)

        // Metrics, the OpenAPI document (equal to the committed one), the page and the collection's files.
        let metrics = try server.get("/metrics")
        #expect(metrics.header("Content-Type")?.hasPrefix("text/plain") == true)
        #expect(metrics.text.contains(#"sift_http_requests_total{route="/v1/ask",status="200"}"#))
        #expect(metrics.text.contains(#"sift_stage_duration_seconds_bucket{stage="embedder""#) && metrics.text.contains("sift_queue_depth_questions"))
        #expect(metrics.text.contains("sift_batch_size_questions_count") && metrics.text.contains("sift_index_generation"))
        let openapi = try server.get("/openapi.json")
        let committed = try Data(contentsOf: TestPaths.repositoryRoot.appendingPathComponent("docs/openapi.json"))
        #expect(openapi.body == committed, "docs/openapi.json is stale: regenerate it with `sift serve --print-openapi > docs/openapi.json`")
        let page = try server.get("/")
        #expect(page.status == 200 && page.text.contains("<form id=\"ask\"") && page.header("Content-Security-Policy")?.contains("default-src 'self'") == true)
        #expect(try server.get("/static/app.js").text.contains("/v1/ask"))
        let source = try server.get("/source/leave.html")
        #expect(source.status == 200 && source.text.contains("25 vacation days") && source.header("Content-Security-Policy") == "sandbox")
        #expect(server.stop() == 0)
    }

    @Test func badInputGetsTheRightStatusAndTheServerStaysUp() throws {
        let workspace = try Self.indexed()
        try FileManager.default.createSymbolicLink(atPath: workspace.path("docs/escape.html"), withDestinationPath: workspace.path("tiny.yaml"))
        let server = try ServerProcess(["-p", workspace.path("tiny.yaml"), "--set", "server.max_body_bytes=2048",
                                        "--set", "server.max_question_chars=100"], in: workspace)
        func expectError(_ reply: ServerProcess.Reply, _ status: Int, field: String? = nil, _ comment: Comment? = nil) throws {
            #expect(reply.status == status, "\(reply.status) \(reply.text)")
            let body = try reply.object()
            #expect(body["error"] is String, "\(reply.text)")
            if let field { #expect(body["field"] as? String == field, "\(reply.text)") }
        }
        try expectError(server.post("/v1/ask", json: #"{"question": "x""#), 400)
        try expectError(server.post("/v1/ask", json: #"["question"]"#), 400)
        try expectError(server.post("/v1/ask", json: #"{"question": "x", "topk": 3}"#), 400, field: "topk")
        try expectError(server.post("/v1/ask", json: #"{"question": 3}"#), 400, field: "question")
        try expectError(server.post("/v1/ask", json: #"{"question": "x", "rerank": "yes"}"#), 400, field: "rerank")
        try expectError(server.post("/v1/ask", json: #"{}"#), 400, field: "question")
        try expectError(server.request("POST", "/v1/ask", body: Data(#"{"question": "x"}"#.utf8), type: "text/plain"), 415)
        try expectError(server.request("POST", "/v1/ask", body: Data(#"{"question": "x"}"#.utf8), type: nil), 415)
        try expectError(server.post("/v1/ask", json: #"{"question": "\#(String(repeating: "word ", count: 500))"}"#), 413)
        try expectError(server.post("/v1/ask", json: #"{"question": "\#(String(repeating: "a", count: 101))"}"#), 422, field: "question")
        try expectError(server.post("/v1/ask", json: #"{"question": "  "}"#), 422, field: "question")
        try expectError(server.post("/v1/ask", json: #"{"question": "x", "top_k": 0}"#), 422, field: "top_k")
        try expectError(server.post("/v1/ask", json: #"{"question": "x", "top_k": 11}"#), 422, field: "top_k")
        try expectError(server.post("/v1/ask", json: #"{"question": "x", "group_by": "chapter"}"#), 422, field: "group_by")
        try expectError(server.post("/v1/ask", json: #"{"question": "x", "rerank": true}"#), 422, field: "rerank")
        try expectError(server.post("/v1/ask", json: #"{"question": "x", "dense": false, "bm25": false}"#), 422, field: "dense")
        try expectError(server.post("/v1/embed", json: #"{"texts": []}"#), 422, field: "texts")
        try expectError(server.post("/v1/embed", json: #"{"texts": [1]}"#), 400, field: "texts[]")
        try expectError(server.request("POST", "/v1/batch", body: Data("\n\n".utf8), type: "application/x-ndjson"), 422)
        try expectError(server.request("POST", "/v1/batch", body: Data("{}\n{\"question\": 1}".utf8), type: "application/x-ndjson"), 400, field: "question")
        try expectError(server.post("/v1/batch", json: #"{"question": "x"}"#), 400)
        try expectError(server.post("/v1/ask", json: #"{"question": "x", "dense": null}"#), 400, field: "dense")
        try expectError(server.request("PUT", "/v1/ask", body: Data("{}".utf8)), 405)
        #expect(try server.request("DELETE", "/healthz").header("Allow") == "GET")
        try expectError(server.get("/no/such/route"), 404)
        // The collection's files: no way out of its folder.
        try expectError(server.get("/source/..%2ftiny.yaml"), 400)
        try expectError(server.get("/source/%2e%2e/tiny.yaml"), 400)
        try expectError(server.get("/source/docs%5c..%5ctiny.yaml"), 400)
        try expectError(server.get("/source/escape.html"), 404)
        try expectError(server.get("/source/missing.html"), 404)
        // No error body names a file outside the collection.
        for path in ["/source/escape.html", "/v1/rerank"] {
            let reply = try server.request(path.hasPrefix("/v1") ? "POST" : "GET", path, body: path.hasPrefix("/v1") ? Data(#"{"query":"q","passages":["p"]}"#.utf8) : nil)
            #expect(!reply.text.contains(workspace.folder.path), "\(reply.text)")
        }
        #expect(try server.get("/healthz").status == 200)
        #expect(try server.post("/v1/ask", json: #"{"question": "meal allowance"}"#).status == 200)
        let metrics = try server.get("/metrics").text
        #expect(metrics.contains(#"sift_http_requests_total{route="/v1/ask",status="422"}"#))
        #expect(server.stop() == 0)
    }

    @Test func apiKeysGuardTheAPIAndMetrics() throws {
        let workspace = try Self.indexed()
        try workspace.write("short-keys.txt", "# keys\nshort\n")
        let refused = try sift(["serve", "-p", workspace.path("tiny.yaml"), "--api-key-file", workspace.path("short-keys.txt")])
        #expect(refused.code == 66 && refused.stderr.contains("shorter than 16") && !refused.stderr.contains("short\n"), "\(refused.stderr)")
        let key = "k3y-" + UUID().uuidString
        try workspace.write("keys.txt", "# team keys\n\(key)\nsecond-key-0123456789\n")
        let server = try ServerProcess(["-p", workspace.path("tiny.yaml"), "--api-key-file", workspace.path("keys.txt")], in: workspace)
        let body = #"{"question": "meal allowance"}"#
        let missing = try server.post("/v1/ask", json: body)
        #expect(missing.status == 401 && missing.header("WWW-Authenticate") == "Bearer" && !missing.text.contains(key))
        #expect(try server.post("/v1/ask", json: body, headers: ["Authorization": "Bearer \(key)x"]).status == 401)
        #expect(try server.post("/v1/ask", json: body, headers: ["Authorization": "Bearer " + key.dropLast()]).status == 401)
        #expect(try server.post("/v1/ask", json: body, headers: ["Authorization": "Bearer \(key)"]).status == 200)
        #expect(try server.post("/v1/ask", json: body, headers: ["X-API-Key": "second-key-0123456789"]).status == 200)
        #expect(try server.get("/metrics").status == 401)
        #expect(try server.get("/metrics", headers: ["X-API-Key": key]).status == 200)
        #expect(try server.get("/v1/info").status == 401)
        for open in ["/healthz", "/readyz", "/", "/openapi.json", "/source/leave.html"] { #expect(try server.get(open).status == 200, "\(open)") }
        #expect(!server.log.contains(key))
        #expect(server.stop() == 0)
    }

    /// CORS is off by default; with server.cors_origins only those origins get the headers, preflights included.
    @Test func corsOnlyForConfiguredOrigins() throws {
        let workspace = try Self.indexed()
        let closed = try ServerProcess(["-p", workspace.path("tiny.yaml")], in: workspace)
        let plain = try closed.post("/v1/ask", json: #"{"question": "meal allowance"}"#, headers: ["Origin": "http://example.test"])
        #expect(plain.status == 200 && plain.header("Access-Control-Allow-Origin") == nil)
        #expect(closed.stop() == 0)

        let open = try ServerProcess(["-p", workspace.path("tiny.yaml"), "--set", #"server.cors_origins=["http://app.test"]"#], in: workspace)
        let preflight = try open.request("OPTIONS", "/v1/ask", headers: ["Origin": "http://app.test", "Access-Control-Request-Method": "POST"])
        #expect(preflight.status == 204 && preflight.header("Access-Control-Allow-Origin") == "http://app.test")
        #expect(preflight.header("Access-Control-Allow-Methods")?.contains("POST") == true)
        let allowed = try open.post("/v1/ask", json: #"{"question": "meal allowance"}"#, headers: ["Origin": "http://app.test"])
        #expect(allowed.status == 200 && allowed.header("Access-Control-Allow-Origin") == "http://app.test")
        let other = try open.post("/v1/ask", json: #"{"question": "meal allowance"}"#, headers: ["Origin": "http://evil.test"])
        #expect(other.status == 200 && other.header("Access-Control-Allow-Origin") == nil)
        #expect(open.stop() == 0)
    }

    /// The committed OpenAPI document is 3.1, names every route the server has, and documents every field.
    @Test func openAPIDocumentsEveryRouteAndField() throws {
        let url = TestPaths.repositoryRoot.appendingPathComponent("docs/openapi.json")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        #expect(document["openapi"] as? String == "3.1.0")
        let paths = try #require(document["paths"] as? [String: Any])
        #expect(Set(paths.keys) == ["/v1/ask", "/v1/batch", "/v1/search", "/v1/embed", "/v1/similarity", "/v1/rerank", "/v1/info",
                                    "/healthz", "/readyz", "/metrics"])
        var undocumented: [String] = []
        func walk(_ value: Any, _ path: String) {
            if let object = value as? [String: Any] {
                if let properties = object["properties"] as? [String: Any] {
                    for (name, schema) in properties {
                        if let schema = schema as? [String: Any], schema["description"] == nil, schema["$ref"] == nil { undocumented.append("\(path).\(name)") }
                    }
                }
                for (key, child) in object { walk(child, path + "/" + key) }
            } else if let array = value as? [Any] {
                for (i, child) in array.enumerated() { walk(child, path + "[\(i)]") }
            }
        }
        walk(document, "")
        #expect(undocumented.isEmpty, "fields without a description: \(undocumented)")
        #expect(try sift(["serve", "--print-openapi"]).stdout == String(contentsOf: url, encoding: .utf8))
    }

    /// `sift index` in another process commits a new generation; the next question is answered from it.
    @Test func hotReloadPicksUpANewGeneration() throws {
        let workspace = try Self.indexed()
        let server = try ServerProcess(["-p", workspace.path("tiny.yaml")], in: workspace)
        let question = #"{"question": "Where do I park my bicycle?", "top_k": 1}"#
        let before = try server.post("/v1/ask", json: question)
        let generation = try #require(Int(before.header("Sift-Index-Generation") ?? ""))
        #expect(!before.text.contains("parking.html"))
        try workspace.write("docs/parking.html", """
            <html><head><title>Parking</title></head><body><main><h1 id="parking">Parking</h1>
            <p>Bicycles are parked in the basement rack next to the lifts.</p></main></body></html>
            """)
        let index = try sift(["index", "-p", workspace.path("tiny.yaml"), "--quiet"])
        #expect(index.code == 0, "\(index.stderr)")
        let after = try server.post("/v1/ask", json: question)
        #expect(Int(after.header("Sift-Index-Generation") ?? "") == generation + 1)
        let afterAnswers = try after.object()["answers"] as? [[String: Any]]
        #expect(afterAnswers?.first?["source"] as? String == "parking.html#parking", "\(after.text)")
        #expect(try server.get("/readyz").object()["generation"] as? String == String(generation + 1))
        #expect(try server.get("/metrics").text.contains("sift_index_reloads_total 1"))
        #expect(server.log.contains("index reloaded: generation \(generation + 1)"))
        #expect(server.stop() == 0)
    }

    /// A full queue answers 503 with Retry-After; a request that waits longer than server.timeout_ms gets 504.
    @Test func overloadAndTimeouts() throws {
        let workspace = try Self.indexed()
        // The lone first question waits 1 s for company, holding the only queue slot.
        let server = try ServerProcess(["-p", workspace.path("tiny.yaml"), "--set", "server.max_queue=1",
                                        "--set", "server.batch_wait_ms=1000", "--set", "server.timeout_ms=5000"], in: workspace)
        let first = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var firstStatus = 0
        DispatchQueue.global().async {
            firstStatus = (try? server.post("/v1/ask", json: #"{"question": "meal allowance"}"#).status) ?? -1
            first.signal()
        }
        // Wait until the first question is in the queue, whatever the machine's load.
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, !((try? server.get("/metrics").text.contains("sift_queue_depth_questions 1.0")) ?? false) {
            Thread.sleep(forTimeInterval: 0.01)
        }
        let busy = try server.post("/v1/ask", json: #"{"question": "vacation"}"#)
        #expect(busy.status == 503 && busy.header("Retry-After") == "1", "\(busy.status) \(busy.text)")
        first.wait()
        #expect(firstStatus == 200)
        #expect(server.stop() == 0)

        let slow = try ServerProcess(["-p", workspace.path("tiny.yaml"), "--set", "server.batch_wait_ms=1000",
                                      "--set", "server.timeout_ms=100"], in: workspace)
        let timedOut = try slow.post("/v1/ask", json: #"{"question": "meal allowance"}"#)
        let timeoutError = try timedOut.object()["error"] as? String
        #expect(timedOut.status == 504 && timeoutError?.contains("100 ms") == true, "\(timedOut.text)")
        #expect(try slow.get("/healthz").status == 200)
        #expect(slow.stop(SIGINT) == 0)
    }

    /// SIGTERM while a long batch streams: the batch is answered in full, then the server exits 0.
    @Test func gracefulShutdownFinishesRequestsInFlight() throws {
        let workspace = try Self.indexed()
        let server = try ServerProcess(["-p", workspace.path("tiny.yaml"), "--set", "server.max_batch=4"], in: workspace)
        let questions = (0..<120).map { #"{"id": "q\#($0)", "question": "question number \#($0) about meals and vacation days"}"# }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var reply: ServerProcess.Reply?
        DispatchQueue.global().async {
            reply = try? server.request("POST", "/v1/batch", body: Data(questions.joined(separator: "\n").utf8), type: "application/x-ndjson")
            done.signal()
        }
        // Wait until the batch is being answered, then ask the server to stop.
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, !((try? server.get("/metrics").text.contains("sift_batch_size_questions_count")) ?? false) {
            Thread.sleep(forTimeInterval: 0.02)
        }
        kill(server.process.processIdentifier, SIGTERM)
        done.wait()
        let lines = reply?.text.split(separator: "\n") ?? []
        #expect(reply?.status == 200 && lines.count == 120, "\(lines.count) lines")
        #expect(lines.last?.contains(#""id":"q119""#) == true)
        #expect(server.stop() == 0)
        #expect(server.log.contains("sift serve: stopped"))
        // Stopped means stopped: the port no longer answers.
        #expect((try? server.get("/healthz")) == nil)
    }
}

/// The question page in a real browser: headless Chromium asks a handbook question through `/?q=` and the DOM
/// holds the expected top answer; the screenshot is saved for a person to look at.
@Suite(.serialized) struct ServePageBrowserTests {
    @Test(.enabled(if: ClusterPageBrowserTests.chromium != nil, "needs Debian's chromium (Scripts/setup --browser)"))
    func questionPageAnswersInHeadlessChromium() throws {
        let workspace = try Workspace()
        let model = TestPaths.miniLMModel?.path ?? TestPaths.repositoryRoot.appendingPathComponent("Models/all-MiniLM-L6-v2").path
        try workspace.write("handbook.yaml", """
            name: handbook
            source: { root: \(TestPaths.repositoryRoot.appendingPathComponent("Corpora/handbook").path), include: ["*.html"] }
            reader: { preset: default }
            chunker: { max_tokens: 200, overlap_tokens: 32, heading_prefix: true, min_tokens: 32 }
            embedder: { model: \(model) }
            index: { path: .sift/handbook }
            """)
        let index = try sift(["index", "-p", workspace.path("handbook.yaml"), "--quiet"])
        #expect(index.code == 0, "\(index.stderr)")
        let server = try ServerProcess(["-p", workspace.path("handbook.yaml")], in: workspace)
        let url = "http://127.0.0.1:\(server.port)/?q=" + "What does exit status 137 mean?".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(workspace.path("chromium-profile"))",
                      "--window-size=1100,1300", "--virtual-time-budget=15000"]
        let dom = try ClusterPageBrowserTests.run(common + ["--dump-dom", url])
        #expect(dom.contains("<li data-rank=\"1\""), "no answers in the DOM: \(dom.prefix(2000))")
        let first = dom.components(separatedBy: "<li data-rank=\"1\"").dropFirst().first ?? ""
        #expect(first.contains("href=\"/source/processes.html#exit-status\""), "\(first.prefix(800))")
        #expect(first.contains("<mark>") && first.contains("137"))
        #expect(dom.contains("stages: dense, bm25, fusion:rrf, highlight"))
        let shot = TestPaths.repositoryRoot.appendingPathComponent(".build/serve-page.png")
        _ = try ClusterPageBrowserTests.run(common + ["--screenshot=\(shot.path)", url])
        let png = try Data(contentsOf: shot)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 20_000, "screenshot of \(png.count) bytes")
        #expect(server.stop() == 0)
    }
}
