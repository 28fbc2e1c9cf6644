#if canImport(Glibc)
import Glibc
#endif

/// Where a datagram goes on this machine: an AF_UNIX socket named by a path, or by `@name` in
/// the abstract namespace (as `$NOTIFY_SOCKET` may be). Shared by the systemd notifier and the
/// journald log output, the daemon's two datagram peers.
struct UnixDatagramAddress: Sendable {
    private let address: sockaddr_un
    private let length: socklen_t

    /// Nil for an empty path or one longer than `sun_path` holds.
    init?(path: String) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        self.address = address
        // A path is sent with its terminating NUL; an abstract name is exactly its bytes.
        length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes[0] == 0 ? 0 : 1))
    }

    /// A new datagram socket (close-on-exec), or nil.
    static func socket() -> Int32? {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        return fd >= 0 ? fd : nil
    }

    /// Sends `bytes` as one datagram from `fd`; true when all of it went.
    func send(_ bytes: [UInt8], from fd: Int32, flags: Int32 = 0) -> Bool {
        var address = self.address
        let sent = bytes.withUnsafeBytes { buffer in
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL) | flags, $0, length)
                }
            }
        }
        return sent == bytes.count
    }
}
