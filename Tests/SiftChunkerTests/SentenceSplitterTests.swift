import Testing
import SiftCore
@testable import SiftChunker

@Suite struct SentenceSplitterTests {
    /// The sentences of `text` as strings.
    func sentences(_ text: String) -> [String] {
        sentenceRanges(in: text).map { text.scalarSlice($0) }
    }

    @Test func splitsOnTerminatorsBeforeCapitalsDigitsAndQuotes() {
        #expect(sentences("It works. Then it stops! Why? 42 is the answer. \"Quoted\" start.")
            == ["It works.", "Then it stops!", "Why?", "42 is the answer.", "\"Quoted\" start."])
    }

    @Test func keepsAbbreviationsDecimalsEllipsesAndDottedNames() {
        let text = "Use a tool, e.g. Git or Mercurial. Pi is 3.14 here. Call os.path.join. Next one. "
            + "Dr. Smith and Mr. Jones met J. Doe in the U.S. Today. Wait... Maybe not. Apples, pears, etc. Are fine."
        #expect(sentences(text) == [
            "Use a tool, e.g. Git or Mercurial.",
            "Pi is 3.14 here.",
            "Call os.path.join.",
            "Next one.",
            "Dr. Smith and Mr. Jones met J. Doe in the U.S. Today.",
            "Wait... Maybe not.",
            "Apples, pears, etc. Are fine.",
        ])
    }

    @Test func lowercaseContinuationDoesNotSplit() {
        #expect(sentences("See section 2. for details. Done.") == ["See section 2. for details.", "Done."])
    }

    @Test func closingQuotesAndBracketsStayWithTheSentence() {
        #expect(sentences("He said \"stop.\" Then (quietly.) He left?! Yes.")
            == ["He said \"stop.\"", "Then (quietly.)", "He left?!", "Yes."])
    }

    @Test func newlinesAlwaysSeparate() {
        #expect(sentences("Heading > Sub\nfirst line without stop\n\n  second  ") == ["Heading > Sub", "first line without stop", "second"])
    }

    @Test func rangesAreUnicodeScalarOffsetsAndCoverAllVisibleText() {
        let text = "Café au lait 😀 is nice. Über cool! ok"
        let ranges = sentenceRanges(in: text)
        #expect(ranges.map { text.scalarSlice($0) } == ["Café au lait 😀 is nice.", "Über cool! ok"])
        #expect(ranges.first == 0..<23)
        // Every non-whitespace scalar is inside exactly one range.
        let scalars = Array(text.unicodeScalars)
        for (i, s) in scalars.enumerated() where !s.properties.isWhitespace {
            #expect(ranges.filter { $0.contains(i) }.count == 1)
        }
    }

    @Test func emptyAndBlankTextHaveNoSentences() {
        #expect(sentenceRanges(in: "").isEmpty)
        #expect(sentenceRanges(in: " \n\t ").isEmpty)
        #expect(sentences("no terminator at all") == ["no terminator at all"])
    }
}
