import Foundation

/// The OpenAPI 3.1 description of `sift serve`, served at `/openapi.json` and committed as `docs/openapi.json`
/// (`sift serve --print-openapi` writes it; a test keeps the two equal). Every field has a description.
enum OpenAPIDocument {
    static var json: String {
        let data = try! JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    // MARK: Schema helpers

    static func string(_ description: String, minLength: Int? = nil) -> [String: Any] {
        var s: [String: Any] = ["type": "string", "description": description]
        if let minLength { s["minLength"] = minLength }
        return s
    }
    static func integer(_ description: String, minimum: Int? = nil) -> [String: Any] {
        var s: [String: Any] = ["type": "integer", "description": description]
        if let minimum { s["minimum"] = minimum }
        return s
    }
    static func number(_ description: String) -> [String: Any] { ["type": "number", "description": description] }
    static func boolean(_ description: String) -> [String: Any] { ["type": "boolean", "description": description] }
    static func array(_ items: [String: Any], _ description: String, minItems: Int? = nil) -> [String: Any] {
        var s: [String: Any] = ["type": "array", "items": items, "description": description]
        if let minItems { s["minItems"] = minItems }
        return s
    }
    static func object(_ description: String, _ properties: [String: [String: Any]], required: [String] = [],
                       closed: Bool = true) -> [String: Any] {
        var s: [String: Any] = ["type": "object", "description": description, "properties": properties]
        if !required.isEmpty { s["required"] = required }
        if closed { s["additionalProperties"] = false }
        return s
    }
    static func ref(_ name: String) -> [String: Any] { ["$ref": "#/components/schemas/\(name)"] }
    static func nullable(_ schema: [String: Any]) -> [String: Any] {
        var s = schema
        s["type"] = [schema["type"]!, "null"]
        return s
    }

    static func jsonBody(_ schema: String) -> [String: Any] {
        ["required": true, "content": ["application/json": ["schema": ref(schema)]]]
    }
    static func reply(_ description: String, _ schema: [String: Any], type: String = "application/json") -> [String: Any] {
        ["description": description, "content": [type: ["schema": schema]]]
    }
    static var errorReplies: [String: Any] { [
        "400": reply("Malformed JSON, an unknown field (named in `field`) or a value of the wrong type.", ref("Error")),
        "401": reply("A valid API key is required (when the server has keys).", ref("Error")),
        "413": reply("The body is larger than server.max_body_bytes.", ref("Error")),
        "415": reply("The body is not sent as the content type this endpoint takes.", ref("Error")),
        "422": reply("A value out of range: an empty or too long question, top_k outside the pipeline's answer range, too many texts, a stage that is not configured.", ref("Error")),
        "500": reply("A stage failed, or stored data is damaged (details in the server log).", ref("Error")),
        "503": reply("The queue is full, the index is being written, or a model or the index is missing; see Retry-After.", ref("Error")),
        "504": reply("No answer within server.timeout_ms.", ref("Error")),
    ] }

    static func post(_ summary: String, _ id: String, body: String, ok: [String: Any]) -> [String: Any] {
        ["post": ["summary": summary, "operationId": id, "requestBody": jsonBody(body),
                  "responses": errorReplies.merging(["200": ok]) { a, _ in a }, "security": [["bearer": []], ["apiKey": []], [:]]]]
    }

    // MARK: The document

    static var questionFields: [String: [String: Any]] {
        [
            "question": string("The question, at most server.max_question_chars characters.", minLength: 1),
            "top_k": integer("Answers returned; between 1 and the pipeline's candidate pool (default answers.top_k).", minimum: 1),
            "rerank": boolean("Re-rank with the pipeline's cross-encoder (default: as configured; true without one is 422)."),
            "bm25": boolean("Use BM25 retrieval (default: as configured)."),
            "dense": boolean("Use dense (bi-encoder) retrieval (default: as configured)."),
            "explain": boolean("Include every stage's candidates in `explain`."),
            "highlight": boolean("Mark each answer's best sentence (default: answers.highlight)."),
            "group_by": ["type": "string", "enum": ["page", "section", "none"],
                         "description": "One answer per page or section, or every passage (default: answers.group_by)."],
        ]
    }

    static var schemas: [String: Any] {
        var batchLine = questionFields
        batchLine["id"] = ["type": ["string", "integer"], "description": "Echoed in the answer line (default: line N)."]
        return [
            "Error": object("What went wrong.", [
                "error": string("A message for people; never a secret or a path outside the collection."),
                "field": string("The request field at fault, when there is one."),
            ], required: ["error"]),
            "AskRequest": object("A question and per-request switches; unknown fields are refused.", questionFields, required: ["question"]),
            "BatchLine": object("One line of a /v1/batch body.", batchLine, required: ["question"]),
            "RelatedPassage": object("Another passage of the same page or section.", [
                "chunk_id": string("The passage's id."), "source": string("page.html#anchor of the passage."),
                "score": number("Its retrieval (or re-rank) score."),
            ], required: ["chunk_id", "source", "score"]),
            "Answer": object("One ranked answer.", [
                "rank": integer("1 for the best answer.", minimum: 1),
                "rerank_score": nullable(number("Cross-encoder score, when re-ranked.")),
                "retrieval_score": number("Fused (or single-retriever) score."),
                "source": string("page.html#anchor, relative to the collection; open it under /source/."),
                "document_id": string("The page, relative to the collection root."),
                "anchor": nullable(string("The nearest anchor (id) before the passage.")),
                "heading_path": array(string("A heading."), "Headings from the page title down to the passage's section."),
                "chunk_id": string("The passage's id in the index."),
                "text": string("The passage's text."),
                "highlight": nullable(array(integer("Offset in Unicode scalars."), "Start and end of the best sentence in `text`, in Unicode scalars.")),
                "highlight_text": nullable(string("The best sentence.")),
                "related": array(ref("RelatedPassage"), "Other passages of the same page or section, best first (with answers.group_by)."),
            ], required: ["rank", "retrieval_score", "source", "document_id", "heading_path", "chunk_id", "text"]),
            "Candidate": object("A candidate as one stage ranked it.", [
                "chunk_id": string("The passage's id."), "source": nullable(string("page.html#anchor.")),
                "score": number("The stage's score."),
                "ranks": ["type": "object", "additionalProperties": ["type": "integer"], "description": "Rank in each stage's list."],
                "scores": ["type": "object", "additionalProperties": ["type": "number"], "description": "Score in each stage's list."],
            ], required: ["chunk_id", "score", "ranks", "scores"]),
            "AskRecord": object("The answers to one question: the `sift ask --json` record.", [
                "question": string("The question asked."),
                "answers": array(ref("Answer"), "Ranked answers, best first."),
                "stages": array(string("A stage, with its variant: dense, bm25, fusion:rrf, rerank, highlight."), "The stages that ran, in order."),
                "stages_off": array(string("A stage and why it did not run."), "Stages that did not run."),
                "timings_ms": ["type": "object", "additionalProperties": ["type": "number"],
                               "description": "Milliseconds per stage (batch stages shared evenly among a micro-batch's questions)."],
                "explain": ["type": "object", "additionalProperties": array(ref("Candidate"), "Candidates, best first."),
                            "description": "With explain: each stage's candidates."],
                "partial": array(string("A shard that did not answer."), "Present only for a partial answer."),
            ], required: ["question", "answers", "stages", "stages_off", "timings_ms"]),
            "BatchAnswer": ["description": "One line of a /v1/batch reply: an AskRecord with the line's id, or an error record.",
                            "oneOf": [
                                ["allOf": [ref("AskRecord"), object("The line's id.", ["id": string("The id sent, or line N.")], required: ["id"], closed: false)]],
                                object("A line that could not be answered.", [
                                    "line": integer("The line number in the request body.", minimum: 1),
                                    "id": string("The line's id, when it could be read."),
                                    "error": string("What went wrong."),
                                    "status": integer("The status this would have had as a single request."),
                                    "field": string("The field at fault."),
                                ], required: ["line", "error", "status"]),
                            ]],
            "SearchRequest": object("A query against the given corpus, or against the index when corpus is left out.", [
                "query": string("The query.", minLength: 1),
                "corpus": array(string("A corpus text."), "Texts to search (at most server.max_texts); without it, the index.", minItems: 1),
                "top_k": integer("Results returned (default 5).", minimum: 1),
            ], required: ["query"]),
            "SearchHit": object("One search result: the `sift search --json` item.", [
                "rank": integer("1 for the best.", minimum: 1), "score": number("Cosine similarity (corpus) or retrieval score (index)."),
                "text": string("The text found."), "line": integer("1-based position in corpus (corpus search only).", minimum: 1),
                "source": string("page.html#anchor (index search only)."),
            ], required: ["rank", "score", "text"]),
            "EmbedRequest": object("Texts to embed.", [
                "texts": array(string("A text."), "At most server.max_texts texts.", minItems: 1),
            ], required: ["texts"]),
            "Embedding": object("One text's embedding (a `sift embed` line).", [
                "text": string("The text."), "embedding": array(number("A component."), "The unit-length vector (mean pooling, normalised)."),
            ], required: ["text", "embedding"]),
            "SimilarityRequest": object("Sentences to compare pairwise.", [
                "sentences": array(string("A sentence."), "At most server.max_texts sentences.", minItems: 1),
            ], required: ["sentences"]),
            "Similarity": object("cos_sim of every pair (`sift similarity --json`).", [
                "sentences": array(string("A sentence."), "The sentences, in request order."),
                "matrix": array(array(number("A cosine similarity."), "One row."), "matrix[i][j] = cos_sim(sentences[i], sentences[j])."),
            ], required: ["sentences", "matrix"]),
            "RerankRequest": object("A query and passages for the pipeline's cross-encoder.", [
                "query": string("The query.", minLength: 1),
                "passages": array(string("A passage."), "At most server.max_texts passages.", minItems: 1),
            ], required: ["query", "passages"]),
            "Scored": object("A passage with its cross-encoder score (`sift rerank --json` item).", [
                "rank": integer("1 for the best.", minimum: 1), "score": number("The cross-encoder's logit."),
                "index": integer("1-based position in passages.", minimum: 1), "passage": string("The passage."),
            ], required: ["rank", "score", "index", "passage"]),
            "Info": object("What this server answers from.", [
                "pipeline": string("The pipeline's name."), "model": string("The bi-encoder's folder name."),
                "reranker": boolean("True when a re-ranker is configured."),
                "stages": ["type": "object", "additionalProperties": ["type": "boolean"], "description": "Stages on by default: dense, bm25, rerank."],
                "answers_top_k": integer("Answers by default.", minimum: 1),
                "top_k_range": array(integer("A bound."), "Smallest and largest top_k accepted."),
                "index": object("The index being served.", [
                    "documents": integer("Documents.", minimum: 0), "chunks": integer("Passages.", minimum: 0),
                    "generation": integer("Index generation (changes when `sift index` commits).", minimum: 0),
                ], required: ["documents", "chunks", "generation"]),
                "auth": boolean("True when API keys are required for /v1/* and /metrics."),
            ], required: ["pipeline", "model", "reranker", "stages", "answers_top_k", "top_k_range", "index", "auth"]),
            "Status": object("Health.", ["status": string("ok, or ready."), "generation": string("Index generation (readyz).")], required: ["status"]),
        ]
    }

    static var document: [String: Any] {
        [
            "openapi": "3.1.0",
            "info": ["title": "Sift", "version": "1",
                     "description": "Retrieve-and-re-rank question answering over a document collection (`sift serve`). JSON in and out, with the shapes of the CLI's --json. Unknown fields are refused (400)."],
            "servers": [["url": "http://127.0.0.1:8080", "description": "sift serve's default address"]],
            "components": [
                "schemas": schemas,
                "securitySchemes": [
                    "bearer": ["type": "http", "scheme": "bearer", "description": "An API key from --api-key-file."],
                    "apiKey": ["type": "apiKey", "in": "header", "name": "X-API-Key", "description": "An API key from --api-key-file."],
                ],
            ],
            "paths": [
                "/v1/ask": post("Answer a question", "ask", body: "AskRequest", ok: reply("The answers (header Sift-Index-Generation names the generation).", ref("AskRecord"))),
                "/v1/batch": ["post": [
                    "summary": "Answer many questions, streamed as JSON Lines", "operationId": "batch",
                    "requestBody": ["required": true, "description": "One BatchLine per line (JSON Lines), or a JSON array of them.",
                                    "content": ["application/x-ndjson": ["schema": ref("BatchLine")],
                                                "application/json": ["schema": array(ref("BatchLine"), "The questions.", minItems: 1)]]],
                    "responses": errorReplies.merging(["200": reply("One line per question, in input order, written as they are answered.",
                                                                    ref("BatchAnswer"), type: "application/x-ndjson")]) { a, _ in a },
                    "security": [["bearer": []], ["apiKey": []], [:]],
                ] as [String: Any]],
                "/v1/search": post("Semantic search", "search", body: "SearchRequest", ok: reply("Results, best first.", array(ref("SearchHit"), "Results."))),
                "/v1/embed": post("Embed texts", "embed", body: "EmbedRequest", ok: reply("One embedding per text, in order.", array(ref("Embedding"), "Embeddings."))),
                "/v1/similarity": post("Cosine similarity of every pair", "similarity", body: "SimilarityRequest", ok: reply("The matrix.", ref("Similarity"))),
                "/v1/rerank": post("Score passages with the cross-encoder", "rerank", body: "RerankRequest", ok: reply("Passages, best first.", array(ref("Scored"), "Scored passages."))),
                "/v1/info": ["get": ["summary": "The pipeline and index being served", "operationId": "info",
                                     "responses": ["200": reply("Info.", ref("Info")), "401": errorReplies["401"]!],
                                     "security": [["bearer": []], ["apiKey": []], [:]]] as [String: Any]],
                "/healthz": ["get": ["summary": "Liveness", "operationId": "healthz", "responses": ["200": reply("The process is up.", ref("Status"))]]],
                "/readyz": ["get": ["summary": "Readiness: models loaded and the index open", "operationId": "readyz",
                                    "responses": ["200": reply("Ready.", ref("Status")), "503": reply("Not ready.", ref("Error"))]]],
                "/metrics": ["get": ["summary": "Prometheus metrics", "operationId": "metrics",
                                     "responses": ["200": reply("Text exposition format.", ["type": "string", "description": "Metrics."], type: "text/plain"),
                                                   "401": errorReplies["401"]!]] as [String: Any]],
            ],
        ]
    }
}
