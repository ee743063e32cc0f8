import ArgumentParser
import Foundation
import SiftReader

/// `sift-bench read`: reads a whole HTML/XML collection with `DocumentReader.readCollection` (parallel on all cores)
/// and reports documents, blocks, failures and throughput.
struct ReaderBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read",
        abstract: "Read a folder of HTML/XML files: documents, blocks, failures, MB/s.")

    @Option(help: "Collection root folder.")
    var root: String
    @Option(help: "Reader preset: default, sphinx, postgres, sqlite.")
    var preset: String = "default"
    @Option(help: "Include globs, comma separated (default **/*.html,**/*.htm,**/*.xml).")
    var include: String?
    @Option(help: "Exclude globs, comma separated.")
    var exclude: String?
    @Option(help: "Timed repetitions (the best is reported).")
    var repeats: Int = 1
    @Option(help: "Failures to list.")
    var showFailures: Int = 10
    @Option(help: "Instead of timing, print the blocks of this file (path relative to --root) to inspect extraction.")
    var dump: String?

    func validate() throws {
        guard ReaderOptions.preset(named: preset) != nil else { throw ValidationError("unknown preset '\(preset)' (default, sphinx, postgres, sqlite)") }
        guard repeats > 0 else { throw ValidationError("--repeats must be positive") }
    }

    func run() throws {
        let reader = try DocumentReader(options: ReaderOptions.preset(named: preset)!)
        var source = CollectionSource(root: root)
        if let include { source.include = include.split(separator: ",").map(String.init) }
        if let exclude { source.exclude = exclude.split(separator: ",").map(String.init) }

        // Wall time and process CPU time (the machine may be shared: CPU seconds show the reader's own cost).
        if let dump {
            for doc in try reader.read(fileAt: URL(fileURLWithPath: root).appendingPathComponent(dump), id: dump) {
                print("\(doc.id) | \(doc.title) | lang \(doc.language ?? "-") | \(doc.blocks.count) blocks")
                for block in doc.blocks {
                    let text = block.text.count > 200 ? String(block.text.prefix(200)) + "…" : block.text
                    print("[\(block.kind.rawValue)] #\(block.anchor ?? "-") \(block.headingPath.joined(separator: " > "))\n    \(text.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n    "))")
                }
            }
            return
        }

        var best = Double.infinity, bestCPU = Double.infinity
        var result: CollectionReadResult?
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            let cpuStart = clock()
            let r = try reader.readCollection(source)
            bestCPU = min(bestCPU, Double(clock() - cpuStart) / Double(CLOCKS_PER_SEC))
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            result = r
        }
        guard let result else { return }
        let blocks = result.documents.reduce(0) { $0 + $1.blocks.count }
        let characters = result.documents.reduce(0) { $0 + $1.text.unicodeScalars.count }
        var kinds: [String: Int] = [:]
        for doc in result.documents { for block in doc.blocks { kinds[block.kind.rawValue, default: 0] += 1 } }
        let megabytes = Double(result.byteCount) / 1_048_576
        print("root \(root), preset \(preset), \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print("files \(result.fileCount) (\(String(format: "%.1f", megabytes)) MiB) | documents \(result.documents.count) | blocks \(blocks) | text \(characters) chars | failures \(result.failures.count)")
        print("blocks by kind: " + kinds.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        print(String(format: "wall %.2f s | %.1f MiB/s | %.0f files/s | CPU %.2f s | %.1f MiB per CPU-second",
                     best, megabytes / best, Double(result.fileCount) / best, bestCPU, megabytes / bestCPU))
        for failure in result.failures.prefix(showFailures) { print("  failed: \(failure)") }
    }
}
