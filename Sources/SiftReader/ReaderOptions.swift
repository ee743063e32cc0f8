import FoundationEssentials

/// Which parser a file goes through.
public enum DocumentFormat: String, Sendable, Codable, Hashable, CaseIterable {
    case html
    case xml
    /// By extension (.html/.htm/.xhtml → HTML; .xml/.rss/.atom/.dbk → XML), else by sniffing the first bytes.
    case auto
}

/// How the reader turns markup into documents. Every field has a default, so partial configuration files decode.
///
/// Drop/keep rules are simple selectors (`tag`, `.class`, `#id`, `tag.class`, `tag[attr]`, `tag[attr=value]`, combinable as
/// `div.body[role=main]`) or, when a rule starts with `/`, `(` or `./`, XPath 1.0 expressions evaluated on the whole tree.
public struct ReaderOptions: Sendable, Codable, Hashable {
    /// Larger files are rejected with `ReaderError.fileTooLarge` before parsing.
    public var maxFileSize: Int
    /// Elements nested deeper than this (counted from the content root) are skipped, so hostile nesting cannot exhaust the stack or time.
    public var maxDepth: Int
    /// Text kept per document, in Unicode scalars; the rest of a longer document is cut off.
    public var maxTextLength: Int
    /// Elements (with their subtrees) to leave out, on top of the built-in boilerplate list.
    public var drop: [String]
    /// When any element matches, only those subtrees are read (instead of main/article/[role=main]/body).
    public var keep: [String]
    /// How XML files map to documents; nil picks RSS/Atom/DocBook by the root element, else one generic document per file.
    public var xmlMapping: XMLMapping?
    /// ids starting with one of these are generated link targets (Sphinx `index-3`), not used as block anchors, so blocks
    /// keep the enclosing section's anchor.
    public var ignoredAnchorPrefixes: [String]

    public init(maxFileSize: Int = 20 << 20, maxDepth: Int = 512, maxTextLength: Int = 4_000_000,
                drop: [String] = [], keep: [String] = [], xmlMapping: XMLMapping? = nil, ignoredAnchorPrefixes: [String] = []) {
        self.maxFileSize = maxFileSize
        self.maxDepth = maxDepth
        self.maxTextLength = maxTextLength
        self.drop = drop
        self.keep = keep
        self.xmlMapping = xmlMapping
        self.ignoredAnchorPrefixes = ignoredAnchorPrefixes
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ReaderOptions()
        self.init(
            maxFileSize: try c.decodeIfPresent(Int.self, forKey: .maxFileSize) ?? d.maxFileSize,
            maxDepth: try c.decodeIfPresent(Int.self, forKey: .maxDepth) ?? d.maxDepth,
            maxTextLength: try c.decodeIfPresent(Int.self, forKey: .maxTextLength) ?? d.maxTextLength,
            drop: try c.decodeIfPresent([String].self, forKey: .drop) ?? d.drop,
            keep: try c.decodeIfPresent([String].self, forKey: .keep) ?? d.keep,
            xmlMapping: try c.decodeIfPresent(XMLMapping.self, forKey: .xmlMapping),
            ignoredAnchorPrefixes: try c.decodeIfPresent([String].self, forKey: .ignoredAnchorPrefixes) ?? d.ignoredAnchorPrefixes)
    }

    /// Sphinx-generated documentation (docs.python.org): reads div.body, drops sidebars, relbars, footers and "¶" permalinks.
    public static let sphinx = ReaderOptions(
        drop: [".sphinxsidebar", ".related", ".footer", "div[role=navigation]", "a.headerlink", ".clearer", "#searchbox"],
        keep: ["div[role=main]", "div.body"],
        ignoredAnchorPrefixes: ["index-"])

    /// PostgreSQL's DocBook-generated HTML: drops the Prev/Up/Next navigation tables and index-term anchors.
    public static let postgres = ReaderOptions(
        drop: [".navheader", ".navfooter", "a.indexterm", ".toc"])

    /// SQLite's documentation pages: drops the logo/menu/search header, tables of contents, syntax-diagram images and the
    /// "last modified" line.
    public static let sqlite = ReaderOptions(
        drop: [".nosearch", ".menu", ".searchmenu", ".fancy_toc", ".fancy-toc", ".fancy_toc_mark", ".imgcontainer",
               "//p[.//a[@id='mtimelink']]"])

    /// The canonical preset names `preset(named:)` accepts (it also takes aliases such as "python", "docbook-html").
    public static let presetNames = ["default", "sphinx", "postgres", "sqlite"]

    /// The named presets: "default", "sphinx", "postgres" (alias "docbook-html"), "sqlite".
    public static func preset(named name: String) -> ReaderOptions? {
        switch name.lowercased() {
        case "default", "": return ReaderOptions()
        case "sphinx", "python": return .sphinx
        case "postgres", "postgresql", "docbook-html": return .postgres
        case "sqlite": return .sqlite
        default: return nil
        }
    }
}

/// How one XML file becomes documents: `record` selects the nodes that become documents, the other expressions are
/// evaluated relative to each record. `id` and `title` are tried in order; the first non-empty string wins.
public struct XMLMapping: Sendable, Codable, Hashable {
    /// How the text under the `body` nodes is structured.
    public enum BodyMarkup: String, Sendable, Codable, Hashable {
        /// DocBook elements: sections with titles, para, programlisting, itemizedlist, variablelist, table.
        case docbook
        /// HTML, either as inline XHTML elements or as escaped markup inside text (RSS descriptions).
        case html
        /// Any XML: every element with text becomes a paragraph.
        case generic
    }

    /// XPath selecting record nodes; each becomes one document (id "file#recordId", or the file id when the record is the root).
    public var record: String
    public var id: [String]
    public var title: [String]
    /// XPath expressions selecting the body nodes, read in order.
    public var body: [String]
    /// Namespace prefixes used in the expressions.
    public var namespaces: [String: String]
    public var markup: BodyMarkup

    public init(record: String, id: [String] = [], title: [String] = [], body: [String], namespaces: [String: String] = [:],
                markup: BodyMarkup = .generic) {
        self.record = record
        self.id = id
        self.title = title
        self.body = body
        self.namespaces = namespaces
        self.markup = markup
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            record: try c.decode(String.self, forKey: .record),
            id: try c.decodeIfPresent([String].self, forKey: .id) ?? [],
            title: try c.decodeIfPresent([String].self, forKey: .title) ?? [],
            body: try c.decode([String].self, forKey: .body),
            namespaces: try c.decodeIfPresent([String: String].self, forKey: .namespaces) ?? [:],
            markup: try c.decodeIfPresent(BodyMarkup.self, forKey: .markup) ?? .generic)
    }

    /// DocBook 4/5 (with or without the DocBook namespace): the root element is one document.
    public static let docbook = XMLMapping(
        record: "/*",
        title: ["*[local-name()='title']", "*[local-name()='info' or local-name()='bookinfo' or local-name()='articleinfo']/*[local-name()='title']"],
        body: ["."], markup: .docbook)

    /// RSS 0.9x/2.0 and RSS 1.0 (RDF): every item is a document; descriptions may hold escaped HTML.
    public static let rss = XMLMapping(
        record: "//*[local-name()='item']",
        id: ["*[local-name()='guid']", "*[local-name()='link']", "@*[local-name()='about']", "*[local-name()='title']"],
        title: ["*[local-name()='title']"],
        body: ["*[local-name()='encoded'] | *[local-name()='description']"], markup: .html)

    /// Atom: every entry is a document; content/summary may be text, escaped HTML or inline XHTML.
    public static let atom = XMLMapping(
        record: "//atom:entry",
        id: ["atom:id", "atom:link[@rel='alternate']/@href", "atom:link/@href", "atom:title"],
        title: ["atom:title"],
        body: ["atom:content | atom:summary[not(../atom:content)]"],
        namespaces: ["atom": "http://www.w3.org/2005/Atom"], markup: .html)
}
