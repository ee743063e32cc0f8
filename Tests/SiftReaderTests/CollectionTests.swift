import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SiftCore
import SiftReader
import Testing

@Suite struct CollectionTests {
    /// root/
    ///   a.html, b.htm, notes.txt, genindex.html, bad.html (binary), feed.xml (RSS, 2 items)
    ///   sub/c.html, sub/deeper/d.html, sub/loop -> .. (symlink loop), sub/dangling -> missing
    func makeTree() throws -> URL {
        let root = try ReaderFixtures.temporaryFolder()
        let fm = FileManager.default
        func write(_ path: String, _ text: String) throws {
            let url = root.appendingPathComponent(path)
            try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
        try write("a.html", "<title>A</title><p>alpha</p>")
        try write("b.htm", "<p>beta</p>")
        try write("notes.txt", "not markup")
        try write("genindex.html", "<p>index</p>")
        try Data([0x00, 0x01, 0x02, 0x03] + Array(repeating: 0x41, count: 100)).write(to: root.appendingPathComponent("bad.html"))
        try write("feed.xml", "<rss><channel><item><guid>1</guid><description>one</description></item><item><guid>2</guid><description>two</description></item></channel></rss>")
        try write("sub/c.html", "<p>gamma</p>")
        try write("sub/deeper/d.html", "<p>delta</p>")
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("sub/loop").path, withDestinationPath: "..")
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("sub/dangling.html").path, withDestinationPath: "missing.html")
        return root
    }

    @Test func filesAreSortedFilteredAndLoopSafe() throws {
        let root = try makeTree()
        defer { try? FileManager.default.removeItem(at: root) }
        let source = CollectionSource(root: root.path, exclude: ["genindex*.html"])
        let relative = try source.files().map { String($0.path.dropFirst(root.path.count + 1)) }
        // The broken link is listed too: reading it fails with a reason instead of it vanishing.
        #expect(relative == ["a.html", "b.htm", "bad.html", "feed.xml", "sub/c.html", "sub/dangling.html", "sub/deeper/d.html"])

        let onlySub = CollectionSource(root: root.path, include: ["sub/**/*.html"])
        #expect(try onlySub.files().count == 3, "** matches zero or more folders")
        let anyDepth = CollectionSource(root: root.path, include: ["*.htm?"])   // no "/": file name at any depth; "?" is exactly one character
        #expect(try anyDepth.files().map(\.lastPathComponent) == ["a.html", "bad.html", "genindex.html", "c.html", "dangling.html", "d.html"])
        #expect(throws: ReaderError.self) { try CollectionSource(root: root.appendingPathComponent("nope").path).files() }
    }

    @Test func readCollectionReportsBadFilesAndKeepsOrder() throws {
        let root = try makeTree()
        defer { try? FileManager.default.removeItem(at: root) }
        let reader = try DocumentReader()
        let source = CollectionSource(root: root.path, exclude: ["genindex*.html"])
        let progressCalls = ProgressCounter()
        let result = try reader.readCollection(source) { done, total in progressCalls.record(done: done, total: total) }
        #expect(result.documents.map(\.id) == ["a.html", "b.htm", "feed.xml#1", "feed.xml#2", "sub/c.html", "sub/deeper/d.html"])
        #expect(result.documents.map(\.text) == ["alpha", "beta", "one", "two", "gamma", "delta"])
        #expect(result.failures.map(\.path) == ["bad.html", "sub/dangling.html"])
        #expect(result.failures.first?.reason.contains("NUL byte") == true)
        #expect(result.failures.last?.reason.contains("broken symbolic link") == true)
        #expect(result.fileCount == 7)
        #expect(progressCalls.maxDone == 7)

        // Same result on a second run: parallel reading does not change the output.
        let again = try reader.readCollection(source)
        #expect(again.documents == result.documents)
    }

    /// Creates a file whose name is `name` as raw bytes (which need not be UTF-8).
    func create(rawName name: [UInt8], in folder: URL, contents: String) throws {
        let path = Array(folder.path.utf8) + [UInt8(ascii: "/")] + name + [0]
        let fd = path.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT | O_TRUNC, 0o644) } }
        try #require(fd >= 0, "cannot create the file: errno \(errno)")
        let written = Array(contents.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        try #require(written == contents.utf8.count)
    }

    @Test func namesThatAreNotUTF8AreReadUnderAStableEscapedID() throws {
        let root = try ReaderFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        try create(rawName: Array("caf".utf8) + [0xE9] + Array(".html".utf8), in: root, contents: "<p>latin-1 name</p>")
        try create(rawName: Array("a\\".utf8) + [0xFF] + Array("é.html".utf8), in: root, contents: "<p>backslash</p>")
        try Data("<p>plain</p>".utf8).write(to: root.appendingPathComponent("plain.html"))
        let reader = try DocumentReader()
        let source = CollectionSource(root: root.path)
        let result = try reader.readCollection(source)
        #expect(result.failures.isEmpty, "\(result.failures)")
        // Invalid bytes become \xNN, a backslash doubles, valid UTF-8 (é) stays as it is.
        #expect(result.documents.map(\.id) == [#"a\\\xffé.html"#, #"caf\xe9.html"#, "plain.html"])
        #expect(result.documents.map(\.text) == ["backslash", "latin-1 name", "plain"])
        #expect(try reader.readCollection(source).documents.map(\.id) == result.documents.map(\.id), "ids are stable across runs")

        // A real file already named like the escaped form keeps its name; the other one is reported, not merged.
        try Data("<p>literal</p>".utf8).write(to: root.appendingPathComponent(#"caf\xe9.html"#))
        let clash = try reader.readCollection(source)
        #expect(clash.documents.map(\.text) == ["backslash", "literal", "plain"])
        #expect(clash.failures.map(\.path) == [#"caf\xe9.html"#])
        #expect(clash.failures.first?.reason.contains("not valid UTF-8") == true)
    }

    @Test func fifosDevicesAndBrokenLinksAreReportedAsNotRegularFiles() throws {
        let root = try ReaderFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        #expect(mkfifo(root.appendingPathComponent("pipe.html").path, 0o644) == 0)
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("null.html").path, withDestinationPath: "/dev/null")
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("gone.html").path, withDestinationPath: "missing.html")
        let started = Date()
        let result = try DocumentReader().readCollection(CollectionSource(root: root.path))
        #expect(Date().timeIntervalSince(started) < 5, "a FIFO is never opened, so nothing waits for a writer")
        #expect(result.documents.isEmpty)
        #expect(result.failures.map(\.reason) == [
            "gone.html: cannot read: broken symbolic link (its target does not exist)",
            "null.html: cannot read: not a regular file (a character device)",
            "pipe.html: cannot read: not a regular file (a FIFO)",
        ])
    }

    @Test func aReadErrorCarriesTheDocumentIDAReadWouldHaveGiven() throws {
        let root = try ReaderFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("sub"), withIntermediateDirectories: true)
        let page = root.appendingPathComponent("sub/page.html"), feed = root.appendingPathComponent("feed.xml")
        try Data("<p>page</p>".utf8).write(to: page)
        try Data("<rss><channel><item><guid>1</guid><description>one</description></item><item><guid>2</guid><description>two</description></item></channel></rss>".utf8).write(to: feed)
        let reader = try DocumentReader()
        let source = CollectionSource(root: root.path)
        let before = try reader.readCollection(source)
        #expect(before.documents.map(\.id) == ["feed.xml#1", "feed.xml#2", "sub/page.html"])

        // Reading /proc/self/mem at offset 0 fails with EIO: a real read error, no test hook and no need for a bad disk.
        for url in [page, feed] {
            try FileManager.default.removeItem(at: url)
            try FileManager.default.createSymbolicLink(atPath: url.path, withDestinationPath: "/proc/self/mem")
        }
        let after = try reader.readCollection(source)
        #expect(after.documents.isEmpty)
        #expect(after.failures.map(\.documentID) == ["feed.xml", "sub/page.html"])
        #expect(after.failures.allSatisfy { $0.reason.contains("Input/output error") }, "\(after.failures)")
        for id in before.documents.map(\.id) {
            #expect(after.failure(covering: id) != nil, "\(id) was not read, not deleted")
        }
        #expect(after.failure(covering: "feed.xml2") == nil)
        #expect(after.failure(covering: "sub/other.html") == nil)

        let folder = ReadFailure(folder: "sub", reason: "cannot list folder: Input/output error")
        #expect(folder.covers(documentID: "sub/page.html") && folder.covers(documentID: "sub/deeper/x.html#1"))
        #expect(!folder.covers(documentID: "subway.html"))
    }

    @Test func sourceDecodesWithDefaults() throws {
        let source = try JSONDecoder().decode(CollectionSource.self, from: Data(#"{"root": "/tmp/x"}"#.utf8))
        #expect(source == CollectionSource(root: "/tmp/x"))
        #expect(source.include.contains("**/*.html"))
    }
}

/// Thread-safe progress recorder.
final class ProgressCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var done = 0
    func record(done: Int, total: Int) { lock.lock(); self.done = max(self.done, done); lock.unlock() }
    var maxDone: Int { lock.lock(); defer { lock.unlock() }; return done }
}
