import Foundation
import SiftCore
import SiftReader
import Testing

/// Committed slices of real documentation pages read with their presets: title, heading paths, anchors, a table, a code
/// block, and no navigation or sidebar text.
@Suite struct GoldenPageTests {
    func read(_ name: String, preset: String) throws -> Document {
        let reader = try DocumentReader(options: try #require(ReaderOptions.preset(named: preset)))
        let docs = try reader.read(fileAt: ReaderFixtures.pages.appendingPathComponent(name), id: "pages/\(name)")
        #expect(docs.count == 1)
        let doc = try #require(docs.first)
        #expect(doc.id == "pages/\(name)")
        doc.checkRanges()
        return doc
    }

    @Test func pythonTutorialInputOutput() throws {
        let doc = try read("python-inputoutput.html", preset: "sphinx")
        #expect(doc.title == "7. Input and Output — Python 3.11.2 documentation")
        #expect(doc.language == "en")
        let headings = doc.blocks(.heading)
        #expect(headings.first?.text == "7. Input and Output")
        #expect(headings.count == 9)
        #expect(!doc.text.contains("¶"))
        let methods = try #require(headings.first { $0.text == "7.2.1. Methods of File Objects" })
        #expect(methods.headingPath == ["7. Input and Output", "7.2. Reading and Writing Files", "7.2.1. Methods of File Objects"])
        #expect(methods.anchor == "methods-of-file-objects")

        let zfill = try #require(doc.blocks(.code).first { $0.text.hasPrefix(">>> '12'.zfill(5)") })
        #expect(zfill.text == ">>> '12'.zfill(5)\n'00012'\n>>> '-3.14'.zfill(7)\n'-003.14'\n>>> '3.14159265359'.zfill(5)\n'3.14159265359'")
        #expect(zfill.headingPath.last == "7.1.3. Manual String Formatting")
        #expect(zfill.anchor == "manual-string-formatting")
        #expect(doc.blocks(.listItem).count >= 3)
        // Sphinx's generated index targets ("index-0") give way to the section's anchor.
        let open = try #require(doc.blocks.first { $0.text.hasPrefix("open() returns a file object") })
        #expect(open.anchor == "reading-and-writing-files")
        #expect(!doc.blocks.contains { $0.anchor?.hasPrefix("index-") == true })

        // Sidebar, related-links bars and footer are gone.
        for chrome in ["Table of Contents", "Previous topic", "This Page", "Report a Bug", "Quick search", "Copyright", "Navigation"] {
            #expect(!doc.text.contains(chrome), "\(chrome) leaked")
        }
    }

    @Test func pythonFAQSlice() throws {
        let doc = try read("python-faq-programming-slice.html", preset: "sphinx")
        #expect(doc.title == "Programming FAQ — Python 3.11.2 documentation")
        let debugger = try #require(doc.blocks(.heading).first { $0.text.hasPrefix("Is there a source code level debugger") })
        #expect(debugger.headingPath == ["Programming FAQ", "General Questions", debugger.text])
        #expect(debugger.anchor == "is-there-a-source-code-level-debugger-with-breakpoints-single-stepping-etc")
        #expect(doc.blocks(.code).count > 10)
        #expect(!doc.text.contains("Previous topic"))
        #expect(!doc.text.contains("Contents"))
    }

    @Test func postgresNumericTypes() throws {
        let doc = try read("postgres-datatype-numeric.html", preset: "postgres")
        #expect(doc.title == "8.1. Numeric Types")
        let table = try #require(doc.blocks(.table).first)
        #expect(table.text.hasPrefix("Name: smallint | Storage Size: 2 bytes | Description: small-range integer | Range: -32768 to +32767\n"))
        #expect(table.anchor == "DATATYPE-NUMERIC-TABLE")
        let serial = try #require(doc.blocks(.heading).first { $0.text == "8.1.4. Serial Types" })
        #expect(serial.headingPath == ["8.1. Numeric Types", "8.1.4. Serial Types"])
        #expect(serial.anchor == "DATATYPE-SERIAL")
        // Admonition titles ("Note") are labels, not headings.
        #expect(!doc.blocks.contains { $0.headingPath.contains("Note") })
        #expect(doc.blocks(.code).contains { $0.text.hasPrefix("NUMERIC(precision, scale)") })
        for chrome in ["Prev", "Next", "Home", "Up"] {
            #expect(!doc.blocks.contains { $0.text == chrome }, "navigation '\(chrome)' leaked")
        }
        #expect(!doc.text.contains("Chapter 8. Data Types"), "navheader leaked")
    }

    @Test func sqliteDatatypes() throws {
        let doc = try read("sqlite-datatype3.html", preset: "sqlite")
        #expect(doc.title == "Datatypes In SQLite")
        let affinity = try #require(doc.blocks(.heading).first { $0.text == "3.1.1. Affinity Name Examples" })
        #expect(affinity.headingPath == ["3. Type Affinity", "3.1. Determination Of Column Affinity", "3.1.1. Affinity Name Examples"])
        #expect(affinity.anchor == "affinity_name_examples")
        let table = try #require(doc.blocks(.table).first)
        #expect(table.text.contains("Resulting Affinity: INTEGER"))
        let code = try #require(doc.blocks(.code).first)
        #expect(code.text == "CREATE TABLE t1(a INT, b VARCHAR(10));\nINSERT INTO t1(a,b) VALUES('123',456);")
        for chrome in ["Small. Fast. Reliable.", "Search Documentation", "Download", "This page last modified", "toggle_div"] {
            #expect(!doc.text.contains(chrome), "\(chrome) leaked")
        }
    }
}
