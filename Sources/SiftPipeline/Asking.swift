import Foundation
import SiftCore
import SiftIndex

extension PipelineRunner {
    /// The ranked answers to one question.
    public func ask(_ question: String, options: AskOptions = AskOptions()) throws -> AskResult {
        try askBatch([question], options: options)[0]
    }

    /// Answers several questions: a loop over the configured stages. The questions are embedded together and each
    /// retriever searches for the whole batch at once (`retrieveBatch`); fusion's result is then re-ranked,
    /// grouped and highlighted per question (`complete`). Each stage's failure carries its module's error
    /// (`PipelineError.stage`).
    public func askBatch(_ questions: [String], options: AskOptions = AskOptions()) throws -> [AskResult] {
        try retrieveBatch(questions, options: options).map { try complete($0) }
    }

    /// The batch stages for several questions: plan, embed the questions together, search every retriever for all
    /// of them, fuse. What is left per question (`complete`) can run on another thread: a server re-ranks on a
    /// worker pool while the next batch is embedded.
    public func retrieveBatch(_ questions: [String], options: AskOptions = AskOptions()) throws -> [RetrievedQuestion] {
        if questions.isEmpty { return [] }
        let plan = try askPlan(options)
        let store = try openIndex()
        let answerCount = options.topK ?? config.answers.topK
        let depth = max(config.retriever.topK, answerCount)
        let share = 1 / Double(questions.count)
        let retrievers = plan.retrievers.map { kind -> any Retriever in
            kind == .dense ? DenseRetriever(index: store.vectors) : LexicalRetriever(index: store.lexical)
        }

        var shared = StageClock()
        var queries = QueryBatch(texts: questions)
        if retrievers.contains(where: \.needsQueryVectors) {
            let embedder = try self.embedder()
            do { try store.configuration.check(against: indexConfiguration(embedder: embedder)) } catch {
                throw PipelineError.stage(.index, underlying: error, hint: rebuildHint)
            }
            queries.vectors = try shared.run(.embedder, share: share) { try embedder.embed(questions) }
        }
        var lists: [RetrievalStage: [[ScoredChunk]]] = [:]
        // A sharded store may answer without a shard that is down (on_shard_failure: partial); it says so here.
        let partial = try SearchNotes.collecting {
            for retriever in retrievers {
                lists[retriever.kind] = try shared.run(retriever.kind.stage, share: share) { try retriever.retrieve(queries, depth: depth) }
            }
        }.notes

        return try questions.indices.map { q in
            var clock = shared
            var explained: [StageCandidates] = []
            let ranked = retrievers.map { (kind: $0.kind, hits: lists[$0.kind]?[q] ?? []) }
            if options.explain {
                explained += ranked.map { StageCandidates(stage: $0.kind, candidates: Candidate.ranked($0.hits, by: $0.kind)) }
            }
            var candidates: [Candidate]
            if let fusion = plan.fusion {
                candidates = try clock.run(.fusion) {
                    fusion.fuse(Dictionary(ranked.map { ($0.kind, $0.hits) }, uniquingKeysWith: { a, _ in a }), topK: depth)
                }
                if options.explain { explained.append(StageCandidates(stage: .hybrid, candidates: candidates)) }
            } else {
                candidates = Candidate.ranked(ranked[0].hits, by: ranked[0].kind)
            }
            return RetrievedQuestion(question: questions[q], questionVector: queries.vectors?[q], plan: plan, store: store,
                                     answerCount: answerCount, explain: options.explain, candidates: candidates,
                                     explained: explained, partial: partial, clock: clock)
        }
    }

    /// The per-question stages after `retrieveBatch`: re-rank (when planned), read the chunks, group, highlight.
    public func complete(_ retrieved: RetrievedQuestion) throws -> AskResult {
        let plan = retrieved.plan, store = retrieved.store, question = retrieved.question
        var clock = retrieved.clock
        var explained = retrieved.explained
        var candidates = retrieved.candidates
        let retrievalScores = Dictionary(candidates.map { ($0.chunkID, $0.score) }, uniquingKeysWith: { a, _ in a })

        var chunkByID: [String: Chunk] = [:]
        if let scorer = plan.scorer {
            let pool = Array(candidates.prefix(plan.rerankDepth))
            for chunk in try clock.run(.index, { try chunks(pool.map(\.chunkID), in: store) }) { chunkByID[chunk.id] = chunk }
            candidates = try clock.run(.rerank) {
                try Self.rerank(pool, question: question, chunks: chunkByID, scorer: scorer, retrievalScores: retrievalScores,
                                blend: config.reranker?.blend ?? 0)
            }
            if retrieved.explain { explained.append(StageCandidates(stage: .rerank, candidates: candidates)) }
        }

        // Grouping needs every candidate's page and anchor; otherwise only the answers' chunks are read.
        let needed = (plan.groupBy == .none ? Array(candidates.prefix(retrieved.answerCount)) : candidates).map(\.chunkID).filter { chunkByID[$0] == nil }
        if !needed.isEmpty {
            for chunk in try clock.run(.index, { try chunks(needed, in: store) }) { chunkByID[chunk.id] = chunk }
        }
        var answers = Self.answers(candidates, chunks: chunkByID, groupBy: plan.groupBy, count: retrieved.answerCount,
                                   retrievalScores: retrievalScores)
        if plan.highlight {
            try clock.run(.highlight) { try self.highlight(&answers, question: question, questionVector: retrieved.questionVector) }
        }

        var explainedChunks: [String: Chunk] = [:]
        if retrieved.explain {
            let ids = Set(explained.flatMap { $0.candidates.map(\.chunkID) }).subtracting(chunkByID.keys)
            for chunk in try clock.run(.index, { try store.documents.chunks(ids: Array(ids)) }) { explainedChunks[chunk.id] = chunk }
            explainedChunks.merge(chunkByID) { a, _ in a }
        }
        return AskResult(question: question, answers: answers, stagesRun: plan.stagesRun, stagesSkipped: plan.stagesSkipped,
                         timings: clock.timings, stageCandidates: explained, chunks: explainedChunks, partial: retrieved.partial,
                         generation: store.stats.generation)
    }

    /// The chunks with these ids that the store holds, in order; through the runner's cache (ids never change meaning).
    func chunks(_ ids: [String], in store: any CollectionStore) throws -> [Chunk] {
        try chunkCache.values(for: ids) { missing in
            let found = Dictionary(try store.documents.chunks(ids: missing).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            return missing.map { found[$0] }
        }.compactMap { $0 }
    }

    /// Which stages a request runs, from the pipeline and the request's switches.
    struct AskPlan: Sendable {
        var retrievers: [RetrievalStage]
        var fusion: (any RankFusion)?
        var scorer: (any PassageScorer)?
        var rerankDepth: Int
        var groupBy: AnswerGrouping
        var highlight: Bool
        var stagesRun: [ActiveStage]
        var stagesSkipped: [SkippedStage]
    }

    func askPlan(_ options: AskOptions) throws -> AskPlan {
        let useDense = options.dense ?? config.retriever.dense
        let useBM25 = options.bm25 ?? config.retriever.bm25
        guard useDense || useBM25 else {
            throw PipelineError.stageNotConfigured(.dense, hint: "dense and bm25 are both off; switch one on")
        }
        let rerank = options.rerank ?? hasReranker
        let scorer = rerank ? try self.scorer() : nil
        let highlight = options.highlight ?? config.answers.highlight
        let retrievers: [RetrievalStage] = (useDense ? [.dense] : []) + (useBM25 ? [.bm25] : [])
        let fusion: (any RankFusion)? = retrievers.count > 1 ? makeFusion(config.retriever) : nil

        var run = retrievers.map { ActiveStage($0.stage) }
        if let fusion { run.append(ActiveStage(.fusion, variant: fusion.name)) }
        if scorer != nil { run.append(ActiveStage(.rerank)) }
        if highlight { run.append(ActiveStage(.highlight)) }
        var skipped: [SkippedStage] = []
        if !useDense { skipped.append(SkippedStage(.dense, because: .switchedOff)) }
        if !useBM25 { skipped.append(SkippedStage(.bm25, because: .switchedOff)) }
        if scorer == nil { skipped.append(SkippedStage(.rerank, because: hasReranker ? .switchedOff : .notConfigured)) }
        if !highlight { skipped.append(SkippedStage(.highlight, because: .switchedOff)) }
        return AskPlan(retrievers: retrievers, fusion: fusion, scorer: scorer, rerankDepth: config.reranker?.topK ?? RerankerConfig(model: config.index.path).topK,
                       groupBy: options.groupBy ?? config.answers.groupBy, highlight: highlight, stagesRun: run, stagesSkipped: skipped)
    }

    /// The fusion method `retriever.fusion` names.
    func makeFusion(_ retriever: RetrieverConfig) -> any RankFusion {
        retriever.fusion == .weighted
            ? Fusion.weighted(denseWeight: Double(retriever.denseWeight))
            : Fusion.reciprocalRank(k: Double(retriever.rrfK), denseWeight: Double(retriever.denseWeight))
    }

    /// The pool re-scored by the cross-encoder, best first; equal scores keep the better retrieval score first.
    /// With `blend` > 0 the order is by (1 − blend)·cross-encoder + blend·retrieval, both min-max-normalised over
    /// the pool (the answer's re-rank score is then that mix). Candidates whose chunk is gone (deleted meanwhile)
    /// are dropped.
    static func rerank(_ pool: [Candidate], question: String, chunks: [String: Chunk], scorer: any PassageScorer,
                       retrievalScores: [String: Float], blend: Float = 0) throws -> [Candidate] {
        let scored = pool.filter { chunks[$0.chunkID] != nil }
        var scores = try scorer.scores(query: question, passages: scored.map { chunks[$0.chunkID]!.text })
        if blend > 0 {
            func normalised(_ values: [Float]) -> [Float] {
                guard let low = values.min(), let high = values.max(), high > low else { return values.map { _ in 0 } }
                return values.map { ($0 - low) / (high - low) }
            }
            let cross = normalised(scores), retrieval = normalised(scored.map(\.score))
            scores = zip(cross, retrieval).map { (1 - blend) * $0 + blend * $1 }
        }
        var reranked = zip(scored, scores).map { candidate, score in
            var c = candidate
            c.score = score
            c.stageScores[.rerank] = score
            return c
        }
        reranked.sort { $0.score != $1.score ? $0.score > $1.score : (retrievalScores[$0.chunkID] ?? 0) > (retrievalScores[$1.chunkID] ?? 0) }
        for i in reranked.indices { reranked[i].stageRanks[.rerank] = i + 1 }
        return reranked
    }

    /// The first `count` answers: one per group (`group_by`), each its best passage with the group's others as `related`.
    static func answers(_ candidates: [Candidate], chunks: [String: Chunk], groupBy: AnswerGrouping, count: Int,
                        retrievalScores: [String: Float]) -> [Answer] {
        let (top, related) = group(candidates, chunks: chunks, by: groupBy, count: count)
        var answers: [Answer] = top.compactMap { candidate in
            guard let chunk = chunks[candidate.chunkID] else { return nil }
            var answer = Answer(rank: 0, chunk: chunk, rerankScore: candidate.stageScores[.rerank],
                                retrievalScore: retrievalScores[candidate.chunkID] ?? candidate.score)
            answer.related = related[candidate.chunkID] ?? []
            return answer
        }
        for i in answers.indices { answers[i].rank = i + 1 }
        return answers
    }

    /// Marks each answer's best sentence: by shared question terms, else (when a question vector exists)
    /// by bi-encoder similarity of the answer's sentences to the question. A chunk's sentences, their text and
    /// stems are computed once per chunk id and cached (`Highlighter.Sentence`).
    func highlight(_ answers: inout [Answer], question: String, questionVector: [Float]?) throws {
        let stems = Highlighter.stems(question)
        let sentencesOfAnswer = chunkSentences.values(for: answers.map(\.chunk.id)) { ids in
            ids.map { id in answers.first { $0.chunk.id == id }.map { Highlighter.analysedSentences(of: $0.chunk) } }
        }
        var needEmbedding: [(answer: Int, sentences: [Highlighter.Sentence])] = []
        for i in answers.indices {
            let sentences = sentencesOfAnswer[i] ?? []
            if let best = Highlighter.lexicalBest(sentences, questionStems: stems) {
                answers[i].highlight = best.range
            } else if questionVector != nil {
                if sentences.count == 1 { answers[i].highlight = sentences[0].range }
                else if sentences.count > 1 { needEmbedding.append((i, sentences)) }
            }
        }
        guard let questionVector, !needEmbedding.isEmpty else { return }
        let texts = needEmbedding.flatMap { item in item.sentences.map(\.text) }
        let vectors = try sentenceVectors.values(for: texts) { try embedder().embed($0) }.map { $0! }
        let similarities = SentenceTransformersUtil.cosSim([questionVector], vectors)[0]
        var offset = 0
        for item in needEmbedding {
            let scores = similarities[offset..<(offset + item.sentences.count)]
            if let best = scores.indices.max(by: { scores[$0] < scores[$1] }) {
                answers[item.answer].highlight = item.sentences[best - offset].range
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
}

/// One question after `PipelineRunner.retrieveBatch`: its fused candidates and what `complete` needs to finish it,
/// including the store it was searched in (a request finishes on the index generation it started with).
public struct RetrievedQuestion: Sendable {
    public let question: String
    let questionVector: [Float]?
    let plan: PipelineRunner.AskPlan
    let store: any CollectionStore
    let answerCount: Int
    let explain: Bool
    let candidates: [Candidate]
    let explained: [StageCandidates]
    let partial: [String]
    let clock: StageClock
    /// True when `complete` will run the cross-encoder (the costly per-question stage).
    public var reranks: Bool { plan.scorer != nil }
}
