import Foundation
import SiftChunker
import SiftCore
import SiftIndex
import SiftPostgres
import SiftReader
import SiftTokenizer

/// Stage instances given to a runner instead of the ones its pipeline file names: test fakes, or a library user's
/// own conformers. Nil builds the configured stage through `StageRegistry` on first use.
public struct PipelineComponents: Sendable {
    public var embedder: (any TextEmbedder)?
    public var reranker: (any PassageScorer)?
    public var store: (any CollectionStore)?

    public init(embedder: (any TextEmbedder)? = nil, reranker: (any PassageScorer)? = nil, store: (any CollectionStore)? = nil) {
        self.embedder = embedder
        self.reranker = reranker
        self.store = store
    }
}

/// Runs a pipeline: reader → chunker → embedder → index for `index` (Indexing.swift), and the configured retrievers
/// → fusion → re-ranker → answers for `ask` (Asking.swift). It holds no stage logic of its own: each stage is a
/// conformer of a SiftCore protocol, built from the pipeline file on first use and kept.
public final class PipelineRunner: @unchecked Sendable {
    public let config: PipelineConfig
    let reader: DocumentReader
    private let lock = NSLock()
    private var loadedTokenizer: WordPieceTokenizer?
    /// Models and the store, given or loaded; guarded by `lock`.
    private var components: PipelineComponents

    /// Checks what can be checked without models: reader rules. Throws `PipelineError.invalid` for a bad rule.
    public init(config: PipelineConfig, components: PipelineComponents = PipelineComponents()) throws {
        self.config = config
        self.components = components
        do {
            reader = try DocumentReader(options: config.reader.readerOptions)
        } catch {
            throw PipelineError.invalid([ConfigProblem(path: "reader", line: nil, message: error.description)])
        }
    }

    /// A runner with other retriever settings that shares this one's loaded models and index (for `eval --tune`).
    public func with(retriever: RetrieverConfig) throws -> PipelineRunner {
        var changed = config
        changed.retriever = retriever
        lock.lock(); let loaded = components, tokenizer = loadedTokenizer; lock.unlock()
        let runner = try PipelineRunner(config: changed, components: loaded)
        runner.loadedTokenizer = tokenizer
        return runner
    }

    // MARK: Stages (loaded once)

    private func cached<T>(_ slot: ReferenceWritableKeyPath<PipelineRunner, T?>, _ load: () throws -> T) rethrows -> T {
        lock.lock(); defer { lock.unlock() }
        if let value = self[keyPath: slot] { return value }
        let value = try load()
        self[keyPath: slot] = value
        return value
    }

    /// The embedder's tokenizer, which the chunker counts with.
    public func tokenizer() throws -> WordPieceTokenizer {
        try cached(\.loadedTokenizer) { try StageLoader.tokenizer(config.embedder) }
    }

    /// The bi-encoder.
    public func embedder() throws -> any TextEmbedder {
        try cached(\.components.embedder) { try StageRegistry.makeEmbedder(config.embedder) }
    }

    /// The re-ranker; throws `stageNotConfigured` when the pipeline has none.
    func scorer() throws -> any PassageScorer {
        lock.lock(); let given = components.reranker; lock.unlock()
        if let given { return given }
        guard let reranker = config.reranker else {
            throw PipelineError.stageNotConfigured(.rerank,
                hint: "add `reranker: { model: <cross-encoder folder> }` to the pipeline or use --set reranker.model=PATH")
        }
        return try cached(\.components.reranker) { try StageRegistry.makeReranker(reranker) }
    }

    /// True when a re-ranker was given or is configured.
    var hasReranker: Bool {
        lock.lock(); defer { lock.unlock() }
        return components.reranker != nil || config.reranker != nil
    }

    func chunker() throws -> Chunker {
        do { return try Chunker(settings: config.chunker, counter: try tokenizer()) } catch let error as PipelineError {
            throw error
        } catch {
            throw PipelineError.invalid([ConfigProblem(path: "chunker", line: nil, message: "\(error)")])
        }
    }

    /// The collection store, opened read-only for asking. Throws `indexMissing` with the command that builds it, and
    /// `indexUnusable` for an index that was never completed or holds no chunks (with `requireChunks`), so that an
    /// unbuilt index never looks like "no answers".
    public func openIndex(requireChunks: Bool = true) throws -> any CollectionStore {
        let backend = try storeBackend()
        let store = try cached(\.components.store) { () throws -> any CollectionStore in
            do { return try backend.openForReading() } catch IndexError.missingIndex, PostgresError.missingIndex {
                throw PipelineError.indexMissing(path: backend.location, hint: "build it with `\(buildCommand)`")
            } catch IndexError.missingManifest {
                throw PipelineError.indexUnusable(path: backend.location, reason: "its first build never completed", hint: "run `\(buildCommand)`")
            } catch {
                throw PipelineError.stage(.index, underlying: error, hint: "check it with `\(buildCommand) --verify`")
            }
        }
        if requireChunks && store.stats.chunks == 0 {
            throw PipelineError.indexUnusable(path: backend.location, reason: "it holds no chunks (an empty or unfinished build)",
                                              hint: "run `\(buildCommand)`")
        }
        return store
    }

    /// The store type `index.type` names, from the registry.
    func storeBackend() throws -> any StoreBackend {
        try StageRegistry.makeStoreBackend(config.index)
    }

    /// Where the index lives, safe to print (no credentials).
    public var indexLocation: String { (try? storeBackend().location) ?? config.index.path.path }

    /// Replaces the cached store (after `index` wrote a new generation).
    func keep(store: any CollectionStore) {
        lock.lock(); components.store = store; lock.unlock()
    }

    var pipelineArgument: String { config.file?.path ?? config.name }
    var buildCommand: String { "sift index -p \(pipelineArgument)" }
    var rebuildHint: String { "run `sift index --rebuild -p \(pipelineArgument)`" }

    /// What the index must have been built with: the model, the chunker settings and the reader rules.
    func indexConfiguration(embedder: any TextEmbedder) -> IndexConfiguration {
        IndexConfiguration(embedder: embedder, chunkerFingerprint: config.chunker.fingerprint,
                           readerFingerprint: StableDigest.hex(readerFingerprintParts))
    }

    private var readerFingerprintParts: [String] {
        let options = config.reader.readerOptions
        return ["reader-v1", String(options.maxFileSize), String(options.maxDepth), String(options.maxTextLength)]
            + ["drop"] + options.drop + ["keep"] + options.keep + ["xml", String(describing: options.xmlMapping)]
    }

    /// Checks the index without changing it (`sift index --verify`): the problems found, empty when it is sound.
    public func verifyIndex() throws -> (stats: IndexStats, problems: [String]) {
        let index = try openIndex(requireChunks: false)
        return (index.stats, index.verify())
    }
}

/// Times stages and gives their failures the stage's name: the one place a module's error becomes a
/// `PipelineError.stage` (a `PipelineError` passes through unchanged).
struct StageClock {
    var timings: [StageTiming] = []

    /// Runs `body` as `stage`, recording its wall time scaled by `share` (1/n for a stage run once for n questions).
    mutating func run<T>(_ stage: Stage, share: Double = 1, _ body: () throws -> T) throws -> T {
        let t0 = Date()
        defer { timings.append(StageTiming(stage: stage, milliseconds: Date().timeIntervalSince(t0) * 1000 * share)) }
        do { return try body() } catch let error as PipelineError { throw error } catch {
            throw PipelineError.stage(stage, underlying: error)
        }
    }
}
