import Foundation
import Testing
import SiftCore
import SiftTestSupport
import SiftTokenizer
@testable import SiftChunker

/// Properties of chunking under the real all-MiniLM-L6-v2 WordPiece tokenizer.
@Suite struct RealTokenizerPropertyTests {
    /// Loaded once for the suite (vocabulary parsing is the slow part).
    static let tokenizer: WordPieceTokenizer? = TestPaths.miniLMModel.flatMap { try? WordPieceTokenizer(directory: $0) }

    static let configurations: [ChunkerSettings] = [
        ChunkerSettings(),
        ChunkerSettings(maxTokens: 256, overlapTokens: 0),
        ChunkerSettings(maxTokens: 128, overlapTokens: 32, headingPrefix: true, minTokens: 16),
        ChunkerSettings(maxTokens: 48, overlapTokens: 8, headingPrefix: false, minTokens: 8),
    ]

    func requireTokenizer() throws -> WordPieceTokenizer {
        try #require(Self.tokenizer, "all-MiniLM-L6-v2 is missing: run Scripts/setup")
    }

    /// Hand-made edge cases: one giant word, a ~5,000-token paragraph, a 300-line code block, empty blocks.
    static func edgeCaseDocuments() -> [Document] {
        let sentence = "The retriever compares the question with every chunk, e.g. by cosine similarity of 384-dimensional vectors."
        let longParagraph = (0..<260).map { "\(sentence) Step \($0) finishes in 3.5 ms!" }.joined(separator: " ")
        let unpunctuated = (0..<700).map { "token\($0 % 97)" }.joined(separator: " ")
        let code = (0..<300).map { i in (i % 4 == 0 ? "" : "    ") + "result_\(i) = os.path.join(base, \"part_\(i)\")  # step \(i)." }
            .joined(separator: "\n")
        let giantWord = String(repeating: "x9", count: 3_000)       // longer than max_input_chars_per_word: one [UNK]
        let giantSplittable = String(repeating: "ab-", count: 600)  // punctuation makes it ~1,200 tokens
        return [
            makeDocument(id: "edge/giant-word.html", [
                (.heading, "Giant", ["Giant"], "giant"),
                (.paragraph, "Before \(giantWord) after.", ["Giant"], "giant"),
                (.paragraph, "Hyphens \(giantSplittable) end.", ["Giant"], "giant"),
            ]),
            makeDocument(id: "edge/long-paragraph.html", [
                (.heading, "Guide", ["Guide"], "guide"),
                (.heading, "Retrieval", ["Guide", "Retrieval"], "retrieval"),
                (.paragraph, longParagraph, ["Guide", "Retrieval"], "retrieval"),
                (.paragraph, unpunctuated, ["Guide", "Retrieval"], "retrieval"),
            ]),
            makeDocument(id: "edge/code.html", [
                (.heading, "Code", ["Code"], "code"),
                (.paragraph, "The listing below joins paths.", ["Code"], "code"),
                (.code, code, ["Code"], "listing"),
                (.table, (0..<120).map { "row \($0)\tvalue \($0 * 7)\tnote" }.joined(separator: "\n"), ["Code"], "table"),
            ]),
            makeDocument(id: "edge/empty.html", [
                (.heading, "Empty", ["Empty"], "empty"),
                (.paragraph, "", ["Empty"], nil),
                (.paragraph, "  \n ", ["Empty"], nil),
                (.code, "", ["Empty"], nil),
                (.heading, "Lonely heading at the end", ["Empty", "Lonely heading at the end"], "lonely"),
            ]),
        ]
    }

    @Test func wordPieceCountsAddUpAcrossWhitespace() throws {
        // The chunker's estimate: count(a + " " + b) == count(a) + count(b) − specials. Verify on real text.
        let tokenizer = try requireTokenizer()
        let parts = ["Hello, world!", "os.path.join(a, b)", "café naïve 日本語", "3.14 e.g. don't", "[CLS] tokens", "x9x9x9"]
        for a in parts {
            for b in parts {
                #expect(tokenizer.tokenCount(a + "\n\n" + b) == tokenizer.tokenCount(a) + tokenizer.tokenCount(b) - 2)
            }
        }
    }

    @Test(arguments: 0..<configurations.count)
    func noChunkExceedsTheBudgetAndEverythingIsCovered(configuration: Int) throws {
        let chunker = try Chunker(settings: Self.configurations[configuration], counter: try requireTokenizer())
        let documents = Self.edgeCaseDocuments() + (UInt64(100)..<UInt64(112)).map { randomDocument(seed: $0, blockCount: 60) }
        for document in documents {
            let chunks = chunker.chunk(document)
            #expect(!chunks.isEmpty)
            expectChunkInvariants(chunks, of: document, by: chunker)
        }
    }

    @Test func longProseFillsChunksAndCutsAtSentences() throws {
        // 256 tokens without overlap: the packing bound below is about full chunks, whatever the default size.
        let chunker = try Chunker(settings: ChunkerSettings(maxTokens: 256, overlapTokens: 0), counter: try requireTokenizer())
        let document = Self.edgeCaseDocuments()[1]
        let chunks = chunker.chunk(document)
        let prose = chunks.filter { $0.text.contains("retriever") }
        #expect(prose.count >= 15, "a ~5,000-token paragraph needs at least 15 chunks of 256")
        // Greedy packing: all but the last prose chunk are at least 80% full.
        for chunk in prose.dropLast() { #expect(chunk.tokenCount >= 205, "underfull chunk: \(chunk.tokenCount)") }
        // Sentence cuts: every prose chunk but the last ends a sentence.
        for chunk in prose.dropLast() { #expect(chunk.text.hasSuffix("!") || chunk.text.hasSuffix("."), "\(chunk.text.suffix(20))") }
        // The section's headings travel in the prefix; the first chunk carries them as text instead.
        #expect(prose.dropFirst().allSatisfy { $0.text.hasPrefix("Guide > Retrieval\n") })
        #expect(prose.first?.text.hasPrefix("Guide\n\nRetrieval\n\n") == true)
        #expect(prose.allSatisfy { $0.anchor == "retrieval" || $0.anchor == "guide" })
    }

    @Test func idsAreStableAndSettingsSensitive() throws {
        let tokenizer = try requireTokenizer()
        let document = randomDocument(seed: 4242, blockCount: 80)
        let first = try Chunker(settings: ChunkerSettings(), counter: tokenizer).chunk(document)
        let again = try Chunker(settings: ChunkerSettings(), counter: tokenizer).chunk(document)
        #expect(first == again)
        let otherIDs = try Chunker(settings: ChunkerSettings(maxTokens: 200), counter: tokenizer).chunk(document).map(\.id)
        #expect(Set(first.map(\.id)).isDisjoint(with: otherIDs))
    }
}
