import Foundation
import SiftCore
import Testing
@testable import SiftPipeline

/// The pieces `sift train` builds its examples from: heading pairs, heading cleanup, prefix stripping, globs.
struct TrainingDataTests {
    static func chunk(_ path: [String], _ text: String, anchor: String? = "a", document: String = "d.html") -> Chunk {
        Chunk(id: UUID().uuidString, documentID: document, anchor: anchor, headingPath: path, range: 0..<1, text: text, tokenCount: 10)
    }

    @Test func headingPairsTakeEachSectionsFirstChunkWithoutItsPrefix() {
        let chunks = [
            Self.chunk(["Guide", "4.2. for Statements"], "Guide > 4.2. for Statements\nThe for statement iterates."),
            Self.chunk(["Guide", "4.2. for Statements"], "Guide > 4.2. for Statements\nMore about for."),
            Self.chunk(["Guide", "4.3. The range() Function"], "4.3. The range() Function\nrange(10) yields 0 to 9."),
            Self.chunk(["Guide", "Empty"], "Guide > Empty\n"),
            Self.chunk([], "No headings at all."),
        ]
        let pairs = PipelineRunner.headingPairs(chunks)
        #expect(pairs.map(\.0) == ["for Statements", "The range() Function"])
        #expect(pairs.map { PipelineRunner.passageText($0.1, stripPrefix: true) } == ["The for statement iterates.", "range(10) yields 0 to 9."])
    }

    @Test func headingsLoseSectionNumbersOnly() {
        #expect(PipelineRunner.cleanHeading("12.1. Intro") == "Intro")
        #expect(PipelineRunner.cleanHeading("3 Data model") == "Data model")
        #expect(PipelineRunner.cleanHeading("Python 3.11 changes") == "Python 3.11 changes")
        #expect(PipelineRunner.cleanHeading(" 2to3 ") == "2to3")
    }

    /// A first line that is not the heading path stays: only the prefix the chunker adds is removed.
    @Test func prefixStrippingNeedsAHeadingLine() {
        let c = Self.chunk(["Guide"], "Not > a heading\nbody")
        #expect(PipelineRunner.passageText(c, stripPrefix: true) == c.text)
        #expect(PipelineRunner.passageText(Self.chunk(["Guide"], "Guide\nbody"), stripPrefix: false) == "Guide\nbody")
    }

    @Test func globs() {
        #expect(PipelineRunner.glob("faq/*", matches: "faq/design.html"))
        #expect(PipelineRunner.glob("*.html", matches: "library/os.path.html"))
        #expect(!PipelineRunner.glob("faq/*", matches: "library/faq.html"))
        #expect(PipelineRunner.glob("lib?ary/*", matches: "library/x"))
        #expect(PipelineRunner.glob("*", matches: ""))
    }
}
