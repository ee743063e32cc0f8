import Foundation
import Testing
import SiftCore
import SiftTestSupport
@testable import SiftChunker

/// Chunking of documents the reader produced from Corpora/handbook pages (snapshots in Tests/Fixtures/chunker).
@Suite struct ReaderDocumentTests {
    static let fixtureNames = ["http-status-codes", "sqlite-indexes"]

    func load(_ name: String) throws -> Document {
        let url = TestPaths.fixtures.appendingPathComponent("chunker/\(name).document.json")
        return try JSONDecoder().decode(Document.self, from: Data(contentsOf: url))
    }

    func realChunker(_ settings: ChunkerSettings) throws -> Chunker {
        let tokenizer = try #require(RealTokenizerPropertyTests.tokenizer, "all-MiniLM-L6-v2 is missing: run Scripts/setup")
        return try Chunker(settings: settings, counter: tokenizer)
    }

    @Test(arguments: fixtureNames)
    func chunksStayInsideOneSectionAndCiteItsAnchor(name: String) throws {
        let document = try load(name)
        let chunker = try realChunker(ChunkerSettings())
        let chunks = chunker.chunk(document)
        expectChunkInvariants(chunks, of: document, by: chunker)
        for chunk in chunks {
            // Content blocks of one chunk all share its heading path (headings only join the section they open).
            let content = document.blocks.filter { $0.kind != .heading && $0.range.overlaps(chunk.range) }
            #expect(Set(content.map(\.headingPath)) == [chunk.headingPath], "\(chunk.source) mixes sections")
        }
        // Every section with content starts a chunk that cites the section's anchor.
        let sectionAnchors = Set(document.blocks.filter { $0.kind == .heading }.compactMap(\.anchor))
        let citedAnchors = Set(chunks.compactMap(\.anchor))
        #expect(sectionAnchors.subtracting(citedAnchors).isEmpty, "uncited sections: \(sectionAnchors.subtracting(citedAnchors))")
    }

    @Test func answersLandInTheirSection() throws {
        let chunks = try realChunker(ChunkerSettings()).chunk(try load("http-status-codes"))
        let unauthorized = try #require(chunks.first { $0.text.contains("401 Unauthorized") })
        #expect(unauthorized.source == "handbook/http-status-codes.html#client-error-codes")
        #expect(unauthorized.headingPath == ["HTTP Status Codes", "Client error codes"])
        // The prefix names the page; the section heading itself is the first line of the source text.
        #expect(unauthorized.text.hasPrefix("HTTP Status Codes\nClient error codes\n\n400 Bad Request"))
    }

    @Test func smallBudgetsWithOverlapKeepCodeLinesWhole() throws {
        let document = try load("sqlite-indexes")
        let chunker = try realChunker(ChunkerSettings(maxTokens: 64, overlapTokens: 16, headingPrefix: true, minTokens: 16))
        let chunks = chunker.chunk(document)
        expectChunkInvariants(chunks, of: document, by: chunker)
        let codeLines = Set(document.blocks.filter { $0.kind == .code }
            .flatMap { $0.text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) } })
        var chunksWithCode = 0
        for chunk in chunks {
            let lines = document.text.scalarSlice(chunk.range).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            if lines.contains(where: codeLines.contains) { chunksWithCode += 1 }
            // Only the first line may be partial (the overlap starts at a word); later lines are whole code lines.
            for line in lines.dropFirst() where line.count > 3 && !codeLines.contains(line) {
                #expect(!codeLines.contains { $0 != line && $0.contains(line) }, "code line cut: \(line)")
            }
        }
        #expect(chunksWithCode >= 3)
    }
}
