import Foundation
import SiftCore

/// Documents and chunks, read from every shard.
struct PostgresDocuments: DocumentStore {
    let store: PostgresStore

    func chunks(ids: [String]) throws -> [Chunk] {
        if ids.isEmpty { return [] }
        let schema = store.schema
        // With partial answers allowed, a shard that is down holds none of the candidates, so it is skipped here too.
        let parts = try store.tolerant(PostgresStore.fanOutResults(store.nodes) { node in
            try node.read { connection in
                let rows = try connection.query("SELECT \(Schema.chunkColumns) FROM \(schema.chunks) c WHERE c.id = ANY($1::text[])",
                                                [Literal.array(ids)], operation: "reading chunks")
                return (0..<rows.count).map { Self.chunk(rows, $0) }
            }
        })
        let byID = Dictionary(parts.flatMap { $0 }.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        return ids.compactMap { byID[$0] }
    }

    func documentIDs() throws -> [String] {
        try allRows("SELECT id FROM \(store.schema.documents)", operation: "reading document ids").map { $0[0] }.sorted()
    }

    func documentHashes() throws -> [String: String] {
        Dictionary(try allRows("SELECT id, content_hash FROM \(store.schema.documents)", operation: "reading document hashes").map { ($0[0], $0[1]) },
                   uniquingKeysWith: { a, _ in a })
    }

    func chunkTexts(documentIDs: [String]) throws -> [String: String] {
        if documentIDs.isEmpty { return [:] }
        let rows = try allRows("SELECT id, text FROM \(store.schema.chunks) WHERE document_id = ANY($1::text[])", [Literal.array(documentIDs)],
                               operation: "reading chunk texts")
        return Dictionary(rows.map { ($0[0], $0[1]) }, uniquingKeysWith: { a, _ in a })
    }

    func export(documentIDs: [String]) throws -> [DocumentUpdate] {
        if documentIDs.isEmpty { return [] }
        let schema = store.schema
        let parts = try PostgresStore.fanOut(store.nodes) { node in
            try node.read { connection -> [DocumentUpdate] in
                let documents = try connection.query("SELECT id, content_hash, title, language FROM \(schema.documents) WHERE id = ANY($1::text[])",
                                                     [Literal.array(documentIDs)], operation: "reading documents")
                let chunkRows = try connection.query("""
                    SELECT \(Schema.chunkColumns) FROM \(schema.chunks) c WHERE c.document_id = ANY($1::text[]) ORDER BY c.document_id, c.ordinal
                    """, [Literal.array(documentIDs)], operation: "reading chunks")
                let chunks = Dictionary(grouping: (0..<chunkRows.count).map { Self.chunk(chunkRows, $0) }, by: \.documentID)
                return (0..<documents.count).map { row in
                    let id = documents.text(row, 0)
                    return DocumentUpdate(id: id, title: documents.text(row, 2), language: documents.values[row][3],
                                          contentHash: documents.text(row, 1), chunks: chunks[id] ?? [])
                }
            }
        }
        let byID = Dictionary(parts.flatMap { $0 }.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        return documentIDs.compactMap { byID[$0] }
    }

    /// Rows of `sql` from every shard, as text.
    private func allRows(_ sql: String, _ parameters: [String?] = [], operation: String) throws -> [[String]] {
        try PostgresStore.fanOut(store.nodes) { node in
            try node.read { connection in
                let rows = try connection.query(sql, parameters, operation: operation)
                return rows.values.map { $0.map { $0 ?? "" } }
            }
        }.flatMap { $0 }
    }

    static func chunk(_ rows: Rows, _ row: Int) -> Chunk {
        let path = rows.text(row, 3)
        let start = rows.int(row, 4), end = rows.int(row, 5)
        return Chunk(id: rows.text(row, 0), documentID: rows.text(row, 1), anchor: rows.values[row][2],
                     headingPath: path.isEmpty ? [] : path.split(separator: "\u{1f}", omittingEmptySubsequences: false).map(String.init),
                     range: start..<max(start, end), text: rows.text(row, 6), tokenCount: rows.int(row, 7))
    }
}

/// Vector search with pgvector: the negative inner product `<#>` (stored vectors are unit length, so the score is
/// the cosine), through the HNSW index or, in exact mode, a full scan.
struct PostgresVectors: VectorIndex {
    let store: PostgresStore
    var dimension: Int { store.configuration.dimension }
    var count: Int { store.stats.chunks }

    func search(_ queryVectors: [[Float]], topK: Int) throws -> [[ScoredChunk]] {
        if queryVectors.isEmpty || topK <= 0 { return queryVectors.map { _ in [] } }
        for q in queryVectors { precondition(q.count == dimension, "query vector has \(q.count) values, the index \(dimension)") }
        let queries = Literal.array(queryVectors.map { Literal.vector(normalised($0)) })
        let schema = store.schema
        let exact = store.settings.vectorIndex == .exact
        // HNSW: ORDER BY the distance operator itself, which the index serves. Exact: ORDER BY the score, which no
        // index serves, so every row is compared.
        let order = exact ? "score DESC, id" : "embedding <#> q.v"
        let sql = """
            SELECT q.i, h.id, h.score FROM unnest($1::vector[]) WITH ORDINALITY AS q(v, i)
            CROSS JOIN LATERAL (SELECT id, -(embedding <#> q.v) AS score FROM \(schema.chunks) ORDER BY \(order) LIMIT $2::integer) h
            """
        let efSearch = String(min(1000, max(store.settings.hnsw.efSearch, topK)))
        return try store.searchShards(topK: topK) { connection in
            if !exact {
                try connection.query("SELECT set_config('hnsw.ef_search', $1, false)", [efSearch], operation: "setting hnsw.ef_search")
            }
            let rows = try connection.query(sql, [queries, String(topK)], operation: "searching vectors")
            var lists = Array(repeating: [ScoredChunk](), count: queryVectors.count)
            for row in 0..<rows.count {
                lists[rows.int(row, 0) - 1].append(ScoredChunk(chunkID: rows.text(row, 1), score: rows.float(row, 2)))
            }
            return lists.map { $0.sorted { $0.score != $1.score ? $0.score > $1.score : $0.chunkID < $1.chunkID } }
        }
    }

    func vectors(chunkIDs: [String]) throws -> [String: [Float]] {
        if chunkIDs.isEmpty { return [:] }
        let schema = store.schema
        let parts = try PostgresStore.fanOut(store.nodes) { node in
            try node.read { connection in
                let rows = try connection.query("SELECT id, embedding::text FROM \(schema.chunks) WHERE id = ANY($1::text[])",
                                                [Literal.array(chunkIDs)], operation: "reading vectors")
                return (0..<rows.count).compactMap { row in Literal.parseVector(rows.text(row, 1)).map { (rows.text(row, 0), $0) } }
            }
        }
        return Dictionary(parts.flatMap { $0 }, uniquingKeysWith: { a, _ in a })
    }

    private func normalised(_ v: [Float]) -> [Float] {
        let norm = v.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? v.map { $0 / norm } : v
    }
}

/// PostgreSQL full-text search: the question's terms (stop words dropped, as for BM25) OR-ed into an English
/// `tsquery`, ranked by `ts_rank_cd` (cover density) over heading path (weight A), title (B) and body (D).
/// Not BM25: no inverse document frequency and no length normalisation beyond cover density. It needs no
/// collection statistics, so shard lists merge exactly.
struct PostgresFullText: LexicalIndex {
    let store: PostgresStore
    var scoring: String { "full-text ts_rank_cd (PostgreSQL)" }

    func search(_ query: String, topK: Int) throws -> [ScoredChunk] {
        // Terms hold only letters, digits and marks, so no tsquery operator can reach to_tsquery from a question.
        let terms = LexicalQuery.terms(query)
        if terms.isEmpty || topK <= 0 { return [] }
        let schema = store.schema
        let sql = """
            SELECT c.id, ts_rank_cd(c.search, q) AS score FROM \(schema.chunks) c, to_tsquery('english', $1) q
            WHERE c.search @@ q ORDER BY score DESC, c.id LIMIT $2::integer
            """
        let expression = terms.joined(separator: " | ")
        return try store.searchShards(topK: topK) { connection in
            let rows = try connection.query(sql, [expression, String(topK)], operation: "full-text search")
            return [(0..<rows.count).map { ScoredChunk(chunkID: rows.text($0, 0), score: rows.float($0, 1)) }]
        }.first ?? []
    }
}

/// Okapi BM25 in SQL over an inverted index (`postings`) each update keeps. First every shard reports the question's lexemes' document frequencies and its chunk count
/// and summed length; the sums give global IDF and average length. Then every shard scores the chunks that hold
/// any lexeme (found through the GIN index) with those global figures, so the per-shard lists merge exactly.
struct PostgresBM25: LexicalIndex {
    let store: PostgresStore
    var scoring: String { "BM25 (PostgreSQL full-text lexemes, term statistics kept by Sift)" }
    static let k1 = 1.2, b = 0.75

    func search(_ query: String, topK: Int) throws -> [ScoredChunk] {
        let terms = LexicalQuery.terms(query)
        if terms.isEmpty || topK <= 0 { return [] }
        let schema = store.schema
        let text = terms.joined(separator: " ")
        let statistics = try store.tolerant(PostgresStore.fanOutResults(store.nodes) { node in
            try node.read { connection -> (df: [String: Int], chunks: Double, length: Double) in
                let rows = try connection.query("""
                    SELECT l.lexeme, coalesce(t.df, 0) FROM unnest(tsvector_to_array(to_tsvector('english', $1))) AS l(lexeme)
                    LEFT JOIN \(schema.terms) t ON t.lexeme = l.lexeme
                    """, [text], operation: "reading term statistics")
                let sizes = try connection.query("""
                    SELECT (SELECT value FROM \(schema.meta) WHERE key = 'chunk_count'), (SELECT value FROM \(schema.meta) WHERE key = 'total_length')
                    """, operation: "reading collection lengths")
                let df = Dictionary((0..<rows.count).map { (rows.text($0, 0), rows.int($0, 1)) }, uniquingKeysWith: +)
                return (df, Double(sizes.text(0, 0)) ?? 0, Double(sizes.text(0, 1)) ?? 0)
            }
        })
        let chunks = statistics.reduce(0) { $0 + $1.chunks }
        let averageLength = chunks > 0 ? statistics.reduce(0) { $0 + $1.length } / chunks : 1
        var df: [String: Int] = [:]
        for part in statistics { df.merge(part.df, uniquingKeysWith: +) }
        let present = df.filter { $0.value > 0 }.keys.sorted()
        if present.isEmpty || chunks == 0 { return [] }
        // Lucene's IDF, ln(1 + (N − df + 0.5) / (df + 0.5)): positive even for a lexeme in most chunks.
        let idf = present.map { lexeme -> String in
            let d = Double(df[lexeme]!)
            return String(log(1 + (chunks - d + 0.5) / (d + 0.5)))
        }
        // Only the question's lexemes' postings are read (the primary key serves `lexeme = …`).
        let sql = """
            WITH q AS (SELECT * FROM unnest($1::text[], $2::float8[]) AS q(lexeme, idf))
            SELECT p.chunk_id, sum(q.idf * p.tf * \(Self.k1 + 1) / (p.tf + \(Self.k1) * (\(1 - Self.b) + \(Self.b) * p.length / $3::float8))) AS score
            FROM q JOIN \(schema.postings) p ON p.lexeme = q.lexeme
            GROUP BY p.chunk_id ORDER BY score DESC, p.chunk_id LIMIT $4::integer
            """
        let parameters = [Literal.array(present), Literal.array(idf), String(averageLength), String(topK)]
        return try store.searchShards(topK: topK) { connection in
            let rows = try connection.query(sql, parameters, operation: "BM25 search")
            return [(0..<rows.count).map { ScoredChunk(chunkID: rows.text($0, 0), score: rows.float($0, 1)) }]
        }.first ?? []
    }
}
