import Foundation
import SiftCore
import SiftReader
import SiftPostgres

/// Every key a pipeline file may hold and every stage type it may name, each declared once: name, field, kind with
/// range or choices, and one line of help (defaults are the fields' values in the config types' initialisers).
/// Validation (`PipelineConfig.load`), the key reference (`sift pipeline keys`, Pipelines/README.md) and the JSON
/// Schema (`sift pipeline schema`) are all derived from these declarations.
///
/// A stage type is an entry with its name, its keys and the factory that builds the stage. Adding an embedder type
/// takes one `TextEmbedder` conformer and one entry in `embedders`, e.g.
///
///     StageType(name: "static-embeddings", help: "a token-embedding table, averaged (no transformer)",
///               keys: [.path("model", \.model, example: "../Models/static-retrieval", help: "model folder"),
///                      .integer("batch_size", \.batchSize, atLeast: 1, help: "texts per call")],
///               make: { try StaticEmbedder(folder: $0.model, batchSize: $0.batchSize) })
///
/// `embedder.type: static-embeddings` is then accepted and checked against those keys (a key of another type is
/// refused), offered in the error for an unknown type, listed by `sift pipeline keys` and the schema, and built by
/// `makeEmbedder`. A key that no `EmbedderConfig` field holds yet also needs that field.
public enum StageRegistry {
    /// `embedder.type`; the first is the default.
    static var embedders: [StageType<EmbedderConfig, any TextEmbedder>] {
        [StageType(name: EmbedderConfig.defaultType,
                   help: "a sentence-transformers BERT model: mean pooling, normalised vectors",
                   keys: [.path("model", \.model, example: "../Models/all-MiniLM-L6-v2",
                                help: "sentence-transformers model folder (config.json, model.safetensors, tokenizer files)"),
                          .integer("batch_size", \.batchSize, atLeast: 1, help: "texts per forward pass"),
                          .choice("precision", \.precision, what: "precision", help: "arithmetic of the linear layers")],
                   make: StageLoader.biEncoder)]
    }

    /// `reranker.type`; the first is the default for a `reranker:` mapping. `none` switches re-ranking off.
    static var rerankers: [StageType<RerankerConfig, any PassageScorer>] {
        [StageType(name: RerankerConfig.defaultType,
                   help: "a Hugging Face BertForSequenceClassification checkpoint scores each (question, passage) pair",
                   keys: [.path("model", \.model, example: "../Models/ms-marco-MiniLM-L-6-v2",
                                help: "cross-encoder folder (config.json, model.safetensors, vocab.txt)"),
                          .integer("top_k", \.topK, atLeast: 1, help: "retrieved candidates re-scored; at most retriever.top_k"),
                          .integer("max_tokens", \.maxTokens, atLeast: 16, help: "longest (question, passage) pair in tokens"),
                          .choice("truncation", \.truncation, what: "truncation", help: "how a longer pair is cut"),
                          .integer("batch_size", \.batchSize, atLeast: 1, help: "pairs per forward pass"),
                          .choice("precision", \.precision, what: "precision", help: "arithmetic of the linear layers"),
                          .number("blend", \.blend, in: 0...1,
                                  help: "weight of the retrieval score in the final order: (1 − blend) · cross-encoder + blend · retrieval, each min-max-normalised over the re-ranked candidates; 0 orders by the cross-encoder alone")],
                   make: StageLoader.crossEncoder)]
    }
    static let rerankerOff = ConfigKey.Choice("none", "no re-ranking: answers come in retrieval order")

    /// `index.type`; the first is the default.
    static var indexes: [StageType<IndexConfig, any StoreBackend>] {
        [StageType(name: IndexConfig.defaultType,
                   help: "a folder: SQLite with FTS5 for the passages and BM25, a memory-mapped file for the vectors",
                   keys: [.path("path", \.path, example: "../.sift/handbook",
                                help: "the index folder; Sift writes only into an absent or empty folder or one it made")],
                   make: { LocalStoreBackend(folder: $0.path) }),
         StageType(name: IndexConfig.postgresType,
                   help: "PostgreSQL with pgvector: one server, or shards each with optional read replicas (Scripts/postgres starts one)",
                   keys: postgresKeys, check: checkPostgres,
                   make: { PostgresStoreBackend(settings: try $0.postgres.settings()) })]
    }

    static let postgresSchemes = ["postgresql://", "postgres://"]

    /// The keys of `index.type: postgres`.
    static var postgresKeys: [Setting<IndexConfig>] {
        let shardKeys: [Setting<PostgresShardConfig>] = [
            .url("url", \.url, schemes: postgresSchemes, example: "postgresql://sift@db1:5432/sift",
                 help: "this shard's primary, which takes writes (and reads without replicas)"),
            .urls("replicas", \.replicas, schemes: postgresSchemes, help: "read replicas of this shard's primary, asked in turn"),
        ]
        let hnswKeys: [Setting<HNSWSettings>] = [
            .integer("m", \.m, in: 2...100, help: "links per node; more raises recall, memory and build time"),
            .integer("ef_construction", \.efConstruction, in: 4...1000, help: "candidate list while building; at least 2 · m"),
            .integer("ef_search", \.efSearch, in: 1...1000,
                     help: "candidate list while searching; more raises recall and latency (at least the depth asked for is used)"),
        ]
        return [
            .url("url", \.postgres.url, schemes: postgresSchemes, defaultText: "none; give url or shards",
                 help: "one server: a libpq URI postgresql://user@host:port/database; ${VAR} and ${VAR:-default} expand"),
            .urls("replicas", \.postgres.replicas, schemes: postgresSchemes, help: "read replicas of url, asked in turn; the primary when none answers"),
            .mappings("shards", \.postgres.shards, item: PostgresShardConfig(url: ""), shardKeys,
                      help: "several servers instead of url: documents are spread by a stable hash of their id; each item { url, replicas }"),
            .path("password_file", \.postgres.passwordFile,
                  help: "a file whose first line is the password for every server (instead of one in the URL)"),
            .bound("schema", \.postgres.schema, .pattern(postgresSchemaPattern, summary: postgresSchemaSummary),
                   help: "the schema holding Sift's tables on every server; one per index", shown: { .text($0) },
                   parse: postgresSchema),
            .choice("vector_index", \.postgres.vectorIndex, what: "vector index", help: "how the nearest passages are found"),
            .section("hnsw", \.postgres.hnsw, hnswKeys, help: "pgvector HNSW parameters (vector_index: hnsw)", check: checkHNSW),
            .integer("statement_timeout_ms", \.postgres.statementTimeoutMilliseconds, atLeast: 0,
                     help: "every statement is cancelled after this many milliseconds; 0: no limit"),
            .integer("connect_timeout_s", \.postgres.connectTimeoutSeconds, atLeast: 1,
                     help: "seconds to wait for a connection before the server counts as down"),
            .choice("on_shard_failure", \.postgres.onShardFailure, what: "shard failure policy",
                    help: "what a question does when a shard (its primary and every replica) cannot answer"),
            .choice("lexical", \.postgres.lexical, what: "lexical scoring",
                    help: "how the retriever's bm25 list is scored in PostgreSQL (which has no BM25 of its own)"),
        ]
    }

    /// `PostgresSettings.isValidSchema` as a regular expression, for the schema.
    static let postgresSchemaPattern = "^(?!pg_)[a-z_][a-z0-9_]{0,47}$"
    static let postgresSchemaSummary = "`[a-z_][a-z0-9_]{0,47}`, not starting with `pg_`"

    /// `reader.preset`: the reader's preset names (it also takes aliases such as `python`, in any case).
    static let readerPresetChoices = [
        ConfigKey.Choice("default", "the generic rules: main content (main, article, [role=main]) without scripts, navigation and forms"),
        ConfigKey.Choice("sphinx", "Sphinx (docs.python.org): reads div.body, drops sidebars, related links and ¶ permalinks"),
        ConfigKey.Choice("postgres", "PostgreSQL's DocBook HTML: drops the Prev/Up/Next tables, index-term anchors and tables of contents"),
        ConfigKey.Choice("sqlite", "SQLite's pages: drops the header menu, tables of contents, syntax-diagram images, 'last modified'"),
    ]

    /// The top level of a pipeline file, in the order the reference lists it.
    static var pipeline: [Setting<PipelineConfig>] {
        [name, source, reader, chunker, embedder, index, retriever, reranker, answers, eval, server]
    }

    static var name: Setting<PipelineConfig> {
        .bound("name", \.name, .identifier, help: "names the pipeline in messages and in the default index path",
               fixedDefault: .described("the file name without .yaml")) { validator, node, path in
            validator.identifier(node, path: path)
        }
    }

    static var source: Setting<PipelineConfig> {
        let keys: [Setting<SourceConfig>] = [
            .path("root", \.root, example: "../Corpora/handbook", help: "the folder holding the documents; globs are relative to it"),
            .list("include", \.include, of: "glob", minCount: 1,
                  help: "files to read (`**` spans folders; a glob without / matches the file name at any depth)"),
            .list("exclude", \.exclude, of: "glob", help: "files to skip, matched like include"),
        ]
        return .section("source", \.source, keys, required: "{ root: ../Corpora/handbook, include: [\"**/*.html\"] }",
                        help: "which documents to read")
    }

    static var reader: Setting<PipelineConfig> {
        let keys: [Setting<ReaderConfig>] = [
            .bound("preset", \.preset, .choice(readerPresetChoices, what: "reader preset"),
                   help: "drop/keep rules for a documentation generator", fixedDefault: .described("the generic rules"),
                   parse: readerPreset),
            .list("drop", \.drop, of: "selector",
                  help: "more elements to leave out: tag, .class, #id, tag[attr=value], or XPath starting with /"),
            .list("keep", \.keep, of: "selector", help: "read only these subtrees (same rules); empty reads the main content"),
        ]
        return .section("reader", \.reader, keys, help: "how HTML and XML become text")
    }

    static var chunker: Setting<PipelineConfig> {
        let keys: [Setting<ChunkerConfig>] = [
            .integer("max_tokens", \.maxTokens, atLeast: 8, help: "tokens per chunk, special tokens and heading prefix included"),
            .integer("overlap_tokens", \.overlapTokens, atLeast: 0,
                     help: "tokens of a chunk's tail repeated at the start of the next; less than half of max_tokens"),
            .boolean("heading_prefix", \.headingPrefix, help: "start each chunk's text with its heading path"),
            .integer("min_tokens", \.minTokens, atLeast: 0,
                     help: "a section's last chunk shorter than this borrows blocks from the chunk before; at most max_tokens"),
            .boolean("split_on_anchor", \.splitOnAnchor,
                     help: "start a new section wherever the anchor changes, so each anchored part gets its own chunks"),
            .boolean("title_in_path", \.titleInPath, help: "open the heading path with the page title when the page's first heading lacks it"),
        ]
        return .section("chunker", \.chunker, keys,
                        help: "how documents are cut into passages, in model tokens; any change needs `sift index --rebuild`",
                        check: checkChunker)
    }

    static var embedder: Setting<PipelineConfig> {
        .stage("embedder", \.embedder, types: embedders, required: "{ model: ../Models/all-MiniLM-L6-v2 }",
               help: "embeds passages and questions")
    }

    static var index: Setting<PipelineConfig> {
        .stage("index", \.index, types: indexes, defaultText: "type local in .sift/<name> next to the pipeline file",
               help: "where the index lives: a local folder, or PostgreSQL with pgvector")
    }

    static var retriever: Setting<PipelineConfig> {
        let keys: [Setting<RetrieverConfig>] = [
            .integer("top_k", \.topK, atLeast: 1, help: "candidates kept after retrieval (and handed to the re-ranker)"),
            .boolean("dense", \.dense, help: "search the embedded passages (cosine similarity)"),
            .boolean("bm25", \.bm25, help: "search the full-text index (SQLite FTS5, BM25)"),
            .choice("fusion", \.fusion, what: "fusion", help: "how the dense and BM25 lists are merged"),
            .integer("rrf_k", \.rrfK, atLeast: 1, help: "k in RRF's 1 / (k + rank)"),
            .number("dense_weight", \.denseWeight, in: 0...1,
                    help: "weight of the dense list in weighted fusion and in RRF; 0.5 weighs both lists alike"),
        ]
        return .section("retriever", \.retriever, keys, help: "first-stage retrieval: dense and BM25 candidates, fused",
                        check: checkRetriever)
    }

    static var reranker: Setting<PipelineConfig> {
        .stage("reranker", \.reranker, types: rerankers, off: rerankerOff, help: "re-scores the retrieved candidates")
    }

    static var answers: Setting<PipelineConfig> {
        let keys: [Setting<AnswersConfig>] = [
            .integer("top_k", \.topK, atLeast: 1, help: "answers shown; at most reranker.top_k, or retriever.top_k without one"),
            .boolean("highlight", \.highlight, help: "mark the sentence that best matches the question"),
            .choice("group_by", \.groupBy, what: "answer grouping", help: "one answer per page, per section, or per passage"),
        ]
        return .section("answers", \.answers, keys, help: "what `sift ask` shows")
    }

    static var eval: Setting<PipelineConfig> {
        let keys: [Setting<EvalConfig>] = [
            .path("labels", \.labels, help: "labelled questions (JSON Lines) for `sift eval -p` without --labels"),
        ]
        return .section("eval", \.evalSettings, keys, defaultText: "none", help: "evaluation settings")
    }

    static var server: Setting<PipelineConfig> {
        let keys: [Setting<ServerConfig>] = [
            .integer("max_batch", \.maxBatch, in: 1...1024, help: "questions embedded and searched together (micro-batch size)"),
            .integer("batch_wait_ms", \.batchWaitMilliseconds, in: 0...1000,
                     help: "how long a question waits for others to share its batch, when the worker is idle"),
            .integer("max_queue", \.maxQueue, in: 1...1_000_000, help: "questions waiting at most; beyond it requests get 503 with Retry-After"),
            .integer("batch_workers", \.batchWorkers, in: 1...64,
                     help: "batches in progress at once: one embeds while another reads and highlights its passages"),
            .integer("rerank_workers", \.rerankWorkers, in: 1...64, help: "questions re-ranked at the same time"),
            .integer("timeout_ms", \.timeoutMilliseconds, in: 10...3_600_000, help: "a request not answered by then gets 504"),
            .integer("max_question_chars", \.maxQuestionCharacters, in: 1...1_000_000, help: "longer questions get 422"),
            .integer("max_texts", \.maxTexts, in: 1...1_000_000, help: "texts per /v1/embed, /v1/similarity, /v1/search or /v1/rerank request, and questions per /v1/batch"),
            .integer("max_body_bytes", \.maxBodyBytes, in: 1024...1_073_741_824, help: "larger request bodies get 413"),
            .list("cors_origins", \.corsOrigins, of: "origin",
                  help: "origins allowed to call the API from a browser (`*` for any); none: CORS is off"),
        ]
        return .section("server", \.server, keys, help: "`sift serve`: batching, limits and CORS")
    }

    /// What the top level starts from before the file is read.
    static func defaults(name: String) -> PipelineConfig {
        PipelineConfig(name: name, source: SourceConfig(root: .placeholder), embedder: .defaults, index: IndexConfig(path: .placeholder))
    }

    /// Every key of a pipeline file, with its defaults.
    public static var keys: [ConfigKey] { pipeline.map { $0.describe(defaults(name: "pipeline")) } }

    /// Embedder type names (`embedder.type`).
    public static var embedderTypes: [String] { embedders.map(\.name) }
    /// Re-ranker type names (`reranker.type`, or `reranker: none`).
    public static var rerankerTypes: [String] { rerankers.map(\.name) + [rerankerOff.name] }
    /// Reader presets (`reader.preset`).
    public static var readerPresets: [String] { ReaderOptions.presetNames }

    /// Index type names (`index.type`).
    public static var indexTypes: [String] { indexes.map(\.name) }

    /// The store `config.type` names: a folder, or PostgreSQL (reading `password_file` here).
    public static func makeStoreBackend(_ config: IndexConfig) throws -> any StoreBackend {
        try stageType(config.type, of: "index", among: indexes).make(config)
    }

    /// Builds the embedder `config.type` names.
    public static func makeEmbedder(_ config: EmbedderConfig) throws -> any TextEmbedder {
        try stageType(config.type, of: "embedder", among: embedders).make(config)
    }

    /// Builds the re-ranker `config.type` names.
    public static func makeReranker(_ config: RerankerConfig) throws -> any PassageScorer {
        try stageType(config.type, of: "reranker", among: rerankers).make(config)
    }

    private static func stageType<Config, Product>(_ name: String, of stage: String,
                                                 among types: [StageType<Config, Product>]) throws -> StageType<Config, Product> {
        if let type = types.first(where: { $0.name == name }) { return type }
        throw PipelineError.invalid([ConfigProblem(path: "\(stage).type", line: nil,
                                                   message: ConfigValidator.unknown("\(stage) type", name, options: types.map(\.name)))])
    }

    // MARK: Checks across keys

    /// A preset the reader knows, by any of its names; null is the generic rules.
    private static func readerPreset(_ validator: inout ConfigValidator, _ node: ConfigNode, _ path: String) -> String?? {
        if node.isNull { return .some(nil) }
        guard let text = validator.string(node, path: path) else { return nil }
        if ReaderOptions.preset(named: text) != nil { return .some(text) }
        _ = validator.choice(node, path: path, options: readerPresets, what: "reader preset")
        return nil
    }

    /// A schema name PostgreSQL takes as a plain identifier (it is spliced into SQL).
    private static func postgresSchema(_ validator: inout ConfigValidator, _ node: ConfigNode, _ path: String) -> String? {
        guard let text = validator.string(node, path: path) else { return nil }
        if PostgresSettings.isValidSchema(text) { return text }
        validator.report(path, node.line, "use [a-z_][a-z0-9_]{0,47} (lower-case letters, digits and '_', "
                         + "at most 48, not starting with a digit or pg_), got \(node.shortDescription)")
        return nil
    }

    private static func checkHNSW(_ validator: inout ConfigValidator, _ fields: ConfigValidator.Fields, _ hnsw: inout HNSWSettings) {
        if hnsw.efConstruction < 2 * hnsw.m {
            validator.report(fields.path("ef_construction"), fields["ef_construction"]?.line ?? fields["m"]?.line ?? fields.line,
                             "\(hnsw.efConstruction) is less than 2 · m (\(2 * hnsw.m)); pgvector needs ef_construction ≥ 2 · m")
        }
    }

    /// One server (`url`, with `replicas`) or several (`shards`), never both.
    private static func checkPostgres(_ validator: inout ConfigValidator, _ fields: ConfigValidator.Fields, _ index: inout IndexConfig) {
        switch (fields["url"], fields["shards"]) {
        case (nil, nil):
            validator.report(fields.path, fields.line, "give url (one server) or shards (several); for example url: postgresql://sift@localhost:5432/sift")
        case let (_?, shards?):
            validator.report(fields.path("shards"), shards.line, "url and shards exclude each other: url is one server, shards are several")
        case (nil, .some):
            if let replicas = fields["replicas"] {
                validator.report(fields.path("replicas"), replicas.line, "with shards, list each shard's replicas in its item (shards: [{ url: ..., replicas: [...] }])")
            }
        default:
            break
        }
    }

    private static func checkChunker(_ validator: inout ConfigValidator, _ fields: ConfigValidator.Fields, _ chunker: inout ChunkerConfig) {
        if chunker.overlapTokens >= chunker.maxTokens / 2 {
            validator.report(fields.path("overlap_tokens"), fields["overlap_tokens"]?.line ?? fields.line,
                             "\(chunker.overlapTokens) must be less than half of max_tokens (\(chunker.maxTokens)) so chunks advance")
        }
        if chunker.minTokens > chunker.maxTokens {
            validator.report(fields.path("min_tokens"), fields["min_tokens"]?.line ?? fields.line,
                             "\(chunker.minTokens) exceeds max_tokens (\(chunker.maxTokens))")
        }
    }

    private static func checkRetriever(_ validator: inout ConfigValidator, _ fields: ConfigValidator.Fields,
                                       _ retriever: inout RetrieverConfig) {
        if !retriever.dense && !retriever.bm25 {
            validator.report(fields.path, fields.line, "dense and bm25 are both off; switch at least one on")
        } else if retriever.dense && retriever.bm25 && retriever.fusion == .none {
            validator.report(fields.path("fusion"), fields["fusion"]?.line,
                             "'none' needs exactly one of dense and bm25; use rrf or weighted, or set bm25: false")
        }
    }

    /// The default index path, and the limits one stage sets on the next.
    static func checkAcrossStages(_ validator: inout ConfigValidator, _ top: ConfigValidator.Fields, _ config: inout PipelineConfig) {
        if top["index"] == nil { config.index = IndexConfig(path: validator.fileBase.appendingPathComponent(".sift/\(config.name)")) }
        if let reranker = config.reranker, reranker.topK > config.retriever.topK {
            validator.report("reranker.top_k", top["reranker"]?.line,
                             "\(reranker.topK) exceeds retriever.top_k (\(config.retriever.topK)); the re-ranker only sees retrieved candidates")
        }
        let answerPool = config.reranker?.topK ?? config.retriever.topK
        if config.answers.topK > answerPool {
            validator.report("answers.top_k", top["answers"]?.line,
                             "\(config.answers.topK) exceeds \(config.reranker == nil ? "retriever" : "reranker").top_k (\(answerPool))")
        }
    }
}

/// One type of a stage: the name a pipeline gives as `<stage>.type`, the keys it reads, and the factory that builds
/// the stage from the validated settings.
struct StageType<Config: StageConfig, Product> {
    let name: String
    let help: String
    let keys: [Setting<Config>]
    /// Checks across this type's keys, run after they are read (`url` or `shards`, not both).
    var check: ((inout ConfigValidator, ConfigValidator.Fields, inout Config) -> Void)? = nil
    let make: (Config) throws -> Product

    /// Every field at its default, `type` naming this type.
    var defaults: Config {
        var config = Config.defaults
        config.type = name
        return config
    }

    var described: StageTypeDescription {
        StageTypeDescription(name: name, help: help, keys: keys.map { $0.describe(defaults) })
    }
}

/// The settings of a stage with types: they keep the type's name, so the registry can build the stage again.
protocol StageConfig {
    var type: String { get set }
    /// Every field at its default; required fields hold a placeholder that validation never lets through.
    static var defaults: Self { get }
}

extension EmbedderConfig: StageConfig {
    static var defaults: EmbedderConfig { EmbedderConfig(model: .placeholder) }
}

extension RerankerConfig: StageConfig {
    static var defaults: RerankerConfig { RerankerConfig(model: .placeholder) }
}

extension IndexConfig: StageConfig {
    static var defaults: IndexConfig { IndexConfig(path: .placeholder) }
}

extension URL {
    /// Stands for a required path until the file gives one.
    static let placeholder = URL(fileURLWithPath: "/")
}

extension PipelineConfig {
    /// `eval`, present or not: absent until the file has an `eval` section, which is then read into the defaults.
    var evalSettings: EvalConfig {
        get { eval ?? EvalConfig() }
        set { eval = newValue }
    }
}

extension Setting {
    /// A stage that can be switched off (`reranker`): nil when off, and when absent.
    static func stage<Section, Product>(_ name: String, _ field: WritableKeyPath<Config, Section?>, types: [StageType<Section, Product>],
                                        off: ConfigKey.Choice, help: String) -> Setting {
        stage(name, field, types: types, off: off, help: help, fixedDefault: .value(.text(off.name))) { .some($0) }
    }

    /// A stage that is always there and must be given (`embedder`).
    static func stage<Section, Product>(_ name: String, _ field: WritableKeyPath<Config, Section>, types: [StageType<Section, Product>],
                                        required example: String, help: String) -> Setting {
        stage(name, field, types: types, off: nil, help: help, fixedDefault: .required(example: example)) { $0 }
    }

    /// A stage that is always there, with a default when left out that `defaultText` describes (`index`).
    static func stage<Section, Product>(_ name: String, _ field: WritableKeyPath<Config, Section>, types: [StageType<Section, Product>],
                                        defaultText: String, help: String) -> Setting {
        stage(name, field, types: types, off: nil, help: help, fixedDefault: .described(defaultText)) { $0 }
    }

    /// `store` turns the stage read (nil when switched off) into the field's value, or nil to leave the field alone.
    private static func stage<Section, Product, Value>(_ name: String, _ field: WritableKeyPath<Config, Value>,
                                                       types: [StageType<Section, Product>], off: ConfigKey.Choice?, help: String,
                                                       fixedDefault: ConfigKey.Default,
                                                       store: @escaping (Section?) -> Value?) -> Setting {
        bound(name, field, .stage(types: types.map(\.described), off: off), help: help,
              fixedDefault: fixedDefault) { validator, node, path in
            validator.stage(node, path: path, types: types, off: off?.name).flatMap(store)
        }
    }
}

// MARK: Choices

extension FusionMethod: ConfigChoice {
    var help: String {
        switch self {
        case .rrf: "reciprocal rank fusion, 2 · (w / (rrf_k + dense rank) + (1 − w) / (rrf_k + BM25 rank)), w = dense_weight: ranks only, robust"
        case .weighted: "dense_weight · dense + (1 − dense_weight) · BM25, on min-max-normalised scores"
        case .none: "no fusion: only with exactly one of dense and bm25 switched on"
        }
    }
}

extension PrecisionSetting: ConfigChoice {
    var help: String {
        switch self {
        case .fp32: "float32 throughout: matches PyTorch to ~1e-5 (the re-ranker's default)"
        case .bf16: "bfloat16 weights and activations, float32 sums: faster with AVX-512 BF16, fp32 on other CPUs (the embedder's default)"
        case .int8: "int8 weights and activations, exact int32 sums: fastest with VNNI, least exact"
        }
    }
}

extension TruncationPolicy: ConfigChoice {
    var help: String {
        switch self {
        case .onlySecond: "cut the passage, keep the question whole"
        case .longestFirst: "cut the longer of the two first"
        }
    }
}

extension VectorIndexKind: ConfigChoice {
    var help: String {
        switch self {
        case .hnsw: "pgvector's HNSW graph (vector_ip_ops): approximate, fast; recall set by hnsw.ef_search"
        case .exact: "a full scan: every stored vector is compared, as the local index does; exact"
        }
    }
}

extension LexicalScoring: ConfigChoice {
    var help: String {
        switch self {
        case .bm25: "Okapi BM25 computed in SQL from term statistics Sift keeps (heading, title, body weighted as in the local index)"
        case .tsRankCD: "PostgreSQL's ts_rank_cd cover density: no inverse document frequency"
        }
    }
}

extension ShardFailurePolicy: ConfigChoice {
    var help: String {
        switch self {
        case .fail: "the question fails with an error naming the shard"
        case .partial: "the question is answered from the shards that answered, and the answer says it is partial"
        }
    }
}

extension AnswerGrouping: ConfigChoice {
    var help: String {
        switch self {
        case .none: "every passage is an answer, so several may come from one section"
        case .section: "one answer per page.html#anchor, led by its best passage; the others listed under it"
        case .page: "one answer per page, led by its best passage; the others listed under it"
        }
    }
}
