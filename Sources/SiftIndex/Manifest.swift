import Foundation
import SiftCore

extension IndexConfiguration {
    /// Throws `IndexError.incompatible` naming the first setting that differs from `requested`.
    public func check(against requested: IndexConfiguration) throws {
        if let m = mismatch(with: requested) { throw IndexError.incompatible(field: m.field, index: m.index, requested: m.requested) }
    }
}

/// `manifest.json`: the commit point of an index. It names the data files of the current generation;
/// files of other generations are leftovers of interrupted updates and are deleted by the next update.
public struct IndexManifest: Sendable, Hashable, Codable {
    public static let currentFormatVersion = 1

    public var formatVersion: Int
    public var configuration: IndexConfiguration
    /// Increases by one per committed update.
    public var generation: Int
    /// File names (inside the index folder) of this generation.
    public var databaseFile: String
    public var vectorsFile: String
    public var documentCount: Int
    public var chunkCount: Int
    public var tokenCount: Int
    /// Size of the vectors file: chunkCount × dimension × 4.
    public var vectorsByteCount: Int
    /// `Checksum.fnv1a64` of the vectors file, lowercase hex.
    public var vectorsChecksum: String
    public var created: Date
    public var updated: Date

    static func fileNames(generation: Int) -> (database: String, vectors: String) {
        ("chunks.\(generation).sqlite", "vectors.\(generation).f32")
    }
}

enum ManifestIO {
    static let fileName = "manifest.json"

    static func read(folder: URL) throws -> IndexManifest {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw IndexError.missingIndex(path: folder.path)
        }
        let url = folder.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw IndexError.missingManifest(path: folder.path)
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw IndexError.storage(operation: "reading manifest", path: url.path, underlying: error.localizedDescription)
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let manifest: IndexManifest
        do { manifest = try decoder.decode(IndexManifest.self, from: data) } catch {
            throw IndexError.badManifest(path: url.path, reason: "\(error)")
        }
        guard manifest.formatVersion == IndexManifest.currentFormatVersion else {
            throw IndexError.badManifest(path: url.path, reason: "format version \(manifest.formatVersion), this build reads \(IndexManifest.currentFormatVersion)")
        }
        return manifest
    }

    /// Publishes `manifest.json` atomically (`FileIO.publish`: a synced `.tmp`, then a rename).
    static func write(_ manifest: IndexManifest, folder: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let url = folder.appendingPathComponent(fileName)
        do {
            try FileIO.publish(try encoder.encode(manifest), at: url)
        } catch let error as IndexError {
            throw error
        } catch {
            throw IndexError.storage(operation: "writing manifest", path: url.path, underlying: "\(error)")
        }
    }
}
