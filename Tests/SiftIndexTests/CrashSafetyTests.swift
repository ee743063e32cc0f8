import Foundation
import SiftCore
import Testing
@testable import SiftIndex

/// Kills a real child process (this test binary, re-run on one test) at each step of an update and checks
/// that the index left behind is the previous, fully usable one — or the new one once the manifest is renamed.
@Suite struct CrashSafetyTests {
    static let childDirectoryVariable = "SIFT_INDEX_TEST_CHILD_DIR"

    /// The update the child performs: python changed, sqlite deleted, rust added.
    static func childUpdate(_ index: CollectionIndex) throws {
        let python2 = DocumentUpdate(id: "python.html", title: "Python 3", contentHash: "p2",
                                     chunks: [Corpus.chunk("python.html", 0, "Python supports generators and coroutines.")])
        let rust = DocumentUpdate(id: "rust.html", title: "Rust", contentHash: "r1",
                                  chunks: [Corpus.chunk("rust.html", 0, "Rust has ownership and borrowing.")])
        try index.update(upserting: [python2, rust], deleting: ["sqlite.html"], embedder: FakeEmbedder())
    }

    /// Runs only inside the child process started by `killedUpdatesLeaveAUsableIndex`.
    @Test(.enabled(if: ProcessInfo.processInfo.environment[CrashSafetyTests.childDirectoryVariable] != nil))
    func crashSafetyChild() throws {
        let folder = URL(fileURLWithPath: ProcessInfo.processInfo.environment[Self.childDirectoryVariable]!)
        try Self.childUpdate(try CollectionIndex.open(at: folder))
    }

    static func runChild(folder: URL, crashAt: String) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["--testing-library", "swift-testing", "--filter", "crashSafetyChild"]
        var environment = ProcessInfo.processInfo.environment
        environment[childDirectoryVariable] = folder.path
        environment["SIFT_INDEX_CRASH_AT"] = crashAt
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    @Test func killedUpdatesLeaveAUsableIndex() throws {
        let tmp = TempFolder()
        let points = ["database-copied", "database-written", "vectors-partly-written", "vectors-written", "manifest-written"]
        for point in points {
            let folder = tmp.sub(point)
            _ = try buildIndex(at: folder)
            let status = try Self.runChild(folder: folder, crashAt: point)
            #expect(status == 86, "child for \(point) exited with \(status), expected the crash hook's 86")

            let index = try CollectionIndex.open(at: folder, verify: true)
            let retriever = try Retriever(index: index, embedder: FakeEmbedder())
            if point == "manifest-written" {
                // Committed: the new generation is complete even though the process died before cleaning up.
                #expect(index.stats.generation == 3 && index.stats.chunks == 5)
                #expect(try index.documentIDs() == ["animals.html", "python.html", "rust.html"])
                #expect(try retriever.search("ownership borrowing", mode: .bm25).first?.chunkID == "rust.html#0")
            } else {
                #expect(index.stats.generation == 2 && index.stats.chunks == 7, "after crash at \(point)")
                #expect(try index.documentIDs() == ["animals.html", "python.html", "sqlite.html"])
                #expect(try retriever.search("bm25 ranking", mode: .bm25).first?.chunkID == "sqlite.html#0")
                #expect(try retriever.search("garbage collected", mode: .dense, topK: 1).first?.chunkID == "python.html#1")
                // The next update succeeds and removes the half-written generation's files.
                try Self.childUpdate(index)
                let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
                #expect(files == ["chunks.3.sqlite", "manifest.json", "vectors.3.f32"], "after crash at \(point)")
                #expect(try CollectionIndex.open(at: folder, verify: true).stats.chunks == 5)
            }
        }
    }
}
