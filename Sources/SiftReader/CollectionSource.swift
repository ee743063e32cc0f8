import Dispatch
import FoundationEssentials
import Synchronization
import SiftCore

/// A folder of documents: the files under `root` matching any `include` glob and no `exclude` glob.
///
/// Globs match paths relative to the root: `*` and `?` stay within one path segment, `**` spans any number of segments;
/// a glob without "/" matches the file name at any depth (`genindex*.html`).
public struct CollectionSource: Sendable, Codable, Hashable {
    /// The collection root folder (document ids are paths relative to it).
    public var root: String
    public var include: [String]
    public var exclude: [String]

    public init(root: String, include: [String] = ["**/*.html", "**/*.htm", "**/*.xml"], exclude: [String] = []) {
        self.root = root
        self.include = include
        self.exclude = exclude
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let root = try c.decode(String.self, forKey: .root)
        let d = CollectionSource(root: root)
        self.init(root: root, include: try c.decodeIfPresent([String].self, forKey: .include) ?? d.include,
                  exclude: try c.decodeIfPresent([String].self, forKey: .exclude) ?? d.exclude)
    }

    public var rootURL: URL { URL(fileURLWithPath: root, isDirectory: true) }

    /// Matching files, sorted by document id. Symbolic links are followed once (loops are cut); unreadable folders
    /// are skipped (`scan()` reports them). A name that is not valid UTF-8 comes back with U+FFFD in its URL, which
    /// names no file: the collection read itself keeps such names as bytes.
    public func files() throws(ReaderError) -> [URL] {
        try scan().files.map { rootURL.appendingPathComponent($0.id) }
    }

    /// A file the scan found: its document id (the path relative to the root, escaped by `DocumentIDText`), the
    /// bytes that open it, and its size.
    struct ScannedFile: Sendable {
        var id: String
        var path: RawPath
        var size: Int
    }

    /// Matching files (sorted by id), and the folders and names that could not be used. Every entry that matches
    /// the globs and is not a folder is listed, whatever it is: FIFOs, devices and broken links fail when read, so
    /// they are reported instead of silently left out.
    func scan() throws(ReaderError) -> (files: [ScannedFile], problems: [ReadFailure]) {
        let rootPath = RawPath(root)
        guard case .success(let rootStatus) = FileStatus.of(rootPath), rootStatus.kind == .directory else {
            throw .unreadable(path: root, reason: "collection root is not a folder")
        }
        var files: [ScannedFile] = []
        var problems: [ReadFailure] = []
        var visited: Set<FileStatus.Identity> = [rootStatus.identity]
        var pending: [(id: String, path: RawPath)] = [("", rootPath)]
        while let folder = pending.popLast() {
            let names: [[UInt8]]
            switch FileSystem.entries(of: folder.path) {
            case .success(let found): names = found
            case .failure(let error):
                problems.append(ReadFailure(folder: folder.id.isEmpty ? "." : folder.id, reason: "cannot list folder: \(error)"))
                continue
            }
            let plainNames = Set(names.filter(InputBytes.isValidUTF8).map { String(decoding: $0, as: UTF8.self) })
            for name in names {
                let segment = DocumentIDText.segment(name)
                let id = folder.id.isEmpty ? segment : folder.id + "/" + segment
                let path = folder.path.appending(name)
                let status = try? FileStatus.of(path).get()
                if let status, status.kind == .directory {
                    if visited.insert(status.identity).inserted { pending.append((id, path)) }
                    continue
                }
                guard matches(id) else { continue }
                if !InputBytes.isValidUTF8(name), plainNames.contains(segment) {
                    problems.append(ReadFailure(path: id, reason: "the name is not valid UTF-8 and its escaped form is the name of another file"))
                    continue
                }
                files.append(ScannedFile(id: id, path: path, size: status?.size ?? 0))
            }
        }
        return (files.sorted { $0.id < $1.id }, problems.sorted { $0.path < $1.path })
    }

    func matches(_ relativePath: String) -> Bool {
        include.contains { Glob.matches($0, path: relativePath) } && !exclude.contains { Glob.matches($0, path: relativePath) }
    }
}

/// The glob rules of `source.include` / `source.exclude`, also used by `sift train --exclude`.
public enum Glob {
    /// `pattern` against a `/`-separated relative path: a pattern without `/` matches the last segment (`*.html`);
    /// otherwise segment by segment, `*` and `?` within a segment and `**` spanning zero or more segments.
    public static func matches(_ pattern: String, path: String) -> Bool {
        let segments = path.split(separator: "/").map(String.init)
        if !pattern.contains("/") { return matchSegment(Array(pattern.unicodeScalars), Array((segments.last ?? "").unicodeScalars)) }
        return match(pattern.split(separator: "/").map(String.init), segments)
    }

    /// Path-segment matching with `**` spanning zero or more segments.
    static func match(_ pattern: [String], _ path: [String]) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        if first == "**" {
            let rest = Array(pattern.dropFirst())
            for skip in 0...path.count where match(rest, Array(path.dropFirst(skip))) { return true }
            return false
        }
        guard let segment = path.first, matchSegment(Array(first.unicodeScalars), Array(segment.unicodeScalars)) else { return false }
        return match(Array(pattern.dropFirst()), Array(path.dropFirst()))
    }

    /// `*` and `?` within one segment (iterative wildcard matching with backtracking to the last star).
    static func matchSegment(_ p: [Unicode.Scalar], _ s: [Unicode.Scalar]) -> Bool {
        var pi = 0, si = 0, star = -1, mark = 0
        while si < s.count {
            if pi < p.count, p[pi] == "?" || p[pi] == s[si] { pi += 1; si += 1 }
            else if pi < p.count, p[pi] == "*" { star = pi; mark = si; pi += 1 }
            else if star >= 0 { pi = star + 1; mark += 1; si = mark }
            else { return false }
        }
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}

/// A file (or folder) the collection read skipped, and why.
public struct ReadFailure: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Path relative to the collection root ("." for the root itself).
    public var path: String
    public var reason: String
    /// The id of the document the file would have given, the same id a successful read produces (an XML file
    /// with several records gives `documentID#record` ids instead). nil for a folder, and for a name that cannot
    /// have an id of its own.
    public var documentID: String?
    /// True when `path` is a folder that could not be listed: whatever was under it was not seen.
    public var isFolder: Bool

    public init(path: String, reason: String, documentID: String? = nil) {
        self.path = path
        self.reason = reason
        self.documentID = documentID
        isFolder = false
    }

    /// A folder that could not be listed.
    public init(folder: String, reason: String) {
        path = folder
        self.reason = reason
        documentID = nil
        isFolder = true
    }

    public var description: String { "\(path): \(reason)" }

    /// True when a document with this id may have come from what failed: the file itself, one of its XML records,
    /// or anything under a folder that could not be listed. Such a document was not seen by this read, but that does
    /// not mean its file is gone, so an index must keep it.
    public func covers(documentID id: String) -> Bool {
        if let documentID { return id == documentID || id.hasPrefix(documentID + "#") }
        return isFolder && (path == "." || id.hasPrefix(path + "/"))
    }
}

/// Everything a collection read produced: documents in file order (then record order), and the files that failed.
public struct CollectionReadResult: Sendable {
    public var documents: [Document]
    public var failures: [ReadFailure]
    /// Files attempted and their total size in bytes.
    public var fileCount: Int
    public var byteCount: Int

    /// The failure that may have hidden a document with this id (see `ReadFailure.covers`), if any: a document
    /// missing from `documents` but covered here could not be read, it was not deleted.
    public func failure(covering documentID: String) -> ReadFailure? {
        failures.first { $0.covers(documentID: documentID) }
    }
}

extension DocumentReader {
    /// Reads every matching file, in parallel on all cores; the output order is the sorted file order regardless of
    /// scheduling. A file that fails is reported in `failures` and skipped. `progress(done, total)` may be called from
    /// any thread.
    public func readCollection(_ source: CollectionSource,
                               progress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil) throws(ReaderError) -> CollectionReadResult {
        let (files, problems) = try source.scan()
        let results = ResultSlots(count: files.count)
        DispatchQueue.concurrentPerform(iterations: files.count) { index in
            let file = files[index]
            let outcome: Result<[Document], ReaderError>
            do throws(ReaderError) { outcome = .success(try read(file: file.path, id: file.id)) } catch { outcome = .failure(error) }
            let done = results.store(outcome, bytes: file.size, at: index)
            progress?(done, files.count)
        }
        var documents: [Document] = []
        var failures = problems
        for (index, outcome) in results.outcomes.enumerated() {
            switch outcome {
            case .success(let docs): documents.append(contentsOf: docs)
            case .failure(let error): failures.append(ReadFailure(path: files[index].id, reason: error.description, documentID: files[index].id))
            case nil: failures.append(ReadFailure(path: files[index].id, reason: "not read", documentID: files[index].id))
            }
        }
        return CollectionReadResult(documents: documents, failures: failures, fileCount: files.count, byteCount: results.bytes)
    }
}

/// Per-file result slots filled from concurrent workers.
private final class ResultSlots: Sendable {
    private struct State {
        var outcomes: [Result<[Document], ReaderError>?]
        var bytes = 0
        var done = 0
    }
    private let state: Mutex<State>

    init(count: Int) { state = Mutex(State(outcomes: Array(repeating: nil, count: count))) }

    var outcomes: [Result<[Document], ReaderError>?] { state.withLock { $0.outcomes } }
    var bytes: Int { state.withLock { $0.bytes } }

    func store(_ outcome: Result<[Document], ReaderError>, bytes size: Int, at index: Int) -> Int {
        state.withLock { s in
            s.outcomes[index] = outcome
            s.bytes += size
            s.done += 1
            return s.done
        }
    }
}

/// Path-string helpers ("/"-separated), so the module needs no NSString.
enum PathText {
    static func join(_ a: String, _ b: String) -> String { a.hasSuffix("/") ? a + b : a + "/" + b }
    static func lastComponent(_ path: String) -> String { path.split(separator: "/").last.map(String.init) ?? "" }
    static func pathExtension(_ path: String) -> String {
        let name = lastComponent(path)
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
        return String(name[name.index(after: dot)...])
    }
}
