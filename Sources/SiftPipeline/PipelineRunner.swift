import Foundation
import SiftChunker
import SiftCore
import SiftIndex
import SiftReader
import SiftTokenizer

/// Runs a pipeline: wires reader → chunker → embedder → index for `index`, and index → fusion → re-ranker → answers
/// for `ask`. It holds no stage logic of its own; models and the index are loaded on first use and kept.
public final class PipelineRunner: @unchecked Sendable {
    public let config: PipelineConfig
    let reader: DocumentReader
    private let lock = NSLock()
    private var loadedTokenizer: WordPieceTokenizer?
    private var loadedEmbedder: (any TextEmbedder)?
    private var loadedScorer: (any PassageScorer)?
    private var loadedIndex: CollectionIndex?

    /// Checks what can be checked without models: reader rules. Throws `PipelineError.invalid` for a bad rule.
    public init(config: PipelineConfig) throws {
        self.config = config
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
        let runner = try PipelineRunner(config: changed)
        lock.lock(); defer { lock.unlock() }
        runner.loadedTokenizer = loadedTokenizer
        runner.loadedEmbedder = loadedEmbedder
        runner.loadedScorer = loadedScorer
        runner.loadedIndex = loadedIndex
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
        try cached(\.loadedEmbedder) { try StageLoader.biEncoder(config.embedder) }
    }

    func scorer() throws -> any PassageScorer {
        guard let reranker = config.reranker else {
            throw PipelineError.stageNotConfigured(stage: "reranker",
                hint: "add `reranker: { model: <cross-encoder folder> }` to the pipeline or use --set reranker.model=PATH")
        }
        return try cached(\.loadedScorer) { try StageLoader.crossEncoder(reranker) }
    }

    func chunker() throws -> Chunker {
        do { return try Chunker(settings: config.chunker, counter: try tokenizer()) } catch let error as PipelineError {
            throw error
        } catch {
            throw PipelineError.invalid([ConfigProblem(path: "chunker", line: nil, message: "\(error)")])
        }
    }

    /// The index, opened read-only for asking. Throws `indexMissing` with the command that builds it, and
    /// `indexUnusable` for an index that was never completed or holds no chunks (with `requireChunks`), so that an
    /// unbuilt index never looks like "no answers".
    public func openIndex(requireChunks: Bool = true) throws -> CollectionIndex {
        let index = try cached(\.loadedIndex) {
            let folder = config.index.path
            let build = "sift index -p \(pipelineArgument)"
            do { return try CollectionIndex.open(at: folder) } catch IndexError.missingIndex {
                throw PipelineError.indexMissing(path: folder.path, hint: "build it with `\(build)`")
            } catch IndexError.missingManifest {
                throw PipelineError.indexUnusable(path: folder.path, reason: "its first build never completed", hint: "run `\(build)`")
            } catch {
                throw PipelineError.stageFailed(stage: "index", message: "\(error); check it with `\(build) --verify`")
            }
        }
        if requireChunks && index.stats.chunks == 0 {
            throw PipelineError.indexUnusable(path: config.index.path.path, reason: "it holds no chunks (an empty or unfinished build)",
                                              hint: "run `sift index -p \(pipelineArgument)`")
        }
        return index
    }

    var pipelineArgument: String { config.file?.path ?? config.name }

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

    // MARK: Indexing

    /// Brings the index up to date with the source folder: reads every file, hashes each document's extracted
    /// content, and chunks and embeds only new or changed documents; removed files are deleted from the index.
    /// A file that exists but cannot be read keeps its previously indexed version (reported in `kept`).
    /// With `rebuild`, every document is embedded afresh into a new generation (needed after changing the model,
    /// chunker or reader settings); the old one answers until the new one is committed.
    /// Only one process writes an index at a time: with `wait`, this waits for another writer (calling `onWait`
    /// with its pid), otherwise it fails at once.
    public func index(rebuild: Bool = false, wait: Bool = false, onWait: ((Int?) -> Void)? = nil,
                      progress: (@Sendable (IndexingProgress) -> Void)? = nil) throws -> IndexReport {
        let started = Date()
        var timings: [StageTiming] = []
        func timed<T>(_ stage: String, _ body: () throws -> T) rethrows -> T {
            let t0 = Date()
            defer { timings.append(StageTiming(stage: stage, milliseconds: Date().timeIntervalSince(t0) * 1000)) }
            return try body()
        }
        func indexFailure(_ error: Error) -> PipelineError {
            if case .incompatible? = error as? IndexError {
                return .stageFailed(stage: "index", message: "\(error) (run `sift index --rebuild -p \(pipelineArgument)`)")
            }
            if case .corrupted? = error as? IndexError {
                return .stageFailed(stage: "index", message: "\(error); rebuild it with `sift index --rebuild -p \(pipelineArgument)`")
            }
            return .stageFailed(stage: "index", message: "\(error)")
        }

        // Models first: a missing model fails before minutes of reading.
        let embedder = try self.embedder()
        let chunker = try self.chunker()
        if let limit = (embedder as? BatchedEmbedder)?.maxSequenceLength, config.chunker.maxTokens > limit {
            throw PipelineError.invalid([ConfigProblem(path: "chunker.max_tokens", line: nil,
                message: "\(config.chunker.maxTokens) exceeds the embedder's max_seq_length (\(limit)); the model would ignore the rest of each chunk")])
        }

        // The writer lock before reading: a second writer learns at once that it would have to wait.
        let folder = config.index.path
        let wanted = indexConfiguration(embedder: embedder)
        let index: CollectionIndex = try timed("open") {
            do {
                return try CollectionIndex.openForWriting(at: folder, configuration: wanted, rebuild: rebuild, wait: wait, onWait: onWait)
            } catch { throw indexFailure(error) }
        }
        defer { index.releaseWriterLock() }

        let collection: CollectionReadResult = try timed("read") {
            do {
                return try reader.readCollection(config.source.collectionSource) { done, total in
                    progress?(IndexingProgress(phase: .reading, completed: done, total: total))
                }
            } catch let error as ReaderError {
                throw PipelineError.stageFailed(stage: "reader", message: error.description)
            }
        }
        if collection.fileCount == 0 {
            throw PipelineError.stageFailed(stage: "reader",
                message: "no files under \(config.source.root.path) match include \(config.source.include) (exclude \(config.source.exclude))")
        }
        if collection.documents.isEmpty {
            throw PipelineError.stageFailed(stage: "reader",
                message: "none of the \(collection.fileCount) files could be read (first: \(collection.failures.first.map(\.description) ?? "?")); the index was left as it was")
        }

        var hashes: [String: String] = [:]
        var documentsByID: [String: Document] = [:]
        for document in collection.documents where documentsByID[document.id] == nil {
            documentsByID[document.id] = document
            hashes[document.id] = StableDigest.hex([document.title, document.language ?? "", document.text]
                + document.blocks.map { "\($0.kind.rawValue)|\($0.anchor ?? "")|\($0.headingPath.joined(separator: "\u{1f}"))|\($0.range)" })
        }
        let fingerprints = collection.documents.compactMap { doc in hashes[doc.id].map { DocumentFingerprint(documentID: doc.id, contentHash: $0) } }
        var plan = try timed("plan") {
            if rebuild {
                return UpdatePlan(new: fingerprints.map(\.documentID), changed: [], unchanged: [], deleted: [])
            }
            do { return try index.plan(for: fingerprints) } catch { throw indexFailure(error) }
        }
        // A file that is there but failed to read (or a folder that could not be listed) is not a deletion:
        // the documents it held keep their indexed version.
        let kept = plan.deleted.filter { collection.failure(covering: $0) != nil }
        let keptSet = Set(kept)
        plan.deleted.removeAll(where: keptSet.contains)

        let toEmbed = plan.toEmbed
        var updates: [DocumentUpdate] = []
        timed("chunk") {
            for (done, id) in toEmbed.enumerated() {
                guard let document = documentsByID[id], let hash = hashes[id] else { continue }
                updates.append(DocumentUpdate(document: document, contentHash: hash, chunks: chunker.chunk(document)))
                progress?(IndexingProgress(phase: .chunking, completed: done + 1, total: toEmbed.count))
            }
        }

        var summary: IndexSummary?
        if rebuild || !plan.isEmpty {
            summary = try timed("embed+write") {
                do {
                    return try index.update(upserting: updates, deleting: plan.deleted, rebuildingWith: rebuild ? wanted : nil,
                                            embedder: embedder, batchSize: config.embedder.batchSize) { step in
                        let phase: IndexingProgress.Phase = step.phase == .embedding ? .embedding : step.phase == .writing ? .writing : .done
                        progress?(IndexingProgress(phase: phase, completed: step.completed, total: step.total))
                    }
                } catch { throw indexFailure(error) }
            }
        }
        index.releaseWriterLock()
        lock.lock(); loadedIndex = index; lock.unlock()
        let stats = index.stats
        let failures = collection.failures.map { failure in
            var file = SkippedFile(failure)
            if kept.contains(where: failure.covers(documentID:)) { file.reason += " (its previously indexed version was kept)" }
            return file
        }
        return IndexReport(indexPath: folder.path, filesRead: collection.fileCount, bytesRead: collection.byteCount,
                           documentsRead: documentsByID.count, new: plan.new.count, changed: plan.changed.count,
                           unchanged: plan.unchanged.count, deleted: plan.deleted.count, kept: kept.count, rebuilt: rebuild,
                           chunksEmbedded: summary?.chunksEmbedded ?? 0, documents: stats.documents, chunks: stats.chunks,
                           tokens: stats.tokens, skipped: failures,
                           timings: timings, seconds: Date().timeIntervalSince(started))
    }

    /// Checks the index without changing it (`sift index --verify`): the problems found, empty when it is sound.
    public func verifyIndex() throws -> (stats: IndexStats, problems: [String]) {
        let index = try openIndex(requireChunks: false)
        return (index.stats, index.verify())
    }

    // MARK: Asking

    /// The ranked answers to one question.
    public func ask(_ question: String, options: AskOptions = AskOptions()) throws -> AskResult {
        try askBatch([question], options: options)[0]
    }

    /// Answers several questions, embedding them together and searching the vectors in one pass.
    public func askBatch(_ questions: [String], options: AskOptions = AskOptions()) throws -> [AskResult] {
        if questions.isEmpty { return [] }
        let useDense = options.dense ?? config.retriever.dense
        let useBM25 = options.bm25 ?? config.retriever.bm25
        guard useDense || useBM25 else {
            throw PipelineError.stageNotConfigured(stage: "retriever", hint: "dense and bm25 are both off; switch one on")
        }
        let rerank = options.rerank ?? (config.reranker != nil)
        let scorer = rerank ? try self.scorer() : nil
        let answerCount = options.topK ?? config.answers.topK
        let highlight = options.highlight ?? config.answers.highlight
        let groupBy = options.groupBy ?? config.answers.groupBy
        let depth = max(config.retriever.topK, answerCount)
        let index = try self.openIndex()
        let share = 1000 / Double(questions.count)

        var stagesRun: [String] = []
        var sharedTimings: [StageTiming] = []

        // Dense: one embedding call and one corpus pass for the whole batch.
        var questionVectors: [[Float]] = []
        var denseHits: [[(chunkID: String, score: Float)]] = Array(repeating: [], count: questions.count)
        if useDense {
            let embedder = try self.embedder()
            do {
                try index.configuration.check(against: indexConfiguration(embedder: embedder))
            } catch {
                throw PipelineError.stageFailed(stage: "index", message: "\(error) (run `sift index --rebuild -p \(pipelineArgument)`)")
            }
            var t0 = Date()
            do { questionVectors = try embedder.embed(questions) } catch {
                throw PipelineError.stageFailed(stage: "bi-encoder", message: "\(error)")
            }
            sharedTimings.append(StageTiming(stage: "embed", milliseconds: Date().timeIntervalSince(t0) * share))
            t0 = Date()
            do { denseHits = try index.denseSearch(queryVectors: questionVectors, topK: depth) } catch {
                throw PipelineError.stageFailed(stage: "index", message: "\(error)")
            }
            sharedTimings.append(StageTiming(stage: "dense", milliseconds: Date().timeIntervalSince(t0) * share))
            stagesRun.append("dense")
        }
        if useBM25 { stagesRun.append("bm25") }
        let fusion: Fusion? = useDense && useBM25
            ? (config.retriever.fusion == .weighted ? .weighted(denseWeight: Double(config.retriever.denseWeight))
                                                    : .reciprocalRank(k: Double(config.retriever.rrfK), denseWeight: Double(config.retriever.denseWeight)))
            : nil
        if fusion != nil { stagesRun.append("fusion:\(config.retriever.fusion == .weighted ? "weighted" : "rrf")") }
        if scorer != nil { stagesRun.append("rerank") }
        if highlight { stagesRun.append("highlight") }
        var stagesSkipped: [String] = []
        if !useDense { stagesSkipped.append("dense (switched off)") }
        if !useBM25 { stagesSkipped.append("bm25 (switched off)") }
        if scorer == nil { stagesSkipped.append(config.reranker == nil ? "rerank (not configured)" : "rerank (switched off)") }
        if !highlight { stagesSkipped.append("highlight (switched off)") }

        var results: [AskResult] = []
        for (q, question) in questions.enumerated() {
            var timings = sharedTimings
            var stageLists: [StageCandidates] = []
            func timed<T>(_ stage: String, _ body: () throws -> T) throws -> T {
                let t0 = Date()
                defer { timings.append(StageTiming(stage: stage, milliseconds: Date().timeIntervalSince(t0) * 1000)) }
                do { return try body() } catch let error as PipelineError { throw error } catch {
                    throw PipelineError.stageFailed(stage: stage, message: "\(error)")
                }
            }
            let dense = denseHits[q]
            let bm25 = useBM25 ? try timed("bm25") { try index.bm25Search(question, topK: depth) } : []
            var candidates: [Candidate]
            if let fusion {
                candidates = try timed("fusion") { fusion.fuse(dense: dense, bm25: bm25, topK: depth) }
            } else {
                let stage: RetrievalStage = useDense ? .dense : .bm25
                candidates = (useDense ? dense : bm25).enumerated().map { i, hit in
                    Candidate(chunkID: hit.chunkID, score: hit.score, stageScores: [stage: hit.score], stageRanks: [stage: i + 1])
                }
            }
            if options.explain {
                if useDense { stageLists.append(StageCandidates(stage: "dense", candidates: Self.candidates(dense, .dense))) }
                if useBM25 { stageLists.append(StageCandidates(stage: "bm25", candidates: Self.candidates(bm25, .bm25))) }
                if fusion != nil { stageLists.append(StageCandidates(stage: "hybrid", candidates: candidates)) }
            }
            let retrievalScores = Dictionary(candidates.map { ($0.chunkID, $0.score) }, uniquingKeysWith: { a, _ in a })

            var chunkByID: [String: Chunk] = [:]
            if let scorer, let reranker = config.reranker {
                let pool = Array(candidates.prefix(reranker.topK))
                let chunks = try timed("fetch") { try index.chunks(ids: pool.map(\.chunkID)) }
                for chunk in chunks { chunkByID[chunk.id] = chunk }
                let scored = pool.filter { chunkByID[$0.chunkID] != nil }
                let scores = try timed("rerank") { try scorer.scores(query: question, passages: scored.map { chunkByID[$0.chunkID]!.text }) }
                var reranked = zip(scored, scores).map { candidate, score in
                    var c = candidate
                    c.score = score
                    c.stageScores[.rerank] = score
                    return c
                }
                reranked.sort { $0.score != $1.score ? $0.score > $1.score : (retrievalScores[$0.chunkID] ?? 0) > (retrievalScores[$1.chunkID] ?? 0) }
                for i in reranked.indices { reranked[i].stageRanks[.rerank] = i + 1 }
                candidates = reranked
                if options.explain { stageLists.append(StageCandidates(stage: "rerank", candidates: reranked)) }
            }

            // Grouping needs every candidate's page and anchor; otherwise only the answers' chunks are read.
            let needed = (groupBy == .none ? Array(candidates.prefix(answerCount)) : candidates).map(\.chunkID).filter { chunkByID[$0] == nil }
            if !needed.isEmpty {
                let fetched = try timed("fetch") { try index.chunks(ids: needed) }
                for chunk in fetched { chunkByID[chunk.id] = chunk }
            }
            let (top, related) = Self.group(candidates, chunks: chunkByID, by: groupBy, count: answerCount)
            var answers: [Answer] = top.compactMap { candidate in
                guard let chunk = chunkByID[candidate.chunkID] else { return nil }
                var answer = Answer(rank: 0, chunk: chunk, rerankScore: candidate.stageScores[.rerank],
                                    retrievalScore: retrievalScores[candidate.chunkID] ?? candidate.score)
                answer.related = related[candidate.chunkID] ?? []
                return answer
            }
            for i in answers.indices { answers[i].rank = i + 1 }
            if highlight {
                let vector = useDense ? questionVectors[q] : nil
                try timed("highlight") { try self.highlight(&answers, question: question, questionVector: vector) }
            }

            var explained: [String: Chunk] = [:]
            if options.explain {
                let ids = Set(stageLists.flatMap { $0.candidates.map(\.chunkID) }).subtracting(chunkByID.keys)
                for chunk in try index.chunks(ids: Array(ids)) { explained[chunk.id] = chunk }
                explained.merge(chunkByID) { a, _ in a }
            }
            results.append(AskResult(question: question, answers: answers, stagesRun: stagesRun, stagesSkipped: stagesSkipped, timings: timings,
                                     stageCandidates: stageLists, chunks: explained))
        }
        return results
    }

    /// Marks each answer's best sentence: by shared question terms, else (when a question vector exists)
    /// by bi-encoder similarity of the answer's sentences to the question.
    private func highlight(_ answers: inout [Answer], question: String, questionVector: [Float]?) throws {
        let stems = Highlighter.stems(question)
        var needEmbedding: [(answer: Int, sentences: [Range<Int>])] = []
        for i in answers.indices {
            if let range = Highlighter.lexicalBest(chunk: answers[i].chunk, questionStems: stems) {
                answers[i].highlight = range
            } else if questionVector != nil {
                let sentences = Highlighter.sentences(of: answers[i].chunk)
                if sentences.count == 1 { answers[i].highlight = sentences[0] }
                else if sentences.count > 1 { needEmbedding.append((i, sentences)) }
            }
        }
        guard let questionVector, !needEmbedding.isEmpty else { return }
        let texts = needEmbedding.flatMap { item in item.sentences.map { answers[item.answer].chunk.text.scalarSlice($0) } }
        let vectors = try embedder().embed(texts)
        let similarities = SentenceTransformersUtil.cosSim([questionVector], vectors)[0]
        var offset = 0
        for item in needEmbedding {
            let scores = similarities[offset..<(offset + item.sentences.count)]
            if let best = scores.indices.max(by: { scores[$0] < scores[$1] }) {
                answers[item.answer].highlight = item.sentences[best - offset]
            }
            offset += item.sentences.count
        }
    }

    /// The first `count` groups of a ranked list (by section `page#anchor`, or by page), each led by its best
    /// passage (MaxP); the group's other passages, best first, keyed by the leader's chunk id.
    static func group(_ ranked: [Candidate], chunks: [String: Chunk], by grouping: AnswerGrouping,
                      count: Int) -> (leaders: [Candidate], related: [String: [RelatedPassage]]) {
        guard grouping != .none else { return (Array(ranked.prefix(count)), [:]) }
        var leaders: [Candidate] = []
        var leaderOfGroup: [String: String] = [:]
        var related: [String: [RelatedPassage]] = [:]
        for candidate in ranked {
            guard let chunk = chunks[candidate.chunkID] else { continue }
            let key = grouping == .page ? chunk.documentID : chunk.source
            if let leader = leaderOfGroup[key] {
                related[leader, default: []].append(RelatedPassage(chunkID: chunk.id, source: chunk.source, score: candidate.score))
            } else if leaders.count < count {
                leaderOfGroup[key] = candidate.chunkID
                leaders.append(candidate)
            }
        }
        return (leaders, related)
    }

    static func candidates(_ hits: [(chunkID: String, score: Float)], _ stage: RetrievalStage) -> [Candidate] {
        hits.enumerated().map { i, hit in
            Candidate(chunkID: hit.chunkID, score: hit.score, stageScores: [stage: hit.score], stageRanks: [stage: i + 1])
        }
    }
}
