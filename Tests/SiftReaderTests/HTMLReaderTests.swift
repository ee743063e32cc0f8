import Foundation
import SiftCore
import SiftReader
import Testing

@Suite struct HTMLReaderTests {
    @Test func inlineTextKeepsWordBoundariesOnlyWhereMarkupSeparates() throws {
        let doc = try ReaderFixtures.html("""
            <html><body><p>foo<b>bar</b> baz<br>next&nbsp;line</p>
            <table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>
            <div>x</div><div>y</div></body></html>
            """)
        #expect(doc.blocks.map(\.text) == ["foobar baz next line", "a | b\nc | d", "x", "y"])
        #expect(doc.blocks.map(\.kind) == [.paragraph, .table, .paragraph, .paragraph])
        doc.checkRanges()
        #expect(doc.text == "foobar baz next line\n\na | b\nc | d\n\nx\n\ny")
    }

    @Test func entitiesDecodedAndWhitespaceNormalised() throws {
        let doc = try ReaderFixtures.html("<p>  a&nbsp;&nbsp;b &amp;\n\t c &lt;d&gt; &#233;&#x20AC; </p>")
        #expect(doc.blocks.first?.text == "a b & c <d> é€")
    }

    @Test func codeKeepsWhitespaceAndNewlines() throws {
        let doc = try ReaderFixtures.html("<p>Example:</p><pre>\n def f(x):\n     return  x\n\n print(f(1))\n</pre>")
        let code = try #require(doc.blocks(.code).first)
        #expect(code.text == " def f(x):\n     return  x\n\n print(f(1))")
        doc.checkRanges()
    }

    @Test func headingPathsAnchorsAndBlockKinds() throws {
        let doc = try ReaderFixtures.html("""
            <body><h1 id="top">Guide</h1><p>intro</p>
            <section id="install"><h2>Install ¶</h2><p>step one</p>
              <ul><li>apt <ul><li>nested</li></ul></li><li>brew</li></ul>
              <h3 id="deep">Deep</h3><blockquote><p>quoted</p></blockquote>
            </section>
            <h2>Use</h2><dl><dt id="opt-k">-k</dt><dd>top k</dd></dl>
            </body>
            """)
        let summary = doc.blocks.map { "\($0.kind.rawValue)|\($0.text)|\($0.headingPath.joined(separator: ">"))|\($0.anchor ?? "-")" }
        #expect(summary == [
            "heading|Guide|Guide|top",
            "paragraph|intro|Guide|top",
            "heading|Install|Guide>Install|install",
            "paragraph|step one|Guide>Install|install",
            "list_item|apt|Guide>Install|install",
            "list_item|nested|Guide>Install|install",
            "list_item|brew|Guide>Install|install",
            "heading|Deep|Guide>Install>Deep|deep",
            "quote|quoted|Guide>Install>Deep|deep",
            "heading|Use|Guide>Use|top",
            "definition_term|-k|Guide>Use|opt-k",
            "definition_description|top k|Guide>Use|opt-k",
        ])
        doc.checkRanges()
    }

    @Test func tableRowsCarryHeaderCellsAndCaption() throws {
        let doc = try ReaderFixtures.html("""
            <table id="types"><caption>Column types</caption>
            <thead><tr><th>Name</th><th>Type</th></tr></thead>
            <tbody><tr><td>foo</td><td>int</td></tr><tr><td>bar</td><td></td></tr>
            <tr><td colspan="2">spanning</td></tr></tbody></table>
            """)
        let table = try #require(doc.blocks(.table).first)
        #expect(table.text == "Column types\nName: foo | Type: int\nName: bar\nName: spanning")
        #expect(table.anchor == "types")
    }

    @Test func layoutTablesAreReadAsContent() throws {
        let doc = try ReaderFixtures.html("<table><tr><td><h2>Title</h2><p>body text</p></td></tr></table>")
        #expect(doc.blocks.map(\.kind) == [.heading, .paragraph])
    }

    @Test func boilerplateDroppedAndMainPreferred() throws {
        let page = """
            <html lang="fr"><head><title>Page</title><script>var x=1</script></head><body>
            <header>Site header</header><nav>Home | About</nav>
            <main><h1>Real</h1><p>content</p><form><button>Go</button></form><svg><text>svg text</text></svg></main>
            <aside>sidebar</aside><footer>copyright</footer><script>alert(1)</script>
            </body></html>
            """
        let doc = try ReaderFixtures.html(page)
        #expect(doc.text == "Real\n\ncontent")
        #expect(doc.title == "Page")
        #expect(doc.language == "fr")

        let noMain = try ReaderFixtures.html(page.replacingOccurrences(of: "main>", with: "div>"))
        #expect(noMain.text == "Real\n\ncontent", "header/footer/aside outside main content are dropped")
    }

    @Test func dropAndKeepRules() throws {
        let page = """
            <body><div class="chrome">menu</div><div id="content" class="body" role="main">
            <p>kept</p><p class="ad">advert</p><div id="promo">promo</div><span data-x="1">attr</span></div></body>
            """
        let options = ReaderOptions(drop: ["p.ad", "#promo", "span[data-x=1]"], keep: ["div.body"])
        let doc = try ReaderFixtures.html(page, options: options)
        #expect(doc.text == "kept")
        let xpath = try ReaderFixtures.html(page, options: ReaderOptions(drop: ["//p[@class='ad']"], keep: ["#content"]))
        #expect(xpath.text == "kept\n\npromo\n\nattr")
        #expect(throws: ReaderError.self) { try DocumentReader(options: ReaderOptions(drop: ["div > p"])) }
    }

    @Test func titleFallsBackToFirstHeadingThenFileName() throws {
        #expect(try ReaderFixtures.html("<body><p>x</p><h1>First</h1><h1>Second</h1></body>").title == "First")
        #expect(try ReaderFixtures.html("<body><p>x</p></body>", id: "dir/page.html").title == "page.html")
    }

    @Test func textLimitCutsDocument() throws {
        let body = (0..<100).map { "<p>paragraph \($0) with some words</p>" }.joined()
        let doc = try ReaderFixtures.html(body, options: ReaderOptions(maxTextLength: 200))
        #expect(doc.text.scalarCount <= 200)
        #expect(doc.blocks.count > 3)
        doc.checkRanges()
    }

    @Test func optionsDecodeWithDefaultsAndPresetsExist() throws {
        let decoded = try JSONDecoder().decode(ReaderOptions.self, from: Data(#"{"drop": [".x"]}"#.utf8))
        #expect(decoded == ReaderOptions(drop: [".x"]))
        for name in ["default", "sphinx", "postgres", "sqlite"] {
            let preset = try #require(ReaderOptions.preset(named: name))
            _ = try DocumentReader(options: preset)   // every preset rule parses
            let roundTrip = try JSONDecoder().decode(ReaderOptions.self, from: JSONEncoder().encode(preset))
            #expect(roundTrip == preset)
        }
        #expect(ReaderOptions.preset(named: "nope") == nil)
    }
}
