import Foundation
import Testing
import SiftTestSupport
@testable import SiftPipeline

/// A JSON value as decoded from the schema or converted from pipeline YAML.
indirect enum JSONAny: Decodable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONAny])
    case object([String: JSONAny])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONAny].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONAny].self)) }
    }

    /// A pipeline file's tree as a YAML 1.2 editor sees it (core schema: null, true/false, numbers, strings).
    init(_ node: ConfigNode) {
        switch node {
        case let .scalar(text, plain, _):
            if !plain { self = .string(text) }
            else if node.isNull { self = .null }
            else if ["true", "True", "TRUE"].contains(text) { self = .bool(true) }
            else if ["false", "False", "FALSE"].contains(text) { self = .bool(false) }
            else if let number = Double(text), text.first.map({ $0.isNumber || "+-.".contains($0) }) == true { self = .number(number) }
            else { self = .string(text) }
        case let .sequence(items, _): self = .array(items.map(JSONAny.init))
        case let .mapping(pairs, _): self = .object(Dictionary(pairs.map { ($0.key, JSONAny($0.value)) }, uniquingKeysWith: { _, last in last }))
        }
    }

    subscript(key: String) -> JSONAny? {
        if case let .object(members) = self { return members[key] }
        return nil
    }
}

/// The draft-07 keywords `StageRegistry.jsonSchema` uses, checked as a validator would: the places `value` breaks
/// `schema`, empty when it conforms.
func schemaViolations(_ value: JSONAny, _ schema: JSONAny, at path: String = "$") -> [String] {
    if case let .bool(accepts) = schema { return accepts ? [] : ["\(path): no value allowed"] }
    guard case let .object(rules) = schema else { return ["\(path): schema is not an object"] }
    var found: [String] = []
    if case let .string(type)? = rules["type"], !matches(value, type: type) { found.append("\(path): not \(type)") }
    if case let .array(options)? = rules["enum"], !options.contains(value) { found.append("\(path): not one of the enum") }
    if let constant = rules["const"], constant != value { found.append("\(path): not the constant") }
    if case let .number(value) = value {
        if case let .number(minimum)? = rules["minimum"], value < minimum { found.append("\(path): below minimum") }
        if case let .number(maximum)? = rules["maximum"], value > maximum { found.append("\(path): above maximum") }
    }
    if case let .string(text) = value, case let .string(pattern)? = rules["pattern"],
       text.range(of: pattern, options: .regularExpression) == nil {
        found.append("\(path): does not match \(pattern)")
    }
    if case let .array(items) = value {
        if case let .number(minimum)? = rules["minItems"], Double(items.count) < minimum { found.append("\(path): too few items") }
        if let itemSchema = rules["items"] {
            for (index, item) in items.enumerated() { found += schemaViolations(item, itemSchema, at: "\(path)[\(index)]") }
        }
    }
    if case let .object(members) = value {
        let properties: [String: JSONAny]
        if case let .object(declared)? = rules["properties"] { properties = declared } else { properties = [:] }
        for (key, member) in members {
            if let propertySchema = properties[key] {
                found += schemaViolations(member, propertySchema, at: "\(path).\(key)")
            } else if rules["additionalProperties"] == .bool(false) {
                found.append("\(path).\(key): not allowed")
            }
        }
        if case let .array(required)? = rules["required"] {
            for case let .string(key) in required where members[key] == nil { found.append("\(path).\(key): required") }
        }
    }
    if case let .array(options)? = rules["anyOf"], !options.contains(where: { schemaViolations(value, $0, at: path).isEmpty }) {
        found.append("\(path): matches none of anyOf")
    }
    return found
}

private func matches(_ value: JSONAny, type: String) -> Bool {
    switch (type, value) {
    case ("null", .null), ("boolean", .bool), ("number", .number), ("string", .string), ("array", .array), ("object", .object): true
    case let ("integer", .number(number)): number == number.rounded()
    default: false
    }
}

@Suite struct PipelineSchemaTests {
    static let schema: JSONAny = try! JSONDecoder().decode(JSONAny.self, from: Data(StageRegistry.jsonSchema().utf8))

    static func tree(_ yaml: String) throws -> JSONAny {
        JSONAny(try #require(try ConfigNode.parse(yaml: yaml, file: "test.yaml")))
    }

    static func loads(_ yaml: String) -> Bool {
        (try? PipelineConfig.parse(yaml: yaml, baseDirectory: URL(fileURLWithPath: "/repo/Pipelines"), environment: ["HOME": "/h"])) != nil
    }

    @Test func schemaIsDraft07JSONListingEveryDeclaredKey() throws {
        #expect(Self.schema["$schema"] == .string("http://json-schema.org/draft-07/schema#"))
        #expect(Self.schema["required"] == .array([.string("source"), .string("embedder")]))
        let paths = StageRegistry.keys.flatMap { $0.flattened() }.map(\.path)
        #expect(paths.count > 40)
        for path in paths {
            #expect(Self.property(path) != nil, "\(path) is not in the schema")
        }
        // Defaults and ranges come from the declarations.
        #expect(Self.property("embedder.batch_size")?["default"] == .number(32))
        #expect(Self.property("reranker.batch_size")?["default"] == .number(16))
        #expect(Self.property("embedder.precision")?["default"] == .string("bf16"))
        #expect(Self.property("reranker.precision")?["default"] == .string("fp32"))
        #expect(Self.property("retriever.dense_weight")?["maximum"] == .number(1))
        #expect(Self.property("retriever.fusion")?["enum"] == .array([.string("rrf"), .string("weighted"), .string("none")]))
        #expect(Self.property("index.hnsw.m")?["maximum"] == .number(100))
        #expect(Self.property("index.shards")?["type"] == .string("array"))
        #expect(Self.property("index.shards[].url") != nil)
        #expect(Self.property("index.schema")?["default"] == .string("sift"))
    }

    /// The schema of the key at a dotted path, looking through a stage's variants and, for `name[]`, a list's items.
    static func property(_ path: String) -> JSONAny? {
        var schemas = [schema]
        for part in path.split(separator: ".").map(String.init) {
            let items = part.hasSuffix("[]")
            let name = items ? String(part.dropLast(2)) : part
            schemas = schemas.flatMap { schema -> [JSONAny] in
                var candidates = [schema]
                if case let .array(variants)? = schema["anyOf"] { candidates += variants }
                return candidates.compactMap { $0["properties"]?[name] }.compactMap { items ? $0["items"] : $0 }
            }
        }
        return schemas.first
    }

    @Test func everyShippedPipelineValidatesAgainstTheSchema() throws {
        let folder = TestPaths.repositoryRoot.appendingPathComponent("Pipelines")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files.count >= 5)
        for name in files {
            let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            #expect(schemaViolations(try Self.tree(text), Self.schema) == [], "\(name)")
        }
    }

    /// The schema and the loader agree on what is a pipeline, for files that use every section and for broken ones.
    @Test(arguments: [
        ("source: { root: docs }\nembedder: { model: m }", true),
        ("""
         name: full
         source: { root: docs, include: "*.html", exclude: [a, b] }
         reader: { preset: sphinx, drop: [nav], keep: [] }
         chunker: { max_tokens: 128, overlap_tokens: 8, heading_prefix: false, min_tokens: 0, split_on_anchor: true, title_in_path: false }
         embedder: { type: bi-encoder, model: m, batch_size: 4, precision: int8 }
         index: { path: idx }
         retriever: { top_k: 30, dense: true, bm25: false, fusion: none, rrf_k: 10, dense_weight: 0.25 }
         reranker: { type: cross-encoder, model: ce, top_k: 10, max_tokens: 256, truncation: longest_first, batch_size: 8, precision: bf16 }
         answers: { top_k: 3, highlight: false, group_by: section }
         eval: { labels: labels.jsonl }
         """, true),
        ("source: { root: docs }\nembedder: { model: m }\nreranker: none", true),
        ("source: { root: docs }\nembedder: { model: m }\nreranker:", true),
        ("source: { root: docs }\nembedder: { model: m }\nreranker: { type: none, model: ce, top_k: 5 }", true),
        ("source: { root: docs }\nembedder: { model: m }\neval: {}", true),
        ("source: { root: docs }", false),
        ("embedder: { model: m }", false),
        ("source: { root: docs }\nembedder: { model: m }\nretriever: { topk: 5 }", false),
        ("source: { root: docs }\nembedder: { model: m }\nretriever: { fusion: rff }", false),
        ("source: { root: docs }\nembedder: { model: m }\nretriever: { dense_weight: 1.5 }", false),
        ("source: { root: docs }\nembedder: { model: m }\nretriever: { top_k: 0 }", false),
        ("source: { root: docs }\nembedder: { model: m }\nretriever: { top_k: '10' }", false),
        ("source: { root: docs }\nembedder: { model: m }\nchunker: { heading_prefix: maybe }", false),
        ("source: { root: docs, include: [] }\nembedder: { model: m }", false),
        ("source: { root: docs }\nembedder: { type: colbert, model: m }", false),
        ("source: { root: docs }\nembedder: { model: m, top_k: 3 }", false),
        ("source: { root: docs }\nembedder: { model: m }\nreranker: { top_k: 5 }", false),
        ("source: { root: docs }\nembedder: { model: m }\nreranker: bm25", false),
        ("source: { root: docs }\nembedder: { model: m }\nname: 'a b'", false),
        ("source: { root: docs }\nembedder: { model: m }\nanswers: { group_by: chapter }", false),
        ("source: { root: docs }\nembedder: { model: m }\nindex: { type: local, path: idx }", true),
        ("source: { root: docs }\nembedder: { model: m }\nindex: { type: postgres, url: 'postgresql://h/db' }", true),
        ("""
         source: { root: docs }
         embedder: { model: m }
         index:
           type: postgres
           shards: [{ url: 'postgresql://a/db', replicas: ['postgresql://b/db'] }, { url: 'postgres://c/db' }]
           password_file: pw
           schema: my_index
           vector_index: exact
           hnsw: { m: 8, ef_construction: 40, ef_search: 10 }
           statement_timeout_ms: 0
           connect_timeout_s: 2
           on_shard_failure: partial
         """, true),
        ("source: { root: docs }\nembedder: { model: m }\nindex: { url: 'postgresql://h/db' }", false),
        ("source: { root: docs }\nembedder: { model: m }\nindex: { type: postgres, url: 'postgresql://h/db', path: idx }", false),
        ("source: { root: docs }\nembedder: { model: m }\nindex: { type: postgres, url: 'postgresql://h/db', schema: 'x; DROP TABLE' }", false),
        ("source: { root: docs }\nembedder: { model: m }\nindex: { type: postgres, url: 'postgresql://h/db', schema: pg_catalog }", false),
        ("source: { root: docs }\nembedder: { model: m }\nindex: { type: postgres, url: 'postgresql://h/db', hnsw: { m: 101 } }", false),
        ("source: { root: docs }\nembedder: { model: m }\nindex: { type: postgres, url: 'postgresql://h/db', vector_index: ivf }", false),
        ("source: { root: docs }\nembedder: { model: m }\nindex: { type: postgres, shards: [{ replicas: [] }] }", false),
        ("source: { root: docs }\nembedder: { model: m }\nindex: { type: postgres, shards: [{ url: 'postgresql://h/db', replica: [] }] }", false),
        ("source: { root: docs }\nembedder: { model: m }\nindex: { type: postgres, shards: [] }", false),
        ("source: { root: docs }\nembedder: { model: m }\nindex: { type: postgres, url: 'postgresql://h/db', connect_timeout_s: 0 }", false),
    ])
    func schemaAndLoaderAgree(_ yaml: String, _ valid: Bool) throws {
        #expect(Self.loads(yaml) == valid)
        let violations = schemaViolations(try Self.tree(yaml), Self.schema)
        #expect(violations.isEmpty == valid, "\(violations)")
    }
}
