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
            if values[pair.key] != nil, pair.keyLine != nil {
                report(keyPath, pair.keyLine, "key appears more than once")
            }
            values[pair.key] = pair.value
        }
        return Fields(path: path, line: line, values: values)
    }

    mutating func required(_ fields: Fields, _ key: String, example: String) -> ConfigNode? {
        if let node = fields[key], !node.isNull { return node }
        report(fields.path(key), fields[key]?.line ?? fields.line, "required; for example \(key): \(example)")
        return nil
    }

    // MARK: Scalars

    mutating func int(_ fields: Fields, _ key: String, default value: Int, atLeast minimum: Int) -> Int {
        guard let node = fields[key] else { return value }
        let path = fields.path(key)
        guard case let .scalar(text, plain, line) = node, plain, let number = Int(text.replacingOccurrences(of: "_", with: "")) else {
            report(path, node.line, "expected an integer, got \(node.shortDescription)")
            return value
        }
        guard number >= minimum else {
            report(path, line, "must be at least \(minimum), got \(number)")
            return value
        }
        return number
    }

    mutating func float(_ fields: Fields, _ key: String, default value: Float, in range: ClosedRange<Float>) -> Float {
        guard let node = fields[key] else { return value }
        let path = fields.path(key)
        guard case let .scalar(text, plain, line) = node, plain, let number = Float(text) else {
            report(path, node.line, "expected a number, got \(node.shortDescription)")
            return value
        }
        guard range.contains(number) else {
            report(path, line, "must be between \(range.lowerBound) and \(range.upperBound), got \(text)")
            return value
        }
        return number
    }

    mutating func bool(_ fields: Fields, _ key: String, default value: Bool) -> Bool {
        guard let node = fields[key] else { return value }
        if case let .scalar(text, true, _) = node {
            switch text.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: break
            }
        }
        report(fields.path(key), node.line, "expected true or false, got \(node.shortDescription)")
        return value
    }

    mutating func string(_ node: ConfigNode, path: String) -> String? {
        guard case let .scalar(text, _, _) = node, !node.isNull else {
            report(path, node.line, "expected text, got \(node.shortDescription)")
            return nil
        }
        return text
    }

    mutating func string(_ fields: Fields, _ key: String) -> String? {
        guard let node = fields[key] else { return nil }
        return string(node, path: fields.path(key))
    }

    /// A list of strings; a single string is accepted as a one-element list.
    mutating func strings(_ fields: Fields, _ key: String, default value: [String]) -> [String] {
        guard let node = fields[key] else { return value }
        let path = fields.path(key)
        switch node {
        case .scalar:
            return string(node, path: path).map { [$0] } ?? value
        case let .sequence(items, _):
            var result: [String] = []
            for (offset, item) in items.enumerated() {
                if let text = string(item, path: "\(path)[\(offset)]") { result.append(text) }
            }
            return result
        case .mapping:
            report(path, node.line, "expected a list of strings, got a mapping")
            return value
        }
    }

    /// One of a closed set of words.
    mutating func choice(_ node: ConfigNode, path: String, options: [String], what: String) -> String? {
        guard let text = string(node, path: path) else { return nil }
        if options.contains(text) { return text }
        var message = "unknown \(what) '\(text)'; expected one of \(options.joined(separator: ", "))"
        if let guess = Suggestion.closest(to: text, among: options) { message += "; did you mean '\(guess)'?" }
        report(path, node.line, message)
        return nil
    }

    // MARK: Paths

    /// Expands `~` and `${VAR}`/`$VAR`, then resolves a relative path against the file's folder
    /// (or the current directory for values that came from `--set`, which carry no line).
    mutating func path(_ node: ConfigNode, path keyPath: String) -> URL? {
        guard let raw = string(node, path: keyPath) else { return nil }
        guard let expanded = expand(raw, path: keyPath, line: node.line) else { return nil }
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

    private mutating func expand(_ raw: String, path: String, line: Int?) -> String? {
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
            let name: Substring
            if after.first == "{" {
                guard let close = after.firstIndex(of: "}") else {
                    report(path, line, "unterminated '${' in '\(raw)'")
                    return nil
                }
                name = after[after.index(after: after.startIndex)..<close]
                after = after[after.index(after: close)...]
            } else {
                let end = after.firstIndex { !($0.isLetter || $0.isNumber || $0 == "_") } ?? after.endIndex
                name = after[..<end]
                after = after[end...]
            }
            guard !name.isEmpty else {
                report(path, line, "'$' must be followed by a variable name in '\(raw)'")
                return nil
            }
            guard let value = environment[String(name)] else {
                report(path, line, "environment variable \(name) is not set (used in '\(raw)')")
                return nil
            }
            result += value
            rest = after
        }
        return result + rest
    }
}
