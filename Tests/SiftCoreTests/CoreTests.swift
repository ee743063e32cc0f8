import Testing
@testable import SiftCore

@Suite struct CoreTests {
    @Test func scalarSliceCountsCodePoints() {
        let text = "café 😀 ok"
        #expect(text.scalarCount == 9)
        #expect(text.scalarSlice(5..<6) == "😀")
        #expect(text.scalarSlice(7..<100) == "ok")
        #expect(text.scalarSlice(-3..<2) == "ca")
    }

    @Test func chunkSourceUsesAnchor() {
        var chunk = Chunk(id: "c1", documentID: "tutorial/inputoutput.html", anchor: "reading-and-writing-files",
                          headingPath: ["Input and Output"], range: 0..<10, text: "x", tokenCount: 3)
        #expect(chunk.source == "tutorial/inputoutput.html#reading-and-writing-files")
        chunk.anchor = nil
        #expect(chunk.source == "tutorial/inputoutput.html")
    }
}
