import Foundation

/// Everything that can go wrong when loading a tokenizer or encoding text.
public enum TokenizerError: Error, Equatable, LocalizedError, CustomStringConvertible {
    /// A required file (or the model folder itself) does not exist.
    case missingFile(path: String)
    /// A file exists but could not be read or parsed (e.g. invalid JSON or UTF-8).
    case unreadableFile(path: String, reason: String)
    /// A key in a configuration file is missing or has the wrong type or value.
    case invalidValue(file: String, key: String, expected: String, actual: String)
    /// The encoded sequence is longer than allowed and the strategy is `.error`.
    case sequenceTooLong(length: Int, maxLength: Int)
    /// The truncation strategy cannot make the input fit (e.g. `.onlySecond` when the first
    /// sequence alone is too long), the same situation in which Hugging Face tokenizers raise.
    case cannotTruncate(strategy: TruncationStrategy, length: Int, maxLength: Int, reason: String)

    public var description: String {
        switch self {
        case .missingFile(let path):
            return "tokenizer file not found: \(path)"
        case .unreadableFile(let path, let reason):
            return "cannot read tokenizer file \(path): \(reason)"
        case .invalidValue(let file, let key, let expected, let actual):
            return "\(file): key '\(key)': expected \(expected), found \(actual)"
        case .sequenceTooLong(let length, let maxLength):
            return "sequence has \(length) tokens, more than the maximum of \(maxLength)"
        case .cannotTruncate(let strategy, let length, let maxLength, let reason):
            return "cannot truncate \(length) tokens to \(maxLength) with strategy \(strategy): \(reason)"
        }
    }

    public var errorDescription: String? { description }
}
