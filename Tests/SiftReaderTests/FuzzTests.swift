import Foundation
import SiftCore
import SiftReader
import SiftTestSupport
import Testing

/// Random-mutation fuzzing of the reader: real pages, XML samples and the nasty corpus, mutated with bit flips,
/// truncation, splicing and markup fragments. Deterministic for a seed. CI runs a few iterations; Scripts/fuzz_reader
/// runs it for minutes through the environment:
///   SIFT_READER_FUZZ_ITERATIONS (default 40), SIFT_READER_FUZZ_SECONDS (stop early), SIFT_READER_FUZZ_SEED (default 1),
///   SIFT_READER_FUZZ_SAVE (path: each input is written there before it is read, to reproduce a crash).
@Suite struct FuzzTests {
    static let fragments: [String] = [
        "<table>", "</table>", "<tr><td>", "</div>", "<div>", "<p>", "<pre>", "</pre>", "<!--", "-->", "<![CDATA[", "]]>",
        "&", "&nbsp;", "&#0;", "&#xFFFF;", "&#x110000;", "&lol;", "<?xml version='1.0' encoding='UTF-16'?>", "\0", "<script>",
        "</script>", "<h1 id=\"x\">", "</h2>", "<li>", "<dt>", "<br>", "<svg>", "<meta charset=\"latin1\">", "<!DOCTYPE x [",
        "<!ENTITY a \"&b;&b;\">", "]>", "<a name=", "\"", "'", ">", "<", "\u{FEFF}", "\u{00A0}", "\u{FFFD}", "\r\n",
        String(repeating: "<b>", count: 600), String(repeating: "<table><tr><td>", count: 300),
    ]

    static func corpus() throws -> [(name: String, bytes: [UInt8])] {
        var inputs: [(String, [UInt8])] = []
        for folder in [ReaderFixtures.pages, ReaderFixtures.xml, ReaderFixtures.nasty] {
            for name in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() where !name.hasSuffix(".py") {
                inputs.append((name, Array(try Data(contentsOf: folder.appendingPathComponent(name)))))
            }
        }
        return inputs
    }

    static func mutate(_ input: [UInt8], corpus: [(name: String, bytes: [UInt8])], rng: inout SplitMix64) -> [UInt8] {
        var bytes = input
        for _ in 0...rng.below(4) {
            switch rng.below(7) {
            case 0 where !bytes.isEmpty:   // bit flips
                for _ in 0...rng.below(16) { bytes[rng.below(bytes.count)] ^= UInt8(1 << rng.below(8)) }
            case 1 where !bytes.isEmpty:   // truncation
                bytes.removeLast(rng.below(bytes.count))
            case 2:                        // splice a slice of another input
                let other = corpus[rng.below(corpus.count)].bytes
                guard !other.isEmpty else { continue }
                let start = rng.below(other.count)
                let slice = other[start..<min(other.count, start + 1 + rng.below(4096))]
                bytes.insert(contentsOf: slice, at: rng.below(bytes.count + 1))
            case 3:                        // markup fragment
                bytes.insert(contentsOf: Array(fragments[rng.below(fragments.count)].utf8), at: rng.below(bytes.count + 1))
            case 4 where !bytes.isEmpty:   // delete a range
                let start = rng.below(bytes.count)
                bytes.removeSubrange(start..<min(bytes.count, start + 1 + rng.below(512)))
            case 5 where !bytes.isEmpty:   // duplicate a range several times
                let start = rng.below(bytes.count)
                let range = Array(bytes[start..<min(bytes.count, start + 1 + rng.below(256))])
                for _ in 0...rng.below(8) { bytes.insert(contentsOf: range, at: start) }
            default:                       // random bytes
                for _ in 0...rng.below(8) { bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: rng.below(bytes.count + 1)) }
            }
        }
        return bytes
    }

    @Test func mutatedInputsNeverCrashHangOrBreakInvariants() throws {
        let env = ProcessInfo.processInfo.environment
        let iterations = Int(env["SIFT_READER_FUZZ_ITERATIONS"] ?? "") ?? 40
        let seconds = Double(env["SIFT_READER_FUZZ_SECONDS"] ?? "") ?? .infinity
        let seed = UInt64(env["SIFT_READER_FUZZ_SEED"] ?? "") ?? 1
        let savePath = env["SIFT_READER_FUZZ_SAVE"]
        let corpus = try Self.corpus()
        let options = ReaderOptions(maxTextLength: 1_000_000)
        let reader = try DocumentReader(options: options)
        var rng = SplitMix64(state: seed)
        var done = 0, documents = 0, errors = 0, slowest = 0.0
        let started = Date()
        while done < iterations, Date().timeIntervalSince(started) < seconds {
            let base = corpus[rng.below(corpus.count)]
            let input = Self.mutate(base.bytes, corpus: corpus, rng: &rng)
            if let savePath { try Data(input).write(to: URL(fileURLWithPath: savePath)) }
            for format in [DocumentFormat.html, .xml] {
                let start = Date()
                do {
                    for doc in try reader.read(data: Data(input), id: "fuzz-\(done)", format: format) {
                        documents += 1
                        #expect(doc.text.scalarCount <= options.maxTextLength)
                        doc.checkRanges()
                    }
                } catch {
                    errors += 1
                    #expect(error.path?.hasPrefix("fuzz-") == true, "error without the input's id: \(error)")
                }
                let elapsed = Date().timeIntervalSince(start)
                slowest = max(slowest, elapsed)
                #expect(elapsed < 5, "iteration \(done) (\(base.name), \(format)) took \(elapsed) s; seed \(seed)")
            }
            done += 1
        }
        print("fuzz_reader: seed \(seed), \(done) iterations (\(done * 2) parses), \(documents) documents, \(errors) errors, slowest \(Int(slowest * 1000)) ms, \(Int(Date().timeIntervalSince(started))) s")
        #expect(done > 0)
    }
}
