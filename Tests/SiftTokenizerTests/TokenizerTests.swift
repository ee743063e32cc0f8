import Foundation
import SiftTestSupport
import Testing
@testable import SiftTokenizer

/// Golden ids/offsets from the Hugging Face fast tokenizer (Scripts/fixtures/make_tokenizer_fixtures.py).
struct Golden: Decodable {
    struct Single: Decodable {
        var name: String
        var passage: String?
        var text: String?
        var codepoints: [UInt32]?
        var `repeat`: String?
        var length: Int?
        var ids: [Int32]?
        var offsets: [[Int]?]?
        var ids_256: [Int32]?
        var total_length: Int?
    }
    struct Pair: Decodable {
        var first: String
        var second_passage: String
        var strategy: String
        var max_length: Int?
        var error: String?
        var ids: [Int32]?
        var token_type_ids: [Int32]?
        var sequence_ids: [Int?]?
        var offsets: [[Int]?]?
        var truncated: Int?
    }
    var singles: [Single]
    var pairs: [Pair]
}

enum Fixtures {
    static let directory = TestPaths.fixtures.appendingPathComponent("tokenizer")

    static let passages: [String: String] = {
        let text = (try? String(contentsOf: directory.appendingPathComponent("passages.jsonl"), encoding: .utf8)) ?? ""
        var result: [String: String] = [:]
        for line in text.split(separator: "\n") {
            if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String],
               let id = object["id"], let body = object["text"] {
                result[id] = body
            }
        }
        return result
    }()

    static let golden: Golden? = {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent("golden.json")) else { return nil }
        return try? JSONDecoder().decode(Golden.self, from: data)
    }()

    static func text(of single: Golden.Single) -> String {
        if let id = single.passage { return passages[id]! }
        if let unit = single.repeat, let length = single.length {
            let scalars = Array(String(repeating: unit, count: length / unit.unicodeScalars.count + 1).unicodeScalars)
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars[0..<length])
            return String(view)
        }
        if let codepoints = single.codepoints {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: codepoints.map { Unicode.Scalar($0)! })
            return String(view)
        }
        return single.text ?? ""
    }

    /// Loaded once for the whole suite (from tokenizer.json).
    static let tokenizer: WordPieceTokenizer? = TestPaths.miniLMModel.flatMap { try? WordPieceTokenizer(directory: $0) }
}

func offsetsMatch(_ actual: [Range<Int>?], _ expected: [[Int]?]) -> Bool {
    actual.count == expected.count && zip(actual, expected).allSatisfy { a, e in
        switch (a, e) {
        case (nil, nil): return true
        case let (a?, e?): return e.count == 2 && a.lowerBound == e[0] && a.upperBound == e[1]
        default: return false
        }
    }
}

@Suite struct GoldenParityTests {
    @Test func fixturesPresent() throws {
        #expect(Fixtures.passages.count >= 290)
        let golden = try #require(Fixtures.golden, "golden.json missing or malformed")
        #expect(golden.singles.count > 300)
        #expect(golden.pairs.count > 40)
    }

    @Test func singleTextsMatchHuggingFace() throws {
        let tokenizer = try #require(Fixtures.tokenizer, "Models/all-MiniLM-L6-v2 missing: run Scripts/setup")
        let golden = try #require(Fixtures.golden)
        var failures: [String] = []
        for single in golden.singles {
            let text = Fixtures.text(of: single)
            if let ids = single.ids, let offsets = single.offsets {
                let encoding = try tokenizer.encode(text)
                if encoding.ids != ids { failures.append("\(single.name): ids \(encoding.ids) != \(ids)") }
                else if !offsetsMatch(encoding.offsets, offsets) {
                    failures.append("\(single.name): offsets \(encoding.offsets) != \(offsets)")
                }
                #expect(tokenizer.tokenCount(text) == ids.count, "\(single.name)")
                #expect(tokenizer.tokenIDs(text) == Array(ids.dropFirst().dropLast()), "\(single.name)")
                #expect(encoding.truncatedTokenCount == 0)
            }
            let full = single.total_length ?? single.ids?.count ?? 0
            let truncated = try tokenizer.encode(text, maxLength: 256)
            let expected256 = single.ids_256 ?? single.ids ?? []
            if truncated.ids != expected256 { failures.append("\(single.name): ids@256 differ") }
            #expect(truncated.truncatedTokenCount == max(0, full - 256), "\(single.name)")
        }
        #expect(failures.isEmpty, "\(failures.count) mismatches:\n\(failures.prefix(10).joined(separator: "\n"))")
    }

    @Test func randomUnicodeStringsMatchHuggingFace() throws {
        struct RandomCase: Decodable {
            var codepoints: [UInt32]
            var ids: [Int32]
            var offsets: [[Int]?]
        }
        let tokenizer = try #require(Fixtures.tokenizer, "Models/all-MiniLM-L6-v2 missing: run Scripts/setup")
        let data = try Data(contentsOf: Fixtures.directory.appendingPathComponent("random.json"))
        let cases = try JSONDecoder().decode([RandomCase].self, from: data)
        #expect(cases.count == 250)
        var failures: [String] = []
        for item in cases {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: item.codepoints.map { Unicode.Scalar($0)! })
            let encoding = try tokenizer.encode(String(view))
            if encoding.ids != item.ids || !offsetsMatch(encoding.offsets, item.offsets) {
                failures.append(item.codepoints.map { String($0, radix: 16) }.joined(separator: " "))
            }
        }
        #expect(failures.isEmpty, "\(failures.count) mismatches, e.g. [\(failures.first ?? "")]")
    }

    @Test func pairsMatchHuggingFace() throws {
        let tokenizer = try #require(Fixtures.tokenizer, "Models/all-MiniLM-L6-v2 missing: run Scripts/setup")
        let golden = try #require(Fixtures.golden)
        for pair in golden.pairs {
            let second = try #require(Fixtures.passages[pair.second_passage])
            let strategy: TruncationStrategy? = switch pair.strategy {
            case "longest_first": .longestFirst
            case "only_first": .onlyFirst
            case "only_second": .onlySecond
            default: nil
            }
            let label = "\(pair.strategy)@\(pair.max_length ?? 0) \(pair.second_passage)"
            if pair.error != nil {
                #expect(throws: TokenizerError.self, "\(label) should throw") {
                    try tokenizer.encodePair(pair.first, second, maxLength: pair.max_length, truncation: strategy!)
                }
                continue
            }
            let encoding = try tokenizer.encodePair(pair.first, second, maxLength: pair.max_length,
                                                    truncation: strategy ?? .longestFirst)
            #expect(encoding.ids == pair.ids, "\(label)")
            #expect(encoding.tokenTypeIDs == pair.token_type_ids, "\(label)")
            #expect(encoding.sequenceIDs == pair.sequence_ids, "\(label)")
            #expect(offsetsMatch(encoding.offsets, pair.offsets ?? []), "\(label)")
            #expect(encoding.truncatedTokenCount == pair.truncated, "\(label)")
            #expect(encoding.attentionMask == [Int32](repeating: 1, count: encoding.count))
        }
    }
}

@Suite struct TruncationTests {
    /// A toy vocabulary where every lowercase letter is one token, so lengths are easy to reason about.
    static let letters: WordPieceTokenizer = {
        var vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        for c in "abcdefghijklmnopqrstuvwxyz" { vocabulary.append(String(c)) }
        return WordPieceTokenizer(vocabulary: vocabulary)
    }()

    func words(_ count: Int) -> String { Array(repeating: "a", count: count).joined(separator: " ") }

    @Test func longestFirstFollowsRustTokenizers() throws {
        // Same table as tokenizers/src/utils/truncation.rs (max_length 7 for the sequences).
        let cases: [(Int, Int, Int, Int)] = [(0, 8, 0, 7), (2, 8, 2, 5), (4, 4, 3, 4), (4, 8, 3, 4),
                                             (8, 2, 5, 2), (8, 4, 4, 3), (8, 8, 3, 4), (4, 2, 4, 2)]
        for (n1, n2, e1, e2) in cases {
            let encoding = try Self.letters.encodePair(words(n1), words(n2), maxLength: 10)
            let first = encoding.sequenceIDs.filter { $0 == 0 }.count
            let second = encoding.sequenceIDs.filter { $0 == 1 }.count
            #expect(first == e1 && second == e2, "(\(n1), \(n2)) → (\(first), \(second)), expected (\(e1), \(e2))")
            #expect(encoding.truncatedTokenCount == n1 + n2 - e1 - e2)
            #expect(encoding.count <= 10)
        }
    }

    @Test func onlyStrategiesThrowWhenTheyCannotFit() throws {
        #expect(throws: TokenizerError.self) { try Self.letters.encodePair(words(20), words(2), maxLength: 10, truncation: .onlySecond) }
        #expect(throws: TokenizerError.self) { try Self.letters.encodePair(words(2), words(20), maxLength: 10, truncation: .onlyFirst) }
        #expect(throws: TokenizerError.self) { try Self.letters.encode(words(20), maxLength: 10, truncation: .onlySecond) }
        let second = try Self.letters.encodePair(words(3), words(20), maxLength: 10, truncation: .onlySecond)
        #expect(second.sequenceIDs.filter { $0 == 0 }.count == 3)
        #expect(second.sequenceIDs.filter { $0 == 1 }.count == 4)
        #expect(second.truncatedTokenCount == 16)
    }

    @Test func errorStrategyThrowsSequenceTooLong() throws {
        #expect(throws: TokenizerError.sequenceTooLong(length: 22, maxLength: 10)) {
            try Self.letters.encode(words(20), maxLength: 10, truncation: .error)
        }
        #expect(throws: TokenizerError.sequenceTooLong(length: 13, maxLength: 12)) {
            try Self.letters.encodePair(words(5), words(5), maxLength: 12, truncation: .error)
        }
        // Fits exactly: no error, nothing dropped.
        let fits = try Self.letters.encode(words(8), maxLength: 10, truncation: .error)
        #expect(fits.count == 10 && fits.truncatedTokenCount == 0)
    }

    @Test func singleTruncationKeepsSpecialsAndCountsDrops() throws {
        let encoding = try Self.letters.encode(words(20), maxLength: 10)
        #expect(encoding.count == 10)
        #expect(encoding.ids.first == Self.letters.clsID && encoding.ids.last == Self.letters.sepID)
        #expect(encoding.truncatedTokenCount == 12)
        #expect(encoding.offsets[8] == 14..<15)
    }
}

@Suite struct BehaviourTests {
    static let toy: WordPieceTokenizer = WordPieceTokenizer(vocabulary: [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "aff", "!", "cafe", "##s",
    ])

    @Test func greedyLongestMatchAndUnknownWords() {
        #expect(Self.toy.tokenize("Unaffable!") == ["un", "##aff", "##able", "!"])
        #expect(Self.toy.tokenize("CAFÉS unx") == ["cafe", "##s", "[UNK]"])
        let long = String(repeating: "a", count: 101)
        #expect(Self.toy.tokenize(long) == ["[UNK]"])
        #expect(Self.toy.tokenCount("Unaffable!") == 6)
    }

    @Test func offsetsPointIntoTheOriginalText() throws {
        // HF leaves a dropped trailing mark (and the removed U+200B) out of the span: "cafe" is 1..<6.
        let text = "\u{200B}Ca\u{0301}fe\u{0301}s  [SEP] unaffable"
        let encoding = try Self.toy.encode(text)
        #expect(encoding.ids == [2, 10, 11, 3, 5, 6, 7, 3])
        #expect(encoding.offsets == [nil, 1..<6, 7..<8, 10..<15, 16..<18, 18..<21, 21..<25, nil])
        #expect(encoding.sequenceIDs == [nil, 0, 0, 0, 0, 0, 0, nil])
    }

    @Test func leadingByteOrderMarkIsRemovedButCounted() throws {
        // U+FEFF is Cf: cleaned away, yet offsets still index the original text.
        let encoding = try Self.toy.encode("\u{FEFF}un \u{FEFF}aff")
        #expect(encoding.ids == [2, 5, 8, 3])
        #expect(encoding.offsets == [nil, 1..<3, 5..<8, nil])
    }

    @Test func vocabularyAccessors() throws {
        #expect(Self.toy.vocabularySize == 12)
        #expect(Self.toy.id(for: "##able") == 7)
        #expect(Self.toy.token(for: 7) == "##able")
        #expect(Self.toy.token(for: 99) == nil)
        #expect(Self.toy.unkID == 1 && Self.toy.clsID == 2 && Self.toy.sepID == 3 && Self.toy.padID == 0)
    }

    @Test func batchEqualsSingleEncodings() throws {
        let texts = ["Unaffable!", "", "cafes cafes cafes cafes cafes", "un"]
        let batch = Self.toy.encodeBatch(texts, maxLength: 5)
        for (text, encoding) in zip(texts, batch) {
            #expect(encoding == (try Self.toy.encode(text, maxLength: 5)))
        }
    }
}

@Suite struct LoadingTests {
    @Test func vocabTextFolderMatchesTokenizerJSON() throws {
        let model = try #require(TestPaths.miniLMModel, "Models/all-MiniLM-L6-v2 missing: run Scripts/setup")
        let fromJSON = try #require(Fixtures.tokenizer)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sift-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["vocab.txt", "tokenizer_config.json"] {
            try FileManager.default.copyItem(at: model.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        let fromVocab = try WordPieceTokenizer(directory: folder)
        #expect(fromVocab.vocabularySize == fromJSON.vocabularySize)
        #expect(fromVocab.modelMaxLength == 512 && fromJSON.modelMaxLength == 512)
        #expect(fromVocab.configuration == fromJSON.configuration)
        let golden = try #require(Fixtures.golden)
        for single in golden.singles {
            let text = Fixtures.text(of: single)
            #expect(try fromVocab.encode(text, maxLength: 256) == (try fromJSON.encode(text, maxLength: 256)), "\(single.name)")
        }
    }

    @Test func missingFolderNamesThePath() {
        let path = "/nonexistent/sift-model"
        #expect(throws: TokenizerError.missingFile(path: path)) {
            try WordPieceTokenizer(directory: URL(fileURLWithPath: path))
        }
    }

    @Test func emptyFolderNamesTheExpectedFiles() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sift-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        do {
            _ = try WordPieceTokenizer(directory: folder)
            Issue.record("expected an error")
        } catch let error as TokenizerError {
            #expect(error.description.contains("tokenizer.json") && error.description.contains("vocab.txt"))
        }
    }

    @Test func malformedTokenizerJSONIsReported() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sift-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("tokenizer.json")

        try Data("{ not json".utf8).write(to: file)
        do {
            _ = try WordPieceTokenizer(directory: folder)
            Issue.record("expected an error")
        } catch let TokenizerError.unreadableFile(path, reason) {
            #expect(path == file.path)
            #expect(reason.contains("invalid JSON"))
        }

        let wrongNormalizer = #"{"normalizer": {"type": "NFC"}, "pre_tokenizer": {"type": "BertPreTokenizer"}}"#
        try Data(wrongNormalizer.utf8).write(to: file)
        #expect(throws: TokenizerError.invalidValue(file: file.path, key: "normalizer.type", expected: "BertNormalizer", actual: "NFC")) {
            try WordPieceTokenizer(directory: folder)
        }

        let badFlag = #"{"normalizer": {"type": "BertNormalizer", "lowercase": "yes"}}"#
        try Data(badFlag.utf8).write(to: file)
        do {
            _ = try WordPieceTokenizer(directory: folder)
            Issue.record("expected an error")
        } catch let TokenizerError.invalidValue(path, key, _, actual) {
            #expect(path == file.path && key == "normalizer.lowercase" && actual == "yes")
        }
    }
}
