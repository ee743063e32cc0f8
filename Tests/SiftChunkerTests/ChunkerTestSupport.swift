import Testing
import SiftCore
import SiftTestSupport
@testable import SiftChunker

/// One token per whitespace-separated word, plus [CLS] and [SEP].
struct WhitespaceCounter: TokenCounter {
    func tokenCount(_ text: String) -> Int { words(text).count + 2 }
}

/// Whitespace-separated words as scalar arrays (scalars, not Characters: grapheme breaking is slow).
func words(_ text: String) -> [[Unicode.Scalar]] {
    var result: [[Unicode.Scalar]] = []
    var current: [Unicode.Scalar] = []
    for scalar in text.unicodeScalars {
        if SentenceSplitter.isSpace(scalar) {
            if !current.isEmpty { result.append(current); current = [] }
        } else {
            current.append(scalar)
        }
    }
    if !current.isEmpty { result.append(current) }
    return result
}

/// One token per started group of `width` non-whitespace scalars in each word, plus 2 specials: long words cost many tokens.
struct ScalarGroupCounter: TokenCounter {
    var width = 4
    func tokenCount(_ text: String) -> Int {
        words(text).reduce(2) { $0 + ($1.count + width - 1) / width }
    }
}

/// Like `WhitespaceCounter` but every line break costs a token, so counts of joined blocks exceed the summed parts.
struct NewlineTaxCounter: TokenCounter {
    func tokenCount(_ text: String) -> Int {
        WhitespaceCounter().tokenCount(text) + text.unicodeScalars.filter { $0 == "\n" }.count
    }
}

/// Builds a `Document` the way the reader does: block texts joined by "\n\n", ranges into the joined text.
func makeDocument(id: String = "guide/page.html", _ blocks: [(BlockKind, String, [String], String?)]) -> Document {
    var text = ""
    var built: [Block] = []
    for (kind, blockText, path, anchor) in blocks {
        if !text.isEmpty { text += "\n\n" }
        let start = text.unicodeScalars.count
        text += blockText
        built.append(Block(kind: kind, text: blockText, headingPath: path, anchor: anchor,
                           range: start..<text.unicodeScalars.count))
    }
    return Document(id: id, title: blocks.first?.1 ?? id, text: text, blocks: built)
}

/// Checks the invariants every chunking must satisfy; records failures with context.
func expectChunkInvariants(_ chunks: [Chunk], of document: Document, by chunker: Chunker,
                           sourceLocation: SourceLocation = #_sourceLocation) {
    let scalars = Array(document.text.unicodeScalars)
    var covered = [Bool](repeating: false, count: scalars.count)
    var previousLower = -1
    for chunk in chunks {
        #expect(chunk.documentID == document.id, sourceLocation: sourceLocation)
        #expect(chunk.tokenCount <= chunker.settings.maxTokens, "chunk over budget: \(chunk.tokenCount)", sourceLocation: sourceLocation)
        #expect(chunk.tokenCount == chunker.counter.tokenCount(chunk.text), sourceLocation: sourceLocation)
        #expect(chunk.text.contains { !$0.isWhitespace }, "empty chunk", sourceLocation: sourceLocation)
        #expect(!chunk.range.isEmpty, sourceLocation: sourceLocation)
        #expect(chunk.range.lowerBound > previousLower, "ranges must advance", sourceLocation: sourceLocation)
        previousLower = chunk.range.lowerBound
        // The text ends with exactly the source text of the range; what precedes it is the heading prefix.
        let source = String(String.UnicodeScalarView(scalars[chunk.range]))
        #expect(chunk.text.hasSuffix(source), sourceLocation: sourceLocation)
        let prefix = String(chunk.text.unicodeScalars.dropLast(source.unicodeScalars.count))
        if !prefix.isEmpty {
            #expect(chunker.settings.headingPrefix, sourceLocation: sourceLocation)
            #expect(prefix.hasSuffix("\n"), sourceLocation: sourceLocation)
        }
        // Provenance: heading path and anchor of the block holding the first scalar (with split_on_anchor, of
        // the first content block: a chunk opening with a parent heading links to the content's anchor).
        let startBlock = document.blocks.last { $0.range.lowerBound <= chunk.range.lowerBound && !$0.text.isEmpty }
        let anchorBlock = chunker.settings.splitOnAnchor && startBlock?.kind == .heading
            ? document.blocks.first { $0.range.lowerBound >= chunk.range.lowerBound && $0.kind != .heading && $0.text.contains { !$0.isWhitespace } }
            : startBlock
        #expect(chunk.anchor == anchorBlock?.anchor, sourceLocation: sourceLocation)
        // The chunk's path is its section's, opened with the page title when the section's headings lack it.
        let pathsInRange = Set(document.blocks.filter { $0.range.overlaps(chunk.range) }.map { chunker.headingPath($0.headingPath, pageTitle: document.title) })
        #expect(pathsInRange.contains(chunk.headingPath), sourceLocation: sourceLocation)
        for i in chunk.range { covered[i] = true }
    }
    // Coverage: every visible scalar of every block lies in some chunk.
    var uncovered = 0
    for block in document.blocks {
        for i in block.range where !scalars[i].properties.isWhitespace && !covered[i] { uncovered += 1 }
    }
    #expect(uncovered == 0, "\(uncovered) block scalars are in no chunk", sourceLocation: sourceLocation)
    // Ids: unique within the document.
    #expect(Set(chunks.map(\.id)).count == chunks.count, sourceLocation: sourceLocation)
}

/// Random documents with headings, prose, lists, code, tables, empty blocks and the odd giant word.
func randomDocument(seed: UInt64, blockCount: Int) -> Document {
    var rng = SplitMix64(state: seed)
    let words = ["the", "index", "stores", "vectors", "for", "each", "chunk", "and", "a", "query", "runs", "against",
                 "it", "quickly", "tokenizer", "splits", "unbelievably", "antidisestablishmentarianism", "café",
                 "naïve", "日本語", "😀", "x", "3.14", "os.path.join", "e.g.", "don't", "(see", "below)", "--verbose",
                 "https://example.org/a/very/long/path?with=query&and=more"]
    func sentence() -> String {
        let n = Int.random(in: 1...25, using: &rng)
        var parts = (0..<n).map { _ in words.randomElement(using: &rng)! }
        parts[0] = parts[0].prefix(1).uppercased() + parts[0].dropFirst()
        return parts.joined(separator: " ") + [".", "!", "?", "", ":"].randomElement(using: &rng)!
    }
    var blocks: [(BlockKind, String, [String], String?)] = []
    var path: [String] = []
    var anchor: String? = nil
    for index in 0..<blockCount {
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<12:
            let level = Int.random(in: 1...3, using: &rng)
            let title = "Section \(index) " + words.randomElement(using: &rng)!
            path = Array(path.prefix(level - 1)) + [title]
            anchor = "s\(index)"
            blocks.append((.heading, title, path, anchor))
        case 12..<55:
            let text = (0..<Int.random(in: 1...12, using: &rng)).map { _ in sentence() }.joined(separator: " ")
            blocks.append((.paragraph, text, path, anchor))
        case 55..<70:
            blocks.append((.listItem, sentence(), path, anchor))
        case 70..<80:
            let lines = (0..<Int.random(in: 1...40, using: &rng)).map { i in
                String(repeating: " ", count: Int.random(in: 0...8, using: &rng)) + "let v\(i) = f(\(words.randomElement(using: &rng)!))"
            }
            blocks.append((.code, lines.joined(separator: "\n"), path, anchor))
        case 80..<86:
            let rows = (0..<Int.random(in: 1...15, using: &rng)).map { r in "row\(r)\tcell \(words.randomElement(using: &rng)!)\tvalue" }
            blocks.append((.table, rows.joined(separator: "\n"), path, anchor))
        case 86..<90:
            blocks.append((.paragraph, ["", "   ", "\n"].randomElement(using: &rng)!, path, anchor))
        case 90..<93:
            let giant = String(repeating: "abcdefghij", count: Int.random(in: 10...200, using: &rng))
            blocks.append((.paragraph, "Giant word: " + giant + " ends here.", path, anchor))
        case 93..<96:
            blocks.append((.definitionTerm, words.randomElement(using: &rng)!, path, anchor))
        default:
            blocks.append((.definitionDescription, sentence(), path, anchor))
        }
    }
    return makeDocument(id: "random/\(seed).html", blocks)
}
