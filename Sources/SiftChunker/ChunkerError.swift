import Foundation

/// Invalid chunker configuration (it comes from user pipeline files, so it throws rather than traps).
public enum ChunkerError: Error, Equatable, LocalizedError, CustomStringConvertible {
    /// `max_tokens` leaves no room for text once the tokenizer's special tokens are counted.
    case budgetTooSmall(maxTokens: Int, specialTokens: Int)
    /// `overlap_tokens` must be ≥ 0 and below half the text budget, so every chunk makes progress.
    case overlapTooLarge(overlapTokens: Int, limit: Int)
    /// A count that must not be negative.
    case negativeSetting(key: String, value: Int)

    public var description: String {
        switch self {
        case let .budgetTooSmall(maxTokens, specials):
            return "chunker: max_tokens is \(maxTokens) but the tokenizer adds \(specials) special tokens; "
                + "max_tokens must be at least \(specials + 1)"
        case let .overlapTooLarge(overlap, limit):
            return "chunker: overlap_tokens is \(overlap); it must be between 0 and \(limit) (less than half of the text budget)"
        case let .negativeSetting(key, value):
            return "chunker: \(key) is \(value); it must not be negative"
        }
    }

    public var errorDescription: String? { description }
}
