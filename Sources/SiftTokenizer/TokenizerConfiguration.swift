import Foundation

/// Settings of a BERT WordPiece tokenizer: the Hugging Face `BertNormalizer` flags, the WordPiece
/// model parameters and the special tokens.
public struct TokenizerConfiguration: Sendable, Hashable {
    /// Remove control characters, U+0000 and U+FFFD; turn every whitespace character into a space.
    public var cleanText: Bool
    /// Split every CJK ideograph into its own word.
    public var handleChineseCharacters: Bool
    /// NFD + drop non-spacing marks. `nil` follows `lowercase` (HF's default for uncased BERT).
    public var stripAccents: Bool?
    /// Full Unicode lowercase mapping, character by character.
    public var lowercase: Bool
    public var unknownToken: String
    public var continuingSubwordPrefix: String
    /// Words longer than this (in Unicode scalars, after normalisation) become the unknown token.
    public var maxInputCharactersPerWord: Int
    public var classifierToken: String
    public var separatorToken: String
    public var paddingToken: String
    /// Tokens recognised verbatim in raw input (before normalisation), like HF's added special
    /// tokens: "a [SEP] b" encodes the [SEP] as the separator id.
    public var specialTokens: [String]
    /// The longest sequence the model accepts (tokenizer_config.json `model_max_length`).
    public var modelMaxLength: Int

    public init(cleanText: Bool = true, handleChineseCharacters: Bool = true, stripAccents: Bool? = nil,
                lowercase: Bool = true, unknownToken: String = "[UNK]", continuingSubwordPrefix: String = "##",
                maxInputCharactersPerWord: Int = 100, classifierToken: String = "[CLS]",
                separatorToken: String = "[SEP]", paddingToken: String = "[PAD]",
                specialTokens: [String] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                modelMaxLength: Int = 512) {
        self.cleanText = cleanText
        self.handleChineseCharacters = handleChineseCharacters
        self.stripAccents = stripAccents
        self.lowercase = lowercase
        self.unknownToken = unknownToken
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.maxInputCharactersPerWord = maxInputCharactersPerWord
        self.classifierToken = classifierToken
        self.separatorToken = separatorToken
        self.paddingToken = paddingToken
        self.specialTokens = specialTokens
        self.modelMaxLength = modelMaxLength
    }

    /// Whether accents are stripped, resolving `nil` the way HF does.
    public var effectiveStripAccents: Bool { stripAccents ?? lowercase }
}

/// Reads a Hugging Face tokenizer folder: `tokenizer.json` when present, else `vocab.txt` +
/// `tokenizer_config.json`. Only the BERT WordPiece pipeline is accepted; anything else throws.
enum TokenizerFolderLoader {
    static func load(directory: URL) throws -> (vocabulary: [String], configuration: TokenizerConfiguration) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TokenizerError.missingFile(path: directory.path)
        }
        let configURL = directory.appendingPathComponent("tokenizer_config.json")
        let config = FileManager.default.fileExists(atPath: configURL.path) ? try readJSONObject(configURL) : nil
        let tokenizerURL = directory.appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: tokenizerURL.path) {
            return try loadTokenizerJSON(tokenizerURL, config: config, configURL: configURL)
        }
        let vocabURL = directory.appendingPathComponent("vocab.txt")
        guard FileManager.default.fileExists(atPath: vocabURL.path) else {
            throw TokenizerError.missingFile(path: tokenizerURL.path + " (or " + vocabURL.path + ")")
        }
        return try loadVocabText(vocabURL, config: config, configURL: configURL)
    }

    // MARK: tokenizer.json

    private static func loadTokenizerJSON(_ url: URL, config: [String: Any]?, configURL: URL)
        throws -> (vocabulary: [String], configuration: TokenizerConfiguration) {
        let file = url.path
        let root = try readJSONObject(url)
        var configuration = TokenizerConfiguration()
        if let config { configuration.modelMaxLength = try modelMaxLength(config, file: configURL.path) }

        let normalizer = try object(root, "normalizer", file: file)
        try expectType(normalizer, "BertNormalizer", key: "normalizer.type", file: file)
        configuration.cleanText = try bool(normalizer, "clean_text", file: file, prefix: "normalizer.") ?? true
        configuration.handleChineseCharacters = try bool(normalizer, "handle_chinese_chars", file: file, prefix: "normalizer.") ?? true
        configuration.stripAccents = try bool(normalizer, "strip_accents", file: file, prefix: "normalizer.")
        configuration.lowercase = try bool(normalizer, "lowercase", file: file, prefix: "normalizer.") ?? true

        let preTokenizer = try object(root, "pre_tokenizer", file: file)
        try expectType(preTokenizer, "BertPreTokenizer", key: "pre_tokenizer.type", file: file)

        let model = try object(root, "model", file: file)
        try expectType(model, "WordPiece", key: "model.type", file: file)
        configuration.unknownToken = try string(model, "unk_token", file: file, prefix: "model.") ?? "[UNK]"
        configuration.continuingSubwordPrefix = try string(model, "continuing_subword_prefix", file: file, prefix: "model.") ?? "##"
        configuration.maxInputCharactersPerWord = try int(model, "max_input_chars_per_word", file: file, prefix: "model.") ?? 100
        guard let vocabObject = model["vocab"] as? [String: Any] else {
            throw TokenizerError.invalidValue(file: file, key: "model.vocab", expected: "an object of token → id",
                                              actual: describe(model["vocab"]))
        }
        var byID = [String?](repeating: nil, count: vocabObject.count)
        for (token, value) in vocabObject {
            guard let id = value as? Int, id >= 0, id < vocabObject.count, byID[id] == nil else {
                throw TokenizerError.invalidValue(file: file, key: "model.vocab[\"\(token)\"]",
                                                  expected: "a unique id in 0..<\(vocabObject.count)", actual: describe(value))
            }
            byID[id] = token
        }
        let vocabulary = byID.map { $0! }

        // Added tokens are matched verbatim in the raw text (HF AddedVocabulary).
        if let added = root["added_tokens"] as? [[String: Any]] {
            var specials: [String] = []
            for entry in added {
                guard let content = entry["content"] as? String, let id = entry["id"] as? Int else {
                    throw TokenizerError.invalidValue(file: file, key: "added_tokens", expected: "objects with content and id",
                                                      actual: describe(entry))
                }
                guard id >= 0, id < vocabulary.count, vocabulary[id] == content else {
                    throw TokenizerError.invalidValue(file: file, key: "added_tokens[\"\(content)\"].id",
                                                      expected: "the id of \"\(content)\" in model.vocab", actual: "\(id)")
                }
                if (entry["normalized"] as? Bool) == true {
                    throw TokenizerError.invalidValue(file: file, key: "added_tokens[\"\(content)\"].normalized",
                                                      expected: "false (normalized added tokens are not supported)", actual: "true")
                }
                specials.append(content)
            }
            configuration.specialTokens = specials
        }

        // Post-processor: [CLS] A [SEP] (B [SEP]).
        let post = try object(root, "post_processor", file: file)
        let postType = post["type"] as? String
        switch postType {
        case "TemplateProcessing":
            guard let single = post["single"] as? [[String: Any]], single.count == 3,
                  let cls = (single[0]["SpecialToken"] as? [String: Any])?["id"] as? String,
                  single[1]["Sequence"] != nil,
                  let sep = (single[2]["SpecialToken"] as? [String: Any])?["id"] as? String else {
                throw TokenizerError.invalidValue(file: file, key: "post_processor.single",
                                                  expected: "[SpecialToken, Sequence A, SpecialToken]", actual: describe(post["single"]))
            }
            configuration.classifierToken = cls
            configuration.separatorToken = sep
        case "BertProcessing":
            guard let cls = (post["cls"] as? [Any])?.first as? String, let sep = (post["sep"] as? [Any])?.first as? String else {
                throw TokenizerError.invalidValue(file: file, key: "post_processor", expected: "cls and sep pairs", actual: describe(post))
            }
            configuration.classifierToken = cls
            configuration.separatorToken = sep
        default:
            throw TokenizerError.invalidValue(file: file, key: "post_processor.type",
                                              expected: "TemplateProcessing or BertProcessing", actual: describe(postType))
        }
        if let padding = root["padding"] as? [String: Any], let pad = padding["pad_token"] as? String {
            configuration.paddingToken = pad
        } else if let config, let pad = tokenString(config["pad_token"]) {
            configuration.paddingToken = pad
        }
        return (vocabulary, configuration)
    }

    // MARK: vocab.txt + tokenizer_config.json

    private static func loadVocabText(_ url: URL, config: [String: Any]?, configURL: URL)
        throws -> (vocabulary: [String], configuration: TokenizerConfiguration) {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TokenizerError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TokenizerError.unreadableFile(path: url.path, reason: "not valid UTF-8")
        }
        // One token per line, as HF's load_vocab (which strips only the newline).
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        guard !lines.isEmpty else { throw TokenizerError.unreadableFile(path: url.path, reason: "empty vocabulary") }

        var configuration = TokenizerConfiguration()
        if let config {
            let file = configURL.path
            configuration.lowercase = try bool(config, "do_lower_case", file: file) ?? true
            configuration.stripAccents = try bool(config, "strip_accents", file: file)
            configuration.handleChineseCharacters = try bool(config, "tokenize_chinese_chars", file: file) ?? true
            configuration.modelMaxLength = try modelMaxLength(config, file: file)
            if let unk = tokenString(config["unk_token"]) { configuration.unknownToken = unk }
            if let cls = tokenString(config["cls_token"]) { configuration.classifierToken = cls }
            if let sep = tokenString(config["sep_token"]) { configuration.separatorToken = sep }
            if let pad = tokenString(config["pad_token"]) { configuration.paddingToken = pad }
            let mask = tokenString(config["mask_token"]) ?? "[MASK]"
            configuration.specialTokens = [configuration.paddingToken, configuration.unknownToken,
                                           configuration.classifierToken, configuration.separatorToken, mask]
        }
        configuration.specialTokens = configuration.specialTokens.filter { lines.contains($0) }
        return (lines, configuration)
    }

    // MARK: JSON helpers

    private static func readJSONObject(_ url: URL) throws -> [String: Any] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TokenizerError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        let value: Any
        do { value = try JSONSerialization.jsonObject(with: data) } catch {
            throw TokenizerError.unreadableFile(path: url.path, reason: "invalid JSON (\(error.localizedDescription))")
        }
        guard let object = value as? [String: Any] else {
            throw TokenizerError.unreadableFile(path: url.path, reason: "top level is not a JSON object")
        }
        return object
    }

    private static func object(_ parent: [String: Any], _ key: String, file: String) throws -> [String: Any] {
        guard let value = parent[key] as? [String: Any] else {
            throw TokenizerError.invalidValue(file: file, key: key, expected: "an object", actual: describe(parent[key]))
        }
        return value
    }

    private static func expectType(_ object: [String: Any], _ type: String, key: String, file: String) throws {
        guard (object["type"] as? String) == type else {
            throw TokenizerError.invalidValue(file: file, key: key, expected: type, actual: describe(object["type"]))
        }
    }

    /// nil when absent or JSON null; throws when present with another type.
    private static func bool(_ object: [String: Any], _ key: String, file: String, prefix: String = "") throws -> Bool? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let flag = value as? Bool else {
            throw TokenizerError.invalidValue(file: file, key: prefix + key, expected: "true, false or null", actual: describe(value))
        }
        return flag
    }

    private static func int(_ object: [String: Any], _ key: String, file: String, prefix: String = "") throws -> Int? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let number = value as? Int else {
            throw TokenizerError.invalidValue(file: file, key: prefix + key, expected: "an integer", actual: describe(value))
        }
        return number
    }

    private static func string(_ object: [String: Any], _ key: String, file: String, prefix: String = "") throws -> String? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let text = value as? String else {
            throw TokenizerError.invalidValue(file: file, key: prefix + key, expected: "a string", actual: describe(value))
        }
        return text
    }

    /// `model_max_length`; HF writes a huge float (1e30) for "no limit", which maps to Int.max.
    private static func modelMaxLength(_ config: [String: Any], file: String) throws -> Int {
        guard let value = config["model_max_length"], !(value is NSNull) else { return 512 }
        if let number = value as? Int, number > 0 { return number }
        if let number = value as? Double, number >= 1 { return number >= Double(Int.max) ? Int.max : Int(number) }
        throw TokenizerError.invalidValue(file: file, key: "model_max_length", expected: "a positive number", actual: describe(value))
    }

    /// Special tokens appear as plain strings or as {"content": ...} objects.
    private static func tokenString(_ value: Any?) -> String? {
        if let text = value as? String { return text }
        if let object = value as? [String: Any] { return object["content"] as? String }
        return nil
    }

    private static func describe(_ value: Any?) -> String {
        guard let value else { return "nothing (key missing)" }
        if value is NSNull { return "null" }
        let text = String(describing: value)
        return text.count > 80 ? String(text.prefix(80)) + "…" : text
    }
}
