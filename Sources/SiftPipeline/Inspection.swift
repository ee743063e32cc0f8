import Foundation
import SiftCore

/// What the reader extracted from one file and how the chunker cut it.
public struct Inspection: Sendable, Hashable, Codable {
    public var documents: [Document]
    /// Chunks per document, in the same order as `documents`.
    public var chunks: [[Chunk]]
}

extension PipelineRunner {
    /// Reads one file with the pipeline's reader rules and chunks it with its chunker settings (no embedding).
    /// The document id is the path relative to the source root when the file lies under it, else the file name.
    public func inspect(file: URL) throws -> Inspection {
        let root = config.source.root.path + "/"
        let path = file.standardizedFileURL.path
        let id = path.hasPrefix(root) ? String(path.dropFirst(root.count)) : file.lastPathComponent
        let documents: [Document]
        do { documents = try reader.read(fileAt: file, id: id) } catch {
            throw PipelineError.stage(.reader, underlying: error)
        }
        let chunker = try self.chunker()
        return Inspection(documents: documents, chunks: documents.map { chunker.chunk($0) })
    }
}
