/// The SQL of one node's tables. The schema name is the only identifier spliced in, and `PostgresSettings`
/// accepts only `[a-z_][a-z0-9_]{0,47}`; it is quoted as well. Every value travels as a bind parameter.
struct Schema: Sendable {
    /// The quoted schema name, e.g. `"handbook"`.
    let name: String
    let plain: String

    init(_ plain: String) throws {
        guard PostgresSettings.isValidSchema(plain) else {
            throw PostgresError.invalidSettings(reason: "schema must match [a-z_][a-z0-9_]{0,47} and not start with pg_")
        }
        self.plain = plain
        name = "\"\(plain)\""
    }

    /// Bumped when the table layout changes; an index of another format is refused with a rebuild hint.
    static let format = "3"

    var meta: String { "\(name).sift_meta" }
    var terms: String { "\(name).terms" }
    var postings: String { "\(name).postings" }
    var documents: String { "\(name).documents" }
    var chunks: String { "\(name).chunks" }

    func create(dimension: Int) -> [String] {
        [
            "CREATE SCHEMA IF NOT EXISTS \(name)",
            "CREATE TABLE \(meta) (key text PRIMARY KEY, value text NOT NULL)",
            """
            CREATE TABLE \(documents) (
                id text PRIMARY KEY, content_hash text NOT NULL, title text NOT NULL, language text,
                chunk_count integer NOT NULL, token_count integer NOT NULL)
            """,
            // `search` is the full-text vector: heading path (weight A), page title (B), body (D).
            """
            CREATE TABLE \(chunks) (
                id text PRIMARY KEY, document_id text NOT NULL REFERENCES \(documents)(id) ON DELETE CASCADE,
                ordinal integer NOT NULL, anchor text, heading_path text[] NOT NULL, range_start integer NOT NULL,
                range_end integer NOT NULL, text text NOT NULL, token_count integer NOT NULL,
                embedding vector(\(dimension)) NOT NULL, search tsvector NOT NULL, length real NOT NULL)
            """,
            // BM25's inverted index: document frequency of every lexeme, and a posting per (lexeme, chunk) with the
            // weighted term frequency and the chunk's length, so a question reads only its lexemes' postings.
            "CREATE TABLE \(terms) (lexeme text PRIMARY KEY, df integer NOT NULL)",
            """
            CREATE TABLE \(postings) (lexeme text NOT NULL, chunk_id text NOT NULL, document_id text NOT NULL, tf real NOT NULL,
                                      length real NOT NULL, PRIMARY KEY (lexeme, chunk_id) INCLUDE (tf, length))
            """,
            "CREATE INDEX postings_document ON \(postings) (document_id)",
            "CREATE INDEX chunks_document ON \(chunks) (document_id, ordinal)",
            "CREATE INDEX chunks_search ON \(chunks) USING gin (search)",
        ]
    }

    var dropAll: [String] {
        ["DROP TABLE IF EXISTS \(postings)", "DROP TABLE IF EXISTS \(chunks)", "DROP TABLE IF EXISTS \(documents)",
         "DROP TABLE IF EXISTS \(terms)", "DROP TABLE IF EXISTS \(meta)"]
    }

    func createHNSW(_ hnsw: HNSWSettings) -> String {
        "CREATE INDEX IF NOT EXISTS chunks_embedding_hnsw ON \(chunks) USING hnsw (embedding vector_ip_ops) "
            + "WITH (m = \(hnsw.m), ef_construction = \(hnsw.efConstruction))"
    }

    /// Fresh planner statistics and visibility map after an update: without them the planner scans all postings
    /// instead of reading the question's lexemes through the primary key (index-only, thanks to its INCLUDE columns).
    var vacuumAnalyze: String { "VACUUM (ANALYZE) \(postings), \(chunks), \(terms), \(documents)" }

    var dropHNSW: String { "DROP INDEX IF EXISTS \(name).chunks_embedding_hnsw" }

    /// The HNSW index's build options (`m=16, ef_construction=64`), or no row without one.
    var hnswOptions: String {
        """
        SELECT coalesce(array_to_string(c.reloptions, ','), '') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = 'chunks_embedding_hnsw'
        """
    }

    var insertDocuments: String {
        """
        INSERT INTO \(documents) (id, content_hash, title, language, chunk_count, token_count)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::integer[])
        """
    }

    /// One row per chunk; `$5` holds each heading path joined by U+001F, `$10` the vectors as pgvector text.
    /// `length` is the chunk's BM25 length: its lexeme occurrences, weighted like term frequencies.
    var insertChunks: String {
        """
        INSERT INTO \(chunks) (id, document_id, ordinal, anchor, heading_path, range_start, range_end, text, token_count,
                               embedding, search, length)
        SELECT c.id, c.document_id, c.ordinal, c.anchor, p.path, c.range_start, c.range_end, c.text, c.token_count,
               c.embedding::vector, v.search,
               (SELECT coalesce(sum(\(Self.weightCase)), 0) FROM unnest(v.search) u, unnest(u.weights) w)
        FROM unnest($1::text[], $2::text[], $3::integer[], $4::text[], $5::text[], $6::integer[], $7::integer[], $8::text[],
                    $9::integer[], $10::text[])
             AS c(id, document_id, ordinal, anchor, heading_path, range_start, range_end, text, token_count, embedding)
        JOIN \(documents) d ON d.id = c.document_id
        CROSS JOIN LATERAL (SELECT CASE WHEN c.heading_path = '' THEN ARRAY[]::text[]
                                        ELSE string_to_array(c.heading_path, chr(31)) END AS path) p
        CROSS JOIN LATERAL (SELECT setweight(to_tsvector('english', array_to_string(p.path, ' ')), 'A')
                                   || setweight(to_tsvector('english', d.title), 'B')
                                   || setweight(to_tsvector('english', c.text), 'D') AS search) v
        """
    }

    /// A lexeme occurrence's weight in term frequency and length: heading 2, title 1.5, body 1 (the column weights
    /// of the embedded store's FTS5 BM25).
    static let weightCase = "CASE w WHEN 'A' THEN 2.0 WHEN 'B' THEN 1.5 ELSE 1.0 END"

    /// Removes these documents' postings (`$1`) and subtracts them from the document frequencies, before the
    /// documents are deleted.
    var removePostings: [String] {
        ["""
        UPDATE \(terms) t SET df = t.df - x.n FROM (
            SELECT lexeme, count(*) AS n FROM \(postings) WHERE document_id = ANY($1::text[]) GROUP BY lexeme) x
        WHERE t.lexeme = x.lexeme
        """, "DELETE FROM \(postings) WHERE document_id = ANY($1::text[])", "DELETE FROM \(terms) WHERE df <= 0"]
    }

    /// Writes the postings of these documents' chunks (`$1`), after they are inserted, and adds them to the document
    /// frequencies.
    var addPostings: [String] {
        ["""
        INSERT INTO \(postings) (lexeme, chunk_id, document_id, tf, length)
        SELECT u.lexeme, c.id, c.document_id, (SELECT sum(\(Self.weightCase)) FROM unnest(u.weights) w), c.length
        FROM \(chunks) c, unnest(c.search) u WHERE c.document_id = ANY($1::text[])
        """, """
        INSERT INTO \(terms) (lexeme, df)
        SELECT lexeme, count(*) FROM \(postings) WHERE document_id = ANY($1::text[]) GROUP BY lexeme
        ON CONFLICT (lexeme) DO UPDATE SET df = \(terms).df + EXCLUDED.df
        """]
    }

    /// The shard's chunk count and summed length, for BM25's N and average length (kept in sift_meta by each update).
    var recordLengths: String {
        """
        INSERT INTO \(meta) (key, value)
        SELECT k, v FROM (SELECT count(*)::text AS n, coalesce(sum(length), 0)::text AS l FROM \(chunks)) s,
             LATERAL (VALUES ('chunk_count', s.n), ('total_length', s.l)) AS kv(k, v)
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
        """
    }

    static let chunkColumns = "c.id, c.document_id, c.anchor, array_to_string(c.heading_path, chr(31)), c.range_start, c.range_end, c.text, c.token_count"
}
