import Foundation
import Hummingbird
import NIOCore

/// The collection's own files, served read-only under `/source/` so that an answer's `page.html#anchor` opens.
///
/// Only regular files inside the collection's root are served. Refused: encoded slashes and backslashes (`%2F`,
/// `%5C`), NUL, `.` and `..` components, hidden files, and any path whose real location (symlinks resolved) is
/// outside the root. Pages are sent with `Content-Security-Policy: sandbox`, so a collection page's scripts cannot
/// act as the question page's origin.
struct SourceFiles: Sendable {
    let root: URL
    /// The root with symlinks resolved, ending in `/`.
    let realRoot: String
    /// Larger files are refused (the reader's own default cap).
    static let maxFileSize = 64 << 20

    init(root: URL) {
        self.root = root.standardizedFileURL
        let real = self.root.resolvingSymlinksInPath().path
        realRoot = real.hasSuffix("/") ? real : real + "/"
    }

    static let types: [String: String] = [
        "html": "text/html; charset=utf-8", "htm": "text/html; charset=utf-8", "xhtml": "application/xhtml+xml",
        "xml": "application/xml", "css": "text/css", "js": "text/javascript", "json": "application/json",
        "txt": "text/plain; charset=utf-8", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
        "gif": "image/gif", "svg": "image/svg+xml", "webp": "image/webp", "ico": "image/x-icon",
    ]

    /// The file a request path names, relative to the root; throws 400 for a refused path and 404 when absent.
    func file(rawPath: String, prefix: String) throws -> URL {
        guard rawPath.hasPrefix(prefix) else { throw ServerError(status: 404, "no such file") }
        let relative = rawPath.dropFirst(prefix.count)
        let lowered = relative.lowercased()
        if lowered.contains("%2f") || lowered.contains("%5c") || lowered.contains("%00") || relative.contains("\\") {
            throw ServerError(status: 400, "encoded slashes, backslashes and NUL are not allowed in a path")
        }
        var components: [String] = []
        for raw in relative.split(separator: "/", omittingEmptySubsequences: true) {
            guard let name = String(raw).removingPercentEncoding else { throw ServerError(status: 400, "the path is not valid percent-encoding") }
            if name == "." || name == ".." { throw ServerError(status: 400, "'.' and '..' are not allowed in a path") }
            if name.hasPrefix(".") { throw ServerError(status: 404, "no such file") }
            components.append(name)
        }
        guard !components.isEmpty else { throw ServerError(status: 404, "no such file") }
        let url = components.reduce(root) { $0.appendingPathComponent($1) }
        // Symlinks may point anywhere: the real location must still be inside the real root.
        let real = url.resolvingSymlinksInPath().path
        guard real.hasPrefix(realRoot) else { throw ServerError(status: 404, "no such file") }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: real, isDirectory: &isFolder), !isFolder.boolValue else {
            throw ServerError(status: 404, "no such file")
        }
        return URL(fileURLWithPath: real)
    }

    func response(rawPath: String, prefix: String) throws -> Response {
        let url = try file(rawPath: rawPath, prefix: prefix)
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        guard size <= Self.maxFileSize else { throw ServerError(status: 413, "the file is larger than \(Self.maxFileSize) bytes") }
        guard let data = FileManager.default.contents(atPath: url.path) else { throw ServerError(status: 404, "no such file") }
        var headers = HTTPFields()
        headers[.contentType] = Self.types[url.pathExtension.lowercased()] ?? "application/octet-stream"
        headers[.contentSecurityPolicy] = "sandbox"
        headers[.xContentTypeOptions] = "nosniff"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
