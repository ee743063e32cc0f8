import Foundation
import Testing
import SiftCore
@testable import SiftChunker

@Suite struct ChunkerTests {
    /// Without the page title in heading paths unless `title`: these tests look at packing, not at titles.
    func chunker(max: Int = 256, overlap: Int = 0, prefix: Bool = true, min: Int = 0, title: Bool = false,
                 counter: any TokenCounter = WhitespaceCounter()) throws -> Chunker {
        try Chunker(settings: ChunkerSettings(maxTokens: max, overlapTokens: overlap, headingPrefix: prefix, minTokens: min, titleInPath: title),
                    counter: counter)
    }

    @Test func pageTitleOpensHeadingPathsThatLackIt() throws {
        let c = try chunker(max: 64, title: true)
        // A reference page whose headings never name it (PostgreSQL's "Synopsis", SQLite's "1. Syntax").
        let reference = Document(id: "sql-altertable.html", title: "ALTER TABLE", text: "Synopsis\nALTER TABLE name action\nNotes\nIt locks.",
                                 blocks: [Block(kind: .heading, text: "Synopsis", headingPath: ["Synopsis"], anchor: "s", range: 0..<8),
                                          Block(kind: .code, text: "ALTER TABLE name action", headingPath: ["Synopsis"], anchor: "s", range: 9..<32),
                                          Block(kind: .heading, text: "Notes", headingPath: ["Notes"], anchor: "n", range: 33..<38),
                                          Block(kind: .paragraph, text: "It locks.", headingPath: ["Notes"], anchor: "n", range: 39..<48)])
        let chunks = c.chunk(reference)
        #expect(chunks.map(\.headingPath) == [["ALTER TABLE", "Synopsis"], ["ALTER TABLE", "Notes"]])
        #expect(chunks.last?.text == "ALTER TABLE\nNotes\nIt locks.", "the prefix names the page; the chunk opens with its heading")
        // Headings that carry the title (contain it, or open a "<heading> — <site>" title) are left alone.
        #expect(c.headingPath(["Processes and Signals", "Exit status"], pageTitle: "Processes and Signals — The Workbench Handbook")
                == ["Processes and Signals", "Exit status"])
        #expect(c.headingPath(["11.8. Partial Indexes"], pageTitle: "11.8. Partial Indexes") == ["11.8. Partial Indexes"])
        #expect(c.headingPath([], pageTitle: "VACUUM") == ["VACUUM"])
        #expect(try chunker(title: false).headingPath(["Synopsis"], pageTitle: "ALTER TABLE") == ["Synopsis"])
    }

    /// Ten words per sentence: "<tag><s>w0 … <tag><s>w8 End." (a capitalised tag makes them split as sentences).
    func sentences(_ count: Int, tag: String) -> String {
        (0..<count).map { s in (0..<9).map { "\(tag)\(s)w\($0)" }.joined(separator: " ") + " End." }.joined(separator: " ")
    }

    @Test func smallSectionIsOneChunkWithHeadingPrefix() throws {
        let doc = makeDocument([
            (.heading, "Errors", ["Tutorial", "Errors"], "errors"),
            (.paragraph, "Errors are reported as exceptions.", ["Tutorial", "Errors"], "errors"),
            (.listItem, "Catch them with try.", ["Tutorial", "Errors"], "errors"),
        ])
        let c = try chunker()
        let chunks = c.chunk(doc)
        try #require(chunks.count == 1)
        // The chunk opens with its own heading, so the prefix leaves that heading out.
        #expect(chunks[0].text == "Tutorial\nErrors\n\nErrors are reported as exceptions.\n\nCatch them with try.")
        #expect(chunks[0].range == 0..<doc.text.scalarCount)
        #expect(chunks[0].anchor == "errors")
        #expect(chunks[0].headingPath == ["Tutorial", "Errors"])
        #expect(chunks[0].tokenCount == 2 + 1 + 10)
        expectChunkInvariants(chunks, of: doc, by: c)
    }

    @Test func sectionsNeverShareAChunkAndHeadingsMergeForward() throws {
        let doc = makeDocument([
            (.heading, "Guide", ["Guide"], "top"),
            (.heading, "Install", ["Guide", "Install"], "install"),
            (.paragraph, "Run the installer.", ["Guide", "Install"], "install"),
            (.heading, "Use", ["Guide", "Use"], "use"),
            (.paragraph, "Type a question.", ["Guide", "Use"], "use"),
        ])
        let c = try chunker(prefix: false)
        let chunks = c.chunk(doc)
        #expect(chunks.map(\.text) == ["Guide\n\nInstall\n\nRun the installer.", "Use\n\nType a question."])
        #expect(chunks.map(\.headingPath) == [["Guide", "Install"], ["Guide", "Use"]])
        #expect(chunks.map(\.anchor) == ["top", "use"])
        expectChunkInvariants(chunks, of: doc, by: c)
    }

    @Test func prefixCountsTowardTheBudget() throws {
        let path = ["Alpha", "Beta"]
        let doc = makeDocument([(.paragraph, sentences(3, tag: "a"), path, "a")])
        // 30 words; budget 22 − 2 specials − 3 prefix words ("Alpha > Beta") leaves 17: one sentence plus…
        let c = try chunker(max: 22)
        let chunks = c.chunk(doc)
        #expect(chunks.count == 2)
        for chunk in chunks {
            #expect(chunk.text.hasPrefix("Alpha > Beta\n"))
            #expect(chunk.tokenCount <= 22)
        }
        expectChunkInvariants(chunks, of: doc, by: c)
    }

    @Test func longParagraphSplitsAtSentenceBoundaries() throws {
        let paragraph = sentences(12, tag: "P") // 120 words; capitalised so sentences split
        let doc = makeDocument([(.paragraph, paragraph, [], nil)])
        let c = try chunker(max: 42) // 40 words of text: four sentences each
        let chunks = c.chunk(doc)
        #expect(chunks.count == 3)
        for chunk in chunks {
            #expect(chunk.text.hasSuffix("End."), "cut inside a sentence: \(chunk.text.suffix(30))")
            #expect(chunk.tokenCount == 42)
        }
        expectChunkInvariants(chunks, of: doc, by: c)
    }

    @Test func overlongSentenceFallsBackToWordBoundaries() throws {
        let words = (0..<95).map { "word\($0)" }.joined(separator: " ")
        let doc = makeDocument([(.paragraph, words, [], nil)])
        let c = try chunker(max: 12)
        let chunks = c.chunk(doc)
        #expect(chunks.count == 10)
        let rejoined = chunks.map(\.text).joined(separator: " ")
        #expect(rejoined == words, "words must be kept whole and in order")
        expectChunkInvariants(chunks, of: doc, by: c)
    }

    @Test func giantWordIsCutOnlyWhenItAloneExceedsTheBudget() throws {
        let giant = String(repeating: "abcd", count: 50) // 50 tokens under ScalarGroupCounter
        let doc = makeDocument([(.paragraph, "Short words then " + giant + " and more.", [], nil)])
        let c = try chunker(max: 12, counter: ScalarGroupCounter())
        let chunks = c.chunk(doc)
        let pieces = chunks.map(\.text)
        #expect(pieces.joined(separator: "").replacingOccurrences(of: " ", with: "")
            == ("Short words then " + giant + " and more.").replacingOccurrences(of: " ", with: ""))
        // Short words are never cut.
        #expect(pieces.first == "Short words then")
        #expect(pieces.last == "and more.")
        expectChunkInvariants(chunks, of: doc, by: c)
    }

    @Test func codeSplitsAtLinesAndKeepsIndentation() throws {
        let lines = (0..<300).map { i in (i % 3 == 0 ? "" : "    ") + "x\(i) = compute(\(i)). Next" }
        let code = lines.joined(separator: "\n")
        let doc = makeDocument([(.code, code, ["Code"], "code")])
        let c = try chunker(max: 50, prefix: false)
        let chunks = c.chunk(doc)
        #expect(chunks.count > 1)
        for chunk in chunks {
            let chunkLines = chunk.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            // Every chunk consists of whole source lines, although the lines contain ". N" sentence breaks.
            for line in chunkLines { #expect(lines.contains(line), "partial line: \(line)") }
        }
        #expect(chunks[1].text.hasPrefix("    ") || chunks[1].text.hasPrefix("x"))
        expectChunkInvariants(chunks, of: doc, by: c)
    }

    @Test func overlapRepeatsTheTailOfThePreviousChunkInTheSameSection() throws {
        let doc = makeDocument([
            (.paragraph, sentences(10, tag: "o"), ["S"], "s"),
            (.heading, "T", ["T"], "t"),
            (.paragraph, sentences(1, tag: "t"), ["T"], "t"),
        ])
        let c = try chunker(max: 32, overlap: 5, prefix: false)
        let chunks = c.chunk(doc)
        let sectionS = chunks.filter { $0.headingPath == ["S"] }
        #expect(sectionS.count >= 4)
        for (a, b) in zip(sectionS, sectionS.dropFirst()) {
            #expect(b.range.lowerBound < a.range.upperBound, "consecutive chunks should overlap")
            let repeated = doc.text.scalarSlice(b.range.lowerBound..<a.range.upperBound)
            let repeatedWords = repeated.split(whereSeparator: \.isWhitespace).count
            #expect(repeatedWords >= 1 && repeatedWords <= 5)
        }
        // No overlap across sections: section T starts at its own heading.
        let t = try #require(chunks.last)
        #expect(t.text.hasPrefix("T\n\n"))
        expectChunkInvariants(chunks, of: doc, by: c)
    }

    @Test func overlapPrefersASentenceStart() throws {
        let doc = makeDocument([(.paragraph, sentences(12, tag: "Q"), ["S"], "s")])
        // Room for 12 overlap words: the last whole sentence (10 words) is repeated, not a 12-word mid-sentence tail.
        let c = try chunker(max: 44, overlap: 12, prefix: false)
        let chunks = c.chunk(doc)
        #expect(chunks.count >= 3)
        for (a, b) in zip(chunks, chunks.dropFirst()) {
            let repeated = doc.text.scalarSlice(b.range.lowerBound..<a.range.upperBound)
            #expect(repeated.split(separator: " ").count == 10, "overlap: \(repeated)")
            #expect(b.text.range(of: #"^Q\d+w0 "#, options: .regularExpression) != nil, "starts mid-sentence: \(b.text.prefix(20))")
        }
        expectChunkInvariants(chunks, of: doc, by: c)
    }

    @Test func shortLastChunkBorrowsFromThePreviousOne() throws {
        let blocks: [(BlockKind, String, [String], String?)] = (0..<5).map { i in
            (.listItem, (0..<9).map { "i\(i)w\($0)" }.joined(separator: " "), ["L"], "l")
        } + [(.listItem, "tail", ["L"], "l")]
        let doc = makeDocument(blocks)
        // Budget 45 words: greedy packing gives 45 + 1; min_tokens 10 moves one item over.
        let greedy = try chunker(max: 47, prefix: false, min: 0).chunk(doc)
        #expect(greedy.map { $0.tokenCount - 2 } == [45, 1])
        let c = try chunker(max: 47, prefix: false, min: 10)
        let balanced = c.chunk(doc)
        #expect(balanced.map { $0.tokenCount - 2 } == [36, 10])
        expectChunkInvariants(balanced, of: doc, by: c)
    }

    @Test func headingNeverEndsAChunkWhenContentFollows() throws {
        let doc = makeDocument([
            (.heading, "Big topic", ["Big topic"], "big"),
            (.paragraph, sentences(4, tag: "b"), ["Big topic"], "big"),
        ])
        // The paragraph alone (40 words) fills the budget; the heading still goes with its first sentences.
        let c = try chunker(max: 42, prefix: false)
        let chunks = c.chunk(doc)
        #expect(chunks.count == 2)
        #expect(chunks[0].text.hasPrefix("Big topic\n\nb0w0"))
        expectChunkInvariants(chunks, of: doc, by: c)
    }

    @Test func leadInSentenceStaysWithItsCodeBlock() throws {
        let doc = makeDocument([
            (.paragraph, sentences(3, tag: "A") + " Run it like this:", ["S"], "s"),
            (.code, "make build\nmake test", ["S"], "s"),
        ])
        // 34 words of prose, then 4 words of code; a budget of 36 words cannot hold both.
        let c = try chunker(max: 38, prefix: false)
        let chunks = c.chunk(doc)
        #expect(chunks.map(\.text) == [sentences(3, tag: "A"), "Run it like this:\n\nmake build\nmake test"])
        expectChunkInvariants(chunks, of: doc, by: c)
    }

    @Test func emptyBlocksAndEmptyDocumentsGiveNoEmptyChunks() throws {
        let c = try chunker()
        #expect(c.chunk(makeDocument([])).isEmpty)
        #expect(c.chunk(makeDocument([(.paragraph, "   ", [], nil), (.paragraph, "", [], nil)])).isEmpty)
        let doc = makeDocument([(.paragraph, "", ["A"], nil), (.paragraph, "Real text.", ["A"], "a"), (.code, "\n\n", ["A"], nil)])
        let chunks = c.chunk(doc)
        #expect(chunks.map(\.text) == ["A\nReal text."])
        expectChunkInvariants(chunks, of: doc, by: c)
    }

    @Test func optimisticSumsAreCaughtByTheExactCount() throws {
        // Every "\n\n" between blocks costs 2 extra tokens, which the summed estimate does not see.
        let blocks: [(BlockKind, String, [String], String?)] = (0..<40).map { i in (.listItem, "item \(i) text", ["L"], "l") }
        let doc = makeDocument(blocks)
        let c = try chunker(max: 20, prefix: false, counter: NewlineTaxCounter())
        let chunks = c.chunk(doc)
        #expect(chunks.allSatisfy { $0.tokenCount <= 20 })
        expectChunkInvariants(chunks, of: doc, by: c)
    }

    @Test func idsAreDeterministicAndDependOnSettingsAndDocument() throws {
        let doc = randomDocument(seed: 7, blockCount: 60)
        let a = try chunker(max: 64).chunk(doc)
        let b = try chunker(max: 64).chunk(doc)
        #expect(a.map(\.id) == b.map(\.id))
        #expect(a.allSatisfy { $0.id.count == 16 && $0.id.allSatisfy(\.isHexDigit) })
        let otherSettings = try chunker(max: 64, min: 5).chunk(doc)
        #expect(Set(a.map(\.id)).isDisjoint(with: otherSettings.map(\.id)))
        var renamed = doc
        renamed.id = "other.html"
        let renamedIDs = try chunker(max: 64).chunk(renamed).map(\.id)
        #expect(Set(a.map(\.id)).isDisjoint(with: renamedIDs))
    }

    @Test func fakeCounterPropertiesOnRandomDocuments() throws {
        for seed in UInt64(1)...10 {
            let doc = randomDocument(seed: seed, blockCount: 80)
            for (max, overlap, prefix) in [(24, 0, true), (64, 8, true), (256, 32, false)] {
                let c = try chunker(max: max, overlap: overlap, prefix: prefix, min: 8, counter: ScalarGroupCounter())
                expectChunkInvariants(c.chunk(doc), of: doc, by: c)
            }
        }
    }

    @Test func splitOnAnchorPropertiesOnRandomDocuments() throws {
        for seed in UInt64(1)...6 {
            var doc = randomDocument(seed: seed, blockCount: 80)
            // Give every third block a fresh anchor, so anchors also change inside heading-delimited sections.
            for i in doc.blocks.indices where i % 3 == 1 { doc.blocks[i].anchor = "r\(i)" }
            let contentAnchors = Set(doc.blocks.filter { $0.kind != .heading && $0.text.contains { !$0.isWhitespace } }
                .compactMap(\.anchor))
            for (max, overlap) in [(24, 0), (64, 8)] {
                let c = try Chunker(settings: ChunkerSettings(maxTokens: max, overlapTokens: overlap, minTokens: 8,
                                                              splitOnAnchor: true, titleInPath: false), counter: ScalarGroupCounter())
                let chunks = c.chunk(doc)
                expectChunkInvariants(chunks, of: doc, by: c)
                // Every anchored piece of content is reachable through some chunk.
                #expect(contentAnchors.isSubset(of: chunks.compactMap(\.anchor)), "seed \(seed), max \(max)")
            }
        }
    }

    /// FAQ-like page: entries share one heading path (their question headings were dropped) and differ only in anchor.
    func faqDocument() -> Document {
        makeDocument([
            (.heading, "FAQ", ["FAQ"], "faq"),
            (.paragraph, "Use the open builtin.", ["FAQ"], "faq-open"),
            (.code, "with open(p) as f:\n    data = f.read()", ["FAQ"], "faq-open"),
            (.paragraph, "Call sys.exit with a status.", ["FAQ"], "faq-exit"),
            (.listItem, "Zero means success.", ["FAQ"], "faq-exit"),
            (.paragraph, "Use a list comprehension.", ["FAQ"], "faq-lists"),
        ])
    }

    @Test func splitOnAnchorStartsAChunkAtEveryAnchorChange() throws {
        let doc = faqDocument()
        // Without the option the three entries are one section and one chunk with the first anchor only.
        let packed = try chunker(prefix: false).chunk(doc)
        #expect(packed.map(\.anchor) == ["faq"])

        let c = try Chunker(settings: ChunkerSettings(headingPrefix: true, minTokens: 0, splitOnAnchor: true, titleInPath: false),
                            counter: WhitespaceCounter())
        let chunks = c.chunk(doc)
        // The page heading still joins the first entry's content (a heading run never becomes its own chunk),
        // and the chunk links to that content's anchor rather than the heading's.
        #expect(chunks.map(\.anchor) == ["faq-open", "faq-exit", "faq-lists"])
        #expect(chunks.map(\.text) == [
            "FAQ\n\nUse the open builtin.\n\nwith open(p) as f:\n    data = f.read()",
            "FAQ\nCall sys.exit with a status.\n\nZero means success.",
            "FAQ\nUse a list comprehension.",
        ])
        #expect(chunks.allSatisfy { $0.headingPath == ["FAQ"] })
        expectChunkInvariants(chunks, of: doc, by: c)
    }

    @Test func splitOnAnchorKeepsOverlapAndMinTokensInsideOneAnchor() throws {
        let doc = makeDocument([
            (.paragraph, sentences(3, tag: "a"), ["FAQ"], "first"),
            (.paragraph, "Short second answer.", ["FAQ"], "second"),
        ])
        // 30 + 3 words; budget 16 − 2 specials − 1 prefix word = 13 per chunk, overlap 4, min 8.
        let c = try Chunker(settings: ChunkerSettings(maxTokens: 16, overlapTokens: 4, minTokens: 8, splitOnAnchor: true, titleInPath: false),
                            counter: WhitespaceCounter())
        let chunks = c.chunk(doc)
        let last = try #require(chunks.last)
        // The short answer neither borrows words from the first one (min_tokens) nor repeats its tail (overlap).
        #expect(last.anchor == "second")
        #expect(last.text == "FAQ\nShort second answer.")
        #expect(chunks.dropLast().allSatisfy { $0.anchor == "first" && !$0.text.contains("second") })
        expectChunkInvariants(chunks, of: doc, by: c)
    }

}

@Suite struct ChunkerSettingsTests {
    @Test func decodesSnakeCaseKeysWithDefaults() throws {
        let json = #"{"max_tokens": 128, "heading_prefix": false}"#
        let settings = try JSONDecoder().decode(ChunkerSettings.self, from: Data(json.utf8))
        #expect(settings == ChunkerSettings(maxTokens: 128, overlapTokens: 24, headingPrefix: false, minTokens: 32))
        let encoded = String(decoding: try JSONEncoder().encode(settings), as: UTF8.self)
        #expect(encoded.contains("\"max_tokens\":128") && encoded.contains("\"overlap_tokens\":24"))
        // The defaults are what all-MiniLM-L6-v2 was trained on (128 tokens), with a sentence or so of overlap.
        #expect(ChunkerSettings().maxTokens == 128 && ChunkerSettings().overlapTokens == 24)
        let split = try JSONDecoder().decode(ChunkerSettings.self, from: Data(#"{"split_on_anchor": true}"#.utf8))
        #expect(split == ChunkerSettings(splitOnAnchor: true))
        #expect(!settings.splitOnAnchor)
    }

    @Test func fingerprintIsStableAndSensitive() {
        // (StableHash's FNV-1a reference vectors are checked in SiftCoreTests.)
        let base = ChunkerSettings()
        #expect(base.fingerprint == ChunkerSettings().fingerprint)
        let variants = [ChunkerSettings(maxTokens: 127), ChunkerSettings(overlapTokens: 1),
                        ChunkerSettings(headingPrefix: false), ChunkerSettings(minTokens: 31)]
        #expect(Set(variants.map(\.fingerprint) + [base.fingerprint]).count == 5)
        // split_on_anchor and title_in_path enter the fingerprint only when set: indexes built with neither stay valid.
        #expect(base.fingerprint == StableHash.hex(StableHash.fnv1a64(
            "chunker-v1;max_tokens=128;overlap_tokens=24;heading_prefix=true;min_tokens=32;title_in_path=true")))
        #expect(ChunkerSettings(titleInPath: false).fingerprint == StableHash.hex(StableHash.fnv1a64(
            "chunker-v1;max_tokens=128;overlap_tokens=24;heading_prefix=true;min_tokens=32")))
        #expect(ChunkerSettings(splitOnAnchor: true).fingerprint != base.fingerprint)
    }

    @Test func invalidSettingsThrowClearErrors() {
        #expect(throws: ChunkerError.budgetTooSmall(maxTokens: 2, specialTokens: 2)) {
            try Chunker(settings: ChunkerSettings(maxTokens: 2, overlapTokens: 0), counter: WhitespaceCounter())
        }
        #expect(throws: ChunkerError.overlapTooLarge(overlapTokens: 10, limit: 8)) {
            try Chunker(settings: ChunkerSettings(maxTokens: 20, overlapTokens: 10), counter: WhitespaceCounter())
        }
        #expect(throws: ChunkerError.negativeSetting(key: "min_tokens", value: -1)) {
            try Chunker(settings: ChunkerSettings(minTokens: -1), counter: WhitespaceCounter())
        }
        #expect(ChunkerError.budgetTooSmall(maxTokens: 2, specialTokens: 2).description
            == "chunker: max_tokens is 2 but the tokenizer adds 2 special tokens; max_tokens must be at least 3")
        #expect(throws: Never.self) { try Chunker(settings: ChunkerSettings(maxTokens: 3, overlapTokens: 0), counter: WhitespaceCounter()) }
    }
}
