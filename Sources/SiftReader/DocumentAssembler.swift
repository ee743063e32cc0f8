import SiftCore

/// Collects blocks into a `Document`'s text: normalises whitespace, joins blocks with "\n\n", computes Unicode-scalar
/// ranges, keeps the heading stack that gives every block its heading path, and enforces the per-document text budget.
struct DocumentAssembler {
    private(set) var text = ""
    private(set) var scalarCount = 0
    private(set) var blocks: [Block] = []
    private(set) var firstHeading: String?
    private(set) var truncated = false
    private var headings: [(level: Int, text: String)] = []
    let maxScalars: Int

    init(maxScalars: Int) { self.maxScalars = maxScalars }

    /// Room left for block text (callers use it to bound text gathering).
    var remaining: Int { truncated ? 0 : max(0, maxScalars - scalarCount) }

    var headingPath: [String] { headings.map(\.text) }

    /// Adds a heading block of `level` (1 is outermost); its heading path ends with itself.
    mutating func addHeading(level: Int, text raw: String, anchor: String?) {
        let title = Self.headingText(raw)
        guard !title.isEmpty else { return }
        while let last = headings.last, last.level >= level { headings.removeLast() }
        headings.append((level, title))
        if firstHeading == nil { firstHeading = title }
        append(.heading, title, anchor: anchor)
    }

    /// Adds a block; `raw` is normalised according to `kind` (code keeps its lines, tables keep one row per line).
    mutating func addBlock(_ kind: BlockKind, text raw: String, anchor: String?) {
        let cleaned: String
        switch kind {
        case .code: cleaned = Self.codeText(raw)
        case .table: cleaned = raw.split(separator: "\n").map { Self.normalised(Substring($0)) }.filter { !$0.isEmpty }.joined(separator: "\n")
        default: cleaned = Self.normalised(Substring(raw))
        }
        guard !cleaned.isEmpty else { return }
        append(kind, cleaned, anchor: anchor)
    }

    private mutating func append(_ kind: BlockKind, _ blockText: String, anchor: String?) {
        guard !truncated else { return }
        let separator = blocks.isEmpty ? 0 : 2
        var body = blockText
        var length = body.unicodeScalars.count
        if scalarCount + separator + length > maxScalars {
            let room = maxScalars - scalarCount - separator
            truncated = true
            guard room > 0 else { return }
            body = String(String.UnicodeScalarView(body.unicodeScalars.prefix(room)))
            length = room
        }
        if separator > 0 { text += "\n\n" }
        let start = scalarCount + separator
        text += body
        scalarCount = start + length
        blocks.append(Block(kind: kind, text: body, headingPath: headingPath, anchor: anchor, range: start..<scalarCount))
    }

    // MARK: - Text normalisation

    /// Whitespace that collapses into one space: ASCII whitespace, NBSP, and the Unicode space separators.
    @inline(__always)
    static func isCollapsible(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0xA0, 0x85, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// Runs of whitespace (including NBSP) become one space; leading/trailing whitespace goes; control characters and
    /// NULs are dropped.
    static func normalised(_ raw: Substring) -> String {
        var out = String.UnicodeScalarView()
        var pendingSpace = false
        for s in raw.unicodeScalars {
            if isCollapsible(s) {
                pendingSpace = !out.isEmpty
                continue
            }
            if s.value < 0x20 || s.value == 0x7F { continue }
            if pendingSpace { out.append(" "); pendingSpace = false }
            out.append(s)
        }
        return String(out)
    }

    /// Code keeps its lines and indentation: only CR/LF normalisation, tabs kept, NBSP → space, trailing spaces and
    /// leading/trailing blank lines removed.
    static func codeText(_ raw: String) -> String {
        var out = String.UnicodeScalarView()
        var previousCR = false
        for s in raw.unicodeScalars {
            switch s.value {
            case 0x0D: out.append("\n"); previousCR = true; continue
            case 0x0A: if !previousCR { out.append("\n") }
            case 0xA0: out.append(" ")
            case 0x09: out.append(s)
            case 0..<0x20, 0x7F: break
            default: out.append(s)
            }
            previousCR = false
        }
        let lines = String(out).split(separator: "\n", omittingEmptySubsequences: false).map { line -> Substring in
            var l = line
            while let last = l.last, last == " " || last == "\t" { l.removeLast() }
            return l
        }
        var start = 0, end = lines.count
        while start < end, lines[start].isEmpty { start += 1 }
        while end > start, lines[end - 1].isEmpty { end -= 1 }
        return lines[start..<end].joined(separator: "\n")
    }

    /// Heading text without Sphinx's "¶" permalink marker (and similar link glyphs).
    static func headingText(_ raw: String) -> String {
        var t = normalised(Substring(raw))
        while let last = t.unicodeScalars.last, last == "¶" || isCollapsible(last) {
            t.unicodeScalars.removeLast()
        }
        return t
    }
}
