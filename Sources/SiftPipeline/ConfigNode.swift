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
        case let .scalar(text, _, _):
            if text.isEmpty { return "nothing" }
            // Messages quote the value; a long one (up to a MiB) would drown the message.
            return text.count > 80 ? "'\(text.prefix(77))...'" : "'\(text)'"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }

    /// Parses YAML text into a tree; nil for an empty document. `file` names the source in errors (a path, or
    /// `--set KEY`). The text is checked against `YAMLLimits` before Yams sees it (`YAMLPreScan`) and while the
    /// tree is built (nesting, values and scalar bytes after alias expansion), so hostile input fails fast.
    static func parse(yaml: String, file: String) throws -> ConfigNode? {
        guard yaml.utf8.count <= YAMLLimits.maxBytes else {
            throw PipelineError.inputLimit(source: file, line: nil,
                                           message: "\(yaml.utf8.count) bytes is over the limit of \(YAMLLimits.maxBytes) bytes (1 MiB) for pipeline YAML")
        }
        try YAMLPreScan.check(yaml, source: file)
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
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
        guard let root else { return nil }
        var budget = ExpansionBudget(source: file)
        return try ConfigNode(root, depth: 1, budget: &budget)
    }

    /// What converting one document may still use; aliases share one node in Yams' tree but are copied here,
    /// so this is where nine levels of nine aliases would become 387 million values.
    private struct ExpansionBudget {
        let source: String
        var nodes = 0
        var scalarBytes = 0

        func fail(_ line: Int?, _ message: String) -> PipelineError {
            .inputLimit(source: source, line: line, message: message)
        }
    }

    private init(_ node: Node, depth: Int, budget: inout ExpansionBudget) throws {
        let line = node.mark?.line
        budget.nodes += 1
        guard budget.nodes <= YAMLLimits.maxNodes else {
            throw budget.fail(line, "more than \(YAMLLimits.maxNodes) values once aliases are expanded (the limit for pipeline YAML)")
        }
        // `depth` counts enclosing lists and mappings, this one included (as `YAMLPreScan` does).
        if case .scalar = node {} else if depth > YAMLLimits.maxDepth {
            throw budget.fail(line, "nested deeper than \(YAMLLimits.maxDepth) levels (the limit for pipeline YAML)")
        }
        switch node {
        case let .scalar(scalar):
            budget.scalarBytes += scalar.string.utf8.count
            guard budget.scalarBytes <= YAMLLimits.maxScalarBytes else {
                throw budget.fail(line, "more than \(YAMLLimits.maxScalarBytes) bytes of text once aliases are expanded (the limit for pipeline YAML)")
            }
            self = .scalar(scalar.string, plain: scalar.style == .plain || scalar.style == .any, line: line)
        case let .sequence(sequence):
            var items: [ConfigNode] = []
            for item in sequence { items.append(try ConfigNode(item, depth: depth + 1, budget: &budget)) }
            self = .sequence(items, line: line)
        case let .mapping(mapping):
            var pairs: [(key: String, keyLine: Int?, value: ConfigNode)] = []
            for pair in mapping {
                let key = try ConfigNode(pair.key, depth: depth + 1, budget: &budget)
                let value = try ConfigNode(pair.value, depth: depth + 1, budget: &budget)
                // A list or mapping as a key is never a valid setting; its short form is enough to report it.
                let name: String
                if case let .scalar(text, _, _) = key { name = text } else { name = key.shortDescription }
                pairs.append((key: name, keyLine: pair.key.mark?.line, value: value))
            }
            self = .mapping(pairs, line: line)
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
        guard components.count <= YAMLLimits.maxDepth else {
            throw PipelineError.inputLimit(source: "--set", line: nil,
                                           message: "key path of \(components.count) parts is over the limit of \(YAMLLimits.maxDepth)")
        }
        keyPath = components
        let parsed: ConfigNode?
        do {
            parsed = try ConfigNode.parse(yaml: rawValue, file: "--set \(key)")
        } catch let error as PipelineError {
            // A value over the limits is refused like a file would be; anything else that is not valid YAML on its
            // own (e.g. `a: b: c`) is kept as a plain string.
            if case .inputLimit = error { throw error }
            parsed = .scalar(rawValue, plain: false, line: nil)
        }
        value = (parsed ?? .scalar("", plain: true, line: nil)).withoutLines
    }
}

/// Bounds on pipeline YAML, files and `--set` values alike. Real pipeline files are a few KB, four levels deep, with
/// a handful of anchors at most; these limits are far above that, yet keep hostile input to milliseconds and a few MB.
/// Without them a 5,000-deep `[[[…]]]` overflows the stack in Yams' recursive composer (SIGSEGV), and nine levels of
/// nine aliases (billion laughs) expand to 387 million values (18.6 GB) when the tree is converted.
enum YAMLLimits {
    /// Bytes of one file or `--set` value.
    static let maxBytes = 1 << 20
    /// Nested lists and mappings (flow brackets and block indentation alike); also the longest `--set` key path.
    static let maxDepth = 64
    /// `*alias` references in one document.
    static let maxAliases = 100
    /// Values (scalars, lists, mappings) in the tree once aliases are expanded.
    static let maxNodes = 10_000
    /// Bytes of scalar text in the tree once aliases are expanded (an alias to a long string counts it again).
    static let maxScalarBytes = 4 << 20
}

/// Checks YAML text against `YAMLLimits.maxDepth` and `maxAliases` in one pass without building anything, so Yams
/// never composes input deep enough to overflow its stack. It follows libyaml's rules for what is structure:
/// quoted scalars (only where a token starts), comments, block scalars' content and plain scalars continued on
/// more-indented lines are skipped; block collections are tracked by column like libyaml's indent stack (a `- ` or
/// `key:` further right opens one, a line further left closes them), flow collections by their brackets. Where the
/// text is ambiguous or invalid it counts more, not less. One exception: a flow collection used as a key inside
/// `[…]` is counted before its `:` turns the entry into a mapping, so the estimate is at least half the true
/// depth; the exact depth is checked again while the tree is converted. It also bounds the number of values
/// Yams will build, since composing a flat 1 MiB list costs it about 150 MB.
struct YAMLPreScan {
    private enum Collection { case sequence, mapping, indentlessSequence }
    /// Where the scan is within the current token.
    private enum TokenState { case start, plain, afterNode }

    private let bytes: [UInt8]
    private let source: String
    private var i = 0
    private var line = 1
    /// Open block collections: the column of their indicators, innermost last.
    private var indents: [(column: Int, kind: Collection)] = []
    /// Open flow collections: 1 each, 2 for a `[…]` holding `key: value` entries (each one an implicit mapping).
    private var frames: [(weight: Int, isSequence: Bool)] = []
    private var frameWeight = 0
    private var aliases = 0
    /// At least the number of values Yams will build: each token, plus two per indicator and one per comma for the
    /// collections and empty values they may stand for. At most four times the true number.
    private var values = 0
    private var state = TokenState.start
    /// Column where the current token (a key, if `:` follows) began, properties included.
    private var tokenColumn: Int?
    private var column = 0
    /// Inside a block scalar (`|`, `>`): the column of its collection and its content indentation once known.
    private var blockScalar: (owner: Int, indent: Int?, leadingBlank: Int)?
    /// The previous line ended inside a plain scalar, which continues on more-indented lines.
    private var plainOpen = false

    static func check(_ text: String, source: String) throws {
        var scan = YAMLPreScan(text: text, source: source)
        try scan.run()
    }

    private init(text: String, source: String) {
        self.source = source
        // libyaml breaks lines at CR, LF, CRLF, NEL, LS and PS; one LF each keeps the scan simple.
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        var utf8 = Array(text.utf8)
        if utf8.starts(with: [0xEF, 0xBB, 0xBF]) { utf8.removeFirst(3) }
        var k = 0
        while k < utf8.count {
            let b = utf8[k]
            if b == 0x0D {
                out.append(0x0A)
                k += k + 1 < utf8.count && utf8[k + 1] == 0x0A ? 2 : 1
            } else if b == 0xC2, k + 1 < utf8.count, utf8[k + 1] == 0x85 {
                out.append(0x0A); k += 2
            } else if b == 0xE2, k + 2 < utf8.count, utf8[k + 1] == 0x80, utf8[k + 2] == 0xA8 || utf8[k + 2] == 0xA9 {
                out.append(0x0A); k += 3
            } else {
                out.append(b); k += 1
            }
        }
        bytes = out
    }

    private func fail(_ message: String) -> PipelineError {
        .inputLimit(source: source, line: line, message: message)
    }

    private func byte(_ at: Int) -> UInt8? { at < bytes.count ? bytes[at] : nil }
    private func isBlank(_ at: Int) -> Bool { byte(at).map { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A } ?? true }
    private func isFlowIndicator(_ b: UInt8?) -> Bool { b.map { ",[]{}".utf8.contains($0) } ?? false }

    /// Moves one byte on, keeping the character column (UTF-8 continuation bytes take no column).
    private mutating func advance() {
        if bytes[i] & 0xC0 != 0x80 { column += 1 }
        i += 1
    }

    private mutating func skipToEndOfLine() {
        while i < bytes.count, bytes[i] != 0x0A { advance() }
    }

    private mutating func countValues(_ n: Int) throws {
        values += n
        guard values <= 4 * YAMLLimits.maxNodes else {
            throw fail("more than \(YAMLLimits.maxNodes) values (the limit for pipeline YAML)")
        }
    }

    private mutating func checkDepth() throws {
        let depth = indents.count + frameWeight
        guard depth <= YAMLLimits.maxDepth else {
            throw fail("nested deeper than \(YAMLLimits.maxDepth) levels (the limit for pipeline YAML)")
        }
    }

    /// A `- ` at `indicatorColumn`: continues the sequence at that column or opens one (indentless under a mapping key at the same column).
    private mutating func enterSequence(at indicatorColumn: Int) throws {
        try countValues(2)
        if let top = indents.last, top.column == indicatorColumn, top.kind != .mapping { return }
        indents.append((indicatorColumn, indents.last.map { $0.column < indicatorColumn } ?? true ? .sequence : .indentlessSequence))
        try checkDepth()
    }

    /// A key at `indicatorColumn` (`key:` or `? `): continues the mapping at that column or opens one.
    private mutating func enterMapping(at indicatorColumn: Int) throws {
        try countValues(2)
        while let top = indents.last, top.column == indicatorColumn, top.kind == .indentlessSequence { indents.removeLast() }
        if let top = indents.last, top.column == indicatorColumn, top.kind == .mapping { return }
        indents.append((indicatorColumn, .mapping))
        try checkDepth()
    }

    private mutating func run() throws {
        var atLineStart = true
        while i < bytes.count {
            if atLineStart {
                atLineStart = false
                try startLine()
                continue
            }
            let b = bytes[i]
            if b == 0x0A {
                if frames.isEmpty, state == .plain { plainOpen = true }
                i += 1
                line += 1
                column = 0
                atLineStart = true
            } else if b == 0x20 || b == 0x09 {
                advance()
                if state == .plain, byte(i) == UInt8(ascii: "#") {   // ` #` ends a plain scalar with a comment
                    state = .afterNode
                    skipToEndOfLine()
                }
            } else if frames.isEmpty {
                try blockToken(b)
            } else {
                try flowToken(b)
            }
        }
    }

    /// Indentation, comment lines, document markers, block scalar content, plain continuation lines and closing
    /// block collections; leaves `i` at the line's first token.
    private mutating func startLine() throws {
        while byte(i) == 0x20 { advance() }
        let indent = column
        var end = i
        while let b = byte(end), b == 0x20 || b == 0x09 { end += 1 }
        let blank = byte(end) == nil || byte(end) == 0x0A
        if let scalar = blockScalar {
            if blank {
                if scalar.indent == nil { blockScalar?.leadingBlank = max(scalar.leadingBlank, indent) }
                skipToEndOfLine()
                return
            }
            let contentIndent = scalar.indent ?? max(scalar.leadingBlank, indent, scalar.owner + 1, 1)
            if indent >= contentIndent {
                blockScalar?.indent = contentIndent
                skipToEndOfLine()
                return
            }
            blockScalar = nil
        }
        guard !blank, frames.isEmpty else { return }
        let first = bytes[i]
        if first == UInt8(ascii: "#") {   // a comment line; it also ends a plain scalar
            plainOpen = false
            skipToEndOfLine()
            return
        }
        if indent == 0, isDocumentMarker() {
            indents.removeAll()
            plainOpen = false
            state = .start
            tokenColumn = nil
            for _ in 0..<3 { advance() }
            return
        }
        if indent == 0, first == UInt8(ascii: "%") {   // a directive
            skipToEndOfLine()
            return
        }
        if plainOpen {
            plainOpen = false
            if indent > (indents.last?.column ?? -1) {   // libyaml continues the scalar here: text, not structure
                state = .plain
                return
            }
        }
        while let top = indents.last, top.column > indent { indents.removeLast() }
        state = .start
        tokenColumn = nil
    }

    private func isDocumentMarker() -> Bool {
        guard i + 2 < bytes.count else { return false }
        let three = bytes[i..<(i + 3)]
        return (three.elementsEqual("---".utf8) || three.elementsEqual("...".utf8)) && isBlank(i + 3)
    }

    /// One character outside flow collections.
    private mutating func blockToken(_ b: UInt8) throws {
        let ascii = Character(Unicode.Scalar(b))
        switch state {
        case .plain:
            if ascii == ":", isBlank(i + 1) { try mappingValue() } else { advance() }
        case .afterNode:
            if ascii == "#" { skipToEndOfLine() } else if ascii == ":" { try mappingValue() } else { state = .plain; advance() }
        case .start:
            switch ascii {
            case "#":
                skipToEndOfLine()
            case "-" where isBlank(i + 1):
                try enterSequence(at: column)
                tokenColumn = nil
                advance()
            case "?" where isBlank(i + 1):
                try enterMapping(at: column)
                tokenColumn = nil
                advance()
            case ":" where isBlank(i + 1):
                try mappingValue()
            case "|", ">":
                try startBlockScalar()
            default:
                try tokenStart(ascii)
            }
        }
    }

    /// A `:` that makes the token before it a key.
    private mutating func mappingValue() throws {
        try enterMapping(at: tokenColumn ?? column)
        tokenColumn = nil
        state = .start
        advance()
    }

    /// `|` or `>`: the header's indentation digit if any, then content lines are skipped in `startLine`.
    private mutating func startBlockScalar() throws {
        let owner = indents.last?.column ?? -1
        var explicit: Int?
        advance()
        while let b = byte(i), !isBlank(i) {
            if b >= UInt8(ascii: "1"), b <= UInt8(ascii: "9") { explicit = Int(b - UInt8(ascii: "0")) }
            advance()
        }
        blockScalar = (owner, explicit.map { owner >= 0 ? owner + $0 : $0 }, 0)
        state = .afterNode
        skipToEndOfLine()
    }

    /// The first character of a token other than an indicator: a collection, quoted scalar, property, alias or plain scalar.
    private mutating func tokenStart(_ ascii: Character) throws {
        if tokenColumn == nil { tokenColumn = column }
        if ascii != "&", ascii != "!" { try countValues(1) }
        switch ascii {
        case "[", "{":
            frames.append((1, ascii == "["))
            frameWeight += 1
            try checkDepth()
            state = .start
            advance()
        case "'", "\"":
            skipQuoted(ascii)
            state = .afterNode
        case "&", "!":   // anchor or tag: the node itself follows
            while i < bytes.count, !isBlank(i), frames.isEmpty || !isFlowIndicator(byte(i)) { advance() }
        case "*":
            aliases += 1
            guard aliases <= YAMLLimits.maxAliases else {
                throw fail("more than \(YAMLLimits.maxAliases) aliases (the limit for pipeline YAML)")
            }
            advance()
            while i < bytes.count, !isBlank(i), !isFlowIndicator(byte(i)) { advance() }
            state = .afterNode
        default:
            state = .plain
            advance()
        }
    }

    /// Skips a quoted scalar, which may span lines (`''` and `\"` escape the quote).
    private mutating func skipQuoted(_ quote: Character) {
        let q = UInt8(ascii: quote == "'" ? "'" : "\"")
        advance()
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x0A {
                i += 1; line += 1; column = 0
                continue
            }
            if q == UInt8(ascii: "'"), b == q {
                if byte(i + 1) == q { advance(); advance(); continue }
                advance()
                return
            }
            if q == UInt8(ascii: "\""), b == UInt8(ascii: "\\") {
                advance()
                if byte(i) == 0x0A { continue }
                if i < bytes.count { advance() }
                continue
            }
            advance()
            if b == q { return }
        }
    }

    /// One character inside `[…]` or `{…}`.
    private mutating func flowToken(_ b: UInt8) throws {
        let ascii = Character(Unicode.Scalar(b))
        switch ascii {
        case "]", "}":
            if let closed = frames.popLast() { frameWeight -= closed.weight }
            state = .afterNode
            advance()
        case ",":
            try countValues(1)
            state = .start
            advance()
        case "#" where state != .plain:
            skipToEndOfLine()
        case ":" where state != .plain || isBlank(i + 1) || isFlowIndicator(byte(i + 1)),
             "?" where state == .start && isBlank(i + 1):
            markImplicitMapping()
            try countValues(2)
            try checkDepth()
            state = .start
            advance()
        case "[", "{":
            try tokenStart(ascii)
        default:
            if state == .start { try tokenStart(ascii) } else { advance() }
        }
    }

    /// A `key: value` entry directly inside `[…]` is a one-pair mapping: one more level.
    private mutating func markImplicitMapping() {
        guard let last = frames.last, last.isSequence, last.weight == 1 else { return }
        frames[frames.count - 1].weight = 2
        frameWeight += 1
    }
}
