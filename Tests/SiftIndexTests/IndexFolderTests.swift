import Foundation
import SiftCore
import Testing
@testable import SiftIndex
#if canImport(Glibc)
import Glibc
#endif

/// The index folder's rules at the library level: what is refused, the writer lock, rebuilds as a new generation,
/// failed runs that leave nothing behind, and vectors checked at write and search time.
@Suite struct IndexFolderTests {
    static func files(_ folder: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
    }

    @Test func onlySiftFoldersAreWrittenInto() throws {
        let tmp = TempFolder()
        let config = Corpus.configuration(FakeEmbedder())
        let file = tmp.sub("file")
        try Data("keep".utf8).write(to: file)
        let dotfiles = tmp.sub("dotfiles")
        try FileManager.default.createDirectory(at: dotfiles.appendingPathComponent(".git"), withIntermediateDirectories: true)
        for target in [file, dotfiles] {
            let error = #expect(throws: IndexError.self) { try CollectionIndex.openForWriting(at: target, configuration: config, rebuild: true) }
            guard case .notAnIndex(let path, _)? = error else { Issue.record("\(String(describing: error))"); continue }
            #expect(path == target.path)
        }
        #expect(try String(contentsOf: file, encoding: .utf8) == "keep")
        #expect(try Self.files(dotfiles) == [".git"])

        // An index made before the marker existed (manifest only) is recognised, and gets the marker.
        let legacy = tmp.sub("legacy")
        _ = try buildIndex(at: legacy)
        try FileManager.default.removeItem(at: legacy.appendingPathComponent(IndexFolder.markerName))
        #expect(try IndexFolder.classify(legacy) == .index(hasMarker: false))
        let reopened = try CollectionIndex.openForWriting(at: legacy, configuration: config)
        reopened.releaseWriterLock()
        #expect(try IndexFolder.classify(legacy) == .index(hasMarker: true))
        #expect(reopened.stats.chunks == 7)
    }

    @Test func oneWriterHoldsTheLock() throws {
        let tmp = TempFolder(), folder = tmp.sub("idx")
        let config = Corpus.configuration(FakeEmbedder())
        let writer = try CollectionIndex.openForWriting(at: folder, configuration: config)
        #expect(throws: IndexError.locked(path: folder.path, pid: Int(getpid()))) {
            try CollectionIndex.openForWriting(at: folder, configuration: config)
        }
        // An update through another instance needs the lock too.
        #expect(throws: IndexError.locked(path: folder.path, pid: Int(getpid()))) {
            try CollectionIndex.open(at: folder).update(upserting: [Corpus.python], embedder: FakeEmbedder())
        }
        // A waiting writer gets the lock once the first lets go.
        let waited = LockedFlag()
        let thread = Thread {
            let second = try? CollectionIndex.openForWriting(at: folder, configuration: config, wait: true, onWait: { pid in
                waited.set(pid == Int(getpid()))
            })
            second?.releaseWriterLock()
            waited.finish(acquired: second != nil)
        }
        thread.start()
        while !waited.isSet && !waited.isFinished { usleep(1000) }
        writer.releaseWriterLock()
        while !waited.isFinished { usleep(1000) }
        #expect(waited.value && waited.acquired, "the second writer waited for this process and then got the lock")
    }

    @Test func aRebuildIsANewGenerationAndTheOldOneAnswersUntilItCommits() throws {
        let tmp = TempFolder(), folder = tmp.sub("idx")
        _ = try buildIndex(at: folder)
        let rebuilt = Corpus.configuration(FakeEmbedder(), chunker: "chunker-128-16")
        // While the rebuild embeds, a reader opening the index sees the old generation, whole.
        let probe = ProbingEmbedder { try CollectionIndex.open(at: folder, verify: true).stats }
        let writer = try CollectionIndex.openForWriting(at: folder, configuration: rebuilt, rebuild: true)
        let summary = try writer.update(upserting: [Corpus.animals], rebuildingWith: rebuilt, embedder: probe)
        writer.releaseWriterLock()
        #expect(probe.seen.map(\.generation) == [2] && probe.seen.map(\.chunks) == [7])
        #expect(summary.documents == 1 && summary.chunksEmbedded == 3 && summary.documentsDeleted == 3)
        let after = try CollectionIndex.open(at: folder, expecting: rebuilt, verify: true)
        #expect(after.stats.generation == 3 && after.stats.chunks == 3 && after.verify() == [])
        #expect(try Self.files(folder) == ["chunks.3.sqlite", "manifest.json", "sift-index.json", "sift.lock", "vectors.3.f32"])
    }

    @Test func aFailedUpdateLeavesNothingBehind() throws {
        struct NaNEmbedder: TextEmbedder {
            var dimension: Int { 16 }
            var modelIdentity: String { "fake-bow-v1" }
            func embed(_ texts: [String]) throws -> [[Float]] { texts.map { _ in [Float](repeating: .nan, count: 16) } }
        }
        let tmp = TempFolder(), folder = tmp.sub("idx")
        let index = try buildIndex(at: folder)
        let before = try Self.files(folder)
        let rust = DocumentUpdate(id: "rust.html", title: "Rust", contentHash: "r1", chunks: [Corpus.chunk("rust.html", 0, "Rust has ownership.")])
        let error = #expect(throws: IndexError.self) { try index.update(upserting: [rust], embedder: NaNEmbedder()) }
        #expect("\(error!)".contains("NaN or infinity for chunk rust.html#0"))
        #expect(try Self.files(folder) == before)

        // A run killed after staging: the record names its files; the next writer removes exactly those.
        try StagingRecord(generation: 3, creating: ["chunks.3.sqlite", "vectors.3.f32"], retiring: ["chunks.2.sqlite", "vectors.2.f32"])
            .write(folder: folder)
        try Data("half".utf8).write(to: folder.appendingPathComponent("chunks.3.sqlite"))
        try Data("half".utf8).write(to: folder.appendingPathComponent("chunks.3.sqlite-journal"))
        try CollectionIndex.openForWriting(at: folder, configuration: Corpus.configuration(FakeEmbedder())).releaseWriterLock()
        #expect(try Self.files(folder) == before)
        #expect(try CollectionIndex.open(at: folder, verify: true).stats.chunks == 7)
    }

    @Test func damagedVectorsAreCaught() throws {
        let tmp = TempFolder(), folder = tmp.sub("idx")
        let index = try buildIndex(at: folder)
        let vectors = folder.appendingPathComponent(index.manifest.vectorsFile)
        let count = try Data(contentsOf: vectors).count / 4
        try Data([Float](repeating: .nan, count: count).withUnsafeBytes { Array($0) }).write(to: vectors)
        let reader = try CollectionIndex.open(at: folder)
        let search = #expect(throws: IndexError.self) {
            try reader.denseSearch(queryVectors: [FakeEmbedder.vector(16)("cats")], topK: 3)
        }
        #expect("\(search!)".contains("NaN or infinite score"))
        #expect(reader.verify().contains { $0.contains("checksum") } && reader.verify().contains { $0.contains("NaN") })
        // Writing refuses a damaged generation; a rebuild replaces it.
        let config = Corpus.configuration(FakeEmbedder())
        #expect(throws: IndexError.self) { try CollectionIndex.openForWriting(at: folder, configuration: config) }
        let writer = try CollectionIndex.openForWriting(at: folder, configuration: config, rebuild: true)
        try writer.update(upserting: Corpus.all, rebuildingWith: config, embedder: FakeEmbedder())
        #expect(writer.verify() == [])
    }
}

/// An embedder that runs `probe` on every call (to look at the index while an update embeds).
final class ProbingEmbedder: TextEmbedder, @unchecked Sendable {
    let dimension = 16
    let modelIdentity = "fake-bow-v1"
    private let probe: () throws -> IndexStats
    private(set) var seen: [IndexStats] = []

    init(probe: @escaping () throws -> IndexStats) { self.probe = probe }

    func embed(_ texts: [String]) throws -> [[Float]] {
        seen.append(try probe())
        return texts.map(FakeEmbedder.vector(16))
    }
}

/// A flag set from another thread.
final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var state: (set: Bool, value: Bool, finished: Bool, acquired: Bool) = (false, false, false, false)
    func set(_ value: Bool) { lock.lock(); state.set = true; state.value = value; lock.unlock() }
    func finish(acquired: Bool) { lock.lock(); state.finished = true; state.acquired = acquired; lock.unlock() }
    var acquired: Bool { lock.lock(); defer { lock.unlock() }; return state.acquired }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return state.set }
    var isFinished: Bool { lock.lock(); defer { lock.unlock() }; return state.finished }
    var value: Bool { lock.lock(); defer { lock.unlock() }; return state.value }
}
