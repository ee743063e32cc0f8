import SiftCore

/// What an element means to the block builder.
enum ElementRole {
    /// Left out with its subtree.
    case skip
    /// An HTML heading of the given level.
    case heading(Int)
    /// A DocBook title: a heading when it titles a section, otherwise a paragraph.
    case title
    /// A DocBook section: a block boundary that nests heading levels.
    case section
    /// Preformatted text kept with its whitespace.
    case code
    case table
    case lineBreak
    /// A block boundary; the kind, when given, applies to all text inside (li, dt, dd, blockquote).
    case block(BlockKind?)
    case inline
}

/// The element vocabularies the reader understands.
enum Vocabulary {
    case html, docbook, generic

    private static let htmlBoundaries: Set<String> = [
        "p", "div", "section", "article", "main", "header", "footer", "aside", "address", "center", "details", "summary",
        "dialog", "dl", "ol", "ul", "menu", "dir", "figure", "figcaption", "hgroup", "fieldset", "legend", "caption", "tr",
        "td", "th", "thead", "tbody", "tfoot", "body", "html", "hr", "option", "noframes",
    ]
    private static let htmlSkipped: Set<String> = [
        "script", "style", "noscript", "template", "nav", "form", "button", "iframe", "svg", "head", "select", "textarea",
        "input", "object", "embed", "canvas", "audio", "video", "map", "frameset", "frame", "link", "meta",
    ]
    static let docbookSections: Set<String> = [
        "book", "article", "chapter", "section", "sect1", "sect2", "sect3", "sect4", "sect5", "simplesect", "appendix",
        "preface", "part", "reference", "refentry", "refsect1", "refsect2", "refsect3", "refsection", "glossary",
        "bibliography", "colophon", "dedication", "partintro", "set",
    ]
    private static let docbookBoundaries: Set<String> = [
        "para", "simpara", "formalpara", "note", "warning", "tip", "important", "caution", "abstract", "example",
        "informalexample", "figure", "informalfigure", "sidebar", "procedure", "step", "itemizedlist", "orderedlist",
        "variablelist", "simplelist", "segmentedlist", "glosslist", "glossentry", "varlistentry", "calloutlist", "callout",
        "qandaset", "qandaentry", "question", "answer", "refnamediv", "refsynopsisdiv", "info", "bookinfo", "articleinfo",
        "mediaobject", "caption", "epigraph", "address", "refname", "refpurpose", "subtitle", "row", "entry",
    ]
    private static let docbookCode: Set<String> = [
        "programlisting", "screen", "literallayout", "synopsis", "funcsynopsis", "cmdsynopsis", "classsynopsis",
    ]

    func role(of node: Node, name: String) -> ElementRole {
        switch self {
        case .html:
            switch name {
            case "h1", "h2", "h3", "h4", "h5", "h6": return .heading(Int(name.utf8.last! - UInt8(ascii: "0")))
            case "pre", "listing", "xmp", "plaintext": return .code
            case "table": return .table
            case "br": return .lineBreak
            case "li": return .block(.listItem)
            case "dt": return .block(.definitionTerm)
            case "dd": return .block(.definitionDescription)
            case "blockquote": return .block(.quote)
            default:
                if Self.htmlSkipped.contains(name) { return .skip }
                return Self.htmlBoundaries.contains(name) ? .block(nil) : .inline
            }
        case .docbook:
            if Self.docbookSections.contains(name) { return .section }
            if Self.docbookCode.contains(name) { return .code }
            switch name {
            case "title": return .title
            case "table", "informaltable": return .table
            case "sbr": return .lineBreak
            case "listitem": return node.parent?.name == "varlistentry" ? .block(.definitionDescription) : .block(.listItem)
            case "glossdef": return .block(.definitionDescription)
            case "term": return .block(.definitionTerm)
            case "glossterm" where node.parent?.name == "glossentry": return .block(.definitionTerm)
            case "member": return .block(.listItem)
            case "blockquote": return .block(.quote)
            case "indexterm", "remark", "comment", "titleabbrev": return .skip
            default: return Self.docbookBoundaries.contains(name) ? .block(nil) : .inline
            }
        case .generic:
            return .block(nil)
        }
    }

    /// Table structure names: containers that hold rows, rows, cells, and the caption element.
    var tableRowContainers: Set<String> { self == .docbook ? ["tgroup", "thead", "tbody", "tfoot"] : ["thead", "tbody", "tfoot"] }
    var tableRow: String { self == .docbook ? "row" : "tr" }
    var tableCells: Set<String> { self == .docbook ? ["entry", "entrytbl"] : ["td", "th"] }
    var tableCaption: String { self == .docbook ? "title" : "caption" }
}

/// Walks a markup subtree without recursion (an explicit work stack, depth-bounded) and feeds blocks to an assembler.
struct MarkupWalker {
    let vocabulary: Vocabulary
    let drop: BoundRules
    /// header/footer/aside are boilerplate when the walk starts at <body> (no main content element was found).
    let dropPageChrome: Bool
    let maxDepth: Int
    /// Anchors starting with these are generated link targets (Sphinx "index-3"), not section names.
    let ignoredAnchorPrefixes: [String]
    var assembler: DocumentAssembler
    /// Set when some subtree was cut off by `maxDepth`.
    private(set) var depthTruncated = false

    private var inline = ""
    private var inlineHasContent = false
    private var inlineKind: BlockKind = .paragraph
    private var inlineAnchor: String?

    private struct Frame {
        var anchor: String?
        var kind: BlockKind?
        var isBoundary: Bool
        var isSection: Bool
        /// An anchor that stays in effect for the following siblings once this element ends (dt, a[name]).
        var stickyAnchor: String?
    }
    private var frames: [Frame] = []
    private var sectionLevel = 0

    private enum Step { case enter(Node), exit }

    init(vocabulary: Vocabulary, drop: BoundRules, dropPageChrome: Bool, maxDepth: Int, ignoredAnchorPrefixes: [String] = [],
         assembler: DocumentAssembler) {
        self.vocabulary = vocabulary
        self.ignoredAnchorPrefixes = ignoredAnchorPrefixes
        self.drop = drop
        self.dropPageChrome = dropPageChrome
        self.maxDepth = maxDepth
        self.assembler = assembler
    }

    // MARK: - Walk

    /// Reads `root` and its subtree. `inheritedAnchor` is the anchor in effect at the root (e.g. a section id above it).
    mutating func walk(_ root: Node, inheritedAnchor: String? = nil) {
        frames.append(Frame(anchor: inheritedAnchor, kind: nil, isBoundary: true, isSection: false))
        var work: [Step] = [.enter(root)]
        while let step = work.popLast() {
            if assembler.remaining == 0 { break }
            switch step {
            case .exit:
                let frame = frames.removeLast()
                if frame.isBoundary { flush() }
                if frame.isSection { sectionLevel -= 1 }
                if let sticky = frame.stickyAnchor, !frames.isEmpty { frames[frames.count - 1].anchor = sticky }
            case .enter(let node):
                if node.isText { appendText(node.content); continue }
                // Entity references, comments and processing instructions are never expanded or read.
                guard node.isElement else { continue }
                let name = node.name
                if isDropped(node, name: name) { continue }
                if frames.count > maxDepth { depthTruncated = true; continue }
                let ownAnchor = anchorAttribute(of: node, name: name)
                switch vocabulary.role(of: node, name: name) {
                case .skip:
                    continue
                case .heading(let level):
                    if Self.isAdmonitionTitle(node) {
                        // DocBook HTML titles its note/warning boxes with <h3>; those are labels, not sections.
                        flush()
                        assembler.addBlock(.paragraph, text: gather(node, preserve: false), anchor: ownAnchor ?? currentAnchor)
                    } else {
                        addHeading(node, level: level, ownAnchor: ownAnchor)
                    }
                case .title:
                    if isSectionTitle(node) {
                        addHeading(node, level: max(sectionLevel, 1), ownAnchor: ownAnchor)
                    } else {
                        flush()
                        assembler.addBlock(.paragraph, text: gather(node, preserve: false), anchor: ownAnchor ?? currentAnchor)
                    }
                case .code:
                    flush()
                    assembler.addBlock(.code, text: gather(node, preserve: true), anchor: ownAnchor ?? currentAnchor)
                case .table:
                    flush()
                    if let rendered = renderTable(node) {
                        assembler.addBlock(.table, text: rendered, anchor: ownAnchor ?? currentAnchor)
                    } else {
                        // A layout table (one cell per row): read its content like any container.
                        enter(node, children: &work, frame: Frame(anchor: ownAnchor, kind: nil, isBoundary: true, isSection: false))
                    }
                case .lineBreak:
                    appendText("\n")
                case .block(let kind):
                    flush()
                    let sticky = (name == "dt" || name == "term") ? ownAnchor : nil
                    enter(node, children: &work, frame: Frame(anchor: ownAnchor, kind: kind, isBoundary: true, isSection: false, stickyAnchor: sticky))
                case .section:
                    flush()
                    sectionLevel += 1
                    enter(node, children: &work, frame: Frame(anchor: ownAnchor, kind: nil, isBoundary: true, isSection: true))
                case .inline:
                    let sticky = name == "a" ? ownAnchor : nil
                    enter(node, children: &work, frame: Frame(anchor: ownAnchor, kind: nil, isBoundary: false, isSection: false, stickyAnchor: sticky))
                }
            }
        }
        // Close whatever the budget cut short, then the root frame.
        flush()
        frames.removeAll()
        sectionLevel = 0
    }

    private mutating func enter(_ node: Node, children work: inout [Step], frame: Frame) {
        frames.append(frame)
        work.append(.exit)
        for child in node.children.reversed() { work.append(.enter(child)) }
    }

    private func isDropped(_ node: Node, name: String) -> Bool {
        if dropPageChrome, vocabulary == .html, name == "header" || name == "footer" || name == "aside" { return true }
        return drop.matches(node, name: name)
    }

    private static let admonitionClasses: Set<Substring> = ["note", "warning", "tip", "caution", "important", "admonition", "sidebar"]

    static func isAdmonitionTitle(_ node: Node) -> Bool {
        guard let parent = node.parent else { return false }
        return parent.classes.contains(where: admonitionClasses.contains)
    }

    private func isSectionTitle(_ node: Node) -> Bool {
        guard let parent = node.parent else { return true }
        let p = parent.name
        if Vocabulary.docbookSections.contains(p) { return true }
        if p == "info" || p == "bookinfo" || p == "articleinfo", let grand = parent.parent {
            return Vocabulary.docbookSections.contains(grand.name)
        }
        return false
    }

    private mutating func addHeading(_ node: Node, level: Int, ownAnchor: String?) {
        flush()
        let anchor = ownAnchor ?? firstDescendantAnchor(node) ?? currentAnchor
        assembler.addHeading(level: level, text: gather(node, preserve: false), anchor: anchor)
        // Text after the heading (until its container ends) belongs to the heading's anchor.
        if let anchor, !frames.isEmpty { frames[frames.count - 1].anchor = anchor }
    }

    // MARK: - Inline text

    private var currentAnchor: String? {
        for frame in frames.reversed() { if let a = frame.anchor { return a } }
        return nil
    }

    private var currentKind: BlockKind {
        for frame in frames.reversed() { if let k = frame.kind { return k } }
        return .paragraph
    }

    private mutating func appendText(_ s: String) {
        if !inlineHasContent {
            guard s.unicodeScalars.contains(where: { !DocumentAssembler.isCollapsible($0) }) else { return }
            inlineHasContent = true
            inlineKind = currentKind
            inlineAnchor = currentAnchor
        }
        // Bytes are an upper bound on scalars: stop growing a block once it alone would exceed the budget.
        guard inline.utf8.count <= assembler.remaining * 4 + 16 else { return }
        inline += s
    }

    private mutating func flush() {
        guard inlineHasContent else { inline = ""; return }
        assembler.addBlock(inlineKind, text: inline, anchor: inlineAnchor)
        inline = ""
        inlineHasContent = false
        inlineAnchor = nil
    }

    // MARK: - Subtree text

    /// The text of a subtree. `preserve` keeps it verbatim (code); otherwise block boundaries and <br> become spaces so
    /// words in neighbouring cells or paragraphs never run together. Bounded by depth and by the text budget.
    private func gather(_ root: Node, preserve: Bool) -> String {
        var out = ""
        let limit = assembler.remaining * 4 + 16
        var work: [(node: Node?, depth: Int)] = root.children.reversed().map { ($0, 1) }
        while let (item, depth) = work.popLast() {
            guard out.utf8.count <= limit else { break }
            guard let node = item else { out += " "; continue }   // nil marks the end of a block element
            if node.isText { out += node.content; continue }
            guard node.isElement, depth <= maxDepth else { continue }
            let name = node.name
            if isDropped(node, name: name) { continue }
            switch vocabulary.role(of: node, name: name) {
            case .skip: continue
            case .lineBreak: out += preserve ? "\n" : " "; continue
            case .inline, .code: break
            default: if !preserve { out += " "; work.append((nil, depth)) }
            }
            for child in node.children.reversed() { work.append((child, depth + 1)) }
        }
        return out
    }

    private func firstDescendantAnchor(_ root: Node) -> String? {
        var work = root.children.reversed().map { ($0, 1) }
        while let (node, depth) = work.popLast() {
            guard node.isElement, depth <= 8 else { continue }
            if let a = anchorAttribute(of: node, name: node.name) { return a }
            work.append(contentsOf: node.children.reversed().map { ($0, depth + 1) })
        }
        return nil
    }

    /// `id` (or `xml:id`), or `name` on an `<a>`; generated ids with an ignored prefix do not count.
    func anchorAttribute(of node: Node, name: String) -> String? {
        let value = node.attribute("id") ?? node.attribute("xml:id") ?? (name == "a" ? node.attribute("name") : nil)
        guard let value, !value.isEmpty else { return nil }
        if ignoredAnchorPrefixes.contains(where: { value.hasPrefix($0) }) { return nil }
        return value
    }

    // MARK: - Tables

    /// One line per row, cells joined by " | " and prefixed with their column header ("Name: foo | Type: int"); the caption
    /// comes first. Nil for layout tables (no row has two cells), which are read as ordinary containers.
    private func renderTable(_ table: Node) -> String? {
        struct Cell { var text: String; var isHeader: Bool; var span: Int }
        var caption: String?
        var rows: [(cells: [Cell], inHead: Bool)] = []
        var containers: [(Node, Bool)] = [(table, false)]
        var index = 0
        while index < containers.count, rows.count < 100_000 {
            let (container, inHead) = containers[index]
            index += 1
            for child in container.elementChildren {
                let name = child.name
                if isDropped(child, name: name) { continue }
                if vocabulary.tableRowContainers.contains(name) {
                    containers.append((child, inHead || name == "thead"))
                } else if name == vocabulary.tableRow {
                    var cells: [Cell] = []
                    for cell in child.elementChildren where vocabulary.tableCells.contains(cell.name) {
                        if isDropped(cell, name: cell.name) { continue }
                        let span = min(max(Int(cell.attribute("colspan") ?? "") ?? 1, 1), 64)
                        let text = DocumentAssembler.normalised(Substring(gather(cell, preserve: false)))
                        cells.append(Cell(text: text, isHeader: cell.name == "th" || inHead, span: span))
                    }
                    if !cells.isEmpty { rows.append((cells, inHead)) }
                } else if name == vocabulary.tableCaption, caption == nil {
                    caption = DocumentAssembler.normalised(Substring(gather(child, preserve: false)))
                }
            }
        }
        guard rows.contains(where: { $0.cells.count > 1 }) else { return nil }

        var header: [String] = []
        var bodyStart = 0
        if let lastHead = rows.lastIndex(where: \.inHead) {
            header = rows[lastHead].cells.flatMap { Array(repeating: $0.text, count: $0.span) }
            bodyStart = lastHead + 1
        } else if rows[0].cells.count > 1, rows[0].cells.allSatisfy(\.isHeader) {
            header = rows[0].cells.flatMap { Array(repeating: $0.text, count: $0.span) }
            bodyStart = 1
        }
        var lines: [String] = []
        if let caption, !caption.isEmpty { lines.append(caption) }
        if bodyStart == rows.count, !header.isEmpty { lines.append(header.joined(separator: " | ")) }
        for row in rows[bodyStart...] {
            var column = 0
            var parts: [String] = []
            for cell in row.cells {
                defer { column += cell.span }
                guard !cell.text.isEmpty else { continue }
                let label = column < header.count ? header[column] : ""
                parts.append(label.isEmpty || label == cell.text ? cell.text : "\(label): \(cell.text)")
            }
            if !parts.isEmpty { lines.append(parts.joined(separator: " | ")) }
        }
        return lines.joined(separator: "\n")
    }
}
