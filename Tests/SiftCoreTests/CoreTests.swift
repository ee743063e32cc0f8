import Testing
@testable import SiftCore

@Suite struct CoreTests {
    @Test func stableHashIsFNV1a64OverUTF8() {
        // FNV-1a 64 reference vectors.
        #expect(StableHash.hex(StableHash.fnv1a64("")) == "cbf29ce484222325")
        #expect(StableHash.hex(StableHash.fnv1a64("a")) == "af63dc4c8601ec8c")
        #expect(StableHash.hex(StableHash.fnv1a64("foobar")) == "85944171f73967e8")
        // Seeding with an earlier result hashes the concatenation.
        #expect(StableHash.fnv1a64("bar", seed: StableHash.fnv1a64("foo")) == StableHash.fnv1a64("foobar"))
        #expect(StableHash.fnv1a64(bytes: Array("é".utf8)) == StableHash.fnv1a64("é"))
        #expect(StableHash.hex(1) == "0000000000000001")
    }

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
