import Foundation
import SiftCore
@testable import SiftIndex

/// Deterministic stand-in for the bi-encoder: a hashed bag of words (dimension 16) plus a bias component,
/// so texts sharing words are similar. Counts every text it embeds.
final class FakeEmbedder: TextEmbedder, @unchecked Sendable {
    let dimension: Int
    let modelIdentity: String
    private let lock = NSLock()
    private var embedded: [String] = []

    init(dimension: Int = 16, modelIdentity: String = "fake-bow-v1") {
        self.dimension = dimension
        self.modelIdentity = modelIdentity
    }

    var embeddedTexts: [String] { lock.lock(); defer { lock.unlock() }; return embedded }

    func embed(_ texts: [String]) throws -> [[Float]] {
        lock.lock(); embedded += texts; lock.unlock()
        return texts.map(Self.vector(dimension))
    }

    static func vector(_ dimension: Int) -> (String) -> [Float] {
        { text in
            var v = [Float](repeating: 0, count: dimension)
            v[0] = 0.1
            for word in LexicalQuery.terms(text) {
                var h: UInt64 = 0xcbf2_9ce4_8422_2325
                for b in word.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
                v[Int(h % UInt64(dimension - 1)) + 1] += (h >> 40) & 1 == 0 ? 1 : -1
            }
            return v
        }
    }
}

enum Corpus {
    static func chunk(_ doc: String, _ n: Int, _ text: String, headings: [String] = []) -> Chunk {
        Chunk(id: "\(doc)#\(n)", documentID: doc, anchor: n == 0 ? nil : "s\(n)", headingPath: headings,
              range: (n * 100)..<(n * 100 + text.unicodeScalars.count), text: text, tokenCount: text.split(separator: " ").count + 2)
    }

    static let python = DocumentUpdate(id: "python.html", title: "Python", contentHash: "p1", chunks: [
        chunk("python.html", 0, "Python is an interpreted high-level general-purpose programming language.", headings: ["Python"]),
        chunk("python.html", 1, "Python is dynamically typed and garbage collected.", headings: ["Python", "Memory"]),
    ])
    static let animals = DocumentUpdate(id: "animals.html", title: "Animals", contentHash: "a1", chunks: [
        chunk("animals.html", 0, "The quick brown fox jumps over the lazy dog.", headings: ["Foxes"]),
        chunk("animals.html", 1, "Cats sleep most of the day and hunt mice at night.", headings: ["Cats"]),
        chunk("animals.html", 2, "Café owners in Zürich keep naïve cats.", headings: ["Cats", "Cities"]),
    ])
    static let sqlite = DocumentUpdate(id: "sqlite.html", title: "SQLite", contentHash: "s1", chunks: [
        chunk("sqlite.html", 0, "SQLite full text search uses the FTS5 extension with bm25 ranking.", headings: ["FTS5"]),
        chunk("sqlite.html", 1, "The NEAR operator and column filters such as title: restrict matches.", headings: ["FTS5", "Syntax"]),
    ])
    static let all = [python, animals, sqlite]

    static func configuration(_ embedder: FakeEmbedder, chunker: String = "chunker-256-32", reader: String = "reader-v1") -> IndexConfiguration {
        IndexConfiguration(embedder: embedder, chunkerFingerprint: chunker, readerFingerprint: reader)
    }
}

/// A fresh temporary folder per test; removed on deinit.
final class TempFolder {
    let url: URL
    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("sift-index-tests-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func sub(_ name: String) -> URL { url.appendingPathComponent(name) }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Builds an index over `Corpus.all` in `folder`.
func buildIndex(at folder: URL, embedder: FakeEmbedder = FakeEmbedder()) throws -> CollectionIndex {
    let index = try CollectionIndex.create(at: folder, configuration: Corpus.configuration(embedder))
    try index.update(upserting: Corpus.all, embedder: embedder)
    return index
}

/// Text search as the runner composes it: the dense and lexical retrievers over an index's vector and lexical
/// indexes, fused for hybrid search.
struct TestSearch {
    enum Mode { case dense, bm25, hybrid(Fusion = .reciprocalRank(), depth: Int = 100) }
    let index: CollectionIndex
    let embedder: any TextEmbedder

    func search(_ query: String, mode: Mode, topK: Int = 10) throws -> [Candidate] {
        try search([query], mode: mode, topK: topK)[0]
    }

    func search(_ queries: [String], mode: Mode, topK: Int = 10) throws -> [[Candidate]] {
        let dense = DenseRetriever(index: index.vectors), lexical = LexicalRetriever(index: index.lexical)
        let texts = QueryBatch(texts: queries)
        func embedded() throws -> QueryBatch { QueryBatch(texts: queries, vectors: try embedder.embed(queries)) }
        switch mode {
        case .bm25:
            return try lexical.retrieve(texts, depth: topK).map { Candidate.ranked($0, by: .bm25) }
        case .dense:
            return try dense.retrieve(embedded(), depth: topK).map { Candidate.ranked($0, by: .dense) }
        case .hybrid(let fusion, let depth):
            let n = max(depth, topK)
            let d = try dense.retrieve(embedded(), depth: n), b = try lexical.retrieve(texts, depth: n)
            return queries.indices.map { fusion.fuse([.dense: d[$0], .bm25: b[$0]], topK: topK) }
        }
    }
}
