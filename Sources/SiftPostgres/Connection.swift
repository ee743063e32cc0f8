import CLibPQ
import Foundation

/// One libpq connection, used by one thread at a time (its lock). Every statement goes through `PQexecParams`
/// with text parameters, so values never become SQL; only validated identifiers (the schema) are spliced in.
/// No libpq type leaves this file.
final class Connection: @unchecked Sendable {
    let endpoint: PostgresEndpoint
    private var handle: OpaquePointer?
    private let lock = NSLock()

    /// Connects, or throws `.connection` naming `endpoint.redacted`. Sessions get `statement_timeout`, UTF-8 and an
    /// `application_name` that names this process (so a waiting writer can say who holds the lock).
    init(_ endpoint: PostgresEndpoint, connectTimeoutSeconds: Int, statementTimeoutMilliseconds: Int) throws {
        self.endpoint = endpoint
        var keywords = ["dbname", "connect_timeout", "application_name", "client_encoding", "options"]
        var values = [endpoint.url, String(max(1, connectTimeoutSeconds)), "sift pid \(getpid())", "UTF8",
                      "-c statement_timeout=\(max(0, statementTimeoutMilliseconds))"]
        if let password = endpoint.password { keywords.append("password"); values.append(password) }
        let connection = Self.withCStrings(keywords) { k in Self.withCStrings(values) { v in PQconnectdbParams(k, v, 1) } }
        guard let connection else { throw PostgresError.connection(server: endpoint.redacted, reason: "out of memory") }
        if PQstatus(connection) != CONNECTION_OK {
            let reason = Self.scrub(String(cString: PQerrorMessage(connection)), endpoint)
            PQfinish(connection)
            throw PostgresError.connection(server: endpoint.redacted, reason: reason)
        }
        handle = connection
        // Notices (e.g. "relation already exists, skipping") would go to stderr; a library prints nothing.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
    }

    deinit { if let handle { PQfinish(handle) } }

    var isAlive: Bool {
        lock.lock(); defer { lock.unlock() }
        return handle.map { PQstatus($0) == CONNECTION_OK } ?? false
    }

    /// The server's backend process id (what pg_locks and pg_stat_activity show).
    var backendPID: Int32 {
        lock.lock(); defer { lock.unlock() }
        return handle.map { PQbackendPID($0) } ?? 0
    }

    /// Runs one statement with text parameters (nil is SQL NULL) and returns its rows as text.
    @discardableResult
    func query(_ sql: String, _ parameters: [String?] = [], operation: String) throws -> Rows {
        lock.lock(); defer { lock.unlock() }
        guard let handle else { throw PostgresError.connection(server: endpoint.redacted, reason: "connection closed") }
        let result: OpaquePointer? = Self.withOptionalCStrings(parameters) { values in
            PQexecParams(handle, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        defer { PQclear(result) }
        let status = result.map(PQresultStatus) ?? PGRES_FATAL_ERROR
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            var reason = Self.scrub(String(cString: PQerrorMessage(handle)), endpoint)
            if reason.isEmpty { reason = "no result" }
            if PQstatus(handle) != CONNECTION_OK {
                throw PostgresError.connection(server: endpoint.redacted, reason: "connection lost during \(operation): \(reason)")
            }
            let state = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) }
            throw PostgresError.query(server: endpoint.redacted, operation: operation, sqlState: state, reason: reason)
        }
        guard let result, status == PGRES_TUPLES_OK else { return Rows(values: []) }
        let rowCount = Int(PQntuples(result)), columnCount = Int(PQnfields(result))
        var values: [[String?]] = []
        values.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var cells: [String?] = []
            cells.reserveCapacity(columnCount)
            for column in 0..<columnCount {
                if PQgetisnull(result, Int32(row), Int32(column)) != 0 { cells.append(nil); continue }
                cells.append(String(cString: PQgetvalue(result, Int32(row), Int32(column))))
            }
            values.append(cells)
        }
        return Rows(values: values)
    }

    /// libpq's message on one line, with any password of the endpoint masked (a malformed URI can be echoed).
    static func scrub(_ message: String, _ endpoint: PostgresEndpoint) -> String {
        var text = message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
        for secret in endpoint.secrets where !secret.isEmpty { text = text.replacingOccurrences(of: secret, with: "***") }
        return text
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        withOptionalCStrings(strings.map { Optional($0) }) { pointers in
            body(UnsafeRawPointer(pointers!).assumingMemoryBound(to: UnsafePointer<CChar>?.self))
        }
    }

    /// A NULL-terminated array of C strings (nil entries stay NULL) valid for the duration of `body`.
    private static func withOptionalCStrings<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
        let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } }
        defer { copies.forEach { free($0) } }
        let pointers = copies.map { UnsafePointer($0) } + [nil]
        return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}

/// A result's rows, as text (SQL NULL is nil).
struct Rows {
    let values: [[String?]]
    var count: Int { values.count }
    func text(_ row: Int, _ column: Int) -> String { values[row][column] ?? "" }
    func int(_ row: Int, _ column: Int) -> Int { Int(values[row][column] ?? "") ?? 0 }
    func float(_ row: Int, _ column: Int) -> Float { Float(values[row][column] ?? "") ?? 0 }
}

extension PostgresEndpoint {
    /// Passwords this endpoint carries (given separately, or in the URI's user information), for masking.
    var secrets: [String] {
        var found = [String]()
        if let password { found.append(password) }
        var rest = Substring(url)
        for scheme in ["postgresql://", "postgres://"] where rest.hasPrefix(scheme) { rest = rest.dropFirst(scheme.count) }
        if let at = rest.lastIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") {
            let secret = String(rest[rest.index(after: colon)..<at])
            found.append(secret)
            found.append(secret.removingPercentEncoding ?? secret)
        }
        return found.filter { $0.count >= 1 }
    }
}

/// PostgreSQL text-format literals for bind parameters (never spliced into SQL).
enum Literal {
    /// A one-dimensional array literal `{"a","b",NULL}`: every element quoted, `"` and `\` escaped.
    static func array(_ items: [String?]) -> String {
        var out = "{"
        for (i, item) in items.enumerated() {
            if i > 0 { out += "," }
            guard let item else { out += "NULL"; continue }
            out += "\""
            for ch in item.unicodeScalars {
                if ch == "\"" || ch == "\\" { out += "\\" }
                out.unicodeScalars.append(ch)
            }
            out += "\""
        }
        return out + "}"
    }

    static func array(_ items: [String]) -> String { array(items.map { Optional($0) }) }

    /// A pgvector literal `[x,y,…]`; Swift's `Float` description is the shortest text that reads back to the same
    /// float, and pgvector prints floats the same way, so vectors cross the wire exactly.
    static func vector(_ values: [Float]) -> String {
        "[" + values.map { $0.isFinite ? "\($0)" : "0" }.joined(separator: ",") + "]"
    }

    /// Parses pgvector's `[x,y,…]`.
    static func parseVector(_ text: String) -> [Float]? {
        guard text.hasPrefix("["), text.hasSuffix("]") else { return nil }
        let body = text.dropFirst().dropLast()
        if body.isEmpty { return [] }
        var out = [Float]()
        for part in body.split(separator: ",") {
            guard let value = Float(part) else { return nil }
            out.append(value)
        }
        return out
    }
}
