import Foundation
import SiftCore
import SiftReader
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Hostile and broken inputs: each must give documents or a clear `ReaderError`, quickly, without crashing or printing.
@Suite struct NastyInputTests {
    let reader: DocumentReader

    init() throws { reader = try DocumentReader() }

    /// Reads a committed nasty file; fails the test when it takes longer than `seconds` (generous: debug builds, shared CPU).
    func read(_ name: String, seconds: Double = 2) -> Result<[Document], ReaderError> {
        let start = Date()
        let result: Result<[Document], ReaderError>
        do { result = .success(try reader.read(fileAt: ReaderFixtures.nasty.appendingPathComponent(name), id: name)) }
        catch { result = .failure(error) }   // typed throws: always a ReaderError
        #expect(Date().timeIntervalSince(start) < seconds, "\(name) took too long")
        return result
    }

    func text(_ name: String) throws -> String {
        let docs = try read(name).get()
        for doc in docs { doc.checkRanges() }
        return docs.map(\.text).joined(separator: "\n")
    }

    @Test func everyCommittedNastyFileGivesDocumentsOrAClearError() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: ReaderFixtures.nasty.path).filter { !$0.hasSuffix(".py") }.sorted()
        #expect(names.count >= 25)
        for name in names {
            switch read(name) {
            case .success(let docs):
                for doc in docs {
                    doc.checkRanges()
                    #expect(doc.id.hasPrefix(name))
                }
            case .failure(let error):
                #expect(error.path == name)
                #expect(!error.description.isEmpty)
            }
        }
    }

    @Test func emptyBinaryAndMalformedInputsFailClearly() throws {
        #expect(read("empty.html") == .failure(.emptyFile(path: "empty.html")))
        #expect(read("whitespace-only.html") == .failure(.emptyFile(path: "whitespace-only.html")))
        guard case .failure(.notMarkup(_, let reason)) = read("binary.html") else { Issue.record("binary.html accepted"); return }
        #expect(reason.contains("NUL"))
        guard case .failure(.notMarkup) = read("nul-early.xml") else { Issue.record("nul-early.xml accepted"); return }
        guard case .failure(.parseFailed(let path, let line, let message)) = read("mismatched.xml") else {
            Issue.record("mismatched.xml parsed"); return
        }
        #expect(path == "mismatched.xml")
        #expect(line == 3)
        #expect(message.contains("mismatch"))
    }

    @Test func truncatedAndUnclosedMarkupIsRecovered() throws {
        #expect(try text("truncated.html") == "Start\n\nHello wor")
        #expect(try text("unclosed-comment.html").hasPrefix("Before the comment."))
        #expect(try text("unclosed-tags.html") == "one\n\ntwo\n\nthree\n\nfour\n\nfive | six")
        guard case .failure(.parseFailed) = read("truncated.xml") else { Issue.record("truncated XML must report its error"); return }
        guard case .failure(.parseFailed) = read("unclosed-cdata.xml") else { Issue.record("unclosed CDATA must report"); return }
    }

    @Test func encodingsAreHonouredAndBadBytesReplaced() throws {
        #expect(try text("latin1-meta.html") == "Un café crème, s'il vous plaît.")
        #expect(try text("cp1252-http-equiv.html") == "“Smart quotes” – and euro €.")
        #expect(try text("undeclared-latin1.html") == "Straße und Grüße ohne Deklaration.")
        #expect(try text("utf16le-bom.html") == "Grüße aus UTF-16 — ok.")
        #expect(try read("utf16le-bom.html").get().first?.title == "UTF-16 page")
        #expect(try text("utf16be-bom.xml").contains("Ünïcödé in big-endian."))
        let broken = try text("invalid-utf8.html")
        #expect(broken.hasPrefix("Before \u{FFFD}"))
        #expect(broken.hasSuffix("after, and café stays."))
        #expect(try text("invalid-utf8.xml") == "Bad \u{FFFD} byte here.")
        #expect(try text("nul-late.html").hasSuffix("textwithnuls"))
        #expect(try text("entities.html").hasPrefix("a b & c <d> é€"))
    }

    @Test func entityExpansionAttacksStayHarmless() throws {
        for name in ["billion-laughs.xml", "quadratic-blowup.xml", "billion-laughs.html"] {
            switch read(name, seconds: 1) {
            case .success(let docs): #expect(docs.map(\.text.utf8.count).reduce(0, +) < 10_000, "\(name) expanded")
            case .failure(let error): #expect(error.path == name)
            }
        }
    }

    @Test func externalEntitiesAndDTDsAreNeverLoaded() throws {
        for name in ["xxe-file.xml", "xxe-http.xml", "xxe-parameter.xml", "external-dtd.xml", "xxe-xinclude.xml", "xxe.html"] {
            switch read(name, seconds: 1) {
            case .success(let docs):
                let all = docs.map(\.text).joined()
                #expect(!all.contains("root:"), "\(name) leaked /etc/passwd")
                #expect(!all.isEmpty)
            case .failure(let error): #expect(error.path == name)
            }
        }
    }

    @Test func scriptOnlyPageGivesEmptyDocument() throws {
        let doc = try #require(try read("script-only.html").get().first)
        #expect(doc.text.isEmpty)
        #expect(doc.blocks.isEmpty)
    }

    @Test func deepNestingIsTruncatedNotACrash() throws {
        let depth = 10_000
        let tables = String(repeating: "<table><tr><td>", count: depth) + "deep cell" + String(repeating: "</td></tr></table>", count: depth)
        let divs = String(repeating: "<div><span>", count: depth) + "deep div" + String(repeating: "</span></div>", count: depth)
        let xml = "<?xml version='1.0'?>" + String(repeating: "<a>", count: depth) + "x" + String(repeating: "</a>", count: depth)
        for (markup, name) in [(tables, "tables.html"), (divs, "divs.html"), (xml, "deep.xml")] {
            let start = Date()
            do {
                let docs = try reader.read(data: Data(markup.utf8), id: name)
                for doc in docs { doc.checkRanges() }
            } catch {
                #expect(error.path == name)   // libxml2 refuses XML deeper than 256 levels without XML_PARSE_HUGE
            }
            #expect(Date().timeIntervalSince(start) < 5, "\(name) too slow")
        }
    }

    @Test func hugeSingleLineReadsQuickly() throws {
        let line = "<html><body><p>" + String(repeating: "word ", count: 400_000) + "</p></body></html>"
        let start = Date()
        let doc = try #require(try reader.read(data: Data(line.utf8), id: "line.html").first)
        #expect(doc.blocks.count == 1)
        #expect(doc.text.scalarCount == 400_000 * 5 - 1)
        #expect(Date().timeIntervalSince(start) < 5)
    }

    @Test func fiftyMegabyteFileIsRejectedBeforeReading() throws {
        let folder = try ReaderFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("big.html")
        #expect(FileManager.default.createFile(atPath: url.path, contents: nil))
        let handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: 50 << 20)   // sparse: 50 MB without writing them
        try handle.close()
        let start = Date()
        #expect(throws: ReaderError.fileTooLarge(path: "big.html", size: 50 << 20, limit: 20 << 20)) {
            try reader.read(fileAt: url, id: "big.html")
        }
        #expect(Date().timeIntervalSince(start) < 0.5)
    }

    @Test func libxml2PrintsNothingToStandardError() throws {
        let capture = FileManager.default.temporaryDirectory.appendingPathComponent("sift-reader-stderr-\(UUID().uuidString)")
        #expect(FileManager.default.createFile(atPath: capture.path, contents: nil))
        defer { try? FileManager.default.removeItem(at: capture) }
        fflush(nil)   // all C streams (stderr itself is a global Swift 6 will not touch)
        let saved = dup(2)
        let fd = open(capture.path, O_WRONLY)
        dup2(fd, 2)
        for name in ["mismatched.xml", "unclosed-tags.html", "invalid-utf8.xml", "xxe-file.xml", "billion-laughs.xml", "truncated.xml"] {
            _ = read(name)
        }
        fflush(nil)   // all C streams (stderr itself is a global Swift 6 will not touch)
        dup2(saved, 2)
        close(fd)
        close(saved)
        // Other tests run concurrently and the test runner reports on stderr, so look for libxml2's own message format
        // ("Entity: line 3: parser error : ...", "HTML parser error : ...", "warning : ...").
        let written = String(decoding: try Data(contentsOf: capture), as: UTF8.self)
        for marker in ["parser error", "error :", "warning :", "I/O error"] {
            #expect(!written.contains(marker), "stderr got: \(written)")
        }
    }
}
