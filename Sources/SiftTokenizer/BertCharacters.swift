import Foundation

/// Character classes of the Hugging Face BERT normalizer and pre-tokenizer (Rust `tokenizers`).
///
/// Rust's `char::is_whitespace`, `char::to_lowercase` and NFD follow current Unicode, like Swift's
/// tables. But "control" (`is_other`: Cc, Cf, Co), "punctuation" (P*) and "non-spacing mark" (Mn)
/// come from the `unicode_categories` crate, whose tables are frozen at Unicode 8.0: a character
/// assigned later counts as none of these there (e.g. U+2E43 is not split off as punctuation, U+08E2
/// is not removed). We reproduce that by ignoring characters whose Unicode age is above 8.0.
/// Likewise NFD comes from `unicode-normalization-alignments`, whose tables are Unicode 9.0: later
/// characters neither decompose nor reorder (combining class 0).
enum BertCharacters {
    struct Flags: OptionSet {
        let rawValue: UInt8
        /// Removed by `clean_text` (U+0000, U+FFFD, Cc/Cf/Co except tab, LF, CR).
        static let removed = Flags(rawValue: 1 << 0)
        /// Unicode White_Space (Rust `char::is_whitespace`) or tab/LF/CR.
        static let whitespace = Flags(rawValue: 1 << 1)
        /// ASCII punctuation or a Unicode 8.0 P* character: split off as its own word.
        static let punctuation = Flags(rawValue: 1 << 2)
        /// Unicode 8.0 Mn: dropped by strip-accents after NFD.
        static let nonspacingMark = Flags(rawValue: 1 << 3)
        /// CJK ideograph: split off as its own word by `handle_chinese_chars`.
        static let chinese = Flags(rawValue: 1 << 4)
        /// Changes under full lowercase mapping.
        static let changesWhenLowercased = Flags(rawValue: 1 << 5)
    }

    /// Flags for every BMP scalar (surrogates get none), computed once on first use (a few ms).
    static let bmpFlags: [Flags] = (0..<0x10000).map { value in
        guard let scalar = Unicode.Scalar(UInt32(value)) else { return [] }
        return computeFlags(scalar)
    }

    /// Canonical decompositions (NFD) of the BMP scalars that have one, computed once on first use.
    static let bmpDecompositions: [UInt32: [UInt32]] = {
        // One Foundation call over all candidates, separated by U+0001 (combining class 0, so
        // canonical reordering never crosses a separator), is far faster than one call per scalar.
        var candidates: [Unicode.Scalar] = []
        var text = String.UnicodeScalarView()
        for value in UInt32(0x80)..<0x10000 {
            guard let scalar = Unicode.Scalar(value), isAssigned(scalar, atOrBefore: 9) else { continue }
            candidates.append(scalar)
            text.append(scalar)
            text.append("\u{1}")
        }
        let decomposed = String(text).decomposedStringWithCanonicalMapping.unicodeScalars
        var table: [UInt32: [UInt32]] = [:]
        var index = 0
        var current: [UInt32] = []
        for scalar in decomposed {
            if scalar == "\u{1}" {
                if current.count != 1 || current[0] != candidates[index].value {
                    table[candidates[index].value] = current
                }
                index += 1
                current.removeAll(keepingCapacity: true)
            } else {
                current.append(scalar.value)
            }
        }
        return table
    }()

    @inline(__always)
    static func flags(_ value: UInt32) -> Flags {
        if value < 0x10000 { return bmpFlags[Int(value)] }
        guard let scalar = Unicode.Scalar(value) else { return [] }
        return computeFlags(scalar)
    }

    static func computeFlags(_ scalar: Unicode.Scalar) -> Flags {
        let value = scalar.value
        let properties = scalar.properties
        var flags: Flags = []
        let isTabOrNewline = value == 0x09 || value == 0x0A || value == 0x0D
        if isTabOrNewline || properties.isWhitespace { flags.insert(.whitespace) }
        if isChinese(value) { flags.insert(.chinese) }
        if properties.changesWhenLowercased { flags.insert(.changesWhenLowercased) }
        let category = properties.generalCategory
        let inUnicode8 = isAssigned(scalar, atOrBefore: 8)
        if value == 0 || value == 0xFFFD {
            flags.insert(.removed)
        } else if !isTabOrNewline && inUnicode8 {
            switch category {
            case .control, .format, .privateUse: flags.insert(.removed)
            default: break
            }
        }
        if (33...47).contains(value) || (58...64).contains(value) || (91...96).contains(value) || (123...126).contains(value) {
            flags.insert(.punctuation)
        } else if inUnicode8 {
            switch category {
            case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
                 .initialPunctuation, .finalPunctuation, .otherPunctuation:
                flags.insert(.punctuation)
            case .nonspacingMark:
                flags.insert(.nonspacingMark)
            default: break
            }
        }
        return flags
    }

    /// The CJK ideograph ranges of HF's `is_chinese_char` (not kana, not Hangul).
    @inline(__always)
    static func isChinese(_ value: UInt32) -> Bool {
        switch value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
             0x2B740...0x2B81F, 0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }

    /// Canonical combining classes of the BMP, computed once on first use.
    static let bmpCombiningClasses: [UInt8] = (0..<0x10000).map { value in
        Unicode.Scalar(UInt32(value)).map(nfdCombiningClass) ?? 0
    }

    @inline(__always)
    static func combiningClass(_ value: UInt32) -> UInt8 {
        if value < 0x10000 { return bmpCombiningClasses[Int(value)] }
        return Unicode.Scalar(value).map(nfdCombiningClass) ?? 0
    }

    private static func nfdCombiningClass(_ scalar: Unicode.Scalar) -> UInt8 {
        isAssigned(scalar, atOrBefore: 9) ? UInt8(scalar.properties.canonicalCombiningClass.rawValue) : 0
    }

    /// Whether the scalar was assigned in Unicode `major`.0 or earlier.
    static func isAssigned(_ scalar: Unicode.Scalar, atOrBefore major: Int) -> Bool {
        guard let age = scalar.properties.age else { return false }
        return age.major < major || (age.major == major && age.minor == 0)
    }

    /// Canonical decomposition of one scalar, or nil when it has none.
    static func decomposition(_ value: UInt32) -> [UInt32]? {
        if value < 0x10000 { return bmpDecompositions[value] }
        guard let scalar = Unicode.Scalar(value) else { return nil }
        return decomposition(uncached: scalar)
    }

    private static func decomposition(uncached scalar: Unicode.Scalar) -> [UInt32]? {
        guard isAssigned(scalar, atOrBefore: 9) else { return nil }
        let decomposed = String(scalar).decomposedStringWithCanonicalMapping.unicodeScalars.map(\.value)
        return decomposed == [scalar.value] ? nil : decomposed
    }

    /// Full lowercase mapping (Rust `char::to_lowercase`: no context, so Σ always becomes σ).
    static func lowercase(_ value: UInt32) -> [UInt32] {
        guard let scalar = Unicode.Scalar(value) else { return [value] }
        return scalar.properties.lowercaseMapping.unicodeScalars.map(\.value)
    }
}
