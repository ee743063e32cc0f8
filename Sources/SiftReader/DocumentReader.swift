import FoundationEssentials
import SiftCore

/// Reads HTML and XML files into `Document`s with libxml2. Safe on hostile input: size, depth and text limits; no network,
/// no external entities, no entity expansion; errors captured per parse, never printed. Thread-safe; one value can read
/// files on many threads at once.
public struct DocumentReader: Sendable {
    public let options: ReaderOptions
    private let dropRules: RuleSet
    private let keepRules: RuleSet

    /// Validates the drop/keep rules (throws `ReaderError.invalidRule` for a malformed selector).
    public init(options: ReaderOptions = ReaderOptions()) throws(ReaderError) {
        LibXML.ensureInitialised()
        self.options = options
        self.dropRules = try RuleSet(options.drop)
        self.keepRules = try RuleSet(options.keep)
    }

    /// Reads one file; `id` is its path relative to the collection root. XML files can yield several documents.
    public func read(fileAt url: URL, id: String, format: DocumentFormat = .auto) throws(ReaderError) -> [Document] {
        let path = url.withUnsafeFileSystemRepresentation { $0.map(RawPath.init(cString:)) }
        guard let path else { throw .unreadable(path: id, reason: "not a file path") }
        return try read(file: path, id: id, format: format == .auto ? Self.format(forExtension: url.pathExtension) : format)
    }

    /// Reads a file named by its bytes (collections keep names that are not valid UTF-8 this way).
    func read(file path: RawPath, id: String, format: DocumentFormat = .auto) throws(ReaderError) -> [Document] {
        try read(bytes: try FileSystem.readRegularFile(path, id: id, limit: options.maxFileSize), id: id, format: format)
    }

    /// Reads bytes already in memory; `.auto` decides by the id's extension, then by sniffing.
    public func read(data: Data, id: String, format: DocumentFormat = .auto) throws(ReaderError) -> [Document] {
        if data.count > options.maxFileSize { throw .fileTooLarge(path: id, size: data.count, limit: options.maxFileSize) }
        return try read(bytes: [UInt8](data), id: id, format: format)
    }

    private func read(bytes: [UInt8], id: String, format: DocumentFormat) throws(ReaderError) -> [Document] {
        try InputBytes.validate(bytes, path: id)
        var resolved = format == .auto ? Self.format(forExtension: PathText.pathExtension(id)) : format
        if resolved == .auto { resolved = InputBytes.sniffIsXML(bytes) ? .xml : .html }
        if resolved == .xml {
            return try readXML(bytes, id: id)
        }
        return [try readHTML(bytes, id: id)]
    }

    static func format(forExtension ext: String) -> DocumentFormat {
        switch ext.lowercased() {
        case "html", "htm", "xhtml", "shtml": return .html
        case "xml", "rss", "atom", "dbk", "docbook", "rdf": return .xml
        default: return .auto
        }
    }

    // MARK: - HTML

    private func readHTML(_ bytes: [UInt8], id: String) throws(ReaderError) -> Document {
        let (input, encoding) = InputBytes.prepare(bytes)
        let sink = LibXML.DiagnosticSink()
        guard let tree = LibXML.parseHTML(input, encoding: encoding, sink: sink), let root = tree.root else {
            let fatal = sink.firstFatal ?? sink.diagnostics.first
            throw .parseFailed(path: id, line: fatal?.line, message: fatal?.message ?? "no markup found")
        }
        let drop = try dropRules.bound(to: tree)
        let keep = try keepRules.bound(to: tree)
        let page = PageOutline(root: root, keep: keep, maxDepth: options.maxDepth)

        var walker = MarkupWalker(vocabulary: .html, drop: drop, dropPageChrome: page.contentIsWholeBody,
                                  maxDepth: options.maxDepth, ignoredAnchorPrefixes: options.ignoredAnchorPrefixes,
                                  assembler: DocumentAssembler(maxScalars: options.maxTextLength))
        for contentRoot in page.contentRoots { walker.walk(contentRoot) }
        let assembler = walker.assembler
        let title = page.title ?? assembler.firstHeading ?? Self.fileName(id)
        return Document(id: id, title: title, language: page.language, text: assembler.text, blocks: assembler.blocks)
    }

    static func fileName(_ id: String) -> String {
        let last = PathText.lastComponent(id)
        return last.isEmpty ? id : last
    }

    // MARK: - XML

    private func readXML(_ bytes: [UInt8], id: String) throws(ReaderError) -> [Document] {
        let (input, encoding) = InputBytes.prepare(bytes)
        let sink = LibXML.DiagnosticSink()
        guard let tree = LibXML.parseXML(input, encoding: encoding, sink: sink), let root = tree.root else {
            let fatal = sink.firstFatal ?? sink.diagnostics.first
            throw .parseFailed(path: id, line: fatal?.line, message: fatal?.message ?? "no root element")
        }
        let mapping = options.xmlMapping ?? Self.detectMapping(root)
        let drop = try dropRules.bound(to: tree, namespaces: mapping?.namespaces ?? [:])
        guard let mapping else {
            return [genericXMLDocument(tree: tree, root: root, id: id, drop: drop)]
        }
        let evaluator = XPathEvaluator(tree: tree, namespaces: mapping.namespaces)
        let records = try evaluator.nodes(mapping.record)
        var documents: [Document] = []
        var usedIDs: Set<String> = []
        for (index, record) in records.enumerated() {
            let recordID = try firstString(mapping.id, record: record, evaluator: evaluator)
            var documentID = records.count == 1 && record == root ? id : "\(id)#\(recordID ?? String(index + 1))"
            if usedIDs.contains(documentID) { documentID += "-\(index + 1)" }
            usedIDs.insert(documentID)

            var assembler = DocumentAssembler(maxScalars: options.maxTextLength)
            for expression in mapping.body {
                for node in try evaluator.nodes(expression, context: record) {
                    assembler = readBody(node, markup: mapping.markup, drop: drop, into: assembler)
                }
            }
            let title = try firstString(mapping.title, record: record, evaluator: evaluator)
                .map { DocumentAssembler.normalised(Substring($0)) }
                ?? assembler.firstHeading ?? recordID ?? Self.fileName(id)
            documents.append(Document(id: documentID, title: title, language: Self.language(of: record),
                                      text: assembler.text, blocks: assembler.blocks))
        }
        return documents
    }

    private func firstString(_ expressions: [String], record: Node, evaluator: XPathEvaluator) throws(ReaderError) -> String? {
        for expression in expressions {
            let value = try evaluator.string(expression, context: record)
            if !value.isEmpty { return value }
        }
        return nil
    }

    /// RSS/RDF by root name, Atom by namespace, DocBook by root name or namespace; nil means generic.
    static func detectMapping(_ root: Node) -> XMLMapping? {
        let name = root.name
        let ns = root.namespaceURI
        if name == "rss" || name == "rdf" { return .rss }
        if name == "feed", ns == "http://www.w3.org/2005/Atom" { return .atom }
        if ns == "http://docbook.org/ns/docbook" || (ns == nil && Vocabulary.docbookSections.contains(name)) { return .docbook }
        return nil
    }

    private func readBody(_ node: Node, markup: XMLMapping.BodyMarkup, drop: BoundRules, into assembler: DocumentAssembler) -> DocumentAssembler {
        func walk(_ vocabulary: Vocabulary, _ root: Node, _ assembler: DocumentAssembler, drop: BoundRules) -> DocumentAssembler {
            var walker = MarkupWalker(vocabulary: vocabulary, drop: drop, dropPageChrome: false, maxDepth: options.maxDepth,
                                      ignoredAnchorPrefixes: options.ignoredAnchorPrefixes, assembler: assembler)
            walker.walk(root)
            return walker.assembler
        }
        switch markup {
        case .docbook: return walk(.docbook, node, assembler, drop: drop)
        case .generic: return walk(.generic, node, assembler, drop: drop)
        case .html:
            if node.isElement, node.firstChild.map({ first in node.children.contains(where: \.isElement) || !first.isText }) == true,
               node.children.contains(where: \.isElement) {
                return walk(.html, node, assembler, drop: drop)   // inline XHTML (Atom type="xhtml")
            }
            let text = node.textContent(maxDepth: options.maxDepth, limit: options.maxFileSize)
            var result = assembler
            if Self.looksLikeHTML(text) {
                // Escaped HTML inside the feed: parse it as its own HTML fragment (tree freed when this scope ends).
                let sink = LibXML.DiagnosticSink()
                if let fragment = LibXML.parseHTML(Array(text.utf8), encoding: "UTF-8", sink: sink), let root = fragment.root {
                    let body = PageOutline.firstElement(named: "body", under: root, maxDepth: 4) ?? root
                    return walk(.html, body, assembler, drop: BoundRules(rules: dropRules))
                }
            }
            result.addBlock(.paragraph, text: text, anchor: nil)
            return result
        }
    }

    static func looksLikeHTML(_ text: String) -> Bool {
        var previousWasOpen = false
        for s in text.unicodeScalars {
            if previousWasOpen, (s.properties.isAlphabetic || s == "/" || s == "!") { return true }
            previousWasOpen = s == "<"
        }
        return false
    }

    private func genericXMLDocument(tree: LibXML.Tree, root: Node, id: String, drop: BoundRules) -> Document {
        var walker = MarkupWalker(vocabulary: .generic, drop: drop, dropPageChrome: false, maxDepth: options.maxDepth,
                                  ignoredAnchorPrefixes: options.ignoredAnchorPrefixes, assembler: DocumentAssembler(maxScalars: options.maxTextLength))
        walker.walk(root)
        let titleNode = PageOutline.firstElement(where: { ["title", "name", "heading", "headline", "subject", "label"].contains($0) },
                                                 under: root, maxDepth: options.maxDepth)
        let title = titleNode.map { DocumentAssembler.normalised(Substring($0.textContent(maxDepth: 16, limit: 4096))) }
        return Document(id: id, title: (title?.isEmpty == false ? title : nil) ?? Self.fileName(id),
                        language: Self.language(of: root), text: walker.assembler.text, blocks: walker.assembler.blocks)
    }

    /// `xml:lang` / `lang` on the node or its nearest ancestor.
    static func language(of node: Node) -> String? {
        var current: Node? = node
        var steps = 0
        while let n = current, steps < 64 {
            if let lang = n.attribute("xml:lang") ?? n.attribute("lang"), !lang.isEmpty { return lang }
            current = n.parent
            steps += 1
        }
        return nil
    }
}

/// What the reader needs to know about a whole HTML page before walking it: title, language, and where the content is.
struct PageOutline {
    var title: String?
    var language: String?
    var contentRoots: [Node]
    /// True when no main-content element was found and the walk starts at <body> (page header/footer/aside are dropped).
    var contentIsWholeBody: Bool

    init(root: Node, keep: BoundRules, maxDepth: Int) {
        var title: String?
        var body: Node?
        var mains: [Node] = [], roleMains: [Node] = [], articles: [Node] = [], kept: [Node] = []
        var work: [(Node, Int, Bool)] = [(root, 0, false)]   // node, depth, inside an <article>
        while let (node, depth, inArticle) = work.popLast() {
            guard node.isElement, depth <= maxDepth else { continue }
            let name = node.name
            if name == "svg" || name == "math" || name == "script" || name == "style" { continue }
            if !keep.isEmpty, keep.matches(node, name: name) { kept.append(node); continue }
            var nowInArticle = inArticle
            switch name {
            case "title" where title == nil:
                title = DocumentAssembler.normalised(Substring(node.textContent(maxDepth: 4, limit: 4096)))
            case "body" where body == nil: body = node
            case "main": mains.append(node)
            case "article":
                if !inArticle { articles.append(node) }
                nowInArticle = true
            default: break
            }
            if node.attribute("role") == "main" { roleMains.append(node) }
            for child in node.children.reversed() where child.isElement { work.append((child, depth + 1, nowInArticle)) }
        }
        self.title = (title?.isEmpty ?? true) ? nil : title
        self.language = root.attribute("lang") ?? root.attribute("xml:lang")
        if !kept.isEmpty {
            contentRoots = kept
        } else if let main = mains.first ?? roleMains.first {
            contentRoots = [main]
        } else if !articles.isEmpty {
            contentRoots = articles
        } else {
            contentRoots = [body ?? root]
        }
        contentIsWholeBody = kept.isEmpty && mains.isEmpty && roleMains.isEmpty && articles.isEmpty
    }

    static func firstElement(named name: String, under root: Node, maxDepth: Int) -> Node? {
        firstElement(where: { $0 == name }, under: root, maxDepth: maxDepth)
    }

    /// Document-order search, iterative and depth-bounded.
    static func firstElement(where predicate: (String) -> Bool, under root: Node, maxDepth: Int) -> Node? {
        var work: [(Node, Int)] = [(root, 0)]
        while let (node, depth) = work.popLast() {
            guard node.isElement, depth <= maxDepth else { continue }
            if predicate(node.name) { return node }
            for child in node.children.reversed() where child.isElement { work.append((child, depth + 1)) }
        }
        return nil
    }
}
