import Foundation

/// Turns a `ConfigNode` tree into a `PipelineConfig`, collecting every problem instead of stopping at the first.
struct ConfigValidator {
    private(set) var problems: [ConfigProblem] = []
    /// Relative paths from the file resolve here (the pipeline file's folder).
    let fileBase: URL
    /// Relative paths from `--set` resolve here (the current directory).
    let overrideBase: URL
    let environment: [String: String]

    /// A mapping's values by key, after unknown and duplicate keys were reported.
    struct Fields {
        let path: String
        let line: Int?
        let values: [String: ConfigNode]
        /// The keys given, in file order (each once).
        let names: [String]
        subscript(key: String) -> ConfigNode? { values[key] }
        func path(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    }

    mutating func report(_ path: String, _ line: Int?, _ message: String) {
        problems.append(ConfigProblem(path: path, line: line, message: message))
    }

    // MARK: Structure

    /// Reads a mapping, reporting keys outside `allowed` (with a suggestion) and repeated keys.
    mutating func fields(_ node: ConfigNode, path: String, allowed: [String]) -> Fields? {
        guard case let .mapping(pairs, line) = node else {
            report(path.isEmpty ? "(file)" : path, node.line, "expected a mapping of \(allowed.joined(separator: ", ")), got \(node.shortDescription)")
            return nil
        }
        var values: [String: ConfigNode] = [:]
        var names: [String] = []
        for pair in pairs {
            // An empty key (`: x`, `"": x`) is shown quoted, so the message still names something.
            let name = pair.key.isEmpty ? "''" : pair.key
            let keyPath = path.isEmpty ? name : "\(path).\(name)"
            guard allowed.contains(pair.key) else {
                var message = "unknown key"
                if let guess = Suggestion.closest(to: pair.key, among: allowed) {
                    message += "; did you mean '\(guess)'?"
                } else {
                    message += "; expected one of \(allowed.joined(separator: ", "))"
                }
                report(keyPath, pair.keyLine ?? pair.value.line, message)
                continue
            }
            if values[pair.key] != nil {
                if pair.keyLine != nil { report(keyPath, pair.keyLine, "key appears more than once") }
            } else {
                names.append(pair.key)
            }
            values[pair.key] = pair.value
        }
        return Fields(path: path, line: line, values: values, names: names)
    }

    /// Reads the mapping `node` into `config` through `keys`, then runs `check` on the result. Returns false when
    /// `node` is not a mapping or a required key is missing (the problem is reported).
    mutating func read<Config>(_ node: ConfigNode, path: String, keys: [Setting<Config>], into config: inout Config,
                               missingInPlace: Bool = false,
                               check: ((inout ConfigValidator, Fields, inout Config) -> Void)? = nil) -> Bool {
        guard let fields = fields(node, path: path, allowed: keys.map(\.name)) else { return false }
        return read(fields, keys: keys, into: &config, missingInPlace: missingInPlace, check: check)
    }

    /// Reads the keys given in `fields` in the order they are declared. A missing required key is reported after
    /// them, or with `missingInPlace` (the top level's sections) where it is declared.
    mutating func read<Config>(_ fields: Fields, keys: [Setting<Config>], into config: inout Config, missingInPlace: Bool = false,
                               check: ((inout ConfigValidator, Fields, inout Config) -> Void)? = nil) -> Bool {
        var missing: [Setting<Config>] = []
        for key in keys {
            if key.example != nil, fields[key.name]?.isNull ?? true {
                missing.append(key)
                if missingInPlace { reportMissing(key, in: fields) }
            } else if let node = fields[key.name] {
                key.read(&self, node, fields.path(key.name), &config)
            }
        }
        if !missingInPlace { missing.forEach { reportMissing($0, in: fields) } }
        check?(&self, fields, &config)
        return missing.isEmpty
    }

    private mutating func reportMissing<Config>(_ key: Setting<Config>, in fields: Fields) {
        report(fields.path(key.name), fields[key.name]?.line ?? fields.line, "required; for example \(key.name): \(key.example ?? "")")
    }

    /// A stage section: `type` picks one of `types` (the first when absent) and the type's keys are read into its
    /// defaults. With `off` (`reranker`), `none` alone, a null value or `type: none` switch the stage off: `.some(nil)`,
    /// and the other keys are then left unread, so a block can be switched off by its type alone. Nil when the
    /// section is unusable (the problem is reported).
    mutating func stage<Config: StageConfig, Product>(_ node: ConfigNode, path: String, types: [StageType<Config, Product>],
                                                   off: String?) -> Config?? {
        if off != nil, node.isNull { return .some(nil) }
        if let off, case .scalar = node {
            let example = types[0].keys.first { $0.example != nil }?.name ?? "type"
            guard choice(node, path: path, options: [off], what: "\(path) (use \(off), or a mapping with \(example):)") != nil else { return nil }
            return .some(nil)
        }
        var allowed = ["type"]
        for key in types.flatMap(\.keys) where !allowed.contains(key.name) { allowed.append(key.name) }
        guard let fields = fields(node, path: path, allowed: allowed) else { return nil }
        // An unknown type is reported; the first type's keys are then checked, so the rest is still validated.
        var chosen = types[0]
        var named = true
        if let typeNode = fields["type"] {
            let name = choice(typeNode, path: fields.path("type"), options: types.map(\.name) + (off.map { [$0] } ?? []),
                              what: "\(path) type")
            if let name, name == off { return .some(nil) }
            if let type = types.first(where: { $0.name == name }) { chosen = type } else { named = false }
        }
        let own = chosen.keys.map(\.name)
        for name in fields.names where named && name != "type" && !own.contains(name) {
            let owners = types.filter { $0.keys.contains { $0.name == name } }.map { "'\($0.name)'" }
            report(fields.path(name), fields[name]?.line,
                   "not a key of \(path) type '\(chosen.name)', whose keys are \((["type"] + own).joined(separator: ", "))"
                   + (owners.isEmpty ? "" : "; it belongs to type \(owners.joined(separator: ", "))"))
        }
        var config = chosen.defaults
        return read(fields, keys: chosen.keys, into: &config, check: chosen.check) ? .some(config) : nil
    }

    // MARK: Scalars

    mutating func int(_ node: ConfigNode, path: String, atLeast minimum: Int) -> Int? {
        guard case let .scalar(text, plain, line) = node, plain, let number = Int(text.replacingOccurrences(of: "_", with: "")) else {
            report(path, node.line, "expected an integer, got \(node.shortDescription)")
            return nil
        }
        guard number >= minimum else {
            report(path, line, "must be at least \(minimum), got \(number)")
            return nil
        }
        return number
    }

    mutating func int(_ node: ConfigNode, path: String, in range: ClosedRange<Int>) -> Int? {
        guard let number = int(node, path: path, atLeast: Int.min) else { return nil }
        guard range.contains(number) else {
            report(path, node.line, "must be between \(range.lowerBound) and \(range.upperBound), got \(number)")
            return nil
        }
        return number
    }

    mutating func float(_ node: ConfigNode, path: String, in range: ClosedRange<Float>) -> Float? {
        guard case let .scalar(text, plain, line) = node, plain, let number = Float(text) else {
            report(path, node.line, "expected a number, got \(node.shortDescription)")
            return nil
        }
        guard range.contains(number) else {
            report(path, line, "must be between \(range.lowerBound) and \(range.upperBound), got \(text)")
            return nil
        }
        return number
    }

    mutating func bool(_ node: ConfigNode, path: String) -> Bool? {
        if case let .scalar(text, true, _) = node {
            switch text.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: break
            }
        }
        report(path, node.line, "expected true or false, got \(node.shortDescription)")
        return nil
    }

    mutating func string(_ node: ConfigNode, path: String) -> String? {
        guard case let .scalar(text, _, _) = node, !node.isNull else {
            report(path, node.line, "expected text, got \(node.shortDescription)")
            return nil
        }
        return text
    }

    /// Text of letters, digits, '-', '_' and '.'.
    mutating func identifier(_ node: ConfigNode, path: String) -> String? {
        guard let text = string(node, path: path) else { return nil }
        if text.isEmpty || text.contains(where: { !($0.isLetter || $0.isNumber || "-_.".contains($0)) }) {
            report(path, node.line, "use letters, digits, '-', '_' or '.', got '\(text)'")
            return nil
        }
        return text
    }

    /// A list of strings naming `item`s, at least `minCount` of them; a single string is accepted as a one-element list.
    mutating func strings(_ node: ConfigNode, path: String, of item: String, minCount: Int) -> [String]? {
        let result: [String]
        switch node {
        case .scalar:
            guard let text = string(node, path: path) else { return nil }
            result = [text]
        case let .sequence(items, _):
            result = items.enumerated().compactMap { string($0.element, path: "\(path)[\($0.offset)]") }
        case .mapping:
            report(path, node.line, "expected a list of strings, got a mapping")
            return nil
        }
        if result.count < minCount {
            report(path, node.line, "must list at least " + (minCount == 1 ? "one \(item)" : "\(minCount) \(item)s"))
        }
        return result
    }

    /// One of a closed set of words.
    mutating func choice(_ node: ConfigNode, path: String, options: [String], what: String) -> String? {
        guard let text = string(node, path: path) else { return nil }
        if options.contains(text) { return text }
        report(path, node.line, Self.unknown(what, text, options: options))
        return nil
    }

    /// "unknown fusion 'rff'; expected one of rrf, weighted, none; did you mean 'rrf'?"
    static func unknown(_ what: String, _ text: String, options: [String]) -> String {
        var message = "unknown \(what) '\(text)'; expected one of \(options.joined(separator: ", "))"
        if let guess = Suggestion.closest(to: text, among: options) { message += "; did you mean '\(guess)'?" }
        return message
    }

    /// A list of mappings, each read through `keys` into a copy of `item`; problems name the item
    /// (`index.shards[1].url`). Nil when `node` is not a list (reported); a broken item is left out.
    mutating func mappings<Item>(_ node: ConfigNode, path: String, keys: [Setting<Item>], item: Item, minCount: Int) -> [Item]? {
        guard case let .sequence(items, _) = node else {
            report(path, node.line, "expected a list of mappings (- \(keys.first?.name ?? "key"): ...), got \(node.shortDescription)")
            return nil
        }
        var result: [Item] = []
        for (offset, element) in items.enumerated() {
            var value = item
            if read(element, path: "\(path)[\(offset)]", keys: keys, into: &value) { result.append(value) }
        }
        if items.count < minCount {
            report(path, node.line, "must list at least " + (minCount == 1 ? "one item" : "\(minCount) items"))
        }
        return result
    }

    // MARK: URLs

    /// A connection URL starting with one of `schemes`, `${VAR}` and `${VAR:-default}` expanded. The value may hold
    /// a password (written out or from a variable), so no message shows it: only its scheme or its redacted form.
    mutating func url(_ node: ConfigNode, path: String, schemes: [String]) -> String? {
        guard let raw = string(node, path: path) else { return nil }
        guard let expanded = expand(raw, path: path, line: node.line, shown: Self.redactedURL(raw)) else { return nil }
        guard schemes.contains(where: { expanded.hasPrefix($0) }) else {
            let written = expanded.range(of: "://").map { "'\(expanded[..<$0.upperBound])...'" } ?? "no scheme"
            report(path, node.line, "expected a URL starting with \(schemes.joined(separator: " or ")), got \(written)"
                   + " (for example \(schemes[0])user@host:5432/database)")
            return nil
        }
        return expanded
    }

    /// A list of connection URLs (a single string is a list of one), each checked like `url`.
    mutating func urls(_ node: ConfigNode, path: String, schemes: [String]) -> [String]? {
        switch node {
        case .scalar:
            return url(node, path: path, schemes: schemes).map { [$0] }
        case let .sequence(items, _):
            return items.enumerated().compactMap { url($0.element, path: "\(path)[\($0.offset)]", schemes: schemes) }
        case .mapping:
            report(path, node.line, "expected a list of URLs, got a mapping")
            return nil
        }
    }

    /// A URL as written, safe for messages: user information (`user:password@`) and the query (`?password=...`) are
    /// replaced by `...`; `${VAR}` references stay, their values are never shown.
    static func redactedURL(_ raw: String) -> String {
        var text = Substring(raw)
        var scheme = Substring("")
        if let separator = text.range(of: "://") {
            scheme = text[..<separator.upperBound]
            text = text[separator.upperBound...]
        }
        var query = ""
        if let mark = text.firstIndex(of: "?") {
            text = text[..<mark]
            query = "?..."
        }
        if let at = text.lastIndex(of: "@") { text = "...@" + text[text.index(after: at)...] }
        return "'" + scheme + text + query + "'"
    }

    // MARK: Paths

    /// Expands `~` and `${VAR}`/`$VAR`, then resolves a relative path against the file's folder
    /// (or the current directory for values that came from `--set`, which carry no line).
    mutating func path(_ node: ConfigNode, path keyPath: String) -> URL? {
        guard let raw = string(node, path: keyPath) else { return nil }
        guard let expanded = expand(raw, path: keyPath, line: node.line, shown: "'\(raw)'") else { return nil }
        let base = node.line == nil ? overrideBase : fileBase
        let absolute = expanded.hasPrefix("/") ? expanded : base.path + "/" + expanded
        return URL(fileURLWithPath: Self.lexicallyNormalized(absolute))
    }

    /// Removes `.` and `..` components without touching the file system (symbolic links are kept as written).
    static func lexicallyNormalized(_ absolutePath: String) -> String {
        var components: [Substring] = []
        for component in absolutePath.split(separator: "/") {
            switch component {
            case ".": continue
            case "..": if !components.isEmpty { components.removeLast() }
            default: components.append(component)
            }
        }
        return "/" + components.joined(separator: "/")
    }

    /// Expands `~`, `$VAR`, `${VAR}` and `${VAR:-default}` (the default when VAR is unset or empty). Messages
    /// quote the value as `shown`, never the variables' values.
    private mutating func expand(_ raw: String, path: String, line: Int?, shown: String) -> String? {
        var text = raw
        if text == "~" || text.hasPrefix("~/") {
            guard let home = environment["HOME"] else {
                report(path, line, "cannot expand '~': HOME is not set")
                return nil
            }
            text = home + text.dropFirst()
        }
        var result = ""
        var rest = Substring(text)
        while let dollar = rest.firstIndex(of: "$") {
            result += rest[..<dollar]
            var after = rest[rest.index(after: dollar)...]
            var name: Substring
            var fallback: Substring?
            if after.first == "{" {
                guard let close = after.firstIndex(of: "}") else {
                    report(path, line, "unterminated '${' in \(shown)")
                    return nil
                }
                name = after[after.index(after: after.startIndex)..<close]
                after = after[after.index(after: close)...]
                if let marker = name.range(of: ":-") {
                    fallback = name[marker.upperBound...]
                    name = name[..<marker.lowerBound]
                }
            } else {
                let end = after.firstIndex { !($0.isLetter || $0.isNumber || $0 == "_") } ?? after.endIndex
                name = after[..<end]
                after = after[end...]
            }
            guard !name.isEmpty else {
                report(path, line, "'$' must be followed by a variable name in \(shown)")
                return nil
            }
            if let fallback, environment[String(name)]?.isEmpty ?? true {
                result += fallback
            } else if let value = environment[String(name)] {
                result += value
            } else {
                report(path, line, "environment variable \(name) is not set (used in \(shown))")
                return nil
            }
            rest = after
        }
        return result + rest
    }
}
