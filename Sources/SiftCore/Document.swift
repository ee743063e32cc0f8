/// A document as the reader extracted it: clean text plus the structure that answers cite.
///
/// Character offsets everywhere in Sift count Unicode scalars (code points) of `Document.text`,
/// the same unit Python's `str` indexing uses, so JSON consumers can slice with them directly.
public struct Document: Sendable, Hashable, Codable {
    /// Stable id: the file path relative to the collection root (plus `#record-id` for XML records).
    public var id: String
    /// The `<title>` (or first heading, or file name when neither exists).
    public var title: String
    /// Declared language (`<html lang>`, `xml:lang`), if any.
    public var language: String?
    /// All kept text, blocks separated by "\n\n". Block ranges index into this string.
    public var text: String
    /// Blocks in reading order.
    public var blocks: [Block]

    public init(id: String, title: String, language: String? = nil, text: String, blocks: [Block]) {
        self.id = id
        self.title = title
        self.language = language
        self.text = text
        self.blocks = blocks
    }
}

/// What kind of content a block holds; chunking and display treat some kinds specially (code is not sentence-split).
public enum BlockKind: String, Sendable, Hashable, Codable, CaseIterable {
    case heading
    case paragraph
    case listItem = "list_item"
    case code
    case table
    case definitionTerm = "definition_term"
    case definitionDescription = "definition_description"
    case quote
}

/// One block of a document.
public struct Block: Sendable, Hashable, Codable {
    public var kind: BlockKind
    /// The block text (whitespace normalised, except inside code).
    public var text: String
    /// Texts of the enclosing h1…h6 headings, outermost first.
    public var headingPath: [String]
    /// Nearest preceding `id`/`name` anchor, for links such as `page.html#anchor`.
    public var anchor: String?
    /// Unicode-scalar range of `text` inside `Document.text`.
    public var range: Range<Int>

    public init(kind: BlockKind, text: String, headingPath: [String], anchor: String?, range: Range<Int>) {
        self.kind = kind
        self.text = text
        self.headingPath = headingPath
        self.anchor = anchor
        self.range = range
    }
}
