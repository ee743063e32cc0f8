/// Turns a free-text question into a safe FTS5 MATCH expression.
///
/// The question is split into runs of letters and digits (everything else separates terms), lowercased,
/// stop words are dropped, and each remaining term is written as an FTS5 string `"term"` joined with `OR`.
/// Quoting makes `AND`, `NOT`, `NEAR`, `*`, `^`, `:` and parentheses plain words, and since terms hold only
/// letters and digits no `"` can reach the expression: questions cannot inject FTS5 syntax.
public enum LexicalQuery {
    /// English function words that carry no topic; matching them would rank chunks by filler words.
    public static let stopWords: Set<String> = [
        "a", "about", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "did", "do", "does",
        "for", "from", "had", "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my",
        "no", "not", "of", "on", "or", "should", "so", "than", "that", "the", "their", "them", "then", "there",
        "these", "they", "this", "to", "was", "we", "were", "what", "when", "where", "which", "who", "whom",
        "why", "will", "with", "would", "you", "your",
    ]

    /// Lowercased letter/digit terms of `text` without stop words, first occurrence order, no duplicates.
    public static func terms(_ text: String) -> [String] {
        var terms = [String]()
        var seen = Set<String>()
        var current = String.UnicodeScalarView()
        func flush() {
            guard !current.isEmpty else { return }
            let term = String(current).lowercased()
            current.removeAll()
            if !stopWords.contains(term) && seen.insert(term).inserted { terms.append(term) }
        }
        for scalar in text.unicodeScalars {
            let p = scalar.properties
            if p.isAlphabetic || p.numericType != nil || p.generalCategory == .nonspacingMark {
                current.append(scalar)
            } else {
                flush()
            }
        }
        flush()
        return terms
    }

    /// The MATCH expression, or nil when nothing searchable is left (empty question, only stop words or punctuation).
    public static func matchExpression(_ text: String) -> String? {
        let t = terms(text)
        if t.isEmpty { return nil }
        return t.map { "\"\($0)\"" }.joined(separator: " OR ")
    }
}
