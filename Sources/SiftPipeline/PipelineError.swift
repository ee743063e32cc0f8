import Foundation
import SiftCluster
import SiftCore
import SiftIndex
import SiftPostgres
import SiftReader
import SiftTraining

/// One problem found in a pipeline file or a `--set` override.
public struct ConfigProblem: Sendable, Hashable, CustomStringConvertible {
    /// Dotted key path, e.g. `retriever.top_k`, or `(file)` for the document as a whole.
    public var path: String
    /// 1-based line in the pipeline file; nil for `--set` overrides and defaults.
    public var line: Int?
    public var message: String

    public init(path: String, line: Int?, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    /// `retriever.top_k: expected an integer, got 'ten' (line 7)`.
    public var description: String {
        let location = line.map { " (line \($0))" } ?? ""
        return "\(path): \(message)\(location)"
    }
}

/// Everything that can go wrong while loading or running a pipeline. A stage's own typed error is kept (`stage`,
/// `evaluation`), so a caller can tell a bad request from a broken index: `sift` maps each case to an exit code, and
/// a server can map it to an HTTP status.
public enum PipelineError: Error, Sendable, LocalizedError, CustomStringConvertible {
    /// The pipeline file could not be read.
    case unreadable(file: String, reason: String)
    /// The file is not valid YAML.
    case yamlSyntax(file: String, line: Int?, message: String)
    /// A pipeline file or `--set` value exceeds one of `YAMLLimits` (size, nesting, aliases, expanded values);
    /// refused before it can exhaust the stack or memory. `source` is the file or `--set KEY`.
    case inputLimit(source: String, line: Int?, message: String)
    /// The YAML is well formed but does not describe a valid pipeline; every problem found is listed.
    case invalid([ConfigProblem])
    /// A configured model folder is missing or incomplete.
    case modelMissing(Stage, path: String, hint: String)
    /// A stage that the request needs is switched off or not configured.
    case stageNotConfigured(Stage, hint: String)
    /// The index has not been built yet (or was built by a different model).
    case indexMissing(path: String, hint: String)
    /// The index exists but cannot answer: never completed, or empty.
    case indexUnusable(path: String, reason: String, hint: String)
    /// An input file for a command (questions, labels, passages) is malformed.
    case badInput(file: String, line: Int?, message: String)
    /// A stage failed with its module's own error (`ReaderError`, `ModelError`, `IndexError`, …), plus what to do
    /// about it when the runner knows (`hint`).
    case stage(Stage, underlying: any Error & Sendable, hint: String? = nil)
    /// Evaluation failed: labels or a BEIR folder that cannot be used (`EvalError`), or a report that cannot be written.
    case evaluation(underlying: any Error & Sendable)
    /// Clustering cannot run on this input with these settings (`ClusterError`: k above the item count, a threshold
    /// out of range, too many items for agglomerative clustering).
    case clustering(ClusterError)
    /// Training cannot run or failed (`TrainingError`: bad training data or settings, a checkpoint of another run, a
    /// model folder that cannot be written).
    case training(TrainingError)

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            return "cannot read pipeline file \(file): \(reason)"
        case let .yamlSyntax(file, line, message):
            let location = line.map { ":\($0)" } ?? ""
            return "\(file)\(location): not valid YAML: \(message)"
        case let .inputLimit(source, line, message):
            let location = line.map { ":\($0)" } ?? ""
            return "\(source)\(location): \(message)"
        case let .invalid(problems):
            if problems.count == 1 { return "invalid pipeline: \(problems[0])" }
            return "invalid pipeline (\(problems.count) problems):\n"
                + problems.map { "  \($0)" }.joined(separator: "\n")
        case let .modelMissing(stage, path, hint):
            return "\(stage == .rerank ? "cross-encoder" : "bi-encoder") model not found at \(path); \(hint)"
        case let .stageNotConfigured(stage, hint):
            return "the \(stage) stage is not configured; \(hint)"
        case let .indexMissing(path, hint):
            return "no index at \(path); \(hint)"
        case let .indexUnusable(path, reason, hint):
            return "the index at \(path) cannot answer: \(reason); \(hint)"
        case let .badInput(file, line, message):
            let location = line.map { ":\($0)" } ?? ""
            return "\(file)\(location): \(message)"
        case let .stage(stage, underlying, hint):
            return "\(stage): \(underlying)" + (hint.map { "; \($0)" } ?? "")
        case let .evaluation(underlying):
            return "\(underlying)"
        case let .clustering(error):
            return "cluster: \(error)"
        case let .training(error):
            return "train: \(error)"
        }
    }

    public var errorDescription: String? { description }
}

extension PipelineError {
    /// The stage a `stage`, `modelMissing` or `stageNotConfigured` error belongs to.
    public var stage: Stage? {
        switch self {
        case let .stage(stage, _, _), let .modelMissing(stage, _, _), let .stageNotConfigured(stage, _): stage
        case .indexMissing, .indexUnusable: .index
        default: nil
        }
    }

    /// The stage module's own error, when the failure came from one.
    public var underlying: (any Error & Sendable)? {
        switch self {
        case let .stage(_, underlying, _), let .evaluation(underlying): underlying
        case let .clustering(error): error
        case let .training(error): error
        default: nil
        }
    }
}

/// What kind of failure a `PipelineError` is, for a front end to choose its exit code or HTTP status.
public enum FailureKind: String, Sendable, Hashable, CaseIterable {
    /// The request or a file given is wrong: a pipeline file, a `--set` value, a questions or labels file, a question
    /// the stages refuse. Fix the input (HTTP 400/422).
    case invalidInput
    /// Something the request needs is absent: a model folder, the index, a stage that is not configured (HTTP 503
    /// until it exists).
    case missing
    /// Another process is writing the index; retrying later works (HTTP 503 with Retry-After).
    case busy
    /// Stored data is damaged or was built with other settings; `sift index --rebuild` repairs it (HTTP 500).
    case damaged
    /// Anything else: a stage failed on valid input, or the environment did (HTTP 500).
    case failed
}

extension PipelineError {
    public var kind: FailureKind {
        switch self {
        case .unreadable, .yamlSyntax, .inputLimit, .invalid, .badInput, .evaluation, .clustering:
            return .invalidInput
        case let .training(error):
            switch error {
            case .checkpoint, .stopped: return .failed
            case .invalidInput, .invalidData, .invalidSettings: return .invalidInput
            }
        case .modelMissing, .stageNotConfigured, .indexMissing, .indexUnusable:
            return .missing
        case let .stage(_, underlying, _):
            switch underlying {
            case let error as IndexError:
                switch error {
                case .locked: return .busy
                case .corrupted, .incompatible, .badManifest, .missingManifest: return .damaged
                case .missingIndex: return .missing
                case .invalidRequest, .notAnIndex, .alreadyExists: return .invalidInput
                case .embedding, .storage: return .failed
                }
            case let error as PostgresError:
                switch error {
                case .locked: return .busy
                case .incompatible, .damaged: return .damaged
                case .missingIndex: return .missing
                case .invalidSettings: return .invalidInput
                case .connection, .shardUnavailable, .unsupported, .query: return .failed
                }
            case is ReaderError: return .invalidInput
            default: return .failed
            }
        }
    }
}
