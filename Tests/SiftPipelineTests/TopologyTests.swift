import Foundation
import SiftCore
import Testing
@testable import SiftPipeline

/// The runner's composition with fake stages and an in-memory store: no model, no files. What is checked is the
/// topology: which stages run in which order, what switching one off does, fusion with an empty list, and that a
/// failing stage surfaces as `PipelineError.stage` with the stage named and its own error kept.
@Suite struct TopologyTests {
    static let chunks: [Chunk] = [
        chunk("leave.html", 0, "sick", "Sick leave is paid for up to ten days a year."),
        chunk("leave.html", 1, "parental", "Parental leave lasts sixteen weeks."),
        chunk("expenses.html", 0, "travel", "Travel expenses are refunded within a month."),
        chunk("expenses.html", 1, "meals", "Meals are refunded up to forty euros a day."),
    ]

    static func chunk(_ page: String, _ n: Int, _ anchor: String, _ text: String) -> Chunk {
        Chunk(id: "\(page)#\(n)", documentID: page, anchor: anchor, headingPath: [page], range: 0..<text.unicodeScalars.count,
              text: text, tokenCount: text.split(separator: " ").count + 2)
    }

    /// A runner over `chunks` with the fakes given; `set` edits the pipeline first.
    static func runner(embedder: FakeEmbedder = FakeEmbedder(), scorer: (any PassageScorer)? = nil, store: MemoryStore? = nil,
                       set: (inout PipelineConfig) -> Void = { _ in }) throws -> PipelineRunner {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sift-topology")
        var config = PipelineConfig(name: "topology", source: SourceConfig(root: scratch),
                                    embedder: EmbedderConfig(model: scratch.appendingPathComponent("no-model")),
                                    index: IndexConfig(path: scratch.appendingPathComponent("no-index")),
                                    answers: AnswersConfig(topK: 3, highlight: true, groupBy: .none))
        set(&config)
        let store = store ?? MemoryStore(chunks: chunks, embedder: embedder)
        let runner = try PipelineRunner(config: config, components: PipelineComponents(embedder: embedder, reranker: scorer, store: store))
        store.configuration = runner.indexConfiguration(embedder: embedder)
        return runner
    }

    @Test func stagesRunInOrderAndAreTimed() throws {
        let result = try Self.runner(scorer: LengthScorer()).ask("sick leave days", options: AskOptions(explain: true))
        #expect(result.stagesRun.map(\.description) == ["dense", "bm25", "fusion:rrf", "rerank", "highlight"])
        #expect(result.stagesSkipped.isEmpty)
        #expect(result.stageCandidates.map(\.stage) == [.dense, .bm25, .hybrid, .rerank])
        #expect(Set(result.timings.map(\.stage)) == [.embedder, .dense, .bm25, .fusion, .index, .rerank, .highlight])
        // The re-ranker decides the final order: the shortest passage first.
        let reranked = result.stageCandidates[3].candidates
        #expect(result.answers.map(\.chunk.id) == Array(reranked.prefix(3).map(\.chunkID)))
        let lengths = result.answers.map { $0.chunk.text.count }
        #expect(lengths == lengths.sorted())
        #expect(result.answers.allSatisfy { $0.rerankScore != nil && $0.highlight != nil })
        // Every candidate of every stage comes with its chunk for --explain.
        #expect(result.stageCandidates.allSatisfy { $0.candidates.allSatisfy { result.chunks[$0.chunkID] != nil } })
    }

    @Test func switchingStagesOff() throws {
        let embedder = FakeEmbedder()
        let runner = try Self.runner(embedder: embedder)
        let bm25Only = try runner.ask("meals refunded", options: AskOptions(dense: false, highlight: false, explain: true))
        #expect(bm25Only.stagesRun.map(\.description) == ["bm25"])
        #expect(bm25Only.stagesSkipped.map(\.description) == ["dense (switched off)", "rerank (not configured)", "highlight (switched off)"])
        #expect(bm25Only.stageCandidates.map(\.stage) == [.bm25])
        #expect(bm25Only.answers.first?.chunk.id == "expenses.html#1")
        #expect(embedder.calls == 0, "nothing needs the question's vector without dense retrieval or a highlight")

        let denseOnly = try runner.ask("meals refunded", options: AskOptions(bm25: false, explain: true))
        #expect(denseOnly.stagesRun.map(\.description) == ["dense", "highlight"])
        #expect(denseOnly.stageCandidates.map(\.stage) == [.dense])
        #expect(denseOnly.answers.map(\.retrievalScore) == denseOnly.stageCandidates[0].candidates.prefix(3).map(\.score))

        #expect {
            try runner.ask("meals", options: AskOptions(dense: false, bm25: false))
        } throws: { error in
            guard case PipelineError.stageNotConfigured(.dense, _)? = error as? PipelineError else { return false }
            return true
        }
        // Asking to re-rank without a re-ranker says which stage is missing.
        #expect {
            try runner.ask("meals", options: AskOptions(rerank: true))
        } throws: { error in
            guard case PipelineError.stageNotConfigured(.rerank, _)? = error as? PipelineError else { return false }
            return true
        }
    }

    @Test func fusionWithOneListEmpty() throws {
        let runner = try Self.runner()
        // No chunk holds any of these words, so BM25 returns nothing and the fused order is the dense order.
        let result = try runner.ask("zebra xylophone", options: AskOptions(explain: true))
        let dense = try #require(result.stageCandidates.first { $0.stage == .dense })
        let bm25 = try #require(result.stageCandidates.first { $0.stage == .bm25 })
        let fused = try #require(result.stageCandidates.first { $0.stage == .hybrid })
        #expect(bm25.candidates.isEmpty && !dense.candidates.isEmpty)
        #expect(fused.candidates.map(\.chunkID) == dense.candidates.map(\.chunkID))
        #expect(fused.candidates.allSatisfy { $0.stageRanks[.bm25] == nil })
    }

    @Test func groupingByPageFoldsPassages() throws {
        let runner = try Self.runner { $0.answers.groupBy = .page }
        let result = try runner.ask("leave refunded", options: AskOptions(dense: false))
        #expect(Set(result.answers.map(\.chunk.documentID)).count == result.answers.count)
        #expect(result.answers.count == 2)
        #expect(result.answers.allSatisfy { $0.related.count == 1 && $0.related[0].source.hasPrefix($0.chunk.documentID + "#") })
    }

    @Test func aFailingStageKeepsItsError() throws {
        /// The stage named by the `PipelineError.stage` that `body` throws, and the fake's own error inside it.
        func failure(_ body: () throws -> Void) -> (stage: Stage, error: FakeFailure?)? {
            do { try body() } catch let PipelineError.stage(stage, underlying, _) { return (stage, underlying as? FakeFailure) } catch {}
            return nil
        }
        let reranking = failure { _ = try Self.runner(scorer: FailingScorer()).ask("sick leave") }
        #expect(reranking?.stage == .rerank && reranking?.error == FakeFailure(what: "scorer"))

        let embedding = failure { _ = try Self.runner(embedder: FakeEmbedder(fails: true)).ask("sick leave") }
        #expect(embedding?.stage == .embedder && embedding?.error == FakeFailure(what: "embedder"))

        let store = MemoryStore(chunks: Self.chunks, embedder: FakeEmbedder(), lexicalFails: true)
        let lexical = failure { _ = try Self.runner(store: store).ask("sick leave") }
        #expect(lexical?.stage == .bm25 && lexical?.error == FakeFailure(what: "lexical index"))
        // The message names the stage and keeps the module's own text.
        do { _ = try Self.runner(store: store).ask("sick leave") } catch {
            #expect("\(error)" == "bm25: the fake lexical index failed")
        }
    }

    @Test func anIndexBuiltWithAnotherModelIsRefusedForDenseRetrieval() throws {
        let store = MemoryStore(chunks: Self.chunks, embedder: FakeEmbedder())
        let runner = try Self.runner(store: store)
        store.configuration.modelIdentity = "another-model"
        #expect {
            try runner.ask("sick leave")
        } throws: { error in
            guard case PipelineError.stage(.index, _, let hint?)? = error as? PipelineError else { return false }
            return hint.contains("--rebuild")
        }
        // BM25 alone does not depend on the model.
        #expect(try runner.ask("sick leave", options: AskOptions(dense: false, highlight: false)).answers.first?.chunk.id == "leave.html#0")
    }
}

struct FakeFailure: Error, Equatable, CustomStringConvertible {
    var what: String
    var description: String { "the fake \(what) failed" }
}

/// Bag of words hashed into 8 dimensions; counts its calls.
final class FakeEmbedder: TextEmbedder, @unchecked Sendable {
    let fails: Bool
    private let lock = NSLock()
    private var count = 0
    var calls: Int { lock.lock(); defer { lock.unlock() }; return count }
    init(fails: Bool = false) { self.fails = fails }

    var dimension: Int { 8 }
    var modelIdentity: String { "fake-words-8" }
    func embed(_ texts: [String]) throws -> [[Float]] {
        lock.lock(); count += 1; lock.unlock()
        if fails { throw FakeFailure(what: "embedder") }
        return texts.map(Self.vector)
    }

    static func vector(_ text: String) -> [Float] {
        var v = [Float](repeating: 0.01, count: 8)
        for word in text.lowercased().split(whereSeparator: { !$0.isLetter }) {
            v[Int(StableHash.fnv1a64(String(word)) % 8)] += 1
        }
        return v
    }
}

/// Scores a passage higher the shorter it is.
struct LengthScorer: PassageScorer {
    func scores(query: String, passages: [String]) throws -> [Float] { passages.map { -Float($0.count) } }
}

struct FailingScorer: PassageScorer {
    func scores(query: String, passages: [String]) throws -> [Float] { throw FakeFailure(what: "scorer") }
}

/// A test-only `CollectionStore`: the chunks in memory, exact dense search, and a lexical index that scores a chunk
/// by how many of the query's words it contains.
final class MemoryStore: CollectionStore, @unchecked Sendable {
    let chunkList: [Chunk]
    let unitVectors: [String: [Float]]
    let lexicalFails: Bool
    var configuration: IndexConfiguration

    init(chunks: [Chunk], embedder: FakeEmbedder, lexicalFails: Bool = false) {
        chunkList = chunks
        unitVectors = Dictionary(uniqueKeysWithValues: chunks.map { ($0.id, Self.unit(FakeEmbedder.vector($0.text))) })
        self.lexicalFails = lexicalFails
        configuration = IndexConfiguration(modelIdentity: embedder.modelIdentity, dimension: embedder.dimension,
                                           chunkerFingerprint: "", readerFingerprint: "")
    }

    static func unit(_ v: [Float]) -> [Float] {
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return v.map { $0 / norm }
    }

    var stats: IndexStats {
        IndexStats(documents: Set(chunkList.map(\.documentID)).count, chunks: chunkList.count, tokens: 0, dimension: 8, generation: 1,
                   modelIdentity: configuration.modelIdentity, vectorsBytes: chunkList.count * 32)
    }
    var documents: any DocumentStore { Documents(store: self) }
    var vectors: any VectorIndex { Vectors(store: self) }
    var lexical: any LexicalIndex { Lexical(store: self) }
    func apply(_ change: CollectionChange) throws -> IndexSummary { fatalError("read-only test store") }
    func verify() -> [String] { [] }

    struct Documents: DocumentStore {
        let store: MemoryStore
        func chunks(ids: [String]) throws -> [Chunk] { ids.compactMap { id in store.chunkList.first { $0.id == id } } }
        func documentIDs() throws -> [String] { Array(Set(store.chunkList.map(\.documentID))).sorted() }
        func documentHashes() throws -> [String: String] { [:] }
        func chunkTexts(documentIDs: [String]) throws -> [String: String] { [:] }
        func export(documentIDs: [String]) throws -> [DocumentUpdate] { [] }
    }

    struct Vectors: VectorIndex {
        let store: MemoryStore
        var dimension: Int { 8 }
        var count: Int { store.chunkList.count }
        func search(_ queryVectors: [[Float]], topK: Int) throws -> [[ScoredChunk]] {
            queryVectors.map { q in
                let unit = MemoryStore.unit(q)
                return store.chunkList.map { c in
                    ScoredChunk(chunkID: c.id, score: zip(unit, store.unitVectors[c.id]!).reduce(0) { $0 + $1.0 * $1.1 })
                }.sorted { $0.score > $1.score }.prefix(topK).map { $0 }
            }
        }
        func vectors(chunkIDs: [String]) throws -> [String: [Float]] { store.unitVectors.filter { chunkIDs.contains($0.key) } }
    }

    struct Lexical: LexicalIndex {
        let store: MemoryStore
        var scoring: String { "shared words (test)" }
        func search(_ query: String, topK: Int) throws -> [ScoredChunk] {
            if store.lexicalFails { throw FakeFailure(what: "lexical index") }
            let words = Set(query.lowercased().split(whereSeparator: { !$0.isLetter }).map(String.init))
            return store.chunkList.compactMap { c -> ScoredChunk? in
                let hits = Set(c.text.lowercased().split(whereSeparator: { !$0.isLetter }).map(String.init)).intersection(words).count
                return hits == 0 ? nil : ScoredChunk(chunkID: c.id, score: Float(hits))
            }.sorted { $0.score != $1.score ? $0.score > $1.score : $0.chunkID < $1.chunkID }.prefix(topK).map { $0 }
        }
    }
}
