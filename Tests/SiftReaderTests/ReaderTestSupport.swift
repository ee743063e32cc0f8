import Foundation
import SiftCore
import SiftReader
import SiftTestSupport
import Testing

/// Shared helpers for the reader tests.
enum ReaderFixtures {
    static let root = TestPaths.fixtures.appendingPathComponent("reader")
    static let pages = root.appendingPathComponent("pages")
    static let nasty = root.appendingPathComponent("nasty")
    static let xml = root.appendingPathComponent("xml")

    /// Reads an HTML string as one document.
    static func html(_ markup: String, options: ReaderOptions = ReaderOptions(), id: String = "test.html") throws -> Document {
        let docs = try DocumentReader(options: options).read(data: Data(markup.utf8), id: id, format: .html)
        return try #require(docs.first)
    }

    /// A fresh temporary folder (removed by the caller with `cleanup`).
    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sift-reader-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

extension Document {
    func blocks(_ kind: BlockKind) -> [Block] { blocks.filter { $0.kind == kind } }

    /// Every block's range must slice exactly its text out of `text`, blocks separated by "\n\n".
    func checkRanges(sourceLocation: SourceLocation = #_sourceLocation) {
        var expectedStart = 0
        for block in blocks {
            #expect(block.range.lowerBound == expectedStart, "block starts where the previous ended + 2", sourceLocation: sourceLocation)
            #expect(text.scalarSlice(block.range) == block.text, sourceLocation: sourceLocation)
            expectedStart = block.range.upperBound + 2
        }
        #expect(text.scalarCount == max(0, expectedStart - 2), sourceLocation: sourceLocation)
    }
}
