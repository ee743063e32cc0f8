import Foundation
import Testing
@testable import SiftPipeline

/// The message of the `PipelineError.inputLimit` that parsing `yaml` throws (nil when it throws none), checking
/// that the answer comes in well under a second whatever the input.
private func limitMessage(_ yaml: String, file: String = "hostile.yaml", sourceLocation: SourceLocation = #_sourceLocation) -> String? {
    let started = Date()
    defer {
        let elapsed = Date().timeIntervalSince(started)
        #expect(elapsed < 1, "took \(elapsed) s", sourceLocation: sourceLocation)
    }
    do {
        _ = try ConfigNode.parse(yaml: yaml, file: file)
        return nil
    } catch let PipelineError.inputLimit(source, _, message) {
        #expect(source == file, sourceLocation: sourceLocation)
        return message
    } catch {
        return nil
    }
}

/// True when `yaml` parses into a tree.
private func parses(_ yaml: String) -> Bool {
    (try? ConfigNode.parse(yaml: yaml, file: "test.yaml")) != nil
}

/// Nine levels of nine aliases (387 million values once expanded), as block lines or as one flow mapping.
func billionLaughs(flow: Bool = false) -> String {
    var entries = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in 1...9 {
        entries.append("a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ", ") + "]")
    }
    entries.append("source: *a9")
    return flow ? "{" + entries.joined(separator: ", ") + "}" : entries.joined(separator: "\n") + "\n"
}

private func nested(_ depth: Int) -> String { String(repeating: "[", count: depth) + String(repeating: "]", count: depth) }

/// `a:` mappings indented two more spaces per level.
private func indentedMappings(_ depth: Int) -> String {
    (0..<depth).map { String(repeating: "  ", count: $0) + "a:" }.joined(separator: "\n") + " x\n"
}

@Suite struct BoundedYAMLTests {
    @Test func billionLaughsStopsAtTheExpansionBudget() throws {
        let message = try #require(limitMessage(billionLaughs()))
        #expect(message.contains("\(YAMLLimits.maxNodes) values once aliases are expanded"))
    }

    @Test func tooManyAliasesAreRefusedBeforeParsing() throws {
        let yaml = "a: &a x\nb: [" + Array(repeating: "*a", count: YAMLLimits.maxAliases + 1).joined(separator: ", ") + "]\n"
        let message = try #require(limitMessage(yaml))
        #expect(message.contains("more than \(YAMLLimits.maxAliases) aliases"))
        let fewer = "a: &a x\nb: [" + Array(repeating: "*a", count: YAMLLimits.maxAliases).joined(separator: ", ") + "]\n"
        #expect(parses(fewer))
    }

    @Test func expandedTextIsBounded() throws {
        // 200 KB of text referenced 30 times: 6 MB once expanded, in a 200 KB file.
        let yaml = "a: &a \(String(repeating: "x", count: 200_000))\nb: [" + Array(repeating: "*a", count: 30).joined(separator: ", ") + "]\n"
        let message = try #require(limitMessage(yaml))
        #expect(message.contains("\(YAMLLimits.maxScalarBytes) bytes of text"))
    }

    @Test func deepFlowNestingIsRefusedNotACrash() throws {
        for depth in [YAMLLimits.maxDepth + 1, 5_000, 200_000] {
            let message = try #require(limitMessage("source: " + nested(depth) + "\n"), "depth \(depth)")
            #expect(message.contains("nested deeper than \(YAMLLimits.maxDepth) levels"))
        }
    }

    @Test func depthLimitIsExactForPlainNesting() throws {
        // The root list counts as the first level, as in the pre-scan.
        #expect(parses(nested(YAMLLimits.maxDepth)))
        #expect(limitMessage(nested(YAMLLimits.maxDepth + 1)) != nil)
        #expect(parses(indentedMappings(YAMLLimits.maxDepth)))
        #expect(limitMessage(indentedMappings(YAMLLimits.maxDepth + 1)) != nil)
    }

    @Test func deepBlockNestingIsRefusedInEveryForm() throws {
        let forms = [
            "indented mappings": indentedMappings(500),
            "compact sequences": "source: " + String(repeating: "- ", count: 5_000) + "x\n",
            "compact sequences with keys": "source:\n" + (0..<500).map { String(repeating: "  ", count: $0) + "- k:" }.joined(separator: "\n"),
            "explicit keys": String(repeating: "? ", count: 5_000) + "x\n",
            "indented sequences": (0..<1_000).map { String(repeating: " ", count: $0) + "-" }.joined(separator: "\n"),
            "flow inside block": String(repeating: "- [", count: 2_000) + String(repeating: "]", count: 2_000),
            "flow keys in sequences": "[" + String(repeating: "[", count: 3_000) + String(repeating: "]: 1", count: 3_000) + "]",
            "CR line endings": (0..<1_000).map { String(repeating: " ", count: $0) + "a:" }.joined(separator: "\r"),
            "after a document marker": "--- " + nested(5_000),
        ]
        for (name, yaml) in forms {
            let message = try #require(limitMessage(yaml), "\(name) was not refused")
            #expect(message.contains("nested deeper than"), "\(name): \(message)")
        }
    }

    @Test func quotesAndCommentsAndBlockScalarsDoNotCountButCannotHideNesting() throws {
        let deep = String(repeating: "[", count: 500)
        let harmless = [
            "comment": "# \(deep)\nname: x # \(deep)\n",
            "quoted": "name: '\(deep) it''s'\nother: \"\(deep) \\\" \(deep)\"\n",
            "multi-line quoted": "name: \"first\n  \(deep)\n  last\"\n",
            "block scalar": "text: |\n  \(deep)\n  'not a quote\n\n  \(deep)\nname: x\n",
            "folded with indent": "- >2\n    \(deep)\n- x\n",
            "brackets inside plain scalars": "name: a\(deep)b\nurl: http://x/[y]\n",
            "plain continuation": "name: one\n  two 'three\n  \(deep)\nother: x\n",
            "many keys at one level": (0..<1_000).map { "k\($0):\n- a\n- b" }.joined(separator: "\n"),
        ]
        for (name, yaml) in harmless {
            #expect(parses(yaml), "\(name) was refused")
        }
        // A quote inside a plain scalar starts nothing, so the nesting after it still counts.
        let hiding = [
            "quote in a continuation line": "a: b\n  'x\nc: \(nested(5_000))\n'\n",
            "quote inside a plain scalar": "a: it's \nc: \(nested(5_000))\nd: '\n",
            "after a block scalar": "a: |\n  text\nb: \(nested(5_000))\n",
            "hash inside quotes": "\"key # text\": \(nested(5_000))\n",
            "after a multi-line flow": "a: [x,\n y]\nb: \(nested(5_000))\n",
        ]
        for (name, yaml) in hiding {
            #expect(limitMessage(yaml) != nil, "\(name) was accepted")
        }
    }

    @Test func manyValuesAreRefusedBeforeYamsBuildsThem() throws {
        let flat = "source: [" + Array(repeating: "1", count: 300_000).joined(separator: ",") + "]\n"
        let message = try #require(limitMessage(flat))
        #expect(message.contains("more than \(YAMLLimits.maxNodes) values"))
        let within = "source: [" + Array(repeating: "1", count: 1_000).joined(separator: ",") + "]\n"
        #expect(parses(within))
    }

    @Test func fileSizeIsCheckedBeforeReading() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sift-bounded-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("big.yaml")
        try Data(("# " + String(repeating: "x", count: YAMLLimits.maxBytes) + "\n").utf8).write(to: file)
        #expect {
            try PipelineConfig.load(contentsOf: file)
        } throws: { error in
            guard case let PipelineError.inputLimit(source, nil, message) = error else { return false }
            return source == file.path && message.contains("\(YAMLLimits.maxBytes) bytes")
        }
    }

    @Test func setValuesGoThroughTheSameBounds() throws {
        #expect {
            try PipelineOverride("source=" + nested(5_000))
        } throws: { error in
            guard case let PipelineError.inputLimit(source, _, message) = error else { return false }
            return source == "--set source" && message.contains("nested deeper")
        }
        #expect {
            try PipelineOverride("source=" + billionLaughs(flow: true))
        } throws: { error in
            if case PipelineError.inputLimit = error { return true }
            return false
        }
        #expect {
            try PipelineOverride(Array(repeating: "a", count: 5_000).joined(separator: ".") + "=1")
        } throws: { error in
            guard case let PipelineError.inputLimit(_, _, message) = error else { return false }
            return message.contains("key path of 5000 parts")
        }
        // Values that are merely not YAML on their own still become strings.
        let plain = try PipelineOverride("name=a: b: c")
        guard case let .scalar(text, _, _) = plain.value else { Issue.record("expected a string, got \(plain.value.shortDescription)"); return }
        #expect(text == "a: b: c")
    }

    @Test func longValuesAreShortenedInMessages() throws {
        let long = String(repeating: "y", count: 10_000)
        let node = ConfigNode.scalar(long, plain: true, line: 1)
        #expect(node.shortDescription.count == 82)
        #expect(node.shortDescription.hasSuffix("...'"))
    }
}
