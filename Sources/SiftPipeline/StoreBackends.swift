import Foundation
import SiftCore
import SiftIndex
import SiftPostgres

/// Opens the collection store that `index.type` names. One conformer per store type, built by the registry from
/// the validated `index` section; the runner reads and writes only through `CollectionStore`.
public protocol StoreBackend: Sendable {
    /// Where the index lives, safe to print: a folder, or PostgreSQL servers without credentials.
    var location: String { get }
    /// The store, for asking. Throws the store module's own error (the runner adds the hints).
    func openForReading() throws -> any CollectionStore
    /// The store with its writer lock held; with `rebuild`, an index made with another configuration is replaced.
    func openForWriting(configuration: IndexConfiguration, rebuild: Bool, wait: Bool,
                        onWait: ((Int?) -> Void)?) throws -> any WritableCollectionStore
    /// Changes whenever another process commits a new generation, and is cheap to read (a long-running reader
    /// compares it before each batch); nil when the store type cannot tell.
    func commitMarker() -> String?
}

extension StoreBackend {
    func commitMarker() -> String? { nil }
}

/// `index.type: local`: the embedded store in a folder (SQLite with FTS5 and a memory-mapped vector file).
struct LocalStoreBackend: StoreBackend {
    let folder: URL
    var location: String { folder.path }

    func openForReading() throws -> any CollectionStore { try CollectionIndex.open(at: folder) }

    /// The manifest's inode, size and modification time: a commit renames a new manifest into place.
    func commitMarker() -> String? {
        var info = stat()
        guard stat(folder.appendingPathComponent("manifest.json").path, &info) == 0 else { return nil }
        return "\(info.st_ino)-\(info.st_size)-\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
    }

    func openForWriting(configuration: IndexConfiguration, rebuild: Bool, wait: Bool,
                        onWait: ((Int?) -> Void)?) throws -> any WritableCollectionStore {
        try CollectionIndex.openForWriting(at: folder, configuration: configuration, rebuild: rebuild, wait: wait, onWait: onWait)
    }
}

/// `index.type: postgres`: PostgreSQL with pgvector, on one or more shards with optional read replicas.
struct PostgresStoreBackend: StoreBackend {
    let settings: PostgresSettings
    var location: String { PostgresStore.describe(settings) }

    func openForReading() throws -> any CollectionStore { try PostgresStore.open(settings) }

    func openForWriting(configuration: IndexConfiguration, rebuild: Bool, wait: Bool,
                        onWait: ((Int?) -> Void)?) throws -> any WritableCollectionStore {
        try PostgresStore.openForWriting(settings, configuration: configuration, rebuild: rebuild, wait: wait,
                                         onWait: onWait.map { callback in { _ in callback(nil) } })
    }

    /// Drops the index's schema on every shard (tests; no command does this).
    func drop() throws { try PostgresStore.dropIndex(settings) }
}
