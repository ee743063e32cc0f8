import Dispatch
import FoundationEssentials
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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

    /// Matching files, sorted by relative path. Symbolic links are followed once (loops are cut); unreadable folders
    /// are skipped (`scan()` reports them).
    public func files() throws(ReaderError) -> [URL] {
        try scan().files.map { rootURL.appendingPathComponent($0) }
    }

    /// Relative paths of matching files (sorted) and the folders that could not be listed.
    func scan() throws(ReaderError) -> (files: [String], problems: [ReadFailure]) {
        let fm = FileManager.default
        guard let rootInfo = FileInfo(path: root), rootInfo.isDirectory else {
            throw .unreadable(path: root, reason: "collection root is not a folder")
        }
        var files: [String] = []
        var problems: [ReadFailure] = []
        var visited: Set<String> = [rootURL.resolvingSymlinksInPath().path]
        var pending: [String] = [""]   // relative folder paths
        while let folder = pending.popLast() {
            let absolute = folder.isEmpty ? root : PathText.join(root, folder)
            let entries: [String]
            do { entries = try fm.contentsOfDirectory(atPath: absolute) } catch {
                problems.append(ReadFailure(path: folder.isEmpty ? "." : folder, reason: "cannot list folder: \(error)"))
                continue
            }
            for entry in entries {
                let relative = folder.isEmpty ? entry : folder + "/" + entry
                let full = PathText.join(absolute, entry)
                // stat follows symlinks; a dangling link fails and is skipped.
                guard let info = FileInfo(path: full) else { continue }
                if info.isDirectory {
                    let real = URL(fileURLWithPath: full).resolvingSymlinksInPath().path
                    if visited.insert(real).inserted { pending.append(relative) }
                } else if matches(relative) {
                    files.append(relative)
                }
            }
        }
        return (files.sorted(), problems.sorted { $0.path < $1.path })
    }

    func matches(_ relativePath: String) -> Bool {
        let segments = relativePath.split(separator: "/").map(String.init)
        func hit(_ glob: String) -> Bool {
            if !glob.contains("/") { return Glob.matchSegment(Array(glob.unicodeScalars), Array((segments.last ?? "").unicodeScalars)) }
            return Glob.match(glob.split(separator: "/").map(String.init), segments)
        }
        return include.contains(where: hit) && !exclude.contains(where: hit)
    }
}

enum Glob {
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

/// A file the collection read skipped, and why.
public struct ReadFailure: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Path relative to the collection root.
    public var path: String
    public var reason: String
    public init(path: String, reason: String) { self.path = path; self.reason = reason }
    public var description: String { "\(path): \(reason)" }
}

/// Everything a collection read produced: documents in file order (then record order), and the files that failed.
public struct CollectionReadResult: Sendable {
    public var documents: [Document]
    public var failures: [ReadFailure]
    /// Files attempted and their total size in bytes.
    public var fileCount: Int
    public var byteCount: Int
}

extension DocumentReader {
    /// Reads every matching file, in parallel on all cores; the output order is the sorted file order regardless of
    /// scheduling. A file that fails is reported in `failures` and skipped. `progress(done, total)` may be called from
    /// any thread.
    public func readCollection(_ source: CollectionSource,
                               progress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil) throws(ReaderError) -> CollectionReadResult {
        let (paths, problems) = try source.scan()
        let rootURL = source.rootURL
        let results = ResultSlots(count: paths.count)
        DispatchQueue.concurrentPerform(iterations: paths.count) { index in
            let url = rootURL.appendingPathComponent(paths[index])
            let size = FileInfo(path: url.path)?.size ?? 0
            let outcome: Result<[Document], ReaderError>
            do throws(ReaderError) { outcome = .success(try read(fileAt: url, id: paths[index])) } catch { outcome = .failure(error) }
            let done = results.store(outcome, bytes: size, at: index)
            progress?(done, paths.count)
        }
        var documents: [Document] = []
        var failures = problems
        for (index, outcome) in results.outcomes.enumerated() {
            switch outcome {
            case .success(let docs): documents.append(contentsOf: docs)
            case .failure(let error): failures.append(ReadFailure(path: paths[index], reason: error.description))
            case nil: failures.append(ReadFailure(path: paths[index], reason: "not read"))
            }
        }
        return CollectionReadResult(documents: documents, failures: failures, fileCount: paths.count, byteCount: results.bytes)
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

/// stat(2) of a path (following symbolic links).
struct FileInfo {
    var isDirectory: Bool
    var size: Int

    init?(path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
        size = Int(st.st_size)
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
