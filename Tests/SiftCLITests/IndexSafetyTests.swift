import Foundation
import SiftTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A `sift` process left running in the background, its output in files.
final class BackgroundSift {
    let process = Process()
    private let scratch: URL

    init(_ arguments: [String]) throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sift-bg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        process.executableURL = TestPaths.siftBinary
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "SIFT_PIPELINE")
        process.environment = environment
        FileManager.default.createFile(atPath: scratch.appendingPathComponent("out").path, contents: nil)
        FileManager.default.createFile(atPath: scratch.appendingPathComponent("err").path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: scratch.appendingPathComponent("out"))
        process.standardError = try FileHandle(forWritingTo: scratch.appendingPathComponent("err"))
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var isRunning: Bool { process.isRunning }

    func kill() { Glibc.kill(process.processIdentifier, SIGKILL) }

    /// Waits for the process and returns what it printed.
    func finish() -> RunResult {
        process.waitUntilExit()
        let read = { (name: String) in (try? String(contentsOf: self.scratch.appendingPathComponent(name), encoding: .utf8)) ?? "" }
        return RunResult(stdout: read("out"), stderr: read("err"), code: process.terminationStatus)
    }

    deinit { try? FileManager.default.removeItem(at: scratch) }
}

/// The index-safety guarantees of the "Nothing lost, ever" issue, checked on the real binary: Sift never deletes
/// what it did not write, one writer at a time, rebuilds are atomic, a damaged or unfinished index fails loudly.
@Suite(.serialized) struct IndexSafetyTests {
    static let handbook = TestPaths.repositoryRoot.appendingPathComponent("Pipelines/handbook.yaml").path

    /// `sift` on the bundled handbook with the index at `folder`.
    static func handbook(_ command: String, _ folder: URL, _ extra: [String] = []) -> [String] {
        [command, "-p", handbook, "--set", "index.path=\(folder.path)"] + extra
    }

    static func requireModel() throws {
        try #require(TestPaths.miniLMModel != nil, "Models/all-MiniLM-L6-v2 is missing: run Scripts/setup")
    }

    @Test func refusesToWriteIntoWhatIsNotAnIndex() throws {
        try Self.requireModel()
        let workspace = try Workspace()
        let pipeline = workspace.path("tiny.yaml")
        try workspace.write("notes.txt", "my notes\n")
        let dotfiles = workspace.folder.appendingPathComponent("dotfiles")
        try FileManager.default.createDirectory(at: dotfiles.appendingPathComponent(".git"), withIntermediateDirectories: true)
        try Data("SECRET=1\n".utf8).write(to: dotfiles.appendingPathComponent(".env"))
        let userFiles = workspace.folder.appendingPathComponent("user")
        try FileManager.default.createDirectory(at: userFiles, withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: userFiles.appendingPathComponent("chunks.1.sqlite"))
        try Data("mine too".utf8).write(to: userFiles.appendingPathComponent("vectors.2.f32"))

        for target in [workspace.path("notes.txt"), dotfiles.path, userFiles.path] {
            for extra in [[], ["--rebuild"]] {
                let run = try sift(["index", "-p", pipeline, "--set", "index.path=\(target)"] + extra)
                #expect(run.code == 65, "\(target) \(extra): \(run.stderr)")
                #expect(run.stderr.hasPrefix("sift: error: index: refusing to use \(target) as an index"), "\(run.stderr)")
            }
        }
        #expect(try String(contentsOfFile: workspace.path("notes.txt"), encoding: .utf8) == "my notes\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dotfiles.path).sorted() == [".env", ".git"])
        #expect(try String(contentsOf: userFiles.appendingPathComponent("chunks.1.sqlite"), encoding: .utf8) == "mine")
        #expect(try FileManager.default.contentsOfDirectory(atPath: userFiles.path).sorted() == ["chunks.1.sqlite", "vectors.2.f32"])
    }

    /// Waits until the writer `holder` has taken the lock of the index in `folder` (it writes its pid there).
    static func waitForLock(of holder: BackgroundSift, in folder: URL) {
        let lock = folder.appendingPathComponent("sift.lock")
        while holder.isRunning,
              (try? String(contentsOf: lock, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) != "\(holder.process.processIdentifier)" {
            usleep(5000)
        }
    }

    @Test func oneWriterAtATime() throws {
        try Self.requireModel()
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("sift-writers-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let folder = tmp.appendingPathComponent("index")
        // A second writer during a first build is refused at once, names the holder, and changes nothing.
        let first = try BackgroundSift(Self.handbook("index", folder, ["-q"]))
        Self.waitForLock(of: first, in: folder)
        let second = try sift(Self.handbook("index", folder, ["-q"]))
        #expect(first.isRunning, "the first build ended before the second writer could try")
        #expect(second.code == 75)
        #expect(second.stderr == "sift: error: index: \(folder.path) is being updated by process \(first.process.processIdentifier); wait for it to finish or pass --wait\n",
                "\(second.stderr)")
        #expect(first.finish().code == 0)
        #expect(try sift(Self.handbook("index", folder, ["--verify"])).stdout.hasPrefix("index OK"))

        // With --wait the second writer waits for the first, then finds the index up to date.
        let rebuild = try BackgroundSift(Self.handbook("index", folder, ["--rebuild", "-q"]))
        Self.waitForLock(of: rebuild, in: folder)
        let waiting = try sift(Self.handbook("index", folder, ["--wait"]))
        #expect(rebuild.finish().code == 0)
        #expect(waiting.code == 0, "\(waiting.stderr)")
        #expect(waiting.stderr.contains("waiting for process \(rebuild.process.processIdentifier) to finish updating the index"), "\(waiting.stderr)")
        #expect(waiting.stdout.contains("index is up to date"), "\(waiting.stdout)")
        #expect(try sift(Self.handbook("index", folder, ["--verify"])).stdout.hasPrefix("index OK"))
    }

    @Test func askDuringARebuildAnswersFromTheOldGeneration() throws {
        try Self.requireModel()
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("sift-rebuild-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let folder = tmp.appendingPathComponent("index")
        #expect(try sift(Self.handbook("index", folder, ["-q"])).code == 0)
        let rebuild = try BackgroundSift(Self.handbook("index", folder, ["--rebuild", "-q"]))
        var asked = 0
        while rebuild.isRunning {
            let ask = try sift(Self.handbook("ask", folder, ["--top", "1", "What does exit status 137 mean?"]))
            #expect(ask.code == 0 && ask.stdout.hasPrefix("1. "), "ask during rebuild: \(ask.stdout)\(ask.stderr)")
            asked += 1
        }
        #expect(rebuild.finish().code == 0)
        #expect(asked > 0)
        let after = try sift(Self.handbook("index", folder, ["--verify"]))
        #expect(after.code == 0, "\(after.stdout)")
    }

    /// Mounts (size > 0) or unmounts (size 0) a tmpfs at `point`; true on success. Needs root.
    @discardableResult
    static func tmpfs(_ point: URL, size: String?) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: size == nil ? "/bin/umount" : "/bin/mount")
        process.arguments = size.map { ["-t", "tmpfs", "-o", "size=\($0)", "tmpfs", point.path] } ?? [point.path]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    /// Whether this machine lets the tests mount a small tmpfs (root, and a kernel/container that allows it).
    static let canMountTmpfs: Bool = {
        guard getuid() == 0 else { return false }
        let point = FileManager.default.temporaryDirectory.appendingPathComponent("sift-mount-probe-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: point, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: point) }
        guard tmpfs(point, size: "64k") else { return false }
        return tmpfs(point, size: nil)
    }()

    @Test(.enabled(if: IndexSafetyTests.canMountTmpfs, "skipped: a full disk is simulated with a 1.2 MB tmpfs, which needs root and a mount-capable kernel"))
    func fullDiskLeavesTheOldGenerationAnswering() throws {
        try Self.requireModel()
        let mountPoint = FileManager.default.temporaryDirectory.appendingPathComponent("sift-fulldisk-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: mountPoint) }
        // The handbook's index takes about 0.8 MB: room for one generation, not for two.
        try #require(Self.tmpfs(mountPoint, size: "1200k"))
        defer { Self.tmpfs(mountPoint, size: nil) }
        let folder = mountPoint.appendingPathComponent("index")
        let build = try sift(Self.handbook("index", folder, ["-q"]))
        try #require(build.code == 0, "the first build must fit: \(build.stderr)")
        let before = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        let rebuild = try sift(Self.handbook("index", folder, ["--rebuild", "-q"]))
        #expect(rebuild.code == 1)
        // The file system's words (ENOSPC) or SQLite's, depending on which write hits the limit first.
        #expect(rebuild.stderr.contains("No space left on device") || rebuild.stderr.contains("database or disk is full"), "\(rebuild.stderr)")
        // The failed run removed what it staged; the old generation is whole and answers.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == before)
        let ask = try sift(Self.handbook("ask", folder, ["--top", "1", "What does exit status 137 mean?"]))
        #expect(ask.code == 0 && ask.stdout.hasPrefix("1. "), "\(ask.stdout)\(ask.stderr)")
        #expect(try sift(Self.handbook("index", folder, ["--verify"])).code == 0)
    }

    @Test func unfinishedOrEmptyIndexesNeverLookLikeNoAnswers() throws {
        try Self.requireModel()
        let workspace = try Workspace()
        let pipeline = workspace.path("tiny.yaml")
        let folder = workspace.folder.appendingPathComponent(".sift/tiny")
        // Killed during its first build, after the empty first generation was committed.
        let build = try BackgroundSift(["index", "-p", pipeline, "-q"])
        while build.isRunning && !FileManager.default.fileExists(atPath: folder.appendingPathComponent("manifest.json").path) { usleep(2000) }
        build.kill()
        _ = build.finish()
        let ask = try sift(["ask", "-p", pipeline, "vacation days"])
        #expect(ask.code == 66, "\(ask.stdout)")
        #expect(!ask.stdout.contains("No answers found"))
        #expect(ask.stderr.contains("cannot answer") && ask.stderr.contains("sift index -p \(pipeline)"), "\(ask.stderr)")
        let batch = try sift(["batch", "-p", pipeline, "-"], stdin: "vacation days\n")
        #expect(batch.code == 66 && batch.stderr.contains("cannot answer"), "\(batch.stderr)")

        // A folder with only the marker: the first build never committed anything.
        try FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: folder.appendingPathComponent("sift-index.json"))
        let never = try sift(["ask", "-p", pipeline, "vacation days"])
        #expect(never.code == 66 && never.stderr.contains("never completed") && never.stderr.contains("sift index -p"), "\(never.stderr)")
        // Then a build succeeds and answers.
        #expect(try sift(["index", "-p", pipeline, "-q"]).code == 0)
        #expect(try sift(["ask", "-p", pipeline, "--top", "1", "vacation days"]).stdout.hasPrefix("1. leave.html#"))
    }

    @Test func damagedVectorsAndDatabaseAreFound() throws {
        try Self.requireModel()
        let workspace = try Workspace()
        let pipeline = workspace.path("tiny.yaml")
        let folder = workspace.folder.appendingPathComponent(".sift/tiny")
        #expect(try sift(["index", "-p", pipeline, "-q"]).code == 0)
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("manifest.json"))) as? [String: Any])
        let vectors = folder.appendingPathComponent(try #require(manifest["vectorsFile"] as? String))
        let database = folder.appendingPathComponent(try #require(manifest["databaseFile"] as? String))
        let original = try Data(contentsOf: vectors)
        var random = SplitMix64(state: 16)

        let damages: [(String, Data)] = [
            ("random bytes", Data((0..<original.count).map { _ in UInt8(truncatingIfNeeded: random.next()) })),
            ("zeros", Data(count: original.count)),
            ("NaNs", Data([Float](repeating: .nan, count: original.count / 4).withUnsafeBytes { Array($0) })),
        ]
        for (name, bytes) in damages {
            try bytes.write(to: vectors)
            let verify = try sift(["index", "-p", pipeline, "--verify"])
            #expect(verify.code == 1 && verify.stdout.contains("DAMAGED") && verify.stdout.contains("checksum"), "\(name): \(verify.stdout)")
            // Opening for writing verifies too: an update refuses instead of copying damaged vectors.
            let update = try sift(["index", "-p", pipeline, "-q"])
            #expect(update.code == 1 && update.stderr.contains("damaged") && update.stderr.contains("--rebuild"), "\(name): \(update.stderr)")
        }
        // NaN vectors: a search fails with a clear error (not an encoding error) in text and JSON.
        for extra in [[], ["--json"]] {
            let ask = try sift(["ask", "-p", pipeline, "vacation days"] + extra)
            #expect(ask.code == 1 && ask.stderr.contains("NaN or infinite score") && !ask.stderr.contains("EncodingError"), "\(ask.stderr)")
        }
        let rebuilt = try sift(["index", "-p", pipeline, "--rebuild", "-q"])
        #expect(rebuilt.code == 0, "\(rebuilt.stderr)")
        #expect(try sift(["index", "-p", pipeline, "--verify"]).code == 0)

        // A dropped full-text table: `index` no longer says "up to date", --verify names it.
        let now = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("manifest.json"))) as? [String: Any])
        let db = folder.appendingPathComponent(try #require(now["databaseFile"] as? String))
        #expect(db != database)
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('DROP TABLE chunks_fts'); c.commit()", db.path]
        try python.run()
        python.waitUntilExit()
        try #require(python.terminationStatus == 0, "python3 with sqlite3 is needed to damage the database")
        let update = try sift(["index", "-p", pipeline, "-q"])
        #expect(update.code == 1 && update.stderr.contains("full-text"), "\(update.stderr)")
        let verify = try sift(["index", "-p", pipeline, "--verify"])
        #expect(verify.code == 1 && verify.stdout.contains("full-text"), "\(verify.stdout)")

        // A damaged database page: found when opening for writing and by --verify; a rebuild repairs the index.
        #expect(try sift(["index", "-p", pipeline, "--rebuild", "-q"]).code == 0)
        let fresh = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("manifest.json"))) as? [String: Any])
        let damaged = folder.appendingPathComponent(try #require(fresh["databaseFile"] as? String))
        var pages = try Data(contentsOf: damaged)
        try #require(pages.count > 3 * 4096)
        for i in 4096..<(3 * 4096) { pages[i] = UInt8(truncatingIfNeeded: random.next()) }
        try pages.write(to: damaged)
        let refused = try sift(["index", "-p", pipeline, "-q"])
        #expect(refused.code == 1 && refused.stderr.hasPrefix("sift: error: index: "), "\(refused.stderr)")
        let found = try sift(["index", "-p", pipeline, "--verify"])
        #expect(found.code == 1 && found.stdout.contains("DAMAGED"), "\(found.stdout)")
        #expect(try sift(["index", "-p", pipeline, "--rebuild", "-q"]).code == 0)
        #expect(try sift(["index", "-p", pipeline, "--verify"]).code == 0)
    }

    @Test func aFileThatCannotBeReadKeepsItsIndexedVersion() throws {
        try Self.requireModel()
        let workspace = try Workspace()
        let pipeline = workspace.path("tiny.yaml")
        #expect(try sift(["index", "-p", pipeline, "-q"]).code == 0)
        // leave.html is still there but cannot be read as a page: a FIFO in its place.
        try FileManager.default.removeItem(atPath: workspace.path("docs/leave.html"))
        try #require(mkfifo(workspace.path("docs/leave.html"), 0o644) == 0)
        let update = try sift(["index", "-p", pipeline, "--json", "-q"])
        #expect(update.code == 0, "\(update.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(update.stdout.utf8)) as? [String: Any])
        #expect(report["deleted"] as? Int == 0 && report["kept"] as? Int == 1, "\(update.stdout)")
        let skipped = try #require(report["skipped"] as? [[String: Any]])
        #expect(skipped.first?["path"] as? String == "leave.html")
        #expect((skipped.first?["reason"] as? String ?? "").contains("previously indexed version was kept"), "\(skipped)")
        let ask = try sift(["ask", "-p", pipeline, "--top", "1", "How many vacation days do I get?"])
        #expect(ask.stdout.hasPrefix("1. leave.html#"), "\(ask.stdout)\(ask.stderr)")
        // Really deleted: now it goes.
        try FileManager.default.removeItem(atPath: workspace.path("docs/leave.html"))
        let gone = try sift(["index", "-p", pipeline, "--json", "-q"])
        #expect((try JSONSerialization.jsonObject(with: Data(gone.stdout.utf8)) as? [String: Any])?["deleted"] as? Int == 1)
    }

    /// Seeded SIGKILLs at random instants of `sift index` (fresh, incremental) and `--rebuild`: between the kill and
    /// the next run, `ask` answers from the last committed generation or fails with one clear line; the next run
    /// then gives exactly what a clean build gives.
    @Test func killedIndexRunsRecover() throws {
        try Self.requireModel()
        let workspace = try Workspace()
        let pipeline = workspace.path("tiny.yaml")
        let folder = workspace.folder.appendingPathComponent(".sift/tiny")
        let question = ["ask", "-p", pipeline, "--json", "--top", "3", "--set", "answers.group_by=none", "How many vacation days do I get?"]
        func answers(_ run: RunResult) -> [String] {
            guard let object = try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any],
                  let list = object["answers"] as? [[String: Any]] else { return [] }
            return list.map { "\($0["source"] ?? "")|\(String(format: "%.5f", ($0["retrieval_score"] as? Double) ?? .nan))" }
        }
        // Two states of the collection (expenses.html with and without an extra paragraph), each with the answers
        // a clean build gives, and how long a build takes.
        let expenses = TinyPages.pages["expenses.html"]!
        let variants = [expenses, expenses.replacingOccurrences(of: "</main>", with: "<p>Taxis need a receipt too.</p></main>")]
        var clean: [[String]] = []
        var buildSeconds = 0.0
        for (v, text) in variants.enumerated() {
            try workspace.write("docs/expenses.html", text)
            let reference = ["--set", "index.path=\(workspace.path("reference\(v)"))"]
            let t0 = Date()
            #expect(try sift(["index", "-p", pipeline, "-q"] + reference).code == 0)
            buildSeconds = max(buildSeconds, Date().timeIntervalSince(t0))
            clean.append(answers(try sift(question + reference)))
        }
        try #require(clean[0].count == 3 && clean[0] != clean[1], "\(clean)")
        #expect(try sift(["index", "-p", pipeline, "-q"]).code == 0)
        var state = 1

        var random = SplitMix64(state: 0xC0FFEE)
        let instants = 21
        var answeredBetween = 0
        for run in 0..<instants {
            // In turn: a rebuild, an incremental run after a change, a first build into an empty folder.
            let kind = run % 3
            let before = state
            if kind == 1 {
                state = 1 - state
                try workspace.write("docs/expenses.html", variants[state])
            }
            if kind == 2 { try FileManager.default.removeItem(at: folder) }
            let delay = Double(random.below(Int(buildSeconds * 1000))) / 1000
            let victim = try BackgroundSift(["index", "-p", pipeline, "-q"] + (kind == 0 ? ["--rebuild"] : []))
            usleep(useconds_t(delay * 1_000_000))
            victim.kill()
            _ = victim.finish()

            let context = "run \(run) (kind \(kind), kill at \(String(format: "%.3f", delay)) s)"
            let between = try sift(question)
            if between.code == 0 {
                answeredBetween += 1
                let got = answers(between)
                #expect(got == clean[before] || got == clean[state], "\(context): answers between kill and recovery: \(got)")
            } else {
                #expect(between.stderr.hasPrefix("sift: error: ") && between.stderr.split(separator: "\n").count == 1, "\(context): \(between.stderr)")
            }
            let recover = try sift(["index", "-p", pipeline, "-q"])
            #expect(recover.code == 0, "\(context): \(recover.stderr)")
            #expect(answers(try sift(question)) == clean[state], "\(context): after recovery")
            let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            #expect(files.count == 5 && !files.contains("staging.json"), "\(context): \(files.sorted())")
        }
        #expect(answeredBetween > 0)
    }
}
