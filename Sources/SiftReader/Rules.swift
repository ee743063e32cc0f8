/// A simple selector: optional tag, `#id`, `.class`es and `[attr]` / `[attr=value]` conditions, all of which must match.
struct SimpleSelector: Hashable, Sendable {
    struct AttributeTest: Hashable, Sendable {
        var name: String
        var value: String?
    }

    var tag: String?
    var id: String?
    var classes: [String] = []
    var attributes: [AttributeTest] = []

    init(parsing rule: String) throws(ReaderError) {
        var chars = Substring(rule.trimmedSpaces)
        guard !chars.isEmpty else { throw .invalidRule(rule: rule, reason: "empty selector") }
        func takeName() -> String {
            let name = chars.prefix { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ":" }
            chars = chars.dropFirst(name.count)
            return String(name)
        }
        let tag = takeName()
        if !tag.isEmpty { self.tag = tag == "*" ? nil : tag.lowercased() }
        if chars.first == "*" { chars = chars.dropFirst() }
        while let c = chars.first {
            chars = chars.dropFirst()
            switch c {
            case ".":
                let name = takeName()
                guard !name.isEmpty else { throw .invalidRule(rule: rule, reason: "'.' without a class name") }
                classes.append(name)
            case "#":
                let name = takeName()
                guard !name.isEmpty else { throw .invalidRule(rule: rule, reason: "'#' without an id") }
                id = name
            case "[":
                guard let close = chars.firstIndex(of: "]") else { throw .invalidRule(rule: rule, reason: "missing ']'") }
                let inside = chars[..<close]
                chars = chars[chars.index(after: close)...]
                if let eq = inside.firstIndex(of: "=") {
                    var value = String(inside[inside.index(after: eq)...]).trimmedSpaces
                    if value.count >= 2, let f = value.first, f == "\"" || f == "'", value.last == f {
                        value = String(value.dropFirst().dropLast())
                    }
                    attributes.append(AttributeTest(name: String(inside[..<eq]).trimmedSpaces.lowercased(), value: value))
                } else {
                    attributes.append(AttributeTest(name: String(inside).trimmedSpaces.lowercased(), value: nil))
                }
            default:
                throw .invalidRule(rule: rule, reason: "unsupported character '\(c)' (use tag, .class, #id, [attr=value], or an XPath starting with '/')")
            }
        }
    }

    /// `nodeID` and `nodeClasses` are the element's id and classes, read once per element by the caller.
    func matches(_ node: Node, name: String, nodeID: String?, nodeClasses: [Substring]) -> Bool {
        if let tag, tag != name { return false }
        if let id, nodeID != id { return false }
        for c in classes where !nodeClasses.contains(Substring(c)) { return false }
        for test in attributes {
            guard let actual = node.attribute(test.name) else { return false }
            if let value = test.value, actual != value { return false }
        }
        return true
    }
}

/// A compiled drop or keep list: simple selectors matched per element, XPath rules evaluated once per tree (`bound(to:)`).
/// Holds no libxml2 type, so the public `DocumentReader` that stores it has a layout clients can compute without libxml2.
struct RuleSet: Sendable {
    var selectors: [SimpleSelector] = []
    var xpaths: [String] = []

    init(_ rules: [String]) throws(ReaderError) {
        for rule in rules {
            let trimmed = rule.trimmedSpaces
            if trimmed.hasPrefix("/") || trimmed.hasPrefix("(") || trimmed.hasPrefix("./") {
                xpaths.append(trimmed)
            } else {
                selectors.append(try SimpleSelector(parsing: trimmed))
            }
        }
    }

    /// The rules with their XPath expressions evaluated against `tree`.
    func bound(to tree: LibXML.Tree, namespaces: [String: String] = [:]) throws(ReaderError) -> BoundRules {
        var bound = BoundRules(rules: self)
        let evaluator = XPathEvaluator(tree: tree, namespaces: namespaces)
        for expression in xpaths { bound.xpathMatches.formUnion(try evaluator.nodes(expression)) }
        return bound
    }
}

/// A rule set for one parsed tree; lives only while that tree does.
struct BoundRules {
    let rules: RuleSet
    /// Nodes selected by the XPath rules.
    var xpathMatches: Set<Node> = []

    private let needsID: Bool
    private let needsClasses: Bool

    init(rules: RuleSet) {
        self.rules = rules
        needsID = rules.selectors.contains { $0.id != nil }
        needsClasses = rules.selectors.contains { !$0.classes.isEmpty }
    }

    var isEmpty: Bool { rules.selectors.isEmpty && rules.xpaths.isEmpty }

    func matches(_ node: Node, name: String) -> Bool {
        if !xpathMatches.isEmpty, xpathMatches.contains(node) { return true }
        guard !rules.selectors.isEmpty else { return false }
        let id = needsID ? node.attribute("id") : nil
        let classes = needsClasses ? node.classes : []
        for s in rules.selectors where s.matches(node, name: name, nodeID: id, nodeClasses: classes) { return true }
        return false
    }
}

extension String {
    /// Without leading/trailing ASCII spaces and tabs.
    var trimmedSpaces: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { $0 != " " && $0 != "\t" }),
              let last = scalars.lastIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        return String(scalars[first...last])
    }
}
