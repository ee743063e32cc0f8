import Foundation
import SiftCore
import SiftReader
import Testing

@Suite struct XMLReaderTests {
    let reader: DocumentReader
    init() throws { reader = try DocumentReader() }

    func read(_ name: String, with reader: DocumentReader? = nil) throws -> [Document] {
        let docs = try (reader ?? self.reader).read(fileAt: ReaderFixtures.xml.appendingPathComponent(name), id: name)
        for doc in docs { doc.checkRanges() }
        return docs
    }

    @Test func docBookArticle() throws {
        let docs = try read("docbook-sample.xml")
        let doc = try #require(docs.first)
        #expect(docs.count == 1)
        #expect(doc.id == "docbook-sample.xml")
        #expect(doc.title == "Sift Guide")
        #expect(doc.language == "en")
        let summary = doc.blocks.map { "\($0.kind.rawValue)|\($0.text)|\($0.headingPath.joined(separator: ">"))|\($0.anchor ?? "-")" }
        #expect(summary == [
            "heading|Sift Guide|Sift Guide|sift-guide",
            "paragraph|Sift answers questions from your documents.|Sift Guide|sift-guide",
            "heading|Installing|Sift Guide>Installing|install",
            "paragraph|Build with SwiftPM:|Sift Guide>Installing|install",
            "code|swift build -c release\n  .build/release/sift --help|Sift Guide>Installing|install",
            "list_item|Linux x86-64|Sift Guide>Installing|install",
            "list_item|macOS 14|Sift Guide>Installing|install",
            "heading|Models|Sift Guide>Installing>Models|install-models",
            "paragraph|Put the model folder under Models/.|Sift Guide>Installing>Models|install-models",
            "definition_term|bi-encoder|Sift Guide>Installing>Models|install-models",
            "definition_description|all-MiniLM-L6-v2|Sift Guide>Installing>Models|install-models",
            "heading|Configuration|Sift Guide>Configuration|config",
            "table|Options\nName: top_k | Default: 10\nName: max_depth | Default: 512|Sift Guide>Configuration|config",
        ])
    }

    @Test func rssItemsWithEscapedHTML() throws {
        let docs = try read("rss-sample.xml")
        #expect(docs.map(\.id) == ["rss-sample.xml#release-1.0", "rss-sample.xml#https://example.org/plain"])
        #expect(docs.map(\.title) == ["Sift 1.0 released", "Plain text item"])
        #expect(docs[0].blocks.map(\.kind) == [.paragraph, .listItem, .listItem])
        #expect(docs[0].text == "The first release.\n\nHTML reader\n\nRe-ranking")
        #expect(docs[1].text == "Just text, no markup & no guid.")
    }

    @Test func atomEntriesWithXHTMLAndEscapedContent() throws {
        let docs = try read("atom-sample.xml")
        #expect(docs.map(\.id) == ["atom-sample.xml#urn:uuid:entry-1", "atom-sample.xml#urn:uuid:entry-2"])
        #expect(docs[0].blocks.map(\.kind) == [.heading, .paragraph])
        #expect(docs[0].text == "Heading inside\n\nInline XHTML content.")
        #expect(docs[0].language == "en")
        #expect(docs[1].text == "Escaped HTML summary.")
        #expect(docs[1].title == "Escaped HTML entry")
    }

    @Test func genericFallback() throws {
        let doc = try #require(try read("generic-sample.xml").first)
        #expect(doc.title == "Werkzeugkatalog")
        #expect(doc.language == "de")
        #expect(doc.blocks.map(\.text) == ["Werkzeugkatalog", "Hammer", "Für Nägel.", "Zange", "Zum Greifen & Biegen."])
        #expect(doc.blocks.allSatisfy { $0.kind == .paragraph })
    }

    @Test func customMappingWithXPathDrop() throws {
        let mapping = XMLMapping(record: "/catalog/tool", id: ["@id"], title: ["label"], body: ["note"])
        let custom = try DocumentReader(options: ReaderOptions(drop: ["//tool[@id='t2']/note"], xmlMapping: mapping))
        let docs = try read("generic-sample.xml", with: custom)
        #expect(docs.map(\.id) == ["generic-sample.xml#t1", "generic-sample.xml#t2"])
        #expect(docs.map(\.title) == ["Hammer", "Zange"])
        #expect(docs.map(\.text) == ["Für Nägel.", ""])

        let decoded = try JSONDecoder().decode(XMLMapping.self, from: Data(#"{"record": "//item", "body": ["p"]}"#.utf8))
        #expect(decoded == XMLMapping(record: "//item", body: ["p"]))

        let broken = try DocumentReader(options: ReaderOptions(xmlMapping: XMLMapping(record: "//[", body: ["."])))
        #expect(throws: ReaderError.self) { try read("generic-sample.xml", with: broken) }
    }

    @Test func formatSniffing() throws {
        let xml = Data("<?xml version='1.0'?><rss><channel><item><title>T</title><description>D</description></item></channel></rss>".utf8)
        let docs = try reader.read(data: xml, id: "feed")   // no extension: sniffed
        #expect(docs.map(\.text) == ["D"])
        let html = Data("<!DOCTYPE html><p>x</p>".utf8)
        #expect(try reader.read(data: html, id: "page").map(\.text) == ["x"])
    }
}
