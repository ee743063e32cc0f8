// No Foundation in this module (FoundationEssentials only), and libxml2 imported implementation-only: libxml2's headers
// include the system ICU, whose UErrorCode clashes with Foundation's private ICU copy in any compilation that sees both.
// Clients import Foundation, so they must never load CLibXML2; no public type stores a libxml2 type, which is what makes
// the implementation-only import safe without library evolution.
@_implementationOnly import CLibXML2

/// libxml2 plumbing: one-time initialisation, parsing with per-thread error capture, tree access. Nothing here is public.
enum LibXML {
    /// `xmlInitParser` is not safe to race; a static initialiser runs exactly once. The external-entity loader refuses every
    /// URL, so no file:// or http:// entity or DTD is ever fetched, whatever the document says (XXE).
    private static let initialised: Bool = {
        xmlInitParser()
        xmlSetExternalEntityLoader { _, _, _ in nil }
        return true
    }()

    static func ensureInitialised() { precondition(initialised) }

    /// A libxml2 diagnostic.
    struct Diagnostic {
        var message: String
        var line: Int
        var isFatal: Bool
    }

    /// Collects diagnostics of one parse; installed as the calling thread's structured error handler (libxml2 keeps the
    /// handler in thread-local state, so parallel parses on other threads do not see it).
    final class DiagnosticSink {
        var diagnostics: [Diagnostic] = []
        var firstFatal: Diagnostic? { diagnostics.first { $0.isFatal } }
    }

    /// Runs `body` with libxml2's per-thread error output routed into `sink` (nothing reaches stderr).
    static func capturingErrors<T>(_ sink: DiagnosticSink, _ body: () -> T) -> T {
        ensureInitialised()
        let context = Unmanaged.passUnretained(sink).toOpaque()
        xmlSetStructuredErrorFunc(context) { context, error in
            guard let context, let error else { return }
            let sink = Unmanaged<DiagnosticSink>.fromOpaque(context).takeUnretainedValue()
            guard sink.diagnostics.count < 100 else { return }
            let text = error.pointee.message.map { String(cString: $0) } ?? "unknown libxml2 error"
            sink.diagnostics.append(Diagnostic(
                message: DocumentAssembler.normalised(Substring(text)),
                line: Int(error.pointee.line),
                isFatal: error.pointee.level.rawValue >= XML_ERR_FATAL.rawValue))
        }
        defer { xmlSetStructuredErrorFunc(nil, nil) }
        return withExtendedLifetime(sink) { body() }
    }

    /// A parsed libxml2 document; frees the tree when released.
    final class Tree {
        let doc: xmlDocPtr
        init(doc: xmlDocPtr) { self.doc = doc }
        deinit { xmlFreeDoc(doc) }

        var root: Node? { xmlDocGetRootElement(doc).map(Node.init) }
    }

    static let htmlOptions: Int32 = Int32(HTML_PARSE_RECOVER.rawValue | HTML_PARSE_NONET.rawValue
        | HTML_PARSE_NOERROR.rawValue | HTML_PARSE_NOWARNING.rawValue | HTML_PARSE_COMPACT.rawValue)

    /// No NOENT (entities stay references, never substituted), no DTDLOAD/DTDATTR/DTDVALID, no HUGE (keeps libxml2's
    /// entity-amplification and depth guards), NONET.
    static let xmlOptions: Int32 = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOCDATA.rawValue
        | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue | XML_PARSE_COMPACT.rawValue)

    /// Parses HTML (libxml2 recovers from anything; nil only for input it cannot start on).
    static func parseHTML(_ bytes: [UInt8], encoding: String?, sink: DiagnosticSink) -> Tree? {
        capturingErrors(sink) {
            bytes.withUnsafeBufferPointer { buffer -> Tree? in
                buffer.withMemoryRebound(to: CChar.self) { chars in
                    htmlReadMemory(chars.baseAddress, Int32(chars.count), "", encoding, htmlOptions).map(Tree.init)
                }
            }
        }
    }

    /// Parses XML; nil when the document is not well-formed (the sink holds the reason).
    static func parseXML(_ bytes: [UInt8], encoding: String?, sink: DiagnosticSink) -> Tree? {
        capturingErrors(sink) {
            bytes.withUnsafeBufferPointer { buffer -> Tree? in
                buffer.withMemoryRebound(to: CChar.self) { chars in
                    xmlReadMemory(chars.baseAddress, Int32(chars.count), "", encoding, xmlOptions).map(Tree.init)
                }
            }
        }
    }
}

/// A borrowed libxml2 node; valid only while its `LibXML.Tree` is alive.
struct Node: Hashable {
    let ptr: xmlNodePtr

    var isElement: Bool { ptr.pointee.type == XML_ELEMENT_NODE }
    var isText: Bool { ptr.pointee.type == XML_TEXT_NODE || ptr.pointee.type == XML_CDATA_SECTION_NODE }

    /// Local name, lowercased (HTML names are already lowercase; DocBook names are too).
    var name: String {
        guard let name = ptr.pointee.name else { return "" }
        let text = String(cString: name)
        return text.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) ? text.lowercased() : text
    }

    var namespaceURI: String? { ptr.pointee.ns?.pointee.href.map { String(cString: $0) } }

    var firstChild: Node? { ptr.pointee.children.map(Node.init) }
    var nextSibling: Node? { ptr.pointee.next.map(Node.init) }
    var parent: Node? {
        guard let p = ptr.pointee.parent, p.pointee.type == XML_ELEMENT_NODE else { return nil }
        return Node(ptr: p)
    }

    var children: [Node] {
        var result: [Node] = []
        var child = firstChild
        while let c = child { result.append(c); child = c.nextSibling }
        return result
    }

    var elementChildren: [Node] { children.filter(\.isElement) }

    /// Text of a text/CDATA node.
    var content: String {
        guard let content = ptr.pointee.content else { return "" }
        return String(cString: content)
    }

    var line: Int { Int(xmlGetLineNo(ptr)) }

    /// An attribute's value by name; `prefixed` also matches a namespaced attribute such as `xml:lang` (as the XML parser
    /// stores it) and the literal name the HTML parser keeps.
    func attribute(_ wanted: String) -> String? {
        var attr = ptr.pointee.properties
        while let a = attr {
            if let n = a.pointee.name {
                var name = String(cString: n)
                if let prefix = a.pointee.ns?.pointee.prefix { name = String(cString: prefix) + ":" + name }
                if name.lowercased() == wanted {
                    var value = ""
                    var child = a.pointee.children
                    while let c = child {
                        if let content = c.pointee.content { value += String(cString: content) }
                        child = c.pointee.next
                    }
                    return value
                }
            }
            attr = a.pointee.next
        }
        return nil
    }

    var classes: [Substring] {
        guard let value = attribute("class") else { return [] }
        return value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
    }
}

/// Compiled XPath evaluation against one tree.
struct XPathEvaluator {
    let tree: LibXML.Tree
    let namespaces: [String: String]

    /// The nodes an expression selects, with `context` as the context node (document root when nil).
    func nodes(_ expression: String, context: Node? = nil) throws(ReaderError) -> [Node] {
        try evaluate(expression, context: context) { object in
            guard object.pointee.type == XPATH_NODESET, let set = object.pointee.nodesetval else { return [] }
            var result: [Node] = []
            for i in 0..<Int(set.pointee.nodeNr) {
                if let node = set.pointee.nodeTab[i] { result.append(Node(ptr: node)) }
            }
            return result
        }
    }

    /// The XPath string-value of an expression (`string(expr)`), trimmed.
    func string(_ expression: String, context: Node?) throws(ReaderError) -> String {
        try evaluate("string(\(expression))", context: context) { object in
            guard let value = object.pointee.stringval else { return "" }
            return DocumentAssembler.normalised(Substring(String(cString: value)))
        }
    }

    private func evaluate<T>(_ expression: String, context: Node?, _ read: (xmlXPathObjectPtr) -> T) throws(ReaderError) -> T {
        guard let ctx = xmlXPathNewContext(tree.doc) else {
            throw .invalidRule(rule: expression, reason: "cannot create an XPath context")
        }
        defer { xmlXPathFreeContext(ctx) }
        for (prefix, uri) in namespaces.sorted(by: { $0.key < $1.key }) {
            _ = xmlXPathRegisterNs(ctx, prefix, uri)
        }
        if let context { ctx.pointee.node = context.ptr }
        let sink = LibXML.DiagnosticSink()
        let object = LibXML.capturingErrors(sink) { xmlXPathEvalExpression(expression, ctx) }
        guard let object else {
            throw .invalidRule(rule: expression, reason: sink.diagnostics.first?.message ?? "XPath evaluation failed")
        }
        defer { xmlXPathFreeObject(object) }
        return read(object)
    }
}

extension Node {
    /// Concatenated text of all descendant text nodes (or of an attribute's value), bounded in depth and length.
    func textContent(maxDepth: Int, limit: Int) -> String {
        if isText { return content }
        var out = ""
        var work: [(Node, Int)] = children.reversed().map { ($0, 1) }
        while let (node, depth) = work.popLast(), out.utf8.count < limit {
            if node.isText { out += node.content; continue }
            guard depth <= maxDepth, node.ptr.pointee.type == XML_ELEMENT_NODE || node.ptr.pointee.type == XML_ATTRIBUTE_NODE else { continue }
            work.append(contentsOf: node.children.reversed().map { ($0, depth + 1) })
        }
        return out
    }
}
