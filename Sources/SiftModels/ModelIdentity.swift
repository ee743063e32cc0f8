import Foundation

/// The identity an index stores for the model that produced its vectors: `bert-L6-H384@<16 hex digits>`.
///
/// The hash covers what determines the vectors: the configuration values Sift reads from `config.json`, the
/// weights, the tokenizer files and the pooling, normalisation and length settings actually in effect. Not the
/// folder: an identical copy under another name is the same model, while a `config.json` with fewer layers or an
/// edited vocabulary is not. The prefix is only for people reading error messages. Tokenizer files are hashed as
/// bytes (a reformatted file counts as a change: refusing is safer than mixing vectors); `config.json` by the values
/// used, so its unused fields (`transformers_version`, dropout rates) may change freely.
enum ModelIdentity {
    /// Files the tokenizer may read; those present are hashed (all together under a megabyte).
    static let tokenizerFiles = ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]

    /// Hashes the tokenizer files of `directory`, which is cheap enough to run beside the weights fingerprint.
    static func tokenizerFingerprint(_ directory: URL) throws -> String {
        var hasher = StableHasher()
        for name in tokenizerFiles {
            let url = directory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            hasher.combine(name)
            hasher.combine(try fileFingerprint(url))
        }
        return hasher.finalize()
    }

    /// `settings` are the head's values in effect (pooling, normalisation, token limit, labels), as `key=value`.
    static func make(configuration c: BertConfiguration, weights: String, tokenizer: String, settings: [String]) -> String {
        var hasher = StableHasher()
        let config = ["vocab_size=\(c.vocabSize)", "hidden_size=\(c.hiddenSize)", "num_hidden_layers=\(c.numHiddenLayers)",
                      "num_attention_heads=\(c.numAttentionHeads)", "intermediate_size=\(c.intermediateSize)",
                      "hidden_act=\(c.hiddenAct)", "max_position_embeddings=\(c.maxPositionEmbeddings)",
                      "type_vocab_size=\(c.typeVocabSize)", "layer_norm_eps=\(c.layerNormEps.bitPattern)"]
        for part in config + ["weights=\(weights)", "tokenizer=\(tokenizer)"] + settings { hasher.combine(part) }
        return "bert-L\(c.numHiddenLayers)-H\(c.hiddenSize)@\(hasher.finalize())"
    }
}

/// A cheap stable 64-bit hash (multiply-rotate over 8-byte words), the same on every run and platform, as 16 hex
/// digits. Not cryptographic: it tells models and files apart in index manifests.
struct StableHasher {
    private var h: UInt64 = 0xCBF2_9CE4_8422_2325

    /// Adds `bytes` and their length (so "ab"+"c" and "a"+"bc" differ).
    mutating func combine(_ bytes: UnsafeRawBufferPointer) {
        mix(UInt64(bytes.count))
        let words = bytes.count / 8
        for i in 0..<words { mix(bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) }
        var tail: UInt64 = 0
        for i in (words * 8)..<bytes.count { tail = tail << 8 | UInt64(bytes[i]) }
        mix(tail)
    }

    mutating func combine(_ text: String) {
        var text = text
        text.withUTF8 { combine(UnsafeRawBufferPointer($0)) }
    }

    private mutating func mix(_ word: UInt64) {
        let w = word &* 0x87C3_7B91_1142_53D5
        h = ((h ^ w) << 31 | (h ^ w) >> 33) &* 0x4CF5_AD43_2745_937F
    }

    func finalize() -> String {
        var x = h
        x ^= x >> 33; x = x &* 0xFF51_AFD7_ED55_8CCD; x ^= x >> 33
        let digits = String(x, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

/// The `StableHasher` digest of a file's bytes, read through a mapping (the weights are not copied).
func fileFingerprint(_ url: URL) throws -> String {
    let data: Data
    do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
        throw ModelError.unreadable(path: url.path, reason: error.localizedDescription)
    }
    var hasher = StableHasher()
    data.withUnsafeBytes { hasher.combine($0) }
    return hasher.finalize()
}
