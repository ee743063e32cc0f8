import Foundation
import SiftCore
import Testing
@testable import SiftIndex

@Suite struct IndexLifecycleTests {
    @Test func buildReopenAndRead() throws {
        let tmp = TempFolder(), folder = tmp.sub("idx")
        let embedder = FakeEmbedder()
        let index = try CollectionIndex.create(at: folder, configuration: Corpus.configuration(embedder))
        let phases = ProgressLog()
        let summary = try index.update(upserting: Corpus.all, embedder: embedder, batchSize: 3) { phases.add($0) }
        #expect(summary.documents == 3 && summary.chunks == 7 && summary.chunksEmbedded == 7)
        #expect(summary.tokens == Corpus.all.flatMap(\.chunks).reduce(0) { $0 + $1.tokenCount })
        #expect(phases.items.first == IndexProgress(phase: .embedding, completed: 0, total: 7))
        #expect(phases.items.contains(IndexProgress(phase: .embedding, completed: 3, total: 7)))
        #expect(phases.items.last?.phase == .done)

        let reopened = try CollectionIndex.open(at: folder, expecting: Corpus.configuration(embedder), verify: true)
        #expect(reopened.stats.chunks == 7 && reopened.stats.documents == 3 && reopened.stats.generation == 2)
        #expect(try reopened.documentIDs() == ["animals.html", "python.html", "sqlite.html"])
        let original = Corpus.animals.chunks[2]
        #expect(try reopened.chunk(id: original.id) == original)
        #expect(try reopened.chunk(id: "nope") == nil)
        #expect(try reopened.chunks(ids: ["sqlite.html#1", "missing", "python.html#0"]).map(\.id) == ["sqlite.html#1", "python.html#0"])
        // Stored vectors are the normalised embeddings, slot order = insertion order.
        let store = reopened.flatVectors
        var expected = FakeEmbedder.vector(16)(original.text)
        normalizeRows(&expected, dimension: 16)
        let stored = store.vector(at: 4)
        for i in 0..<16 { #expect(abs(stored[i] - expected[i]) < 1e-6) }
        // The vector index hands out the same vector by chunk id.
        #expect(try reopened.vectors.vectors(chunkIDs: [original.id, "missing"]) == [original.id: stored])
        let manifestFiles = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(manifestFiles == ["chunks.2.sqlite", "manifest.json", "sift-index.json", "sift.lock", "vectors.2.f32"])
    }

    @Test func incrementalUpdateEmbedsOnlyChanges() throws {
        let tmp = TempFolder(), folder = tmp.sub("idx")
        let first = FakeEmbedder()
        _ = try buildIndex(at: folder, embedder: first)
        #expect(first.embeddedTexts.count == 7)

        let embedder = FakeEmbedder()
        let index = try CollectionIndex.open(at: folder, expecting: Corpus.configuration(embedder))
        // Unchanged collection: nothing to do.
        let same = try index.plan(for: Corpus.all.map { DocumentFingerprint(documentID: $0.id, contentHash: $0.contentHash) })
        #expect(same.isEmpty && same.unchanged.sorted() == ["animals.html", "python.html", "sqlite.html"])
        try index.update(upserting: [], embedder: embedder)
        #expect(embedder.embeddedTexts.isEmpty)

        // python changed, sqlite deleted, a new document added.
        let python2 = DocumentUpdate(id: "python.html", title: "Python 3", contentHash: "p2", chunks: [
            Corpus.chunk("python.html", 0, "Python supports generators and coroutines."),
        ])
        let rust = DocumentUpdate(id: "rust.html", title: "Rust", contentHash: "r1", chunks: [
            Corpus.chunk("rust.html", 0, "Rust has ownership and borrowing."),
        ])
        let plan = try index.plan(for: [
            DocumentFingerprint(documentID: "python.html", contentHash: "p2"),
            DocumentFingerprint(documentID: "animals.html", contentHash: "a1"),
            DocumentFingerprint(documentID: "rust.html", contentHash: "r1"),
        ])
        #expect(plan == UpdatePlan(new: ["rust.html"], changed: ["python.html"], unchanged: ["animals.html"], deleted: ["sqlite.html"]))
        #expect(plan.toEmbed == ["rust.html", "python.html"])
        let summary = try index.update(upserting: [python2, rust], deleting: plan.deleted, embedder: embedder)
        #expect(embedder.embeddedTexts == python2.chunks.map(\.text) + rust.chunks.map(\.text))
        #expect(summary.documents == 3 && summary.chunks == 5 && summary.documentsDeleted == 1 && summary.chunksEmbedded == 2)
        #expect(try index.documentIDs() == ["animals.html", "python.html", "rust.html"])
        #expect(try index.chunk(id: "sqlite.html#0") == nil)
        #expect(try index.chunk(id: "python.html#1") == nil)
        #expect(try index.bm25Search("bm25 ranking FTS5", topK: 5).isEmpty)

        // Kept vectors moved with their chunks: every chunk's own text is its best dense match.
        let reopened = try CollectionIndex.open(at: folder, verify: true)
        let texts = Corpus.animals.chunks + python2.chunks + rust.chunks
        let hits = try reopened.denseSearch(queryVectors: texts.map { FakeEmbedder.vector(16)($0.text) }, topK: 1)
        #expect(hits.map { $0.first?.chunkID } == texts.map(\.id))
        for h in hits { #expect(abs(h[0].score - 1) < 1e-5) }
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(files == ["chunks.4.sqlite", "manifest.json", "sift-index.json", "sift.lock", "vectors.4.f32"])
    }

    @Test func unchangedChunksOfAChangedDocumentKeepTheirVectors() throws {
        let tmp = TempFolder(), folder = tmp.sub("idx")
        let index = try buildIndex(at: folder)
        let kept = Corpus.python.chunks[0]
        let edited = Corpus.chunk("python.html", 1, "Python is dynamically typed; CPython uses reference counting.")
        let added = Corpus.chunk("python.html", 2, "Python has a large standard library.")
        let embedder = FakeEmbedder()
        let summary = try index.update(upserting: [DocumentUpdate(id: "python.html", title: "Python", contentHash: "p2",
                                                                  chunks: [kept, edited, added])], embedder: embedder)
        #expect(embedder.embeddedTexts == [edited.text, added.text])
        #expect(summary.chunksEmbedded == 2 && summary.chunksReused == 1 && summary.chunks == 8)
        let texts = [kept, edited, added]
        let hits = try CollectionIndex.open(at: folder, verify: true)
            .denseSearch(queryVectors: texts.map { FakeEmbedder.vector(16)($0.text) }, topK: 1)
        #expect(hits.map { $0.first?.chunkID } == texts.map(\.id))
        for h in hits { #expect(abs(h[0].score - 1) < 1e-5) }
        #expect(try index.chunk(id: edited.id)?.text == edited.text)
    }

    @Test func missingAndHalfWrittenIndexes() throws {
        let tmp = TempFolder()
        #expect(throws: IndexError.missingIndex(path: tmp.sub("absent").path)) { try CollectionIndex.open(at: tmp.sub("absent")) }
        let empty = tmp.sub("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        #expect(throws: IndexError.missingManifest(path: empty.path)) { try CollectionIndex.open(at: empty) }
        // A creation that never wrote its manifest left the marker, its staging record and a data file:
        // the next create removes exactly that file and starts again.
        try IndexFolder.writeMarker(in: empty)
        try StagingRecord(generation: 1, creating: ["chunks.1.sqlite", "vectors.1.f32"], retiring: []).write(folder: empty)
        try Data("junk".utf8).write(to: empty.appendingPathComponent("chunks.1.sqlite"))
        let created = try CollectionIndex.create(at: empty, configuration: Corpus.configuration(FakeEmbedder()))
        #expect(created.stats.chunks == 0 && created.stats.generation == 1)
        #expect(try CollectionIndex.open(at: empty, verify: true).stats.chunks == 0)
        #expect(throws: IndexError.alreadyExists(path: empty.path)) {
            try CollectionIndex.create(at: empty, configuration: Corpus.configuration(FakeEmbedder()))
        }

        let folder = tmp.sub("idx")
        let index = try buildIndex(at: folder)
        let vectors = folder.appendingPathComponent(index.manifest.vectorsFile)
        // Flip one byte: only `verify` notices.
        var bytes = try Data(contentsOf: vectors)
        bytes[5] ^= 0xff
        try bytes.write(to: vectors)
        _ = try CollectionIndex.open(at: folder)
        let checksumError = #expect(throws: IndexError.self) { try CollectionIndex.open(at: folder, verify: true) }
        #expect("\(checksumError!)".contains("checksum"))
        // Truncated: refused even without verify.
        try bytes.prefix(bytes.count - 4).write(to: vectors)
        let sizeError = #expect(throws: IndexError.self) { try CollectionIndex.open(at: folder) }
        #expect("\(sizeError!)".contains("size \(bytes.count - 4) bytes, expected \(bytes.count)"))
        // Missing database file.
        try FileManager.default.removeItem(at: folder.appendingPathComponent(index.manifest.databaseFile))
        try bytes.write(to: vectors)
        #expect(throws: IndexError.corrupted(path: folder.appendingPathComponent(index.manifest.databaseFile).path, reason: "database file is missing")) {
            try CollectionIndex.open(at: folder)
        }
        // Broken manifest.
        try Data("{\"formatVersion\": 1".utf8).write(to: folder.appendingPathComponent("manifest.json"))
        #expect(throws: IndexError.self) { try CollectionIndex.open(at: folder) }
    }

    @Test func incompatibleConfigurationsAreRefused() throws {
        let tmp = TempFolder(), folder = tmp.sub("idx")
        let embedder = FakeEmbedder()
        _ = try buildIndex(at: folder, embedder: embedder)
        let base = Corpus.configuration(embedder)
        var other = base; other.modelIdentity = "other-model"
        #expect(throws: IndexError.incompatible(field: "model", index: "fake-bow-v1", requested: "other-model")) {
            try CollectionIndex.open(at: folder, expecting: other)
        }
        other = base; other.dimension = 384
        #expect(throws: IndexError.incompatible(field: "dimension", index: "16", requested: "384")) {
            try CollectionIndex.open(at: folder, expecting: other)
        }
        other = base; other.chunkerFingerprint = "chunker-128-16"
        let e = #expect(throws: IndexError.self) { try CollectionIndex.openForWriting(at: folder, configuration: other) }
        #expect(e?.description == "index was built with chunker settings 'chunker-256-32', but 'chunker-128-16' was requested; rebuild the index or use the matching settings")
        other = base; other.readerFingerprint = "reader-v2"
        #expect(throws: IndexError.incompatible(field: "reader settings", index: "reader-v1", requested: "reader-v2")) {
            try CollectionIndex.open(at: folder, expecting: other)
        }
        let index = try CollectionIndex.open(at: folder, expecting: base)
        #expect(throws: IndexError.incompatible(field: "dimension", index: "16", requested: "8")) {
            try index.update(upserting: [], embedder: FakeEmbedder(dimension: 8))
        }
        #expect(throws: IndexError.incompatible(field: "model", index: "fake-bow-v1", requested: "x")) {
            try index.update(upserting: [], embedder: FakeEmbedder(modelIdentity: "x"))
        }
    }

    @Test func badEmbedderOutputLeavesIndexUntouched() throws {
        struct Broken: TextEmbedder {
            var dimension: Int { 16 }
            var modelIdentity: String { "fake-bow-v1" }
            func embed(_ texts: [String]) throws -> [[Float]] { texts.dropLast().map { _ in [Float](repeating: 1, count: 16) } }
        }
        let tmp = TempFolder(), folder = tmp.sub("idx")
        let index = try buildIndex(at: folder)
        #expect(throws: IndexError.self) {
            try index.update(upserting: [DocumentUpdate(id: "x.html", title: "X", contentHash: "x", chunks: [Corpus.chunk("x.html", 0, "x y")])],
                             embedder: Broken())
        }
        #expect(index.stats.generation == 2)
        #expect(try CollectionIndex.open(at: folder, verify: true).stats.chunks == 7)
    }
}

final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [IndexProgress] = []
    func add(_ p: IndexProgress) { lock.lock(); storage.append(p); lock.unlock() }
    var items: [IndexProgress] { lock.lock(); defer { lock.unlock() }; return storage }
}
