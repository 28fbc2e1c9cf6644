public import Foundation
import PlateKeeperCore
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// Serves the status document on a Unix socket: each client that connects gets one JSON document
/// and the connection is closed. The socket is mode 0660, so the operator's group can read it.
struct StatusService: Service, CustomStringConvertible {
    let path: String
    let board: StatusBoard
    let logger: Logger

    var description: String { "status socket \(path)" }

    func run() async throws {
        let fd = try StatusSocket.listen(at: path)
        await runOnThreadUntilShutdown(name: "status") { self.serve(fd, $0) }
        close(fd)
        var st = stat()
        if lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFSOCK { unlink(path) }
    }

    private func serve(_ fd: Int32, _ stop: StopFlag) {
        while !stop.isSet {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 250) > 0 else { continue }
            let client = accept(fd, nil, nil)
            guard client >= 0 else { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            var timeout = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            if let data = try? board.document().encoded() {
                var bytes = [UInt8](data)
                bytes.append(10)
                var offset = 0
                while offset < bytes.count {
                    let n = bytes[offset...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if n <= 0 { break }
                    offset += n
                }
            }
            close(client)
        }
    }
}

/// The Unix socket both ends use.
public enum StatusSocket {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Binds and listens at `path` (creating its folder, mode 0750). A stale socket is replaced; a
    /// socket another daemon still answers on is an error, and so is any other kind of file there.
    static func listen(at path: String) throws -> Int32 {
        let folder = Paths.folder(of: path)
        if !FileManager.default.fileExists(atPath: folder) {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
            } catch {
                throw Failure(description: "status socket \(path): cannot create folder \(folder): \(error.localizedDescription)")
            }
        }
        // Only a stale socket is ever removed: any other kind of file at that path (a journal, a
        // config, a folder) is someone's data, and the daemon refuses to start rather than touch it.
        var st = stat()
        if lstat(path, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFSOCK else {
                throw Failure(description: "status socket \(path): a file that is not a socket is already there; it was left untouched (choose another [status] socket path)")
            }
            if (try? fetch(from: path, timeout: 1)) != nil {
                throw Failure(description: "another daemon answers on \(path)")
            }
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket(AF_UNIX) failed: \(String(cString: strerror(errno)))") }
        var address = try socketAddress(path)
        let oldMask = umask(0o117)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(oldMask)
        guard bound == 0 else {
            let code = errno
            close(fd)
            throw Failure(description: "status socket: bind(\(path)) failed: \(String(cString: strerror(code))) (errno \(code))")
        }
        chmod(path, 0o660)
        guard Glibc.listen(fd, 16) == 0 else {
            close(fd)
            throw Failure(description: "listen(\(path)) failed: \(String(cString: strerror(errno)))")
        }
        return fd
    }

    /// Connects to `path` and reads the document the daemon sends.
    public static func fetch(from path: String, timeout: Double = 5) throws -> Data {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket(AF_UNIX) failed: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = try socketAddress(path)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let code = errno
            switch code {
            case ENOENT, ECONNREFUSED:
                throw Failure(description: "no daemon is running (nothing listens at \(path))")
            case EACCES, EPERM:
                throw Failure(description: "not allowed to reach the daemon at \(path) (the socket is for root and the socket's group)")
            default:
                throw Failure(description: "cannot reach the daemon at \(path): \(String(cString: strerror(code)))")
            }
        }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 { throw Failure(description: "reading from \(path) failed: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        return data
    }

    private static func socketAddress(_ path: String) throws -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw Failure(description: "socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        return address
    }
}
