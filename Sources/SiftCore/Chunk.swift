/// A passage cut from a document to fit the model, with its provenance.
public struct Chunk: Sendable, Hashable, Codable {
    /// Deterministic id: same document, same text span and same chunker settings give the same id.
    public var id: String
    public var documentID: String
    /// Anchor of the section the chunk starts in, if any.
    public var anchor: String?
    public var headingPath: [String]
    /// Unicode-scalar range inside `Document.text` that this chunk covers.
    public var range: Range<Int>
    /// The text given to the models (may carry a heading-path prefix not present in `range`).
    public var text: String
    /// Model tokens of `text`, special tokens included.
    public var tokenCount: Int

    public init(id: String, documentID: String, anchor: String?, headingPath: [String],
                range: Range<Int>, text: String, tokenCount: Int) {
        self.id = id
        self.documentID = documentID
        self.anchor = anchor
        self.headingPath = headingPath
        self.range = range
        self.text = text
        self.tokenCount = tokenCount
    }

    /// `document#anchor` when the chunk has an anchor, else the document id.
    public var source: String {
        if let anchor, !anchor.isEmpty { return "\(documentID)#\(anchor)" }
        return documentID
    }
}

/// Counts model tokens for a text, special tokens ([CLS], [SEP]) included.
/// The chunker depends only on this, so it budgets with the model's own tokenizer.
public protocol TokenCounter: Sendable {
    func tokenCount(_ text: String) -> Int
}

/// Turns texts into fixed-size vectors (a bi-encoder). Implemented by SiftModels; the index depends on this.
public protocol TextEmbedder: Sendable {
    /// Vector length.
    var dimension: Int { get }
    /// Identifies the model and its weights (e.g. name + weights hash); stored in index manifests.
    var modelIdentity: String { get }
    /// One vector per text, in input order.
    func embed(_ texts: [String]) throws -> [[Float]]
}
