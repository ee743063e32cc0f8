import Foundation
import GRDB
import SiftCore

/// `chunks.<generation>.sqlite`: documents, chunks (with their vector slot) and the FTS5 index over chunk text.
///
/// BM25 comes from SQLite's `bm25()` over an FTS5 table with columns (text, headings, title),
/// tokenizer `porter unicode61 remove_diacritics 2`; the FTS rowid equals the chunks rowid.
final class ChunkStore: @unchecked Sendable {
    // DatabaseQueue serialises access itself.
    let queue: DatabaseQueue
    let url: URL

    /// `bm25()` column weights for (text, headings, title): a term in a heading or title says more about
    /// the chunk's topic than one occurrence in the body.
    static let bm25Weights = (text: 1.0, headings: 2.0, title: 1.5)

    static let schema = """
        CREATE TABLE documents(
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            content_hash TEXT NOT NULL,
            title TEXT NOT NULL,
            language TEXT,
            chunk_count INTEGER NOT NULL,
            token_count INTEGER NOT NULL
        );
        CREATE TABLE chunks(
            rowid INTEGER PRIMARY KEY,
            chunk_id TEXT NOT NULL UNIQUE,
            document_id INTEGER NOT NULL REFERENCES documents(id),
            anchor TEXT,
            heading_path TEXT NOT NULL,
            range_start INTEGER NOT NULL,
            range_end INTEGER NOT NULL,
            text TEXT NOT NULL,
            token_count INTEGER NOT NULL,
            vector_slot INTEGER NOT NULL
        );
        CREATE INDEX chunks_by_document ON chunks(document_id);
        CREATE INDEX chunks_by_slot ON chunks(vector_slot);
        CREATE VIRTUAL TABLE chunks_fts USING fts5(text, headings, title, tokenize='porter unicode61 remove_diacritics 2');
        """

    init(url: URL, readonly: Bool, create: Bool = false) throws {
        self.url = url
        if !create && !FileManager.default.fileExists(atPath: url.path) {
            throw IndexError.corrupted(path: url.path, reason: "database file is missing")
        }
        var config = Configuration()
        config.readonly = readonly
        config.label = "SiftIndex"
        do {
            queue = try DatabaseQueue(path: url.path, configuration: config)
            if create { try queue.write { try $0.execute(sql: Self.schema) } }
        } catch {
            throw IndexError.storage(operation: create ? "creating database" : "opening database", path: url.path, underlying: "\(error)")
        }
    }

    /// Runs `body` and maps SQLite errors to `IndexError.storage`.
    func read<T>(_ operation: String, _ body: (Database) throws -> T) throws -> T {
        do { return try queue.read(body) } catch let error as IndexError { throw error } catch {
            throw IndexError.storage(operation: operation, path: url.path, underlying: "\(error)")
        }
    }

    func write<T>(_ operation: String, _ body: (Database) throws -> T) throws -> T {
        do { return try queue.write(body) } catch let error as IndexError { throw error } catch {
            throw IndexError.storage(operation: operation, path: url.path, underlying: "\(error)")
        }
    }

    func close() throws {
        try? queue.close()
    }

    // MARK: Reading

    func documentHashes() throws -> [String: String] {
        try read("reading documents") { db in
            var out = [String: String]()
            for row in try Row.fetchAll(db, sql: "SELECT path, content_hash FROM documents") {
                out[row["path"]] = row["content_hash"]
            }
            return out
        }
    }

    func documentIDs() throws -> [String] {
        try read("reading documents") { db in try String.fetchAll(db, sql: "SELECT path FROM documents ORDER BY path") }
    }

    private static let chunkColumns = """
        c.chunk_id, d.path, c.anchor, c.heading_path, c.range_start, c.range_end, c.text, c.token_count
        """

    private static func chunk(from row: Row) -> Chunk {
        let headingJSON: String = row["heading_path"]
        let headings = (try? JSONDecoder().decode([String].self, from: Data(headingJSON.utf8))) ?? []
        let start: Int = row["range_start"], end: Int = row["range_end"]
        return Chunk(id: row["chunk_id"], documentID: row["path"], anchor: row["anchor"], headingPath: headings,
                     range: start..<max(start, end), text: row["text"], tokenCount: row["token_count"])
    }

    /// The rows `sql` selects for `values`, asked in batches of 500 (SQLite limits bound parameters; 500 is far below
    /// every default limit). `sql` receives one batch's `?,?,…` list.
    private func rows<Value: DatabaseValueConvertible>(_ operation: String, for values: [Value],
                                                        _ sql: (String) -> String) throws -> [Row] {
        if values.isEmpty { return [] }
        return try read(operation) { db in
            var rows: [Row] = []
            for start in stride(from: 0, to: values.count, by: 500) {
                let part = Array(values[start..<min(values.count, start + 500)])
                let marks = Array(repeating: "?", count: part.count).joined(separator: ",")
                rows += try Row.fetchAll(db, sql: sql(marks), arguments: StatementArguments(part))
            }
            return rows
        }
    }

    /// Chunks for the given ids, in the order of `ids`; unknown ids are skipped.
    func chunks(ids: [String]) throws -> [Chunk] {
        let rows = try rows("reading chunks", for: ids) { marks in
            "SELECT \(Self.chunkColumns) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.chunk_id IN (\(marks))"
        }
        let byID = Dictionary(rows.map { row in let c = Self.chunk(from: row); return (c.id, c) }, uniquingKeysWith: { a, _ in a })
        return ids.compactMap { byID[$0] }
    }

    /// These documents with their chunks in stored (reading) order; unknown ids are left out.
    func export(documentIDs: [String]) throws -> [DocumentUpdate] {
        let documents = try rows("reading documents", for: documentIDs) { marks in
            "SELECT path, content_hash, title, language FROM documents WHERE path IN (\(marks))"
        }
        let chunkRows = try rows("reading chunks", for: documentIDs) { marks in
            "SELECT \(Self.chunkColumns) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.path IN (\(marks)) ORDER BY c.rowid"
        }
        let chunks = Dictionary(grouping: chunkRows.map(Self.chunk(from:)), by: \.documentID)
        let byID = Dictionary(documents.map { row -> (String, DocumentUpdate) in
            let id: String = row["path"]
            return (id, DocumentUpdate(id: id, title: row["title"], language: row["language"], contentHash: row["content_hash"],
                                       chunks: chunks[id] ?? []))
        }, uniquingKeysWith: { a, _ in a })
        return documentIDs.compactMap { byID[$0] }
    }

    /// Chunk ids for vector slots; slots without a chunk are left out.
    func chunkIDs(slots: [Int]) throws -> [Int: String] {
        let rows = try rows("reading chunk ids", for: slots) { "SELECT vector_slot, chunk_id FROM chunks WHERE vector_slot IN (\($0))" }
        return Dictionary(rows.map { row -> (Int, String) in (row["vector_slot"], row["chunk_id"]) }, uniquingKeysWith: { a, _ in a })
    }

    /// Vector slots for chunk ids; unknown ids are left out.
    func slots(chunkIDs: [String]) throws -> [String: Int] {
        let rows = try rows("reading vector slots", for: chunkIDs) { "SELECT chunk_id, vector_slot FROM chunks WHERE chunk_id IN (\($0))" }
        return Dictionary(rows.map { row -> (String, Int) in (row["chunk_id"], row["vector_slot"]) }, uniquingKeysWith: { a, _ in a })
    }

    /// (text, vector slot) of every chunk of the given documents (by path), keyed by chunk id.
    func existingChunks(documentPaths: [String]) throws -> [String: (text: String, slot: Int)] {
        let rows = try rows("reading chunks", for: documentPaths) { marks in
            "SELECT c.chunk_id, c.text, c.vector_slot FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.path IN (\(marks))"
        }
        return Dictionary(rows.map { row -> (String, (text: String, slot: Int)) in (row["chunk_id"], (row["text"], row["vector_slot"])) },
                          uniquingKeysWith: { a, _ in a })
    }

    /// BM25 top-k for an already escaped FTS5 MATCH expression. Score: −bm25() (higher is better);
    /// ties broken by lower vector slot.
    func bm25(match: String, limit: Int) throws -> [ScoredChunk] {
        let w = Self.bm25Weights
        return try read("BM25 search") { db in
            try Row.fetchAll(db, sql: """
                SELECT c.chunk_id AS chunk_id, bm25(chunks_fts, \(w.text), \(w.headings), \(w.title)) AS rank_value
                FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid
                WHERE chunks_fts MATCH ?
                ORDER BY rank_value, c.vector_slot
                LIMIT ?
                """, arguments: [match, limit]).map { row in
                let value: Double = row["rank_value"]
                return ScoredChunk(chunkID: row["chunk_id"], score: Float(-value))
            }
        }
    }

    /// Throws `IndexError.corrupted` unless SQLite's own check passes and the chunks table, the full-text index
    /// and the manifest agree on the chunk count. `thorough` runs the full integrity check and matches every
    /// chunk with its full-text row (reads everything); otherwise the quick check and counts.
    func checkConsistency(chunkCount: Int, thorough: Bool) throws {
        func damaged(_ reason: String) -> IndexError { .corrupted(path: url.path, reason: reason) }
        try read("checking database") { db in
            let result = try String.fetchAll(db, sql: thorough ? "PRAGMA integrity_check" : "PRAGMA quick_check")
            guard result == ["ok"] else { throw damaged("SQLite reports: " + result.prefix(3).joined(separator: "; ")) }
            let chunks = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM chunks") ?? 0
            guard chunks == chunkCount else { throw damaged("the database holds \(chunks) chunks, the manifest \(chunkCount)") }
            let indexed: Int
            do { indexed = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM chunks_fts") ?? 0 } catch {
                throw damaged("the full-text (BM25) index is missing or unreadable: \(error)")
            }
            guard indexed == chunks else { throw damaged("the full-text index holds \(indexed) rows for \(chunks) chunks") }
            if thorough {
                let unmatched = try Int.fetchOne(db, sql: """
                    SELECT COUNT(*) FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM chunks_fts f WHERE f.rowid = c.rowid)
                    """) ?? 0
                guard unmatched == 0 else { throw damaged("\(unmatched) chunks have no full-text row") }
            }
        }
    }

    // MARK: Writing (only on a staging copy)

    /// Removes documents (by path) with their chunks and FTS rows.
    static func deleteDocuments(_ paths: [String], in db: Database) throws {
        for path in paths {
            guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM documents WHERE path = ?", arguments: [path]) else { continue }
            try db.execute(sql: "DELETE FROM chunks_fts WHERE rowid IN (SELECT rowid FROM chunks WHERE document_id = ?)", arguments: [id])
            try db.execute(sql: "DELETE FROM chunks WHERE document_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM documents WHERE id = ?", arguments: [id])
        }
    }

    /// Renumbers the remaining chunks' vector slots to 0..<n keeping their order; returns the old slots in new-slot order.
    static func compactSlots(in db: Database) throws -> [Int] {
        let rows = try Row.fetchAll(db, sql: "SELECT rowid, vector_slot FROM chunks ORDER BY vector_slot")
        var oldSlots = [Int]()
        oldSlots.reserveCapacity(rows.count)
        let statement = try db.makeStatement(sql: "UPDATE chunks SET vector_slot = ? WHERE rowid = ?")
        for (newSlot, row) in rows.enumerated() {
            let old: Int = row["vector_slot"]
            oldSlots.append(old)
            // Ascending order never collides: every earlier row already moved below newSlot.
            if old != newSlot {
                try statement.execute(arguments: [newSlot, row["rowid"] as Int64])
            }
        }
        return oldSlots
    }

    static func insert(_ update: DocumentUpdate, firstSlot: Int, in db: Database) throws {
        let tokens = update.chunks.reduce(0) { $0 + $1.tokenCount }
        try db.execute(sql: """
            INSERT INTO documents(path, content_hash, title, language, chunk_count, token_count) VALUES (?, ?, ?, ?, ?, ?)
            """, arguments: [update.id, update.contentHash, update.title, update.language, update.chunks.count, tokens])
        let documentRow = db.lastInsertedRowID
        let insertChunk = try db.makeStatement(sql: """
            INSERT INTO chunks(chunk_id, document_id, anchor, heading_path, range_start, range_end, text, token_count, vector_slot)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let insertFTS = try db.makeStatement(sql: "INSERT INTO chunks_fts(rowid, text, headings, title) VALUES (?, ?, ?, ?)")
        let encoder = JSONEncoder()
        for (i, chunk) in update.chunks.enumerated() {
            let headingJSON = String(decoding: try encoder.encode(chunk.headingPath), as: UTF8.self)
            do {
                try insertChunk.execute(arguments: [chunk.id, documentRow, chunk.anchor, headingJSON, chunk.range.lowerBound,
                                                    chunk.range.upperBound, chunk.text, chunk.tokenCount, firstSlot + i])
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                throw IndexError.invalidRequest(reason: "duplicate chunk id '\(chunk.id)' (document \(update.id))")
            }
            try insertFTS.execute(arguments: [db.lastInsertedRowID, chunk.text, chunk.headingPath.joined(separator: " / "), update.title])
        }
    }
}
