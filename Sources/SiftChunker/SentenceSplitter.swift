/// Rule-based sentence boundaries, shared by the chunker and by answer highlighting.
///
/// A sentence ends at `.`, `!` or `?` (plus any closing quotes or brackets) when whitespace follows and
/// the next visible character starts a sentence: an uppercase letter, a digit, or an opening quote or bracket.
/// A period does not end a sentence after a known abbreviation ("e.g.", "i.e.", "etc.", "Mr.", …), after a
/// single-letter initial ("J."), after a dotted abbreviation ("U.S."), or inside an ellipsis ("..." / "…").
/// Periods without following whitespace ("3.14", "os.path.join") are never candidates.
/// A line break always ends a sentence: block text is whitespace-normalised, so a newline separates blocks,
/// code lines or a heading prefix from the content.
///
/// - Returns: Unicode-scalar ranges into `text`, in order, each trimmed of surrounding whitespace and
///   never empty; together they cover every non-whitespace scalar of `text`.
public func sentenceRanges(in text: String) -> [Range<Int>] {
    SentenceSplitter.ranges(in: Array(text.unicodeScalars), within: 0..<text.unicodeScalars.count)
}

enum SentenceSplitter {
    /// Lowercased words (without their final period) after which a period does not end a sentence.
    static let abbreviations: Set<String> = [
        "e.g", "i.e", "etc", "cf", "vs", "viz", "al", "approx", "ca", "resp",
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "rev", "gen", "col", "lt", "sgt",
        "inc", "ltd", "co", "corp", "dept", "univ", "assn",
        "fig", "figs", "eq", "eqs", "sec", "ch", "chap", "vol", "pp",
        "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    ]

    /// Sentence ranges (absolute scalar offsets) inside `bounds` of `scalars`.
    static func ranges(in scalars: [Unicode.Scalar], within bounds: Range<Int>) -> [Range<Int>] {
        var result: [Range<Int>] = []
        var start = bounds.lowerBound
        var i = bounds.lowerBound
        func emit(_ end: Int) {
            if let trimmed = trimWhitespace(scalars, start..<end) { result.append(trimmed) }
            start = end
        }
        while i < bounds.upperBound {
            let c = scalars[i]
            if c == "\n" || c == "\r" || c == "\u{2029}" {
                emit(i)
                i += 1
                start = i
                continue
            }
            if c == "." || c == "!" || c == "?" || c == "\u{2026}" {
                // Swallow runs of terminators and closing quotes/brackets: `?!`, `."`, `.)`.
                var end = i + 1
                while end < bounds.upperBound, isTerminator(scalars[end]) || isCloser(scalars[end]) { end += 1 }
                if endsSentence(scalars, terminatorAt: i, afterRun: end, bounds: bounds) {
                    emit(end)
                }
                i = end
                continue
            }
            i += 1
        }
        emit(bounds.upperBound)
        return result
    }

    /// Whether the terminator run `[at, afterRun)` closes a sentence.
    private static func endsSentence(_ s: [Unicode.Scalar], terminatorAt at: Int, afterRun: Int, bounds: Range<Int>) -> Bool {
        // Needs whitespace after the run (or the end of the text, handled by the final emit).
        guard afterRun < bounds.upperBound, isSpace(s[afterRun]) else { return false }
        var next = afterRun
        while next < bounds.upperBound, isSpace(s[next]), s[next] != "\n" { next += 1 }
        if next >= bounds.upperBound || s[next] == "\n" { return true }
        guard startsSentence(s[next]) else { return false }

        // Look at the first terminator of the run; a run starting with "?" or "!" always ends a sentence.
        let terminator = s[at]
        if terminator == "!" || terminator == "?" { return true }
        // Ellipsis: "..." or "…" do not end a sentence on their own.
        if terminator == "\u{2026}" { return false }
        if afterRun - at >= 2, s[at + 1] == "." { return false }
        if at > bounds.lowerBound, s[at - 1] == "." { return false }

        // The word before the period, without leading quotes/brackets.
        var wordStart = at
        while wordStart > bounds.lowerBound, !isSpace(s[wordStart - 1]) { wordStart -= 1 }
        while wordStart < at, isOpener(s[wordStart]) { wordStart += 1 }
        guard wordStart < at else { return true }
        let word = String(String.UnicodeScalarView(s[wordStart..<at])).lowercased()
        if abbreviations.contains(word) { return false }
        // A single letter is an initial ("J. Smith"); dotted short segments are abbreviations ("U.S", "a.m").
        let segments = word.split(separator: ".", omittingEmptySubsequences: false)
        if segments.allSatisfy({ $0.count == 1 && $0.unicodeScalars.allSatisfy { $0.properties.isAlphabetic } }) {
            return false
        }
        if segments.count > 1, segments.allSatisfy({ $0.count <= 2 && $0.unicodeScalars.allSatisfy { $0.properties.isAlphabetic } }) {
            return false
        }
        return true
    }

    /// Unicode whitespace, with an ASCII fast path (the property lookup dominates chunking time otherwise).
    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        if c.value < 0x80 { return c.value == 0x20 || (c.value >= 0x09 && c.value <= 0x0D) }
        return c.properties.isWhitespace
    }
    private static func isTerminator(_ c: Unicode.Scalar) -> Bool { c == "." || c == "!" || c == "?" || c == "\u{2026}" }
    private static func isCloser(_ c: Unicode.Scalar) -> Bool {
        c == "\"" || c == "'" || c == ")" || c == "]" || c == "}" || c == "\u{201D}" || c == "\u{2019}" || c == "\u{BB}"
    }
    private static func isOpener(_ c: Unicode.Scalar) -> Bool {
        c == "\"" || c == "'" || c == "(" || c == "[" || c == "{" || c == "\u{201C}" || c == "\u{2018}" || c == "\u{AB}"
    }
    private static func startsSentence(_ c: Unicode.Scalar) -> Bool {
        c.properties.isUppercase || c.properties.numericType != nil || isOpener(c)
            || c.properties.generalCategory == .otherLetter // scripts without case (CJK, …)
    }

    /// `range` without leading and trailing whitespace, or nil when nothing is left.
    static func trimWhitespace(_ s: [Unicode.Scalar], _ range: Range<Int>) -> Range<Int>? {
        var lo = range.lowerBound, hi = range.upperBound
        while lo < hi, isSpace(s[lo]) { lo += 1 }
        while hi > lo, isSpace(s[hi - 1]) { hi -= 1 }
        return lo < hi ? lo..<hi : nil
    }
}
