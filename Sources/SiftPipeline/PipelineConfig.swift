import Foundation
import SiftChunker
import SiftPostgres

/// A validated pipeline file: which documents to read, how to chunk, embed, index, retrieve, re-rank and answer.
///
/// Every path is absolute: relative paths in the file resolve against the folder holding the pipeline file
/// (so the shipped `Pipelines/*.yaml` say `../Models/...`), relative paths given with `--set` resolve against
/// the current directory, and `~` and `${VAR}` expand in both.
public struct PipelineConfig: Sendable, Hashable {
    /// Names the pipeline in messages and default paths; defaults to the file name without extension.
    public var name: String
    public var source: SourceConfig
    public var reader: ReaderConfig
    public var chunker: ChunkerConfig
    public var embedder: EmbedderConfig
    public var index: IndexConfig
    public var retriever: RetrieverConfig
    /// Nil when re-ranking is switched off (`reranker: none` or no `reranker` key).
    public var reranker: RerankerConfig?
    public var answers: AnswersConfig
    /// Optional evaluation settings for `sift eval -p`.
    public var eval: EvalConfig?
    /// `sift serve`'s limits and batching.
    public var server = ServerConfig()
    /// The file this came from, if any.
    public var file: URL?

    public init(name: String, source: SourceConfig, reader: ReaderConfig = ReaderConfig(), chunker: ChunkerConfig = ChunkerConfig(),
                embedder: EmbedderConfig, index: IndexConfig, retriever: RetrieverConfig = RetrieverConfig(),
                reranker: RerankerConfig? = nil, answers: AnswersConfig = AnswersConfig(), eval: EvalConfig? = nil, file: URL? = nil) {
        self.name = name
        self.source = source
        self.reader = reader
        self.chunker = chunker
        self.embedder = embedder
        self.index = index
        self.retriever = retriever
        self.reranker = reranker
        self.answers = answers
        self.eval = eval
        self.file = file
    }
}

/// Where the documents are: a folder and glob patterns relative to it.
public struct SourceConfig: Sendable, Hashable {
    public var root: URL
    /// Globs relative to `root` (`**` crosses folders); default `**/*.html`, `**/*.htm`, `**/*.xhtml`, `**/*.xml`.
    public var include: [String]
    public var exclude: [String]

    public static let defaultInclude = ["**/*.html", "**/*.htm", "**/*.xhtml", "**/*.xml"]

    public init(root: URL, include: [String] = SourceConfig.defaultInclude, exclude: [String] = []) {
        self.root = root
        self.include = include
        self.exclude = exclude
    }
}

/// How HTML/XML is turned into text: a preset of drop/keep rules plus extra selectors.
public struct ReaderConfig: Sendable, Hashable {
    /// A named rule set from the reader (e.g. `sphinx`), or nil for the generic rules.
    public var preset: String?
    /// Selectors (`tag`, `.class`, `#id`, `tag.class`) whose elements are left out.
    public var drop: [String]
    /// Selectors that limit reading to the matching elements (e.g. `[role=main]`); empty keeps the whole body.
    public var keep: [String]

    public init(preset: String? = nil, drop: [String] = [], keep: [String] = []) {
        self.preset = preset
        self.drop = drop
        self.keep = keep
    }
}

/// Chunk sizes in model tokens: the chunker's own settings type (`max_tokens`, `overlap_tokens`, `heading_prefix`, `min_tokens`,
/// `split_on_anchor`, `title_in_path`).
public typealias ChunkerConfig = ChunkerSettings

/// The bi-encoder that embeds chunks and questions.
public struct EmbedderConfig: Sendable, Hashable {
    /// The embedder type (`embedder.type`), which `StageRegistry.makeEmbedder` builds.
    public var type: String
    /// A sentence-transformers model folder (config.json, model.safetensors, tokenizer files, 1_Pooling/).
    public var model: URL
    public var batchSize: Int
    /// Arithmetic of the linear layers, `defaultPrecision` unless the pipeline says otherwise. Not part of the
    /// index's model identity: with fp32 vectors, bf16 ones have cosine ≥ 0.9999 and int8 ones ≥ 0.995 (MiniLM,
    /// every test text down to an empty one), so an index built in one precision can be queried in another.
    public var precision: PrecisionSetting

    /// bf16 by default: 1.6× faster encoding than fp32 on AVX-512 BF16 CPUs with vectors at cosine ≥ 0.9999 to
    /// PyTorch's (the float32 kernel runs on CPUs without BF16, so results there are fp32). Re-rankers default to
    /// fp32 instead: their logits move by ~0.04 in bf16, above the 1e-3 parity the project holds scores to.
    public static let defaultPrecision = PrecisionSetting.bf16
    /// `embedder.type` when the pipeline names none.
    public static let defaultType = "bi-encoder"

    public init(model: URL, batchSize: Int = 32, precision: PrecisionSetting = defaultPrecision, type: String = defaultType) {
        self.type = type
        self.model = model
        self.batchSize = batchSize
        self.precision = precision
    }
}

/// `precision:` of a model stage (`embedder`, `reranker`).
public enum PrecisionSetting: String, Sendable, Hashable, CaseIterable {
    /// float32 throughout: matches PyTorch to ~1e-5 (the re-ranker's default).
    case fp32
    /// bfloat16 weights and activations in the linear layers and attention, float32 accumulation, softmax and
    /// layer norm: faster where the CPU has AVX-512 BF16, slightly less exact (the embedder's default).
    case bf16
    /// int8 weights (per output feature) and activations (per token, quantized at run time) in the linear layers,
    /// int32 accumulation: fastest where the CPU has AVX-512 VNNI (elsewhere it runs bf16, or fp32); least exact.
    case int8
}

/// Where the index lives: `index.type` picks the store, which `StageRegistry.makeStoreBackend` opens.
/// Printing it never shows a password: PostgreSQL servers appear as `host:port/database`.
public struct IndexConfig: Sendable, Hashable, CustomStringConvertible {
    /// The index type (`index.type`): `local` (a folder) or `postgres`.
    public var type: String
    /// The index folder (type `local`); a placeholder for other types.
    public var path: URL
    /// The servers and settings (type `postgres`); defaults for other types.
    public var postgres: PostgresIndexConfig

    /// `index.type` when the pipeline names none.
    public static let defaultType = "local"
    public static let postgresType = "postgres"

    /// A local index in `path`.
    public init(path: URL) {
        self.init(type: IndexConfig.defaultType, path: path, postgres: PostgresIndexConfig())
    }

    /// An index in PostgreSQL.
    public init(postgres: PostgresIndexConfig) {
        self.init(type: IndexConfig.postgresType, path: URL(fileURLWithPath: "/"), postgres: postgres)
    }

    public init(type: String, path: URL, postgres: PostgresIndexConfig) {
        self.type = type
        self.path = path
        self.postgres = postgres
    }

    public var description: String {
        type == IndexConfig.postgresType ? "postgres \(postgres)" : "\(type) \(path.path)"
    }
}

/// `index.type: postgres`: one server (`url`, with `replicas`) or several (`shards`), and how Sift uses them. URLs are
/// kept as expanded from the file, so they may hold a password: only `description` (redacted) is ever printed.
public struct PostgresIndexConfig: Sendable, Hashable, CustomStringConvertible {
    /// One server's libpq URI; nil with `shards`.
    public var url: String?
    /// Read replicas of `url`.
    public var replicas: [String]
    /// Several servers instead of `url`; documents go to shard `StableHash(document id) % shards.count`.
    public var shards: [PostgresShardConfig]
    /// A file whose first line is the password, read by `settings()`.
    public var passwordFile: URL?
    public var schema: String
    public var vectorIndex: VectorIndexKind
    public var hnsw: HNSWSettings
    /// 0: no limit.
    public var statementTimeoutMilliseconds: Int
    public var connectTimeoutSeconds: Int
    public var onShardFailure: ShardFailurePolicy
    /// How the `bm25` list is scored in PostgreSQL.
    public var lexical: LexicalScoring = .bm25

    public init(url: String? = nil, replicas: [String] = [], shards: [PostgresShardConfig] = [], passwordFile: URL? = nil,
                schema: String = "sift", vectorIndex: VectorIndexKind = .hnsw, hnsw: HNSWSettings = HNSWSettings(),
                statementTimeoutMilliseconds: Int = 30_000, connectTimeoutSeconds: Int = 5, onShardFailure: ShardFailurePolicy = .fail) {
        self.url = url
        self.replicas = replicas
        self.shards = shards
        self.passwordFile = passwordFile
        self.schema = schema
        self.vectorIndex = vectorIndex
        self.hnsw = hnsw
        self.statementTimeoutMilliseconds = statementTimeoutMilliseconds
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.onShardFailure = onShardFailure
    }

    /// The shards as configured: `url` with `replicas` as one shard, or `shards`.
    public var shardURLs: [PostgresShardConfig] {
        if let url { return [PostgresShardConfig(url: url, replicas: replicas)] }
        return shards
    }

    /// The store's settings, with the password from `passwordFile` (its first line) on every server. Throws
    /// `PipelineError.invalid` naming the file (never its content) when it cannot be read, and when no server is given.
    public func settings() throws -> PostgresSettings {
        var password: String?
        if let passwordFile {
            password = try Self.readPassword(passwordFile)
        }
        let servers = shardURLs
        guard !servers.isEmpty else {
            throw PipelineError.invalid([ConfigProblem(path: "index", line: nil, message: "give url (one server) or shards (several)")])
        }
        let shards = servers.map { shard in
            PostgresShard(primary: PostgresEndpoint(url: shard.url, password: password),
                          replicas: shard.replicas.map { PostgresEndpoint(url: $0, password: password) })
        }
        return PostgresSettings(shards: shards, schema: schema, vectorIndex: vectorIndex, hnsw: hnsw,
                                statementTimeoutMilliseconds: statementTimeoutMilliseconds, connectTimeoutSeconds: connectTimeoutSeconds,
                                onShardFailure: onShardFailure, lexical: lexical)
    }

    private static func readPassword(_ file: URL) throws -> String {
        func problem(_ reason: String) -> PipelineError {
            .invalid([ConfigProblem(path: "index.password_file", line: nil, message: "cannot read the password from \(file.path): \(reason)")])
        }
        let data: Data
        do {
            let handle = try FileHandle(forReadingFrom: file)
            defer { try? handle.close() }
            data = try handle.read(upToCount: 64 * 1024) ?? Data()
        } catch {
            var isFolder: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: file.path, isDirectory: &isFolder)
            throw problem(!exists ? "no such file" : isFolder.boolValue ? "a folder, not a file" : "not readable")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw problem("not UTF-8 text") }
        let line = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let password = line.hasSuffix("\r") ? line.dropLast() : line
        guard !password.isEmpty else { throw problem("its first line is empty") }
        return String(password)
    }

    /// The servers without credentials (`host:port/database`), the schema and the vector index.
    public var description: String {
        let servers = shardURLs.map { shard in
            PostgresEndpoint(url: shard.url).redacted
                + (shard.replicas.isEmpty ? "" : " (replicas " + shard.replicas.map { PostgresEndpoint(url: $0).redacted }.joined(separator: ", ") + ")")
        }
        return (servers.isEmpty ? "(no server)" : servers.joined(separator: "; "))
            + ", schema \(schema), \(vectorIndex.rawValue)" + (passwordFile.map { ", password from \($0.path)" } ?? "")
    }
}

/// One shard of `index.shards`: its primary and its read replicas. Printed without credentials.
public struct PostgresShardConfig: Sendable, Hashable, CustomStringConvertible {
    /// The primary's libpq URI.
    public var url: String
    public var replicas: [String]

    public init(url: String, replicas: [String] = []) {
        self.url = url
        self.replicas = replicas
    }

    public var description: String {
        ([url] + replicas).map { PostgresEndpoint(url: $0).redacted }.joined(separator: ", ")
    }
}

/// How retrieval lists are combined.
public enum FusionMethod: String, Sendable, Hashable, CaseIterable {
    /// Reciprocal rank fusion: score = Σ 1 / (rrf_k + rank).
    case rrf
    /// dense_weight · normalised dense score + (1 − dense_weight) · normalised BM25 score.
    case weighted
    /// No fusion: only valid when exactly one of dense and BM25 is switched on.
    case none
}

/// First-stage retrieval.
public struct RetrieverConfig: Sendable, Hashable {
    /// Candidates kept after retrieval (and handed to the re-ranker).
    public var topK: Int
    public var dense: Bool
    public var bm25: Bool
    public var fusion: FusionMethod
    public var rrfK: Int
    public var denseWeight: Float

    public init(topK: Int = 100, dense: Bool = true, bm25: Bool = true, fusion: FusionMethod = .rrf, rrfK: Int = 60, denseWeight: Float = 0.5) {
        self.topK = topK
        self.dense = dense
        self.bm25 = bm25
        self.fusion = fusion
        self.rrfK = rrfK
        self.denseWeight = denseWeight
    }
}

/// How the cross-encoder cuts a (question, passage) pair that exceeds `maxTokens`.
public enum TruncationPolicy: String, Sendable, Hashable, CaseIterable {
    /// Cut the passage only (the question is kept whole): the usual choice.
    case onlySecond = "only_second"
    /// Cut the longer of the two, token by token.
    case longestFirst = "longest_first"
}

/// The cross-encoder re-ranking stage.
public struct RerankerConfig: Sendable, Hashable {
    /// The re-ranker type (`reranker.type`), which `StageRegistry.makeReranker` builds.
    public var type: String
    /// A Hugging Face BertForSequenceClassification folder (config.json, model.safetensors, vocab.txt).
    public var model: URL
    /// How many retrieved candidates are re-scored.
    public var topK: Int
    public var maxTokens: Int
    public var truncation: TruncationPolicy
    public var batchSize: Int
    public var precision: PrecisionSetting
    /// Weight of the retrieval score in the re-ranked order (0: the cross-encoder's alone), on min-max-normalised
    /// scores over the re-ranked pool: a re-ranker trained on little data adds its signal without discarding the
    /// retrievers'.
    public var blend: Float = 0

    /// `reranker.type` when a `reranker:` mapping names none.
    public static let defaultType = "cross-encoder"

    public init(model: URL, topK: Int = 20, maxTokens: Int = 512, truncation: TruncationPolicy = .onlySecond, batchSize: Int = 16,
                precision: PrecisionSetting = .fp32, type: String = defaultType) {
        self.type = type
        self.model = model
        self.topK = topK
        self.maxTokens = maxTokens
        self.truncation = truncation
        self.batchSize = batchSize
        self.precision = precision
    }
}

/// What `ask` returns.
public struct AnswersConfig: Sendable, Hashable {
    public var topK: Int
    /// Mark the sentence that best matches the question.
    public var highlight: Bool
    /// One answer per page or section (its best passage, MaxP), the others folded into it; or every passage.
    /// Page by default: on the PostgreSQL and SQLite dev questions the printed five answers found a relevant page
    /// for 0.83 / 0.84 of questions grouped by page, 0.83 / 0.77 by section and 0.74 / 0.77 ungrouped.
    public var groupBy: AnswerGrouping

    public init(topK: Int = 5, highlight: Bool = true, groupBy: AnswerGrouping = .page) {
        self.topK = topK
        self.highlight = highlight
        self.groupBy = groupBy
    }
}

/// `answers.group_by`.
public enum AnswerGrouping: String, Sendable, Hashable, CaseIterable {
    /// Every retrieved passage is its own answer.
    case none
    /// One answer per `page.html#anchor`.
    case section
    /// One answer per page.
    case page
}

extension PipelineConfig {
    /// The answer counts `answers.top_k` (and `--top`, `:top`) may take: answers come from the candidates the
    /// re-ranker keeps, or without one the retriever, so more than that pool would only pad the list.
    public var answerCountRange: ClosedRange<Int> { 1...(reranker?.topK ?? retriever.topK) }
}

/// Labelled questions for `sift eval -p` (question → relevant documents or anchors).
public struct EvalConfig: Sendable, Hashable {
    public var labels: URL?
    public init(labels: URL? = nil) { self.labels = labels }
}

/// `sift serve`: micro-batching, bounds and CORS (host, port and API keys are command-line flags).
public struct ServerConfig: Sendable, Hashable {
    /// Questions embedded and searched in one batch.
    public var maxBatch = 32
    /// How long the first question of a batch waits for company when the batch worker is idle. Under load the
    /// worker is busy and the next batch forms while the current one runs, so this adds latency only when idle.
    public var batchWaitMilliseconds = 2
    /// Batches in progress at once (the encoder itself runs one at a time).
    public var batchWorkers = 2
    /// Questions waiting (not yet in a batch) at most.
    public var maxQueue = 256
    /// Questions re-ranked in parallel (each re-rank uses the cross-encoder, which runs one batch at a time).
    public var rerankWorkers = 2
    public var timeoutMilliseconds = 30_000
    public var maxQuestionCharacters = 2_000
    public var maxTexts = 1_024
    public var maxBodyBytes = 8 << 20
    /// Browser origins allowed to call the API; empty turns CORS off.
    public var corsOrigins: [String] = []

    public init() {}
}
