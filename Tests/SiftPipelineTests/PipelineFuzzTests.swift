import Foundation
import SiftPipeline
import SiftTestSupport
import Testing

/// Random-mutation fuzzing of the pipeline-file loader: the shipped pipelines and a few YAML-feature samples, mutated
/// with byte flips, truncation, splicing and YAML fragments (deep brackets, compact `- - -`, anchors and aliases,
/// quotes, block scalars, odd line breaks), loaded as files and as `--set` values. Deterministic for a seed. CI runs a
/// few iterations; Scripts/fuzz_pipeline runs it for minutes through the environment:
///   SIFT_PIPELINE_FUZZ_ITERATIONS (default 100), SIFT_PIPELINE_FUZZ_SECONDS (stop early), SIFT_PIPELINE_FUZZ_SEED
///   (default 1), SIFT_PIPELINE_FUZZ_SAVE (path: each input is written there and loaded from there, a `--set` value to
///   PATH.set beside it, so a crash leaves its reproducer).
@Suite struct PipelineFuzzTests {
    static let samples = [
        "base: &base { top_k: 20, bm25: true }\nretriever: *base\nsource: { root: docs }\nembedder: { model: m }\n",
        "source:\n  root: docs\n  include:\n  - '**/*.html'\n  - \"*.xml\" # comment\nembedder:\n  model: >-\n    m\n",
        "? source\n: root: docs\nembedder: {model: m, precision: int8}\nreader: {drop: [nav, 'footer']}\nname: |\n  x\n",
        "%YAML 1.1\n---\nsource: {root: docs}\nembedder: {model: m}\n...\n",
    ]

    static let fragments: [String] = [
        "[", "]", "{", "}", ",", ": ", "- ", "? ", "#", " #", "'", "\"", "''", "\\", "|", ">-", "|2\n", "&a ", "*a", "&b [*a, *a]",
        "!!str ", "!tag ", "---\n", "...\n", "%TAG ! x\n", "\n", "\r", "\r\n", "\t", "\u{85}", "\u{2028}", "\u{FEFF}", "\0",
        "~", "null", "1e999", "-0", "0x", "\n  ", "\n    - ", "\n- ", "${HOME}", "~/", String(repeating: "[", count: 70),
        String(repeating: "[", count: 20_000), String(repeating: "{a: ", count: 5_000), String(repeating: "- ", count: 3_000),
        (0..<200).map { String(repeating: " ", count: $0) + "k:" }.joined(separator: "\n"),
        (1...9).map { "l\($0): &l\($0) [" + Array(repeating: "*l\($0 - 1)", count: 9).joined(separator: ",") + "]" }
            .joined(separator: "\n"),
        "l0: &l0 lol\n", String(repeating: "x", count: 70_000), "\u{E9}\u{1F600}",
    ]

    static func corpus() throws -> [(name: String, bytes: [UInt8])] {
        let folder = TestPaths.repositoryRoot.appendingPathComponent("Pipelines")
        var inputs = samples.enumerated().map { (name: "sample-\($0.offset)", bytes: Array($0.element.utf8)) }
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() where name.hasSuffix(".yaml") {
            inputs.append((name, Array(try Data(contentsOf: folder.appendingPathComponent(name)))))
        }
        return inputs
    }

    static func mutate(_ input: [UInt8], corpus: [(name: String, bytes: [UInt8])], rng: inout SplitMix64) -> [UInt8] {
        var bytes = input
        for _ in 0...rng.below(4) {
            switch rng.below(8) {
            case 0: ByteMutation.flipBits(&bytes, count: 8, rng: &rng)
            case 1: ByteMutation.truncate(&bytes, rng: &rng)
            case 2:                        // splice a slice of another input
                let other = corpus[rng.below(corpus.count)].bytes
                let start = rng.below(other.count)
                bytes.insert(contentsOf: other[start..<min(other.count, start + 1 + rng.below(512))], at: rng.below(bytes.count + 1))
            case 3, 4:                     // YAML fragment
                bytes.insert(contentsOf: Array(fragments[rng.below(fragments.count)].utf8), at: rng.below(bytes.count + 1))
            case 5 where !bytes.isEmpty:   // delete a range
                let start = rng.below(bytes.count)
                bytes.removeSubrange(start..<min(bytes.count, start + 1 + rng.below(128)))
            case 6:                        // sometimes many copies: long lists, deep indentation
                ByteMutation.duplicateRange(&bytes, length: 64, times: rng.below(4) == 0 ? rng.below(2_000) : rng.below(4), rng: &rng)
            default: ByteMutation.insertRandom(&bytes, rng: &rng)
            }
        }
        return bytes
    }

    /// The error is the module's and says where: the file (or `--set` key), or each problem's key path.
    static func hasContext(_ error: PipelineError, file: String) -> Bool {
        switch error {
        case let .invalid(problems): return !problems.isEmpty && problems.allSatisfy { !$0.path.isEmpty }
        case let .yamlSyntax(source, _, _), let .inputLimit(source, _, _), let .unreadable(source, _):
            return source == file || source.hasPrefix("--set")
        default: return false
        }
    }

    @Test func mutatedPipelinesNeverCrashHangOrFailWithoutContext() throws {
        var fuzz = FuzzRun(environmentPrefix: "SIFT_PIPELINE_FUZZ", defaultIterations: 100)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sift-pipeline-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = fuzz.savePath.map { URL(fileURLWithPath: $0) } ?? folder.appendingPathComponent("fuzz.yaml")
        let corpus = try Self.corpus()
        var rng = SplitMix64(state: fuzz.seed)
        var loaded = 0, errors = 0
        let seed = fuzz.seed
        try fuzz.run({ _ in
            let base = corpus[rng.below(corpus.count)]
            let input = Self.mutate(base.bytes, corpus: corpus, rng: &rng)
            // Every fourth input is a `--set` value (saved to PATH.set) over an intact file.
            let asOverride = rng.below(4) == 0
            let keys = ["source", "retriever.top_k", "reader.drop", "embedder", "a.b.c"]
            let key = keys[rng.below(keys.count)]
            try Data(asOverride ? corpus[corpus.count - 1].bytes : input).write(to: url)
            if asOverride { try Data(input).write(to: url.appendingPathExtension("set")) }
            do {
                let overrides = asOverride ? [try PipelineOverride("\(key)=" + String(decoding: input, as: UTF8.self))] : []
                _ = try PipelineConfig.load(contentsOf: url, overrides: overrides, environment: ["HOME": "/home/fuzz"],
                                            workingDirectory: folder)
                loaded += 1
            } catch let error as PipelineError {
                errors += 1
                #expect(Self.hasContext(error, file: url.path), "error without context: \(error)")
            }
        }, check: { iteration, elapsed in
            #expect(elapsed < 2, "iteration \(iteration) took \(elapsed) s; seed \(seed)")
        })
        print(fuzz.summary("fuzz_pipeline", "\(loaded) loaded, \(errors) errors"))
        #expect(fuzz.done > 0)
    }
}
