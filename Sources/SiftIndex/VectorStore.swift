import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A corpus row (vector slot) with its similarity to a query.
public struct ScoredSlot: Sendable, Hashable {
    public var slot: Int
    public var score: Float

    public init(slot: Int, score: Float) {
        self.slot = slot
        self.score = score
    }
}

/// Exact inner-product search over a read-only memory-mapped `[count × dimension]` float32 file.
/// Vectors are addressed by slot (row); `CollectionIndex` maps slots to chunk ids, and its `vectors` is the
/// `VectorIndex` (by chunk id) built on this.
public final class FlatVectorStore: @unchecked Sendable {
    // Immutable after init; the mapping is read-only, so concurrent searches are safe.
    public let count: Int
    public let dimension: Int
    let url: URL
    private let file: MappedFile

    /// Maps `url`; its size must be exactly `count × dimension × 4` bytes.
    public init(url: URL, count: Int, dimension: Int) throws {
        precondition(count >= 0 && dimension > 0, "FlatVectorStore: bad shape \(count)×\(dimension)")
        let file = try MappedFile(url: url)
        let expected = count * dimension * MemoryLayout<Float>.size
        guard file.byteCount == expected else {
            throw IndexError.corrupted(path: url.path, reason: "size \(file.byteCount) bytes, expected \(expected) (\(count) vectors × \(dimension) floats); truncated or from another build")
        }
        self.file = file
        self.url = url
        self.count = count
        self.dimension = dimension
    }

    /// Calls `body` with the whole matrix, row-major `[count × dimension]`.
    public func withVectors<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try file.withBytes { raw in
            try body(raw.bindMemory(to: Float.self))
        }
    }

    /// The vector in `slot` (a copy).
    public func vector(at slot: Int) -> [Float] {
        precondition(slot >= 0 && slot < count, "slot \(slot) out of 0..<\(count)")
        return withVectors { Array($0[(slot * dimension)..<((slot + 1) * dimension)]) }
    }

    /// Checksum of the mapped bytes, to compare with the manifest.
    func checksum() -> String {
        var sum = Checksum()
        file.withBytes { sum.update($0) }
        return sum.hexDigest
    }

    public func search(queries: [[Float]], k: Int) throws -> [[ScoredSlot]] {
        var flat = [Float]()
        flat.reserveCapacity(queries.count * dimension)
        for (i, q) in queries.enumerated() {
            guard q.count == dimension else {
                throw IndexError.invalidRequest(reason: "query \(i) has \(q.count) dimensions, the index has \(dimension)")
            }
            flat.append(contentsOf: q)
        }
        return try searchFlat(flat, queryCount: queries.count, k: k)
    }

    /// Search with row-major queries; throws `corrupted` when a stored vector scores NaN or infinity.
    func searchFlat(_ flat: [Float], queryCount: Int, k: Int) throws -> [[ScoredSlot]] {
        guard flat.allSatisfy(\.isFinite) else { throw IndexError.invalidRequest(reason: "a query vector holds NaN or infinity") }
        var nonFinite: Int?
        let hits = flat.withUnsafeBufferPointer { qs in
            withVectors { corpus in
                ExactSearch.topK(queries: qs, queryCount: queryCount, corpus: corpus, corpusCount: count, dimension: dimension,
                                 k: k, nonFiniteSlot: &nonFinite)
            }
        }
        if let nonFinite {
            throw IndexError.corrupted(path: url.path, reason: "stored vector \(nonFinite) gives a NaN or infinite score; run `sift index --verify`, then `sift index --rebuild`")
        }
        return hits
    }
}

/// A read-only `mmap` of a whole file; unmapped on deinit.
final class MappedFile: @unchecked Sendable {
    let byteCount: Int
    private let base: UnsafeRawPointer?

    init(url: URL) throws {
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else {
            if errno == ENOENT { throw IndexError.corrupted(path: url.path, reason: "file is missing") }
            throw IndexError.storage(operation: "open", path: url.path, underlying: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw IndexError.storage(operation: "stat", path: url.path, underlying: String(cString: strerror(errno)))
        }
        byteCount = Int(info.st_size)
        if byteCount == 0 { base = nil; return }
        let pointer = mmap(nil, byteCount, PROT_READ, MAP_SHARED, fd, 0)
        guard let pointer, pointer != MAP_FAILED else {
            throw IndexError.storage(operation: "mmap", path: url.path, underlying: String(cString: strerror(errno)))
        }
        base = UnsafeRawPointer(pointer)
    }

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: byteCount))
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), byteCount) }
    }
}
