import SiftCore

/// How documents are cut into chunks. Decoded from the `chunker:` section of a pipeline file
/// (keys `max_tokens`, `overlap_tokens`, `heading_prefix`, `min_tokens`, `split_on_anchor`; absent keys take the defaults).
public struct ChunkerSettings: Sendable, Codable, Hashable {
    /// Budget per chunk in model tokens, special tokens ([CLS], [SEP]) and heading prefix included.
    /// 128 is what all-MiniLM-L6-v2 was trained on (its `max_seq_length` is 256): a mean-pooled vector of a longer
    /// passage dilutes the sentence that answers. 128/24 beat 200/32 on the PostgreSQL, SQLite and handbook
    /// questions and tied on the Python FAQ (README, "Evaluation baselines").
    public var maxTokens: Int
    /// Tokens of the previous chunk's tail repeated at the start of the next chunk of the same section.
    public var overlapTokens: Int
    /// Prefix each chunk's text with its heading path ("Guide > Errors > Handling\n"); the prefix counts toward the budget.
    public var headingPrefix: Bool
    /// A section's last chunk shorter than this (content tokens) borrows trailing blocks from the chunk before it.
    public var minTokens: Int
    /// Start a new section wherever the anchor changes between consecutive blocks, so every anchored part of a
    /// page gets chunks carrying its own anchor, even when neighbours share a heading path (e.g. FAQ entries whose
    /// question headings were dropped). Off by default: then only headings and heading paths separate sections.
    public var splitOnAnchor: Bool
    /// Open each chunk's heading path with the page title when the page's first heading does not already carry
    /// it (PostgreSQL reference pages, SQLite pages: their headings are "Synopsis", "1. Syntax"), so that the
    /// chunk, its prefix and its answer say what page they come from.
    public var titleInPath: Bool

    /// Settings as given; `Chunker.init(settings:counter:)` validates them against the tokenizer.
    public init(maxTokens: Int = 128, overlapTokens: Int = 24, headingPrefix: Bool = true, minTokens: Int = 32,
                splitOnAnchor: Bool = false, titleInPath: Bool = true) {
        self.maxTokens = maxTokens
        self.overlapTokens = overlapTokens
        self.headingPrefix = headingPrefix
        self.minTokens = minTokens
        self.splitOnAnchor = splitOnAnchor
        self.titleInPath = titleInPath
    }

    /// Bumped whenever the chunking algorithm changes what it emits for the same settings,
    /// so indexes built by an older chunker are detected as stale.
    static let algorithmVersion = 1

    /// Stable hash of the settings and the algorithm version (16 hex digits), stored in index manifests
    /// so an index built with other settings is detected. Identical on every run and platform.
    public var fingerprint: String {
        let canonical = "chunker-v\(Self.algorithmVersion);max_tokens=\(maxTokens);overlap_tokens=\(overlapTokens);"
            + "heading_prefix=\(headingPrefix);min_tokens=\(minTokens)"
            // Only when set, so indexes built before the option existed keep their fingerprint.
            + (splitOnAnchor ? ";split_on_anchor=true" : "")
            + (titleInPath ? ";title_in_path=true" : "")
        return StableHash.hex(StableHash.fnv1a64(canonical))
    }

    enum CodingKeys: String, CodingKey {
        case maxTokens = "max_tokens"
        case overlapTokens = "overlap_tokens"
        case headingPrefix = "heading_prefix"
        case minTokens = "min_tokens"
        case splitOnAnchor = "split_on_anchor"
        case titleInPath = "title_in_path"
    }

    public init(from decoder: any Decoder) throws {
        let defaults = ChunkerSettings()
        let container = try decoder.container(keyedBy: CodingKeys.self)
        maxTokens = try container.decodeIfPresent(Int.self, forKey: .maxTokens) ?? defaults.maxTokens
        overlapTokens = try container.decodeIfPresent(Int.self, forKey: .overlapTokens) ?? defaults.overlapTokens
        headingPrefix = try container.decodeIfPresent(Bool.self, forKey: .headingPrefix) ?? defaults.headingPrefix
        minTokens = try container.decodeIfPresent(Int.self, forKey: .minTokens) ?? defaults.minTokens
        splitOnAnchor = try container.decodeIfPresent(Bool.self, forKey: .splitOnAnchor) ?? defaults.splitOnAnchor
        titleInPath = try container.decodeIfPresent(Bool.self, forKey: .titleInPath) ?? defaults.titleInPath
    }
}
