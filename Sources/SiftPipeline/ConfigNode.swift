import Foundation
import Yams

/// A YAML value with the line it came from: the tree the typed pipeline is validated from.
/// Kept separate from Yams' `Node` so `--set` overrides can be spliced in without a source mark.
indirect enum ConfigNode: Sendable {
    /// A scalar; `plain` is false for quoted scalars, so `'50'` stays a string and `"none"` is not the keyword.
    case scalar(String, plain: Bool, line: Int?)
    case sequence([ConfigNode], line: Int?)
    /// Pairs in file order (duplicates are kept so they can be reported).
    case mapping([(key: String, keyLine: Int?, value: ConfigNode)], line: Int?)

    var line: Int? {
        switch self {
        case let .scalar(_, _, line), let .sequence(_, line), let .mapping(_, line): return line
        }
    }

    /// True for an empty plain scalar, `~` or `null`.
    var isNull: Bool {
        if case let .scalar(text, plain, _) = self { return plain && ["", "~", "null", "Null", "NULL"].contains(text) }
        return false
    }

    /// A short rendering for messages: the scalar text, or "a list" / "a mapping".
    var shortDescription: String {
        switch self {
        case let .scalar(text, _, _): return text.isEmpty ? "nothing" : "'\(text)'"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }

    init(_ node: Node) {
        let line = node.mark?.line
        switch node {
        case let .scalar(scalar):
            self = .scalar(scalar.string, plain: scalar.style == .plain || scalar.style == .any, line: line)
        case let .sequence(sequence):
            self = .sequence(sequence.map(ConfigNode.init), line: line)
        case let .mapping(mapping):
            self = .mapping(mapping.map { pair in
                (key: pair.key.string ?? "\(pair.key)", keyLine: pair.key.mark?.line, value: ConfigNode(pair.value))
            }, line: line)
        }
    }

    /// Parses YAML text into a tree; nil for an empty document.
    static func parse(yaml: String, file: String) throws -> ConfigNode? {
        do {
            return try Yams.compose(yaml: yaml).map(ConfigNode.init)
        } catch let error as YamlError {
            switch error {
            case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
                 let .composer(context, problem, mark, _):
                let contextText = context.map { "\($0.text) " } ?? ""
                throw PipelineError.yamlSyntax(file: file, line: mark.line, message: contextText + problem)
            default:
                throw PipelineError.yamlSyntax(file: file, line: nil, message: "\(error)")
            }
        }
    }

    /// Drops source lines (for override values, which come from the command line, not the file).
    var withoutLines: ConfigNode {
        switch self {
        case let .scalar(text, plain, _): return .scalar(text, plain: plain, line: nil)
        case let .sequence(items, _): return .sequence(items.map(\.withoutLines), line: nil)
        case let .mapping(pairs, _):
            return .mapping(pairs.map { (key: $0.key, keyLine: nil, value: $0.value.withoutLines) }, line: nil)
        }
    }

    /// Returns a copy with `value` stored at `path`, creating (or replacing non-mapping values with) mappings on the way.
    func setting(_ value: ConfigNode, at path: ArraySlice<String>) -> ConfigNode {
        guard let key = path.first else { return value }
        var pairs: [(key: String, keyLine: Int?, value: ConfigNode)] = []
        var line: Int? = nil
        if case let .mapping(existing, existingLine) = self {
            pairs = existing
            line = existingLine
        }
        if let index = pairs.lastIndex(where: { $0.key == key }) {
            pairs[index].value = pairs[index].value.setting(value, at: path.dropFirst())
            pairs[index].keyLine = nil
        } else {
            let empty = ConfigNode.mapping([], line: nil)
            pairs.append((key: key, keyLine: nil, value: empty.setting(value, at: path.dropFirst())))
        }
        return .mapping(pairs, line: line)
    }
}

/// One `--set key.path=value` from the command line. The value is read as YAML, so `50`, `true`,
/// `none` and `[a, b]` mean what they mean in the file.
public struct PipelineOverride: Sendable, CustomStringConvertible {
    public let keyPath: [String]
    let value: ConfigNode
    public let description: String

    /// Parses `retriever.top_k=50`. Throws `PipelineError.invalid` for text without `=` or with an empty key.
    public init(_ text: String) throws {
        description = text
        guard let equals = text.firstIndex(of: "=") else {
            throw PipelineError.invalid([ConfigProblem(path: text, line: nil,
                message: "--set expects KEY=VALUE, e.g. --set retriever.top_k=50")])
        }
        let key = text[..<equals].trimmingCharacters(in: .whitespaces)
        let rawValue = String(text[text.index(after: equals)...])
        let components = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !key.isEmpty, !components.contains(where: \.isEmpty) else {
            throw PipelineError.invalid([ConfigProblem(path: key.isEmpty ? text : key, line: nil,
                message: "--set expects a dotted key such as retriever.top_k before '='")])
        }
        keyPath = components
        let parsed: ConfigNode?
        do {
            parsed = try ConfigNode.parse(yaml: rawValue, file: "--set")
        } catch {
            // Not valid YAML on its own (e.g. `a: b: c`): keep the text as a plain string.
            parsed = .scalar(rawValue, plain: false, line: nil)
        }
        value = (parsed ?? .scalar("", plain: true, line: nil)).withoutLines
    }
}
