import Foundation
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
        #expect(relative == ["a.html", "b.htm", "bad.html", "feed.xml", "sub/c.html", "sub/deeper/d.html"])

        let onlySub = CollectionSource(root: root.path, include: ["sub/**/*.html"])
        #expect(try onlySub.files().count == 2, "** matches zero or more folders")
        let anyDepth = CollectionSource(root: root.path, include: ["*.htm?"])   // no "/": file name at any depth; "?" is exactly one character
        #expect(try anyDepth.files().map(\.lastPathComponent) == ["a.html", "bad.html", "genindex.html", "c.html", "d.html"])
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
        #expect(result.failures.map(\.path) == ["bad.html"])
        #expect(result.failures.first?.reason.contains("NUL byte") == true)
        #expect(result.fileCount == 6)
        #expect(progressCalls.maxDone == 6)

        // Same result on a second run: parallel reading does not change the output.
        let again = try reader.readCollection(source)
        #expect(again.documents == result.documents)
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
