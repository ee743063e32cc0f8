import Foundation

/// Class-based TF-IDF (c-TF-IDF, as in BERTopic's `ClassTfidfTransformer`): every cluster's texts are one
/// "class document"; a term's weight in cluster c is its L1-normalised frequency in c times log(1 + A / fₜ), where
/// A is the average number of words per cluster and fₜ the term's frequency over all clusters. Terms frequent in
/// one cluster and rare elsewhere rank highest.
public enum ClassTFIDF {
    public struct Keyword: Sendable, Hashable, Codable {
        public var term: String
        public var weight: Double
    }

    /// The `top` keywords of each cluster, best first (equal weights: alphabetical). `texts[i]` belongs to
    /// cluster `labels[i]`; labels < 0 (unclustered) take no part; clusters are `0..<clusterCount`.
    public static func keywords(texts: [String], labels: [Int], clusterCount: Int, top: Int = 8,
                                stopWords: Set<String> = StopWords.english) -> [[Keyword]] {
        precondition(texts.count == labels.count && clusterCount >= 0 && top >= 0, "ClassTFIDF: shapes differ")
        var counts = [[String: Int]](repeating: [:], count: clusterCount)
        var totalByTerm: [String: Int] = [:]
        var words = 0
        for (text, label) in zip(texts, labels) where label >= 0 {
            precondition(label < clusterCount, "ClassTFIDF: label \(label) ≥ clusterCount \(clusterCount)")
            for term in terms(text, stopWords: stopWords) {
                counts[label][term, default: 0] += 1
                totalByTerm[term, default: 0] += 1
                words += 1
            }
        }
        guard clusterCount > 0 else { return [] }
        let average = Double(words) / Double(clusterCount)
        return counts.map { classCounts in
            let classTotal = Double(classCounts.values.reduce(0, +))
            guard classTotal > 0 else { return [] }
            let scored = classCounts.map { term, count -> Keyword in
                let frequency = Double(count) / classTotal
                let idf = log(1 + average / Double(totalByTerm[term]!))
                return Keyword(term: term, weight: frequency * idf)
            }
            return Array(scored.sorted { $0.weight != $1.weight ? $0.weight > $1.weight : $0.term < $1.term }.prefix(top))
        }
    }

    /// Lower-cased words of letters, digits, `_` and inner `-` / `.`, 3 to 40 characters, with at least one letter,
    /// stop words removed. Keeps identifiers such as `os.path` or `max_connections` whole: in documentation they
    /// are often the best label a topic has.
    public static func terms(_ text: String, stopWords: Set<String> = StopWords.english) -> [String] {
        var out: [String] = []
        var current = ""
        func flush() {
            while let last = current.last, last == "." || last == "-" { current.removeLast() }
            if current.count >= 3, current.count <= 40, current.contains(where: \.isLetter), !stopWords.contains(current) {
                out.append(current)
            }
            current = ""
        }
        for character in text.lowercased() {
            if character.isLetter || character.isNumber || character == "_" {
                current.append(character)
            } else if (character == "." || character == "-") && !current.isEmpty {
                current.append(character)
            } else {
                flush()
            }
        }
        flush()
        return out
    }
}

public enum StopWords {
    /// scikit-learn's `ENGLISH_STOP_WORDS` (from the Glasgow Information Retrieval Group list).
    public static let english: Set<String> = Set("""
    a about above across after afterwards again against all almost alone along already also although always am among \
    amongst amoungst amount an and another any anyhow anyone anything anyway anywhere are around as at back be became \
    because become becomes becoming been before beforehand behind being below beside besides between beyond bill both \
    bottom but by call can cannot cant co con could couldnt cry de describe detail do done down due during each eg \
    eight either eleven else elsewhere empty enough etc even ever every everyone everything everywhere except few \
    fifteen fifty fill find fire first five for former formerly forty found four from front full further get give go \
    had has hasnt have he hence her here hereafter hereby herein hereupon hers herself him himself his how however \
    hundred i ie if in inc indeed interest into is it its itself keep last latter latterly least less ltd made many \
    may me meanwhile might mill mine more moreover most mostly move much must my myself name namely neither never \
    nevertheless next nine no nobody none noone nor not nothing now nowhere of off often on once one only onto or \
    other others otherwise our ours ourselves out over own part per perhaps please put rather re same see seem seemed \
    seeming seems serious several she should show side since sincere six sixty so some somehow someone something \
    sometime sometimes somewhere still such system take ten than that the their them themselves then thence there \
    thereafter thereby therefore therein thereupon these they thick thin third this those though three through \
    throughout thru thus to together too top toward towards twelve twenty two un under until up upon us very via was \
    we well were what whatever when whence whenever where whereafter whereas whereby wherein whereupon wherever \
    whether which while whither who whoever whole whom whose why will with within without would yet you your yours \
    yourself yourselves
    """.split(separator: " ").map(String.init))
}
