/// How to shorten an encoding that exceeds `maxLength` (special tokens count towards the limit).
/// The semantics are those of Hugging Face `tokenizers` (Rust).
public enum TruncationStrategy: String, Sendable, Hashable, CaseIterable {
    /// Pairs: shorten the longer sequence first; when both must shrink they get half the budget
    /// each (the longer one keeps the odd token). Single sequences: cut the end.
    case longestFirst
    /// Cut only the first sequence; throws when that is not enough.
    case onlyFirst
    /// Cut only the second sequence; throws when that is not enough (or there is no second one).
    case onlySecond
    /// Never cut: throw `TokenizerError.sequenceTooLong`.
    case error
}

/// Model input for one text or one text pair, special tokens included. All arrays have `count` elements.
public struct Encoding: Sendable, Hashable {
    /// Vocabulary ids: [CLS] a [SEP] or [CLS] a [SEP] b [SEP].
    public var ids: [Int32]
    /// 0 for [CLS], the first sequence and its [SEP]; 1 for the second sequence and its [SEP].
    public var tokenTypeIDs: [Int32]
    /// 1 for every token (no padding is added here).
    public var attentionMask: [Int32]
    /// Unicode-scalar range of each token in the original text it came from (see `sequenceIDs`);
    /// nil for the special tokens added around the sequences.
    public var offsets: [Range<Int>?]
    /// 0 or 1: which input text the token came from; nil for added special tokens.
    public var sequenceIDs: [Int?]
    /// How many tokens truncation removed (0 when everything fit).
    public var truncatedTokenCount: Int

    public init(ids: [Int32], tokenTypeIDs: [Int32], attentionMask: [Int32], offsets: [Range<Int>?],
                sequenceIDs: [Int?], truncatedTokenCount: Int) {
        precondition(tokenTypeIDs.count == ids.count && attentionMask.count == ids.count
                     && offsets.count == ids.count && sequenceIDs.count == ids.count, "Encoding arrays differ in length")
        self.ids = ids
        self.tokenTypeIDs = tokenTypeIDs
        self.attentionMask = attentionMask
        self.offsets = offsets
        self.sequenceIDs = sequenceIDs
        self.truncatedTokenCount = truncatedTokenCount
    }

    /// Number of tokens, special tokens included.
    public var count: Int { ids.count }
}
