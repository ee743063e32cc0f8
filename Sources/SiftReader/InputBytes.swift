
/// Checks on raw bytes before libxml2 sees them: emptiness, binary content, format sniffing, and encoding repair.
enum InputBytes {
    enum BOM { case utf8, utf16, utf32 }

    static func bom(_ b: [UInt8]) -> BOM? {
        if b.count >= 4, (b[0] == 0xFF && b[1] == 0xFE && b[2] == 0 && b[3] == 0) || (b[0] == 0 && b[1] == 0 && b[2] == 0xFE && b[3] == 0xFF) { return .utf32 }
        if b.count >= 3, b[0] == 0xEF, b[1] == 0xBB, b[2] == 0xBF { return .utf8 }
        if b.count >= 2, (b[0] == 0xFF && b[1] == 0xFE) || (b[0] == 0xFE && b[1] == 0xFF) { return .utf16 }
        return nil
    }

    /// UTF-16 without a BOM still starts with "<" next to a NUL ("<\0" or "\0<").
    static func looksLikeBOMlessUTF16(_ b: [UInt8]) -> Bool {
        b.count >= 4 && ((b[0] == 0x3C && b[1] == 0) || (b[0] == 0 && b[1] == 0x3C))
    }

    /// Throws for empty and binary input (NUL bytes in the first KB of a file that is not UTF-16/32).
    static func validate(_ b: [UInt8], path: String) throws(ReaderError) {
        guard b.contains(where: { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D) }) else { throw .emptyFile(path: path) }
        let bom = bom(b)
        if bom == .utf16 || bom == .utf32 || looksLikeBOMlessUTF16(b) { return }
        if let nul = b.prefix(1024).firstIndex(of: 0) {
            throw .notMarkup(path: path, reason: "NUL byte at offset \(nul)")
        }
    }

    /// XML when the content starts with an XML declaration or a root element that is not <html>; HTML otherwise.
    static func sniffIsXML(_ b: [UInt8]) -> Bool {
        let head = String(decoding: b.prefix(2048).filter { $0 != 0 }, as: UTF8.self).lowercased()
        if head.contains("<html") || head.contains("<!doctype html") { return false }
        let trimmed = head.drop { $0 == "\u{FEFF}" || $0.isWhitespace }
        if trimmed.hasPrefix("<?xml") { return true }
        if trimmed.hasPrefix("<rss") || trimmed.hasPrefix("<feed") || trimmed.hasPrefix("<rdf:") { return true }
        return false
    }

    /// The encoding declared in the first 2 KB (`<meta charset>`, http-equiv content, or the XML declaration), lowercased.
    static func declaredEncoding(_ b: [UInt8]) -> String? {
        let head = Array(b.prefix(2048)).map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }   // ASCII lowercase
        for key in [Array("charset=".utf8), Array("encoding=".utf8)] {
            var i = 0
            while i + key.count <= head.count {
                guard head[i..<(i + key.count)].elementsEqual(key) else { i += 1; continue }
                var j = i + key.count
                while j < head.count, head[j] == 0x22 || head[j] == 0x27 || head[j] == 0x20 { j += 1 }
                let start = j
                while j < head.count, Self.isNameByte(head[j]) { j += 1 }
                if j > start { return String(decoding: head[start..<j], as: UTF8.self) }
                i += key.count
            }
        }
        return nil
    }

    private static func isNameByte(_ c: UInt8) -> Bool {
        (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x5F || c == 0x3A || c == 0x2E
    }

    /// What to hand libxml2: bytes unchanged when they decode as declared (libxml2 honours BOMs, meta charset and XML
    /// declarations itself); for UTF-8 (declared or undeclared) input with invalid sequences, the bytes repaired with
    /// U+FFFD; for undeclared input without a single valid multi-byte UTF-8 sequence, windows-1252 (old Latin pages).
    static func prepare(_ b: [UInt8]) -> (bytes: [UInt8], encoding: String?) {
        if bom(b) != nil || looksLikeBOMlessUTF16(b) { return (b, nil) }
        let declared = declaredEncoding(b)
        if let declared, declared != "utf-8", declared != "utf8" { return (b, nil) }
        var bytes = b
        // NUL bytes past the sniffing window would end libxml2's input early; they carry no text.
        if bytes.contains(0) { bytes.removeAll { $0 == 0 } }
        if isValidUTF8(bytes) { return (bytes, nil) }
        if declared == nil, !containsMultiByteUTF8(bytes) { return (bytes, "windows-1252") }
        return (Array(String(decoding: bytes, as: UTF8.self).utf8), "UTF-8")
    }

    static func isValidUTF8(_ b: [UInt8]) -> Bool {
        var it = b.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&it) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    private static func containsMultiByteUTF8(_ b: [UInt8]) -> Bool {
        var i = 0
        while i + 1 < b.count {
            let lead = b[i]
            if lead >= 0xC2, lead <= 0xF4, b[i + 1] & 0xC0 == 0x80 {
                let need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : 1
                if i + need < b.count, (1...need).allSatisfy({ b[i + $0] & 0xC0 == 0x80 }) { return true }
            }
            i += 1
        }
        return false
    }
}
