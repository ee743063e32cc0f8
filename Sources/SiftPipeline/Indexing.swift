import Foundation
import SiftCore
import SiftIndex
import SiftPostgres
import SiftReader

extension PipelineRunner {
    /// Brings the index up to date with the source folder: reads every file, hashes each document's extracted
    /// content, and chunks and embeds only new or changed documents; removed files are deleted from the index.
    /// A file that exists but cannot be read keeps its previously indexed version (reported in `kept`).
    /// With `rebuild`, every document is embedded afresh into a new generation (needed after changing the model,
    /// chunker or reader settings); the old one answers until the new one is committed.
    /// Only one process writes an index at a time: with `wait`, this waits for another writer (calling `onWait`
    /// with its pid), otherwise it fails at once.
    public func index(rebuild: Bool = false, wait: Bool = false, onWait: ((Int?) -> Void)? = nil,
                      progress: (@Sendable (IndexingProgress) -> Void)? = nil) throws -> IndexReport {
        let started = Date()
        var clock = StageClock()

        // Models first: a missing model fails before minutes of reading.
        let embedder = try self.embedder()
        let chunker = try self.chunker()
        if let limit = (embedder as? BatchedEmbedder)?.maxSequenceLength, config.chunker.maxTokens > limit {
            throw PipelineError.invalid([ConfigProblem(path: "chunker.max_tokens", line: nil,
                message: "\(config.chunker.maxTokens) exceeds the embedder's max_seq_length (\(limit)); the model would ignore the rest of each chunk")])
        }

        // The writer lock before reading: a second writer learns at once that it would have to wait.
        let wanted = indexConfiguration(embedder: embedder)
        let backend = try storeBackend()
        let index = try clock.run(.index) {
            try withRebuildHint { try backend.openForWriting(configuration: wanted, rebuild: rebuild, wait: wait, onWait: onWait) }
        }
        defer { index.releaseWriterLock() }

        let collection = try clock.run(.reader) {
            try reader.readCollection(config.source.collectionSource) { done, total in
                progress?(IndexingProgress(phase: .reading, completed: done, total: total))
            }
        }
        let documents = try readDocuments(collection)
        var plan = try clock.run(.index) {
            try withRebuildHint {
                try rebuild ? UpdatePlan(new: documents.fingerprints.map(\.documentID), changed: [], unchanged: [], deleted: [])
                            : index.plan(for: documents.fingerprints)
            }
        }
        // A file that is there but failed to read (or a folder that could not be listed) is not a deletion:
        // the documents it held keep their indexed version.
        let kept = plan.deleted.filter { collection.failure(covering: $0) != nil }
        plan.deleted.removeAll(where: Set(kept).contains)

        let updates: [DocumentUpdate] = try clock.run(.chunker) {
            plan.toEmbed.enumerated().compactMap { done, id in
                guard let document = documents.byID[id], let hash = documents.hashes[id] else { return nil }
                defer { progress?(IndexingProgress(phase: .chunking, completed: done + 1, total: plan.toEmbed.count)) }
                return DocumentUpdate(document: document, contentHash: hash, chunks: chunker.chunk(document))
            }
        }

        var embedded = ChunkEmbedding.Result(vectors: [:], embedded: 0, reused: 0)
        if rebuild || !plan.isEmpty {
            embedded = try clock.run(.embedder) {
                try ChunkEmbedding.vectors(for: updates, reusingFrom: rebuild ? nil : index, embedder: embedder,
                                           batchSize: config.embedder.batchSize) { step in
                    progress?(IndexingProgress(phase: .embedding, completed: step.completed, total: step.total))
                }
            }
            progress?(IndexingProgress(phase: .writing, completed: embedded.embedded, total: embedded.embedded))
            _ = try clock.run(.index) {
                try withRebuildHint { try index.apply(CollectionChange(upserting: updates, vectors: embedded.vectors, deleting: plan.deleted,
                                                                      rebuildingWith: rebuild ? wanted : nil)) }
            }
            progress?(IndexingProgress(phase: .done, completed: embedded.embedded, total: embedded.embedded))
        }
        index.releaseWriterLock()
        keep(store: index)
        let stats = index.stats
        let failures = collection.failures.map { failure in
            var file = SkippedFile(failure)
            if kept.contains(where: failure.covers(documentID:)) { file.reason += " (its previously indexed version was kept)" }
            return file
        }
        return IndexReport(indexPath: backend.location, filesRead: collection.fileCount, bytesRead: collection.byteCount,
                           documentsRead: documents.byID.count, new: plan.new.count, changed: plan.changed.count,
                           unchanged: plan.unchanged.count, deleted: plan.deleted.count, kept: kept.count, rebuilt: rebuild,
                           chunksEmbedded: embedded.embedded, documents: stats.documents, chunks: stats.chunks,
                           tokens: stats.tokens, skipped: failures,
                           timings: clock.timings, seconds: Date().timeIntervalSince(started))
    }

    /// An index built with other settings, or damaged, gets the command that rebuilds it.
    func withRebuildHint<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as IndexError {
            switch error {
            case .incompatible, .corrupted: throw PipelineError.stage(.index, underlying: error, hint: rebuildHint)
            default: throw error
            }
        } catch let error as PostgresError {
            switch error {
            case .incompatible, .damaged: throw PipelineError.stage(.index, underlying: error, hint: rebuildHint)
            default: throw error
            }
        }
    }

    /// The documents read, each once (the first of a repeated id), with the hash of its extracted content.
    /// Throws when no file matched or none could be read: the index is then left as it was.
    private func readDocuments(_ collection: CollectionReadResult)
        throws -> (byID: [String: Document], hashes: [String: String], fingerprints: [DocumentFingerprint]) {
        if collection.fileCount == 0 {
            throw PipelineError.stage(.reader, underlying: ReaderError.noFiles(root: config.source.root.path, include: config.source.include,
                                                                                 exclude: config.source.exclude))
        }
        if collection.documents.isEmpty {
            throw PipelineError.stage(.reader, underlying: ReaderError.nothingReadable(fileCount: collection.fileCount,
                                                                                         first: collection.failures.first.map(\.description) ?? "?"))
        }
        var hashes: [String: String] = [:]
        var byID: [String: Document] = [:]
        for document in collection.documents where byID[document.id] == nil {
            byID[document.id] = document
            hashes[document.id] = StableDigest.hex([document.title, document.language ?? "", document.text]
                + document.blocks.map { "\($0.kind.rawValue)|\($0.anchor ?? "")|\($0.headingPath.joined(separator: "\u{1f}"))|\($0.range)" })
        }
        let fingerprints = collection.documents.compactMap { doc in hashes[doc.id].map { DocumentFingerprint(documentID: doc.id, contentHash: $0) } }
        return (byID, hashes, fingerprints)
    }
}
