import Foundation
import Testing
import SiftTestSupport
@testable import SiftPipeline

/// The shipped pipelines, value by value: every key the file sets and every default it leaves, written out in full,
/// so a change to a key's name, default or meaning in the registry shows up here.
@Suite struct ShippedPipelineTests {
    static let root = ConfigValidator.lexicallyNormalized(TestPaths.repositoryRoot.path)
    static func url(_ path: String) -> URL { URL(fileURLWithPath: path.hasPrefix("/") ? path : root + "/" + path) }
    static let miniLM = EmbedderConfig(model: url("Models/all-MiniLM-L6-v2"), batchSize: 32, precision: .bf16, type: "bi-encoder")
    static let chunker = ChunkerConfig(maxTokens: 200, overlapTokens: 32, headingPrefix: true, minTokens: 32, splitOnAnchor: false,
                                       titleInPath: true)
    /// The PostgreSQL and SQLite docs' chunks, chosen by `sift eval --tune --chunk-sizes` on their dev questions.
    static let shortChunker = ChunkerConfig(maxTokens: 128, overlapTokens: 24, headingPrefix: true, minTokens: 32, splitOnAnchor: false,
                                            titleInPath: true)
    static let fiveByPage = AnswersConfig(topK: 5, highlight: true, groupBy: .page)

    /// A shipped pipeline: its index in .sift/<name>, no re-ranker; the usual chunker, embedder and answers unless given.
    static func shipped(_ name: String, source: SourceConfig, reader: ReaderConfig, chunker: ChunkerConfig = chunker,
                        index: IndexConfig? = nil,
                        retriever: RetrieverConfig, answers: AnswersConfig = fiveByPage, eval: EvalConfig? = nil) -> PipelineConfig {
        PipelineConfig(name: name, source: source, reader: reader, chunker: chunker, embedder: miniLM,
                       index: index ?? IndexConfig(path: url(".sift/\(name)")), retriever: retriever, reranker: nil, answers: answers, eval: eval)
    }

    /// The PostgreSQL index of the `-postgres` pipelines, with SIFT_PG_HOST and SIFT_PG_PORT unset.
    static func postgres(schema: String) -> IndexConfig {
        IndexConfig(postgres: PostgresIndexConfig(url: "postgresql://postgres@127.0.0.1:54329/sift", replicas: [], shards: [],
                                                  passwordFile: nil, schema: schema, vectorIndex: .hnsw,
                                                  hnsw: .init(m: 16, efConstruction: 64, efSearch: 400),
                                                  statementTimeoutMilliseconds: 30_000, connectTimeoutSeconds: 5, onShardFailure: .fail))
    }

    static let expected: [String: PipelineConfig] = [
        "handbook": shipped(
            "handbook", source: SourceConfig(root: url("Corpora/handbook"), include: ["*.html"], exclude: []),
            reader: ReaderConfig(preset: "default", drop: [], keep: []),
            retriever: RetrieverConfig(topK: 50, dense: true, bm25: true, fusion: .rrf, rrfK: 60, denseWeight: 0.5),
            eval: EvalConfig(labels: url("Corpora/handbook/labels.jsonl"))),
        "handbook-postgres": shipped(
            "handbook-postgres", source: SourceConfig(root: url("Corpora/handbook"), include: ["*.html"], exclude: []),
            reader: ReaderConfig(preset: "default", drop: [], keep: []),
            index: postgres(schema: "handbook"),
            retriever: RetrieverConfig(topK: 50, dense: true, bm25: true, fusion: .rrf, rrfK: 60, denseWeight: 0.5),
            eval: EvalConfig(labels: url("Corpora/handbook/labels.jsonl"))),
        "handbook-all": shipped(
            "handbook-all", source: SourceConfig(root: url("Corpora"), include: ["handbook/*.html", "handbook-feed/*.xml"], exclude: []),
            reader: ReaderConfig(preset: "default"),
            retriever: RetrieverConfig(topK: 50, dense: true, bm25: true, fusion: .rrf, rrfK: 60, denseWeight: 0.5)),
        "postgresql-docs": shipped(
            "postgresql-docs",
            source: SourceConfig(root: url("/usr/share/doc/postgresql-doc-15/html"), include: ["*.html"],
                                 exclude: ["bookindex.html", "release-*.html"]),
            reader: ReaderConfig(preset: "postgres"), chunker: shortChunker,
            retriever: RetrieverConfig(topK: 100, dense: true, bm25: true, fusion: .rrf, rrfK: 5, denseWeight: 0.7)),
        "python-docs": shipped(
            "python-docs",
            source: SourceConfig(root: url("/usr/share/doc/python3.11/html"), include: ["**/*.html"],
                                 exclude: ["genindex*.html", "py-modindex.html", "search.html", "_static/**", "_sources/**",
                                           "_downloads/**", "_images/**"]),
            reader: ReaderConfig(preset: "sphinx"),
            retriever: RetrieverConfig(topK: 100, dense: true, bm25: true, fusion: .rrf, rrfK: 60, denseWeight: 0.5)),
        "python-docs-postgres": shipped(
            "python-docs-postgres",
            source: SourceConfig(root: url("/usr/share/doc/python3.11/html"), include: ["**/*.html"],
                                 exclude: ["genindex*.html", "py-modindex.html", "search.html", "_static/**", "_sources/**",
                                           "_downloads/**", "_images/**"]),
            reader: ReaderConfig(preset: "sphinx"),
            index: postgres(schema: "python_docs"),
            retriever: RetrieverConfig(topK: 100, dense: true, bm25: true, fusion: .rrf, rrfK: 60, denseWeight: 0.5)),
        "python-faq-eval": shipped(
            "python-faq-eval",
            source: SourceConfig(root: url("/usr/share/doc/python3.11/html"), include: ["faq/*.html"], exclude: ["faq/index.html"]),
            reader: ReaderConfig(preset: "sphinx", drop: ["//section[not(.//section)]/*[self::h2 or self::h3 or self::h4]"]),
            chunker: ChunkerConfig(maxTokens: 200, overlapTokens: 32, headingPrefix: true, minTokens: 32, splitOnAnchor: true,
                                   titleInPath: true),
            retriever: RetrieverConfig(topK: 100, dense: true, bm25: true, fusion: .weighted, rrfK: 60, denseWeight: 0.9),
            answers: AnswersConfig(topK: 10, highlight: true, groupBy: .page),
            eval: EvalConfig(labels: url("Pipelines/python-faq-eval.labels.jsonl"))),
        "sqlite-docs": shipped(
            "sqlite-docs",
            source: SourceConfig(root: url("/usr/share/doc/sqlite3"), include: ["**/*.html"],
                                 exclude: ["doc_*_crossref.html", "sitemap.html", "keyword_index.html", "toc*.html", "releaselog/**",
                                           "changes.html", "chronology.html", "news.html", "oldnews.html", "syntax/**"]),
            reader: ReaderConfig(preset: "sqlite"), chunker: shortChunker,
            retriever: RetrieverConfig(topK: 100, dense: true, bm25: true, fusion: .rrf, rrfK: 10, denseWeight: 0.5)),
    ]

    @Test(arguments: expected.keys.sorted())
    func shippedPipelineLoadsToTheSameValue(_ name: String) throws {
        let file = TestPaths.repositoryRoot.appendingPathComponent("Pipelines/\(name).yaml")
        var expected = try #require(Self.expected[name])
        expected.file = file
        let loaded = try PipelineConfig.load(contentsOf: file, environment: [:])
        #expect(loaded == expected)
    }
}
