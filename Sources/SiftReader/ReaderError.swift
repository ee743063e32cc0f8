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

    /// The file the error is about, when there is one.
    public var path: String? {
        switch self {
        case .fileTooLarge(let path, _, _), .emptyFile(let path), .notMarkup(let path, _),
             .parseFailed(let path, _, _), .unreadable(let path, _):
            return path
        case .invalidRule:
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
        }
    }

    public var errorDescription: String? { description }
}
