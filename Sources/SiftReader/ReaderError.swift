import FoundationEssentials

/// Everything that can go wrong while reading a file or a collection. Each case names the file it is about.
public enum ReaderError: Error, Sendable, Hashable, LocalizedError, CustomStringConvertible {
    /// The file is bigger than `ReaderOptions.maxFileSize` bytes.
    case fileTooLarge(path: String, size: Int, limit: Int)
    /// The file has no bytes (or only whitespace).
    case emptyFile(path: String)
    /// The bytes are not text/markup (for example NUL bytes near the start of a file without a UTF-16/32 byte-order mark).
    case notMarkup(path: String, reason: String)
    /// libxml2 could not build a tree; `line` is libxml2's line number of the first fatal error.
    case parseFailed(path: String, line: Int?, message: String)
    /// The file or directory could not be read.
    case unreadable(path: String, reason: String)
    /// A drop/keep rule or an XML mapping expression is malformed.
    case invalidRule(rule: String, reason: String)
    /// No file under the collection root matches the include globs.
    case noFiles(root: String, include: [String], exclude: [String])
    /// Files matched, but none of them could be read; `first` is the first failure.
    case nothingReadable(fileCount: Int, first: String)

    /// The file the error is about, when there is one.
    public var path: String? {
        switch self {
        case .fileTooLarge(let path, _, _), .emptyFile(let path), .notMarkup(let path, _),
             .parseFailed(let path, _, _), .unreadable(let path, _):
            return path
        case .invalidRule, .noFiles, .nothingReadable:
            return nil
        }
    }

    public var description: String {
        switch self {
        case .fileTooLarge(let path, let size, let limit):
            return "\(path): file is \(size) bytes, larger than the reader limit of \(limit) bytes"
        case .emptyFile(let path):
            return "\(path): file is empty"
        case .notMarkup(let path, let reason):
            return "\(path): not a text/markup file (\(reason))"
        case .parseFailed(let path, let line, let message):
            let at = line.map { ":\($0)" } ?? ""
            return "\(path)\(at): parse failed: \(message)"
        case .unreadable(let path, let reason):
            return "\(path): cannot read: \(reason)"
        case .invalidRule(let rule, let reason):
            return "invalid reader rule '\(rule)': \(reason)"
        case .noFiles(let root, let include, let exclude):
            return "no files under \(root) match include \(include) (exclude \(exclude))"
        case .nothingReadable(let fileCount, let first):
            return "none of the \(fileCount) files could be read (first: \(first)); the index was left as it was"
        }
    }

    public var errorDescription: String? { description }
}
