#if canImport(Glibc)
import Glibc
#endif

/// Reads whole files that come from outside (frames, manifests, config) into memory once, with a
/// size limit checked before anything is allocated.
///
/// Only regular files are read: the file is opened non-blocking, so a FIFO or a device dropped
/// into a replay folder cannot hang the reader, and then refused. Errors name the call and errno,
/// so that a permission problem is reported as one and never mistaken for bad content.
public enum BoundedFile {
    /// Why a file could not be read.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public enum Reason: Sendable, Equatable {
            /// A system call failed (`call`, `errno`): missing file, permission, I/O error.
            case system(call: String, errno: Int32)
            /// Not a regular file (a folder, FIFO, device or socket).
            case notRegularFile
            /// Larger than the caller's limit.
            case tooLarge(limit: Int)
        }

        public var path: String
        public var reason: Reason

        public init(path: String, reason: Reason) {
            self.path = path
            self.reason = reason
        }

        /// True when the file does not exist (ENOENT, or a dangling symbolic link).
        public var isMissing: Bool { reason == .system(call: "open", errno: ENOENT) }
        /// True when the process lacks the permission to read it.
        public var isPermission: Bool {
            if case let .system(_, code) = reason { return code == EACCES || code == EPERM }
            return false
        }

        public var description: String {
            switch reason {
            case let .system(call, code): "\(call)(\(path)) failed: \(String(cString: strerror(code))) (errno \(code))"
            case .notRegularFile: "\(path) is not a regular file"
            case let .tooLarge(limit): "\(path) is larger than the limit of \(limit) bytes"
            }
        }
    }

    /// Opens the regular file at `path` read-only and non-blocking (a FIFO cannot hang the
    /// reader), refusing anything else and a size over `limit`; returns the descriptor and size.
    private static func openRegular(_ path: String, limit: Int) throws(Failure) -> (Int32, Int) {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(path: path, reason: .system(call: "open", errno: errno)) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let code = errno
            close(fd)
            throw Failure(path: path, reason: .system(call: "fstat", errno: code))
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw Failure(path: path, reason: .notRegularFile)
        }
        guard st.st_size >= 0, st.st_size <= Int64(limit) else {
            close(fd)
            throw Failure(path: path, reason: .tooLarge(limit: limit))
        }
        return (fd, Int(st.st_size))
    }

    /// The bytes of the regular file at `path`, refusing files over `limit` bytes (checked with
    /// `fstat` first, and again while reading, in case the file grows).
    public static func read(_ path: String, limit: Int) throws(Failure) -> [UInt8] {
        let (fd, size) = try openRegular(path, limit: limit)
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: size)
        var count = 0
        while true {
            if count == bytes.count {
                // The file grew since fstat: read on in small steps, up to the limit.
                guard count < limit else {
                    var probe: UInt8 = 0
                    let n = Glibc.read(fd, &probe, 1)
                    if n == 0 { break }
                    if n < 0, errno == EINTR { continue }
                    if n < 0 { throw Failure(path: path, reason: .system(call: "read", errno: errno)) }
                    throw Failure(path: path, reason: .tooLarge(limit: limit))
                }
                bytes.append(contentsOf: repeatElement(0, count: min(limit - count, 64 << 10)))
            }
            let n = bytes.withUnsafeMutableBytes { buffer in
                Glibc.read(fd, buffer.baseAddress! + count, buffer.count - count)
            }
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(path: path, reason: .system(call: "read", errno: errno))
            }
            count += n
        }
        if count < bytes.count { bytes.removeSubrange(count...) }
        return bytes
    }

    /// Streams the regular file at `path` in chunks of at most `chunk` bytes, refusing files over
    /// `limit` bytes, so that a large file from outside costs `chunk` bytes of memory, not its size.
    public static func forEachChunk(
        _ path: String, limit: Int, chunk: Int = 64 << 10, _ body: (ArraySlice<UInt8>) throws -> Void
    ) throws {
        let (fd, _) = try openRegular(path, limit: limit)
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: max(1, chunk))
        var total = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n == 0 { return }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(path: path, reason: .system(call: "read", errno: errno))
            }
            total += n
            // The file grew past the limit since fstat.
            guard total <= limit else { throw Failure(path: path, reason: .tooLarge(limit: limit)) }
            try body(buffer[0..<n])
        }
    }
}
