import Foundation
import Testing
@testable import SiftModels
import SiftTestSupport

/// The identity an index stores for its model follows what determines the vectors, not the folder name.
@Suite(.serialized) struct ModelIdentityTests {
    /// A copy of all-MiniLM-L6-v2 in a folder named `name` (the weights linked unless `copyWeights`), with `edit`
    /// applied to the copy; returns the loaded model's identity.
    static func identity(ofCopyNamed name: String, copyWeights: Bool = false, edit: (URL) throws -> Void = { _ in }) throws -> String {
        let source = try #require(TestPaths.miniLMModel, "Models/all-MiniLM-L6-v2 is missing: run Scripts/setup")
        let parent = try temporaryFolder("identity")
        defer { try? FileManager.default.removeItem(at: parent) }
        let copy = parent.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        for item in try FileManager.default.contentsOfDirectory(atPath: source.path) {
            let from = source.appendingPathComponent(item), to = copy.appendingPathComponent(item)
            if item == "model.safetensors", !copyWeights {
                try FileManager.default.createSymbolicLink(at: to, withDestinationURL: from)
            } else {
                try FileManager.default.copyItem(at: from, to: to)
            }
        }
        try edit(copy)
        return try BiEncoder(directory: copy).modelIdentity
    }

    /// Rewrites one JSON object file of the copy.
    static func editJSON(_ file: URL, _ change: (inout [String: Any]) -> Void) throws {
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        change(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: file)
    }

    static let original = Result { try identity(ofCopyNamed: "all-MiniLM-L6-v2") }

    @Test func identicalCopyUnderAnotherNameIsTheSameModel() throws {
        let original = try Self.original.get()
        #expect(original.hasPrefix("bert-L6-H384@"))
        #expect(try Self.identity(ofCopyNamed: "some-other-name", copyWeights: true) == original)
        // Fields Sift does not read may change without changing the vectors.
        let unused = try Self.identity(ofCopyNamed: "unused-field") { folder in
            try Self.editJSON(folder.appendingPathComponent("config.json")) { $0["transformers_version"] = "9.9.9" }
        }
        #expect(unused == original)
    }

    @Test func fewerLayersInConfigIsAnotherModel() throws {
        let original = try Self.original.get()
        let edited = try Self.identity(ofCopyNamed: "all-MiniLM-L6-v2") { folder in
            try Self.editJSON(folder.appendingPathComponent("config.json")) { $0["num_hidden_layers"] = 3 }
        }
        #expect(edited != original)
        #expect(edited.hasPrefix("bert-L3-H384@"))
    }

    @Test func editedVocabularyIsAnotherModel() throws {
        let original = try Self.original.get()
        for file in ["vocab.txt", "tokenizer.json"] {
            let edited = try Self.identity(ofCopyNamed: "all-MiniLM-L6-v2") { folder in
                let url = folder.appendingPathComponent(file)
                let text = try String(contentsOf: url, encoding: .utf8)
                // "hello" becomes a different token with the same id.
                try text.replacingOccurrences(of: "hello", with: "hallo").write(to: url, atomically: true, encoding: .utf8)
            }
            #expect(edited != original, "editing \(file)")
        }
    }

    @Test func poolingNormalisationAndLengthAreHashed() throws {
        let original = try Self.original.get()
        let cls = try Self.identity(ofCopyNamed: "all-MiniLM-L6-v2") { folder in
            try Self.editJSON(folder.appendingPathComponent("1_Pooling/config.json")) {
                $0["pooling_mode_mean_tokens"] = false
                $0["pooling_mode_cls_token"] = true
            }
        }
        let shorter = try Self.identity(ofCopyNamed: "all-MiniLM-L6-v2") { folder in
            try Self.editJSON(folder.appendingPathComponent("sentence_bert_config.json")) { $0["max_seq_length"] = 128 }
        }
        let unnormalised = try Self.identity(ofCopyNamed: "all-MiniLM-L6-v2") { folder in
            let url = folder.appendingPathComponent("modules.json")
            let modules = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [[String: Any]])
            try JSONSerialization.data(withJSONObject: modules.filter { ($0["type"] as? String)?.hasSuffix("Normalize") != true })
                .write(to: url)
        }
        #expect(Set([original, cls, shorter, unnormalised]).count == 4)
    }

    @Test func hasherSeparatesPartsAndIsStable() {
        func digest(_ parts: [String]) -> String {
            var hasher = StableHasher()
            for part in parts { hasher.combine(part) }
            return hasher.finalize()
        }
        #expect(digest(["ab", "c"]) != digest(["a", "bc"]))
        #expect(digest(["abcdefghi"]) != digest(["abcdefgh", "i"]))
        #expect(digest(["x"]) == digest(["x"]))
        #expect(digest([]).count == 16)
    }
}
