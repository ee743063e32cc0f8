import Foundation
import SiftCore
import SiftTestSupport
import Testing
@testable import SiftIndex
#if canImport(Glibc)
import Glibc
#endif

/// Kills a real child process (this test binary, re-run on one test) with SIGKILL at seeded random instants while
/// it commits update after update, with a reader running beside it, and checks that every index left behind is
/// one complete committed generation, and that the next update cleans up exactly what the killed one left.
@Suite struct CrashSafetyTests {
    static let childDirectoryVariable = "SIFT_INDEX_TEST_CHILD_DIR"
    static let baseDocuments = 400
    /// Wide enough that no two chunks' hashed bags of words coincide.
    static let embedder = FakeEmbedder(dimension: 256)

    /// Base corpus: large enough that copying the database and writing the vectors take a visible share of each update.
    static func baseCorpus() -> [DocumentUpdate] {
        (0..<baseDocuments).map { d in
            let id = "page\(d).html"
            return DocumentUpdate(id: id, title: "Page \(d)", contentHash: "h\(d)",
                                  chunks: (0..<4).map { Corpus.chunk(id, $0, "w\(d)x\($0) y\(d * 7 + $0) z\(d * 13 + $0)") })
        }
    }

    /// Update number `i`: rewrites counter.html to say `i`, and adds toggle.html when `i` is odd, removes it when even.
    static func update(_ i: Int, on index: CollectionIndex) throws {
        let counter = DocumentUpdate(id: "counter.html", title: "Counter", contentHash: "c\(i)",
                                     chunks: [Corpus.chunk("counter.html", 0, "counter value n\(i)")])
        let toggle = DocumentUpdate(id: "toggle.html", title: "Toggle", contentHash: "t",
                                    chunks: [Corpus.chunk("toggle.html", 0, "toggle page is present")])
        try index.update(upserting: i % 2 == 1 ? [counter, toggle] : [counter], deleting: i % 2 == 1 ? [] : ["toggle.html"],
                         embedder: embedder)
    }

    /// Runs only inside the child process: commits updates 1, 2, 3, … until killed.
    @Test(.enabled(if: ProcessInfo.processInfo.environment[CrashSafetyTests.childDirectoryVariable] != nil))
    func crashSafetyChild() throws {
        let folder = URL(fileURLWithPath: ProcessInfo.processInfo.environment[Self.childDirectoryVariable]!)
        let index = try CollectionIndex.open(at: folder)
        var i = 1
        while true {
            try Self.update(i, on: index)
            i += 1
        }
    }

    static func startChild(folder: URL) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["--testing-library", "swift-testing", "--filter", "crashSafetyChild"]
        var environment = ProcessInfo.processInfo.environment
        environment[childDirectoryVariable] = folder.path
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// What a committed generation must look like: complete, self-consistent, with vectors matching its chunks.
    /// Returns the counter value it holds (0 before the first update).
    static func checkCommitted(_ index: CollectionIndex, context: String) throws -> Int {
        let ids = try index.documentIDs()
        let counter = try index.chunk(id: "counter.html#0")?.text
        let value = counter.flatMap { Int($0.split(separator: "n").last ?? "") } ?? 0
        #expect(ids.count == baseDocuments + (value == 0 ? 0 : 1) + (value % 2), "\(context): \(ids.count) documents with counter \(value)")
        #expect(ids.contains("toggle.html") == (value % 2 == 1), "\(context): toggle.html present with counter \(value)")
        // Each probed chunk's own vector finds it: vectors and database belong to the same generation.
        var probes = ["page0.html#0", "page\(baseDocuments - 1).html#3"]
        if value > 0 { probes.append("counter.html#0") }
        for id in probes {
            let text = try #require(try index.chunk(id: id)?.text, "\(context): \(id)")
            let hit = try index.denseSearch(queryVectors: [FakeEmbedder.vector(256)(text)], topK: 1)[0].first
            #expect(hit?.chunkID == id && abs((hit?.score ?? 0) - 1) < 1e-4, "\(context): \(id) → \(String(describing: hit))")
        }
        return value
    }

    @Test func killedUpdatesLeaveTheLastCommittedGeneration() throws {
        let tmp = TempFolder()
        var random = SplitMix64(state: 0x5EED_0016)
        let instants = 20
        var valuesSeen = Set<Int>()
        for run in 0..<instants {
            let folder = tmp.sub("run\(run)")
            let index = try CollectionIndex.create(at: folder, configuration: Corpus.configuration(Self.embedder))
            try index.update(upserting: Self.baseCorpus(), embedder: Self.embedder)
            // 150–1350 ms: from the child's start-up through several committed updates.
            let delay = 0.15 + Double(random.below(1200)) / 1000
            let child = try Self.startChild(folder: folder)
            let deadline = Date().addingTimeInterval(delay)
            var reads = 0
            // A reader beside the writer: every open succeeds and sees one whole generation.
            while Date() < deadline {
                let reader = try CollectionIndex.open(at: folder)
                _ = try Self.checkCommitted(reader, context: "reader during run \(run)")
                reads += 1
            }
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            #expect(child.terminationReason == .uncaughtSignal, "run \(run): the child ended before it was killed")
            #expect(reads > 0)

            let survivor = try CollectionIndex.open(at: folder, verify: true)
            #expect(survivor.verify() == [], "run \(run) after kill at \(delay) s")
            let value = try Self.checkCommitted(survivor, context: "run \(run) after kill at \(delay) s")
            valuesSeen.insert(value)
            // The next writer removes what the killed one staged, and only that.
            try Self.update(value + 1, on: survivor)
            #expect(try Self.checkCommitted(try CollectionIndex.open(at: folder, verify: true), context: "run \(run) next") == value + 1)
            let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
            let g = survivor.stats.generation
            #expect(files == ["chunks.\(g).sqlite", "manifest.json", "sift-index.json", "sift.lock", "vectors.\(g).f32"], "run \(run)")
        }
        // The instants spread over the child's life: some before its first commit, most after several.
        #expect(valuesSeen.count >= 5, "kill instants hit only counter values \(valuesSeen.sorted())")
    }
}
