#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A path as the bytes the kernel sees. Linux file names are bytes, not necessarily UTF-8; a String would
/// replace the invalid ones and then name no file at all.
struct RawPath: Hashable, Sendable {
    /// Without a terminating NUL.
    var bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }
    init(_ string: String) { bytes = Array(string.utf8) }
    init(cString: UnsafePointer<CChar>) { bytes = Array(UnsafeRawBufferPointer(start: cString, count: strlen(cString))) }

    func appending(_ name: [UInt8]) -> RawPath {
        RawPath(bytes.last == UInt8(ascii: "/") ? bytes + name : bytes + [UInt8(ascii: "/")] + name)
    }

    func withCString<T>(_ body: (UnsafePointer<CChar>) -> T) -> T {
        (bytes + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) }
        }
    }
}

/// What stat(2) says about a path.
struct FileStatus {
    enum Kind: Equatable { case regular, directory, symbolicLink, other(String) }
    /// Device and inode: the same folder reached through different links has the same identity.
    struct Identity: Hashable { var device: UInt64; var inode: UInt64 }

    var kind: Kind
    var size: Int
    var identity: Identity

    /// stat(2) (following symbolic links) or lstat(2); the error text of errno when it fails.
    static func of(_ path: RawPath, followLinks: Bool = true) -> Result<FileStatus, SystemError> {
        var st = stat()
        let rc = path.withCString { followLinks ? stat($0, &st) : lstat($0, &st) }
        guard rc == 0 else { return .failure(SystemError()) }
        return .success(FileStatus(st))
    }

    init(_ st: stat) {
        switch st.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symbolicLink
        case S_IFIFO: kind = .other("a FIFO")
        case S_IFCHR: kind = .other("a character device")
        case S_IFBLK: kind = .other("a block device")
        case S_IFSOCK: kind = .other("a socket")
        default: kind = .other("an unknown file type")
        }
        size = Int(st.st_size)
        identity = Identity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }
}

/// errno at the time of a failed call, with the C library's text for it.
struct SystemError: Error, CustomStringConvertible {
    var code: Int32
    init(code: Int32 = errno) { self.code = code }
    var description: String { String(cString: strerror(code)) }
}

enum FileSystem {
    /// The names in a folder ("." and ".." left out), as bytes.
    static func entries(of folder: RawPath) -> Result<[[UInt8]], SystemError> {
        guard let stream = folder.withCString({ opendir($0) }) else { return .failure(SystemError()) }
        defer { closedir(stream) }
        var names: [[UInt8]] = []
        while true {
            // readdir returns NULL both at the end and on an error; only errno tells them apart.
            errno = 0
            guard let entry = readdir(stream) else { break }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            names.append(name)
        }
        if errno != 0 { return .failure(SystemError()) }
        return .success(names)
    }

    /// The bytes of a regular file of at most `limit` bytes. Anything else is refused by stat before it is opened:
    /// opening a FIFO would block and opening a device can have side effects. Errors name `id`.
    static func readRegularFile(_ path: RawPath, id: String, limit: Int) throws(ReaderError) -> [UInt8] {
        let status: FileStatus
        switch FileStatus.of(path) {
        case .success(let s): status = s
        case .failure(let error):
            if error.code == ENOENT, case .success(let link) = FileStatus.of(path, followLinks: false), link.kind == .symbolicLink {
                throw .unreadable(path: id, reason: "broken symbolic link (its target does not exist)")
            }
            throw .unreadable(path: id, reason: error.description)
        }
        switch status.kind {
        case .regular: break
        case .directory: throw .unreadable(path: id, reason: "is a folder")
        case .symbolicLink: throw .unreadable(path: id, reason: "not a regular file (a symbolic link)")
        case .other(let what): throw .unreadable(path: id, reason: "not a regular file (\(what))")
        }
        // Reject before reading: a huge file costs nothing.
        if status.size > limit { throw .fileTooLarge(path: id, size: status.size, limit: limit) }

        // O_NONBLOCK: should the file be swapped for a FIFO after the stat, open still returns at once.
        let fd = path.withCString { open($0, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK) }
        guard fd >= 0 else { throw .unreadable(path: id, reason: SystemError().description) }
        defer { close(fd) }
        // Files in /proc and the like report size 0: read to the end, whatever stat said, but never past the limit.
        var bytes = [UInt8](repeating: 0, count: min(limit, max(status.size, 4096)) + 1)
        var count = 0
        while true {
            if count == bytes.count {
                if count > limit { throw .fileTooLarge(path: id, size: count, limit: limit) }
                bytes += [UInt8](repeating: 0, count: min(bytes.count, limit + 1 - count))
            }
            let got = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
            if got == 0 { break }
            if got < 0 {
                if errno == EINTR { continue }
                throw .unreadable(path: id, reason: SystemError().description)
            }
            count += got
        }
        bytes.removeLast(bytes.count - count)
        return bytes
    }
}

/// Document ids are the file's path relative to the collection root. A name that is not valid UTF-8 gets an escaped
/// form, so it can still be indexed, shown and compared as a String.
enum DocumentIDText {
    /// The name itself when it is valid UTF-8; otherwise every byte that is not part of a valid UTF-8 sequence
    /// becomes `\xNN` and every backslash `\\`, so the text decodes back to exactly those bytes: the same name
    /// always gives the same id, and two different names never share one.
    static func segment(_ name: [UInt8]) -> String {
        if InputBytes.isValidUTF8(name) { return String(decoding: name, as: UTF8.self) }
        var text = ""
        var i = 0
        while i < name.count {
            if let length = validSequenceLength(name, at: i) {
                let character = String(decoding: name[i..<(i + length)], as: UTF8.self)
                text += character == "\\" ? "\\\\" : character
                i += length
            } else {
                let hex = String(name[i], radix: 16)
                text += "\\x" + (hex.count == 1 ? "0" + hex : hex)
                i += 1
            }
        }
        return text
    }

    /// The length of the valid UTF-8 sequence for one scalar starting at `i`, if there is one.
    private static func validSequenceLength(_ bytes: [UInt8], at i: Int) -> Int? {
        (1...4).first { length in i + length <= bytes.count && InputBytes.isValidUTF8(Array(bytes[i..<(i + length)])) }
    }
}
