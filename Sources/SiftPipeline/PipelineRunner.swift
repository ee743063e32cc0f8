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
    /// Vectors of answer sentences already embedded for highlighting, and chunks already read: the same passages
    /// answer many questions, and a long-running process (a server) asks for them again and again.
    let sentenceVectors = ImmutableValueCache<[Float]>(capacity: 16_384)
    let chunkCache = ImmutableValueCache<Chunk>(capacity: 16_384)
    /// Each answer chunk's sentences with their stems, for the highlighter (by chunk id).
    let chunkSentences = ImmutableValueCache<[Highlighter.Sentence]>(capacity: 4_096)
    /// The store backend's commit marker when this runner opened the store (nil for a given store); guarded by `lock`.
    private var openedMarker: String?

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

    /// A runner with other chunker settings over a local index in `indexFolder`, sharing this one's loaded embedder
    /// and tokenizer but not its store (for `eval --tune` over chunk sizes: each setting needs its own index).
    public func with(chunker: ChunkerConfig, indexFolder: URL) throws -> PipelineRunner {
        var changed = config
        changed.chunker = chunker
        changed.index = IndexConfig(path: indexFolder)
        lock.lock(); let loaded = components, tokenizer = loadedTokenizer; lock.unlock()
        let runner = try PipelineRunner(config: changed, components: PipelineComponents(embedder: loaded.embedder, reranker: loaded.reranker))
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
            // Read before opening: a commit in between then only causes one more reload.
            openedMarker = backend.commitMarker()
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

    /// Re-opens the index when another process has committed a new generation since this runner opened it (the
    /// store's commit marker changed), and returns true then. Questions already running keep the store they
    /// started with; a generation still being written is never seen, since its commit is the manifest's rename.
    /// A `RefreshableCollectionStore` (PostgreSQL, whose rows are read live) instead re-reads its statistics and
    /// generation. Does nothing for a store given in `PipelineComponents` that is neither.
    @discardableResult
    public func reloadIndexIfChanged() throws -> Bool {
        lock.lock(); let opened = openedMarker, open = components.store; lock.unlock()
        // A database store reads rows live and only re-reads what it caches.
        if let refreshable = open as? any RefreshableCollectionStore {
            do { return try refreshable.refreshIfCommitted() } catch {
                throw PipelineError.stage(.index, underlying: error)
            }
        }
        guard let opened, let backend = try? storeBackend(), let marker = backend.commitMarker(), marker != opened else { return false }
        let fresh: any CollectionStore
        do { fresh = try backend.openForReading() } catch {
            throw PipelineError.stage(.index, underlying: error, hint: "check it with `\(buildCommand) --verify`")
        }
        lock.lock(); components.store = fresh; openedMarker = marker; lock.unlock()
        return true
    }

    /// Loads what answering needs (the embedder, the re-ranker when configured, the index) and checks that the
    /// index was built with this embedder, so that a long-running process fails at start rather than on its
    /// first question.
    public func preload() throws {
        let embedder = try self.embedder()
        let store = try openIndex()
        do { try store.configuration.check(against: indexConfiguration(embedder: embedder)) } catch {
            throw PipelineError.stage(.index, underlying: error, hint: rebuildHint)
        }
        if hasReranker { _ = try scorer() }
    }

    /// Cross-encoder scores of (query, passage) pairs with the pipeline's re-ranker, in passage order; throws
    /// `stageNotConfigured` when it has none.
    public func rerankScores(query: String, passages: [String]) throws -> [Float] {
        let scorer = try self.scorer()
        do { return try scorer.scores(query: query, passages: passages) } catch {
            throw PipelineError.stage(.rerank, underlying: error)
        }
    }

    /// True when the pipeline re-ranks (a re-ranker is configured or given).
    public var reranks: Bool { hasReranker }

    /// The generation of the open index; nil before it is opened.
    public var indexGeneration: Int? {
        lock.lock(); defer { lock.unlock() }
        return components.store?.stats.generation
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

/// A bounded cache of values that never go stale for their key: sentence vectors by sentence text (a vector depends
/// on its text alone) and chunks by id (an id is a hash of the chunk's document, range, chunker settings and text, so
/// one id always names the same chunk, in every generation). When `capacity` is reached the older half is dropped
/// (two generations: a cheap approximation of LRU).
final class ImmutableValueCache<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private let capacity: Int
    private var recent: [String: Value] = [:]
    private var older: [String: Value] = [:]

    init(capacity: Int) { self.capacity = max(2, capacity) }

    /// Values for `keys` in order: cached ones looked up, the others loaded in one call (`load` gets the missing
    /// keys and returns their values, nil for a key it does not know) and kept.
    func values(for keys: [String], load: ([String]) throws -> [Value?]) rethrows -> [Value?] {
        var result = [Value?](repeating: nil, count: keys.count)
        var missing: [Int] = []
        lock.lock()
        for (i, key) in keys.enumerated() {
            if let value = recent[key] ?? older[key] { result[i] = value } else { missing.append(i) }
        }
        lock.unlock()
        if !missing.isEmpty {
            let fresh = try load(missing.map { keys[$0] })
            lock.lock()
            for (i, value) in zip(missing, fresh) {
                guard let value else { continue }
                result[i] = value
                if recent.count >= capacity / 2 {
                    older = recent
                    recent = [:]
                }
                recent[keys[i]] = value
            }
            lock.unlock()
        }
        return result
    }
}
