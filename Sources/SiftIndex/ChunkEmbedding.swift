import SiftCore

/// The embedding step of an update: a unit vector for every chunk of the documents, embedded in batches, or kept
/// from the store when the chunk's id and text did not change (same model input, same output).
public enum ChunkEmbedding {
    /// Vectors by chunk id, and how many were embedded and how many reused.
    public struct Result: Sendable {
        public var vectors: [String: [Float]]
        public var embedded: Int
        public var reused: Int

        public init(vectors: [String: [Float]], embedded: Int, reused: Int) {
            self.vectors = vectors
            self.embedded = embedded
            self.reused = reused
        }
    }

    /// Embeds the chunks of `documents`, keeping stored vectors from `store` (nil, as for a rebuild, embeds all).
    /// Throws `IndexError.embedding` when the embedder fails or returns unusable vectors; nothing is written here.
    /// `progress` counts embedded chunks.
    public static func vectors(for documents: [DocumentUpdate], reusingFrom store: (any CollectionStore)?,
                               embedder: any TextEmbedder, batchSize: Int,
                               progress: (@Sendable (IndexProgress) -> Void)? = nil) throws -> Result {
        precondition(batchSize > 0, "batchSize must be positive")
        let dimension = embedder.dimension
        let chunks = documents.flatMap(\.chunks)
        var vectors: [String: [Float]] = [:]
        if let store {
            let stored = try store.documents.chunkTexts(documentIDs: documents.map(\.id))
            let unchanged = chunks.filter { stored[$0.id] == $0.text }.map(\.id)
            vectors = try store.vectors.vectors(chunkIDs: unchanged)
        }
        let toEmbed = chunks.filter { vectors[$0.id] == nil }
        let reused = chunks.count - toEmbed.count
        progress?(IndexProgress(phase: .embedding, completed: 0, total: toEmbed.count))
        for start in stride(from: 0, to: toEmbed.count, by: batchSize) {
            let batch = toEmbed[start..<min(toEmbed.count, start + batchSize)]
            let output: [[Float]]
            do { output = try embedder.embed(batch.map(\.text)) } catch {
                throw IndexError.embedding(reason: "\(error)")
            }
            guard output.count == batch.count, output.allSatisfy({ $0.count == dimension }) else {
                throw IndexError.embedding(reason: "embedder returned \(output.count) vectors of sizes \(Set(output.map(\.count)).sorted()) for \(batch.count) texts, expected dimension \(dimension)")
            }
            if let bad = output.firstIndex(where: { !$0.allSatisfy(\.isFinite) }) {
                throw IndexError.embedding(reason: "the embedder returned NaN or infinity for chunk \(batch[batch.startIndex + bad].id); nothing was written")
            }
            for (chunk, vector) in zip(batch, output) {
                var row = vector
                normalizeRows(&row, dimension: dimension)
                vectors[chunk.id] = row
            }
            progress?(IndexProgress(phase: .embedding, completed: start + batch.count, total: toEmbed.count))
        }
        return Result(vectors: vectors, embedded: toEmbed.count, reused: reused)
    }
}
