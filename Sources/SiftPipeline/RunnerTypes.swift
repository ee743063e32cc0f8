import Foundation
import SiftCore
import SiftReader

/// How long one stage took. A stage may appear more than once (the index is opened, planned and written while
/// indexing; chunks are read from it more than once while asking): `summed` adds them up.
public struct StageTiming: Sendable, Hashable, Codable {
    public var stage: Stage
    public var milliseconds: Double
    public init(stage: Stage, milliseconds: Double) {
        self.stage = stage
        self.milliseconds = milliseconds
    }
}

extension [StageTiming] {
    /// One entry per stage, in the order each first ran, with its times added up.
    public var summed: [StageTiming] {
        var order: [Stage] = []
        var total: [Stage: Double] = [:]
        for timing in self {
            if total[timing.stage] == nil { order.append(timing.stage) }
            total[timing.stage, default: 0] += timing.milliseconds
        }
        return order.map { StageTiming(stage: $0, milliseconds: total[$0]!) }
    }
}

/// A stage that ran for a question, with the variant that ran (the fusion method): `fusion:rrf`.
public struct ActiveStage: Sendable, Hashable, CustomStringConvertible {
    public var stage: Stage
    public var variant: String?
    public init(_ stage: Stage, variant: String? = nil) {
        self.stage = stage
        self.variant = variant
    }
    public var description: String { variant.map { "\(stage):\($0)" } ?? stage.rawValue }
}

/// A stage that did not run, and why: `rerank (not configured)`.
public struct SkippedStage: Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable, Hashable {
        case switchedOff = "switched off"
        case notConfigured = "not configured"
    }
    public var stage: Stage
    public var reason: Reason
    public init(_ stage: Stage, because reason: Reason) {
        self.stage = stage
        self.reason = reason
    }
    public var description: String { "\(stage) (\(reason.rawValue))" }
}

/// Indexing progress for a progress bar.
public struct IndexingProgress: Sendable, Hashable {
    public enum Phase: String, Sendable, Hashable { case reading, chunking, embedding, writing, done }
    public var phase: Phase
    public var completed: Int
    public var total: Int
}

/// A file that could not be read, and why.
public struct SkippedFile: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Path relative to the collection root.
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }

    init(_ failure: ReadFailure) {
        path = failure.path
        // Reader messages start with the path already.
        let prefix = failure.path + ": "
        reason = failure.reason.hasPrefix(prefix) ? String(failure.reason.dropFirst(prefix.count)) : failure.reason
    }
}

/// What `PipelineRunner.index` did.
public struct IndexReport: Sendable, Hashable {
    public var indexPath: String
    public var filesRead: Int
    public var bytesRead: Int
    public var documentsRead: Int
    /// Documents new to the index, changed since the last run, unchanged (not re-embedded) and removed.
    public var new: Int
    public var changed: Int
    public var unchanged: Int
    public var deleted: Int
    /// Indexed documents whose file could not be read this time: their previous version stays in the index.
    public var kept: Int
    /// True for `--rebuild`: every document was embedded into a new generation.
    public var rebuilt: Bool
    public var chunksEmbedded: Int
    /// Totals in the index afterwards.
    public var documents: Int
    public var chunks: Int
    public var tokens: Int
    public var skipped: [SkippedFile]
    public var timings: [StageTiming]
    public var seconds: Double
    /// True when nothing changed and the index was left as it was.
    public var upToDate: Bool { !rebuilt && new == 0 && changed == 0 && deleted == 0 }
}

/// Per-request switches for `ask`; nil keeps the pipeline's setting.
public struct AskOptions: Sendable, Hashable {
    /// Answers returned.
    public var topK: Int?
    public var dense: Bool?
    public var bm25: Bool?
    /// Re-rank with the configured cross-encoder; `true` without a configured re-ranker is an error.
    public var rerank: Bool?
    public var highlight: Bool?
    /// One answer per section or page, or none (`answers.group_by`).
    public var groupBy: AnswerGrouping?
    /// Keep every stage's candidates (and their chunks) for `--explain`.
    public var explain: Bool

    public init(topK: Int? = nil, dense: Bool? = nil, bm25: Bool? = nil, rerank: Bool? = nil, highlight: Bool? = nil,
                groupBy: AnswerGrouping? = nil, explain: Bool = false) {
        self.groupBy = groupBy
        self.topK = topK
        self.dense = dense
        self.bm25 = bm25
        self.rerank = rerank
        self.highlight = highlight
        self.explain = explain
    }
}

/// One stage's ranked candidates, for `--explain`.
public struct StageCandidates: Sendable, Hashable {
    /// dense, bm25, hybrid (fused) or rerank.
    public var stage: RetrievalStage
    public var candidates: [Candidate]
}

/// The answers to one question and how they were found.
public struct AskResult: Sendable, Hashable {
    public var question: String
    public var answers: [Answer]
    /// The stages that ran, in order: dense, bm25, fusion:rrf, rerank, highlight.
    public var stagesRun: [ActiveStage]
    /// Stages that did not run and why: rerank (not configured), bm25 (switched off).
    public var stagesSkipped: [SkippedStage]
    /// Per-stage wall time. In `askBatch`, stages run for the whole batch (query embedding, dense search) are split evenly.
    public var timings: [StageTiming]
    /// Each stage's candidates, best first (only with `AskOptions.explain`).
    public var stageCandidates: [StageCandidates]
    /// The chunks named by `stageCandidates` (only with `AskOptions.explain`).
    public var chunks: [String: Chunk]
    /// Empty for a complete answer; otherwise what the store could not search (a shard that was down, with
    /// `on_shard_failure: partial`).
    public var partial: [String] = []
    /// The index generation that answered.
    public var generation: Int = 0
}
