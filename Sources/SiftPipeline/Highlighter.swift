import SiftChunker
import SiftCore
import SiftIndex

/// Picks the sentence of a chunk that best matches a question, cheaply: question terms (stop words removed,
/// light suffix stripping) found in each sentence; ties go to the earlier sentence. The heading-path prefix
/// of a chunk is never highlighted. When no sentence shares a term, the caller may fall back to embeddings.
enum Highlighter {
    /// Candidate sentences of `chunk.text` (scalar ranges), at most `limit`: the heading-path prefix and
    /// sentences that are just a heading of the chunk's path are left out.
    static func sentences(of chunk: Chunk, limit: Int = 64) -> [Range<Int>] {
        let prefix = headingPrefixLength(chunk)
        let headings = Set(chunk.headingPath)
        return Array(sentenceRanges(in: chunk.text)
            .filter { $0.lowerBound >= prefix && !headings.contains(chunk.text.scalarSlice($0)) }
            .prefix(limit))
    }

    /// A candidate sentence with what matching needs: its text and the stems of its terms.
    struct Sentence: Sendable {
        var range: Range<Int>
        var text: String
        var stems: Set<String>
    }

    /// `sentences(of:)` with each sentence's text and stems.
    static func analysedSentences(of chunk: Chunk) -> [Sentence] {
        sentences(of: chunk).map { range in
            let text = chunk.text.scalarSlice(range)
            return Sentence(range: range, text: text, stems: Set(LexicalQuery.terms(text).map(stem)))
        }
    }

    /// Best sentence by term overlap (ties to the earlier one), or nil when no sentence shares a term with the question.
    static func lexicalBest(_ sentences: [Sentence], questionStems: Set<String>) -> Sentence? {
        guard !questionStems.isEmpty else { return nil }
        var best: (sentence: Sentence, score: Int)?
        for sentence in sentences {
            let score = sentence.stems.intersection(questionStems).count
            if score > 0, score > (best?.score ?? 0) { best = (sentence, score) }
        }
        return best?.sentence
    }

    /// Best sentence of `chunk` by term overlap, or nil when no sentence shares a term with the question.
    static func lexicalBest(chunk: Chunk, questionStems: Set<String>) -> Range<Int>? {
        lexicalBest(analysedSentences(of: chunk), questionStems: questionStems)?.range
    }

    /// Stems of a question's content words.
    static func stems(_ text: String) -> Set<String> {
        Set(LexicalQuery.terms(text).map(stem))
    }

    /// Strips one common English inflection so "indexes"/"index", "running"/"run" meet.
    static func stem(_ term: String) -> String {
        for suffix in ["ing", "ies", "es", "ed", "s"] where term.hasSuffix(suffix) && term.count - suffix.count >= 3 {
            return String(term.dropLast(suffix.count))
        }
        return term
    }

    /// Scalars taken by the chunker's heading prefix: `Chunk.text` is the prefix followed by the document
    /// text of `Chunk.range`, so the prefix is whatever the range does not account for.
    static func headingPrefixLength(_ chunk: Chunk) -> Int {
        max(0, chunk.text.unicodeScalars.count - chunk.range.count)
    }
}
