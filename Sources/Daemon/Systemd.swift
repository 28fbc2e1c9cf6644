public import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Talks to systemd over `$NOTIFY_SOCKET` (READY=1, STATUS=…, WATCHDOG=1, STOPPING=1, RELOADING=1).
///
/// A few lines of datagram socket code instead of linking libsystemd for one `sendto`. Silent when
/// the daemon is not run by systemd (no `$NOTIFY_SOCKET`).
public struct SystemdNotifier: Sendable {
    let socketPath: String?
    /// How often systemd expects WATCHDOG=1 (`WatchdogSec=`), if it does.
    public let watchdogInterval: Duration?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        socketPath = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        if let usec = environment["WATCHDOG_USEC"].flatMap(Int64.init), usec > 0,
           environment["WATCHDOG_PID"].flatMap(Int32.init).map({ $0 == getpid() }) ?? true {
            watchdogInterval = .microseconds(usec)
        } else {
            watchdogInterval = nil
        }
    }

    public var isActive: Bool { socketPath != nil }

    /// Sends `state` (newline-separated assignments); returns false if it could not be sent.
    /// Never blocks: if the receiver's queue is full the message is dropped, not the daemon stalled.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        guard let socketPath, let address = UnixDatagramAddress(path: socketPath), let fd = UnixDatagramAddress.socket() else { return false }
        defer { close(fd) }
        return address.send(Array(state.utf8), from: fd, flags: Int32(MSG_DONTWAIT))
    }
}
