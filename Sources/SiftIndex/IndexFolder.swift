import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The rules for what Sift may create, overwrite and delete in an index folder.
///
/// Sift only removes files it can prove it wrote. A folder is a Sift index when it holds the marker file
/// (`sift-index.json`, written before any data file) or a readable `manifest.json` (indexes made before the
/// marker existed). Inside such a folder the only files ever removed are the ones a committed manifest or the
/// staging record (`staging.json`, written before a generation's files are created) names. Anything else —
/// a regular file at the index path, a folder with other content — is refused with its path.
enum IndexFolder {
    static let markerName = "sift-index.json"
    static let lockName = "sift.lock"
    static let stagingName = "staging.json"

    enum Kind: Equatable {
        /// Nothing at the path yet.
        case absent
        /// An existing folder with nothing in it but (possibly) Sift's lock file.
        case empty
        /// A folder Sift can prove is an index (marker or manifest).
        case index(hasMarker: Bool)
    }

    /// Classifies `folder`, throwing `notAnIndex` for anything Sift must not write into.
    static func classify(_ folder: URL) throws -> Kind {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) else { return .absent }
        guard isDirectory.boolValue else {
            throw IndexError.notAnIndex(path: folder.path, reason: "it is a file, not a folder; point index.path at a folder")
        }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder.path) } catch {
            throw IndexError.storage(operation: "listing index folder", path: folder.path, underlying: error.localizedDescription)
        }
        if names.contains(markerName) { return .index(hasMarker: true) }
        if names.contains(ManifestIO.fileName), (try? ManifestIO.read(folder: folder)) != nil { return .index(hasMarker: false) }
        if names.allSatisfy({ $0 == lockName }) { return .empty }
        let shown = names.sorted().prefix(3).joined(separator: ", ") + (names.count > 3 ? ", …" : "")
        throw IndexError.notAnIndex(path: folder.path,
            reason: "the folder holds files Sift did not write (\(shown)); choose an empty or new folder for index.path")
    }

    /// Writes the marker (synced) so that later runs can prove the folder is Sift's.
    static func writeMarker(in folder: URL) throws {
        let text = "{\"what\": \"Sift index folder: Sift may delete the files its manifest.json and staging.json name\", \"format\": 1}\n"
        try FileIO.writeSynced(Data(text.utf8), to: folder.appendingPathComponent(markerName))
        FileIO.syncDirectory(folder)
    }

    /// SQLite may leave these beside a database it had open.
    static func withSidecars(_ name: String) -> [String] {
        name.hasSuffix(".sqlite") ? [name, name + "-journal", name + "-wal", name + "-shm"] : [name]
    }
}

/// `staging.json`: the files a generation is about to create and the files it will retire once committed.
/// Written before any of them is touched, so a run killed at any instant leaves a record of exactly what to clean.
struct StagingRecord: Codable, Equatable {
    var generation: Int
    var creating: [String]
    var retiring: [String]

    static func read(folder: URL) -> StagingRecord? {
        guard let data = try? Data(contentsOf: folder.appendingPathComponent(IndexFolder.stagingName)) else { return nil }
        return try? JSONDecoder().decode(StagingRecord.self, from: data)
    }

    func write(folder: URL) throws {
        let url = folder.appendingPathComponent(IndexFolder.stagingName)
        let data: Data
        do { data = try JSONEncoder().encode(self) } catch {
            throw IndexError.storage(operation: "encoding staging record", path: url.path, underlying: "\(error)")
        }
        try FileIO.publish(data, at: url)
    }

    /// Removes every file the record (and an unfinished record write) names except those of the committed
    /// `manifest`, then the record itself. Called under the writer lock only.
    static func clean(folder: URL, keeping manifest: IndexManifest?) {
        let keep = Set([manifest?.databaseFile, manifest?.vectorsFile].compactMap { $0 })
        if let record = read(folder: folder) {
            for name in (record.creating + record.retiring) where !keep.contains(name) {
                for file in IndexFolder.withSidecars(name) { FileIO.removeIfPresent(folder.appendingPathComponent(file)) }
            }
        }
        for name in [IndexFolder.stagingName, IndexFolder.stagingName + ".tmp", ManifestIO.fileName + ".tmp"] {
            FileIO.removeIfPresent(folder.appendingPathComponent(name))
        }
    }
}

/// An exclusive advisory lock (`flock`) on `sift.lock` in the index folder, held by the one process that may
/// write the index. The kernel drops it when the process dies, even by `kill -9`, so it never goes stale.
/// Readers never take it: they read whichever generation the manifest names.
final class IndexLock: @unchecked Sendable {
    private var fd: Int32

    private init(fd: Int32) { self.fd = fd }

    /// Takes the lock. When another process holds it: with `wait`, blocks (calling `onWait` with the holder's
    /// process id first); otherwise throws `IndexError.locked`.
    static func acquire(folder: URL, wait: Bool, onWait: ((Int?) -> Void)? = nil) throws -> IndexLock {
        let url = folder.appendingPathComponent(IndexFolder.lockName)
        let fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw IndexError.storage(operation: "opening lock file", path: url.path, underlying: String(cString: strerror(errno)))
        }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            guard errno == EWOULDBLOCK else {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw IndexError.storage(operation: "locking", path: url.path, underlying: reason)
            }
            let holder = holderPID(fd)
            guard wait else {
                close(fd)
                throw IndexError.locked(path: folder.path, pid: holder)
            }
            onWait?(holder)
            while flock(fd, LOCK_EX) != 0 {
                guard errno == EINTR else {
                    let reason = String(cString: strerror(errno))
                    close(fd)
                    throw IndexError.storage(operation: "waiting for lock", path: url.path, underlying: reason)
                }
            }
            break
        }
        // The holder's pid, for the message another writer shows; informational only (the flock is the lock).
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return IndexLock(fd: fd)
    }

    private static func holderPID(_ fd: Int32) -> Int? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        return Int(String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func release() {
        guard fd >= 0 else { return }
        _ = flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { release() }
}
