import Foundation

/// Every failure SiftIndex reports for bad input or a bad environment. Programmer errors trap instead.
public enum IndexError: Error, Sendable, Equatable, LocalizedError, CustomStringConvertible {
    /// The index folder does not exist.
    case missingIndex(path: String)
    /// The folder exists but holds no manifest: never finished, or not an index.
    case missingManifest(path: String)
    /// The folder already holds an index (on create).
    case alreadyExists(path: String)
    /// The manifest cannot be decoded or has an unknown format version.
    case badManifest(path: String, reason: String)
    /// The index was built with different settings than requested (`field` says which).
    case incompatible(field: String, index: String, requested: String)
    /// A data file is missing, truncated or does not match its checksum.
    case corrupted(path: String, reason: String)
    /// The embedder returned something unusable.
    case embedding(reason: String)
    /// A search needs something the caller did not supply (e.g. dense search without an embedder).
    case invalidRequest(reason: String)
    /// SQLite or file-system failure, with what was being done.
    case storage(operation: String, path: String, underlying: String)
    /// The path is not something Sift may write an index into (a file, or a folder with other content).
    case notAnIndex(path: String, reason: String)
    /// Another process holds the writer lock; `pid` is its process id when known.
    case locked(path: String, pid: Int?)

    public var description: String {
        switch self {
        case .missingIndex(let path):
            return "no index at \(path) (folder does not exist; build one with `sift index`)"
        case .missingManifest(let path):
            return "\(path) is not a complete index: manifest.json is missing (interrupted before the first build finished?)"
        case .alreadyExists(let path):
            return "an index already exists at \(path)"
        case .badManifest(let path, let reason):
            return "cannot read index manifest \(path): \(reason)"
        case .incompatible(let field, let index, let requested):
            return "index was built with \(field) '\(index)', but '\(requested)' was requested; rebuild the index or use the matching settings"
        case .corrupted(let path, let reason):
            return "index file \(path) is damaged: \(reason)"
        case .embedding(let reason):
            return "embedding failed: \(reason)"
        case .invalidRequest(let reason):
            return "invalid search request: \(reason)"
        case .storage(let operation, let path, let underlying):
            return "\(operation) failed for \(path): \(underlying)"
        case .notAnIndex(let path, let reason):
            return "refusing to use \(path) as an index: \(reason)"
        case .locked(let path, let pid):
            let who = pid.map { "process \($0)" } ?? "another process"
            return "\(path) is being updated by \(who); wait for it to finish or pass --wait"
        }
    }

    public var errorDescription: String? { description }
}
