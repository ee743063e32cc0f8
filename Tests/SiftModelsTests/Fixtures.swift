import Foundation
import SiftCore
import SiftModels
import SiftTestSupport

/// Golden files written by Scripts/fixtures/make_model_fixtures.py.
enum ModelFixtures {
    struct EmbeddingText: Decodable {
        struct Repeat: Decodable { var unit: String; var length: Int }
        var id: String
        var text: String?
        var `repeat`: Repeat?
        /// Token ids from the Hugging Face tokenizer, truncated to max_seq_length.
        var ids: [Int32]
        var untruncatedTokenCount: Int
        enum CodingKeys: String, CodingKey { case id, text, `repeat`, ids, untruncatedTokenCount = "untruncated_token_count" }

        /// The text; generated ones are `unit` repeated and cut to `length` Unicode scalars.
        var value: String {
            if let text { return text }
            let r = `repeat`!
            var scalars = String.UnicodeScalarView()
            let unit = Array(r.unit.unicodeScalars)
            for i in 0..<r.length { scalars.append(unit[i % unit.count]) }
            return String(scalars)
        }
    }

    struct Embeddings: Decodable {
        struct Check: Decodable { var a: Int; var b: Int; var cosine: Float }
        var maxSeqLength: Int
        var dimension: Int
        var embeddingsFile: String
        var texts: [EmbeddingText]
        var paraphraseSentences: [String]
        var paraphraseChecks: [Check]
        enum CodingKeys: String, CodingKey {
            case maxSeqLength = "max_seq_length", dimension, embeddingsFile = "embeddings_file", texts
            case paraphraseSentences = "paraphrase_sentences", paraphraseChecks = "paraphrase_checks"
        }
        /// sentence-transformers' vectors, one per text.
        var vectors: [[Float]] = []
    }

    static let folder = TestPaths.fixtures.appendingPathComponent("models")

    static func embeddings() throws -> Embeddings {
        var doc = try JSONDecoder().decode(Embeddings.self, from: Data(contentsOf: folder.appendingPathComponent("minilm_embeddings.json")))
        let raw = try Data(contentsOf: folder.appendingPathComponent(doc.embeddingsFile))
        let floats: [Float] = raw.withUnsafeBytes { b in (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) } }
        precondition(floats.count == doc.texts.count * doc.dimension, "embedding file size disagrees with the JSON")
        doc.vectors = (0..<doc.texts.count).map { Array(floats[($0 * doc.dimension)..<(($0 + 1) * doc.dimension)]) }
        return doc
    }

    struct CrossEncoderPair: Decodable {
        var query: String
        var passage: String
        var maxLength: Int
        var truncation: String
        var ids: [Int32]
        var tokenTypeIDs: [Int32]
        var untruncatedTokenCount: Int
        var logits: [Float]
        enum CodingKeys: String, CodingKey {
            case query, passage, maxLength = "max_length", truncation, ids, tokenTypeIDs = "token_type_ids"
            case untruncatedTokenCount = "untruncated_token_count", logits
        }
    }

    struct CrossEncoderDoc: Decodable {
        struct Rule: Decodable { var suffix: String; var center: Float; var scale: Float }
        struct PRNG: Decodable { var rules: [Rule] }
        struct Tensor: Decodable { var name: String; var shape: [Int] }
        var prng: PRNG
        var tensors: [Tensor]
        var pairs: [CrossEncoderPair]
        /// config.json exactly as the Python side wrote it.
        var configJSON = Data()
        enum CodingKeys: String, CodingKey { case prng, tensors, pairs }
    }

    static func crossEncoder() throws -> CrossEncoderDoc {
        let data = try Data(contentsOf: folder.appendingPathComponent("cross_encoder_logits.json"))
        var doc = try JSONDecoder().decode(CrossEncoderDoc.self, from: data)
        let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        doc.configJSON = try JSONSerialization.data(withJSONObject: object["config"]!, options: [.sortedKeys])
        return doc
    }

    static func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        return zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        var dot = 0.0, na = 0.0, nb = 0.0
        for i in 0..<a.count { dot += Double(a[i]) * Double(b[i]); na += Double(a[i] * a[i]); nb += Double(b[i] * b[i]) }
        return Float(dot / max((na * nb).squareRoot(), 1e-30))
    }
}

/// The deterministic random BertForSequenceClassification of the cross-encoder fixture
/// (spec in cross_encoder_logits.json "prng"; Python twin in make_model_fixtures.py).
enum RandomCheckpoint {
    static func values(name: String, count: Int, rules: [ModelFixtures.CrossEncoderDoc.Rule]) -> [Float] {
        let rule = rules.first { name.hasSuffix($0.suffix) }!
        let seed = StableHash.fnv1a64(name)
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count {
                var z = seed &+ UInt64(i + 1) &* 0x9E37_79B9_7F4A_7C15
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                z ^= z >> 31
                let u = Float(z >> 40) * 0x1p-24
                let v = (2 * u - 1) * rule.scale
                buffer[i] = rule.center == 0 ? v : rule.center + v
            }
            initialized = count
        }
    }

    /// Writes config.json, model.safetensors and the MiniLM tokenizer files into `folder`.
    static func write(to folder: URL, doc: ModelFixtures.CrossEncoderDoc, tokenizerFrom miniLM: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try doc.configJSON.write(to: folder.appendingPathComponent("config.json"))
        let tensors = doc.tensors.map { t in
            SafetensorsWriter.Tensor(name: t.name, shape: t.shape, values: values(name: t.name, count: t.shape.reduce(1, *), rules: doc.prng.rules))
        }
        try SafetensorsWriter.write(tensors, to: folder.appendingPathComponent("model.safetensors"))
        for file in ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"] {
            let source = miniLM.appendingPathComponent(file)
            if FileManager.default.fileExists(atPath: source.path) {
                try FileManager.default.copyItem(at: source, to: folder.appendingPathComponent(file))
            }
        }
    }
}

/// A fresh temporary folder, removed by the caller.
func temporaryFolder(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("sift-models-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
