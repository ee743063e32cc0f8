import Foundation
import SiftCore
import SiftIndex

/// What `copyIndex` did.
public struct CopyReport: Sendable, Hashable {
    public var from: String
    public var to: String
    public var documents: Int
    public var chunks: Int
    public var seconds: Double
}

extension PipelineRunner {
    /// The index of another pipeline file (`.yaml`/`.yml`) or a local index folder, opened for reading: the source
    /// of `sift index --copy-from`.
    public static func openStore(copyingFrom path: String) throws -> (store: any CollectionStore, location: String) {
        let url = URL(fileURLWithPath: (path as NSString).expandingTildeInPath)
        if ["yaml", "yml"].contains(url.pathExtension.lowercased()) {
            let runner = try PipelineRunner(config: PipelineConfig.load(contentsOf: url))
            return (try runner.openIndex(), runner.indexLocation)
        }
        do { return (try CollectionIndex.open(at: url), url.path) } catch IndexError.missingIndex {
            throw PipelineError.indexMissing(path: url.path, hint: "--copy-from takes an index folder or a pipeline file")
        } catch {
            throw PipelineError.stage(.index, underlying: error, hint: nil)
        }
    }

    /// Replaces this pipeline's index with a copy of `source`: documents, chunks and their stored vectors, so
    /// nothing is embedded again. Moves an index between store types (SQLite folder ⇄ PostgreSQL). The source must
    /// have been built with this pipeline's model, chunker and reader settings, since later `sift index` runs
    /// update it with them. One atomic change: readers see the old index or the whole copy.
    public func copyIndex(from source: any CollectionStore, sourceLocation: String, wait: Bool = false,
                          progress: (@Sendable (IndexingProgress) -> Void)? = nil) throws -> CopyReport {
        let started = Date()
        var clock = StageClock()
        let wanted = indexConfiguration(embedder: try embedder())
        if let difference = source.configuration.mismatch(with: wanted) {
            throw PipelineError.stage(.index, underlying: IndexError.incompatible(field: difference.field, index: difference.index,
                                                                                requested: difference.requested),
                                      hint: "copy from an index built with this pipeline's settings, or run `sift index --rebuild`")
        }
        let backend = try storeBackend()
        let target = try clock.run(.index) {
            try withRebuildHint { try backend.openForWriting(configuration: wanted, rebuild: true, wait: wait, onWait: nil) }
        }
        defer { target.releaseWriterLock() }
        let ids = try source.documents.documentIDs()
        var updates: [DocumentUpdate] = []
        var vectors: [String: [Float]] = [:]
        let batch = 200
        for start in stride(from: 0, to: ids.count, by: batch) {
            let part = Array(ids[start..<min(ids.count, start + batch)])
            let documents = try source.documents.export(documentIDs: part)
            let chunkIDs = documents.flatMap { $0.chunks.map(\.id) }
            let found = try source.vectors.vectors(chunkIDs: chunkIDs)
            if let missing = chunkIDs.first(where: { found[$0] == nil }) {
                throw PipelineError.stage(.index, underlying: IndexError.corrupted(path: sourceLocation, reason: "chunk \(missing) has no vector"),
                                          hint: "check it with `sift index --verify`")
            }
            updates += documents
            vectors.merge(found) { a, _ in a }
            progress?(IndexingProgress(phase: .reading, completed: min(ids.count, start + batch), total: ids.count))
        }
        progress?(IndexingProgress(phase: .writing, completed: updates.count, total: updates.count))
        let summary = try clock.run(.index) {
            try withRebuildHint { try target.apply(CollectionChange(upserting: updates, vectors: vectors, rebuildingWith: wanted)) }
        }
        target.releaseWriterLock()
        keep(store: target)
        return CopyReport(from: sourceLocation, to: backend.location, documents: summary.documents, chunks: summary.chunks,
                          seconds: Date().timeIntervalSince(started))
    }
}
