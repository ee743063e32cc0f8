import Foundation
import SiftCore
import SiftIndex

/// Model-level tools behind `sift embed`, `similarity`, `search`, `mine` and `rerank`: sentence-transformers'
/// utilities over texts, with no index or pipeline involved.
public struct ModelTools: Sendable {
    public let embedder: any TextEmbedder

    /// Loads the bi-encoder in `modelFolder` (a sentence-transformers folder); `batchSize` texts per forward pass.
    public init(modelFolder: URL, batchSize: Int = 32) throws {
        embedder = try StageLoader.biEncoder(EmbedderConfig(model: modelFolder, batchSize: batchSize))
    }

    /// Tools over an embedder already loaded (a server's).
    public init(embedder: any TextEmbedder) {
        self.embedder = embedder
    }

    /// Vectors, one per text, in input order. Shape [texts.count × dimension].
    public func embed(_ texts: [String]) throws -> [[Float]] {
        do { return try embedder.embed(texts) } catch let error as PipelineError { throw error } catch {
            throw PipelineError.stage(.embedder, underlying: error)
        }
    }

    /// `cos_sim` of every pair of texts. Shape [a.count × b.count].
    public func similarity(_ a: [String], _ b: [String]) throws -> [[Float]] {
        SentenceTransformersUtil.cosSim(try embed(a), try embed(b))
    }

    /// `cos_sim` of every pair of `sentences`, embedding each once. Shape [n × n].
    public func similarity(_ sentences: [String]) throws -> [[Float]] {
        let vectors = try embed(sentences)
        return SentenceTransformersUtil.cosSim(vectors, vectors)
    }

    /// For each query, the `topK` most similar corpus texts (index into `corpus`, cosine), best first.
    public func search(queries: [String], corpus: [String], topK: Int) throws -> [[(corpusID: Int, score: Float)]] {
        SentenceTransformersUtil.semanticSearch(queryEmbeddings: try embed(queries), corpusEmbeddings: try embed(corpus), topK: topK)
    }

    /// Paraphrase pairs (i < j) by cosine, best first.
    public func mine(_ sentences: [String], topK: Int = 100, maxPairs: Int = 500_000) throws -> [(score: Float, i: Int, j: Int)] {
        SentenceTransformersUtil.paraphraseMining(embeddings: try embed(sentences), topK: topK, maxPairs: maxPairs)
    }

    /// Cross-encoder scores of (query, passage) pairs with the checkpoint in `modelFolder`, in passage order.
    public static func rerankScores(modelFolder: URL, query: String, passages: [String], maxTokens: Int = 512,
                                    truncation: TruncationPolicy = .onlySecond, batchSize: Int = 16) throws -> [Float] {
        let scorer = try StageLoader.crossEncoder(RerankerConfig(model: modelFolder, topK: max(1, passages.count), maxTokens: maxTokens,
                                                                 truncation: truncation, batchSize: batchSize))
        return try scorer.scores(query: query, passages: passages)
    }
}

/// NumPy `.npy` (format 1.0, little-endian float32, C order) for `sift embed --output x.npy`.
public enum NPYFile {
    /// The file bytes for a [rows × columns] matrix; every row must have `columns` values.
    public static func data(_ rows: [[Float]], columns: Int) -> Data {
        precondition(rows.allSatisfy { $0.count == columns }, "NPY rows must all have \(columns) values")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows.count), \(columns)), }"
        // Magic (6) + version (2) + header length (2) + header + newline, padded to a multiple of 64 bytes.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xff), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        for row in rows {
            for value in row {
                let bits = value.bitPattern.littleEndian
                withUnsafeBytes(of: bits) { data.append(contentsOf: $0) }
            }
        }
        return data
    }
}
