import Foundation
import PlateKeeperCore

#if canImport(Glibc)
import Glibc
#endif

/// The journal's one owner: an advisory lock (`flock`) on `journal.sqlite.lock` beside it, taken
/// by the daemon before it touches anything else of the journal, and held while it has it open.
/// A second daemon on the same journal fails at once, changing nothing; read-only tools use it to
/// tell whether the journal is live.
///
/// Within one process the lock is shared (a reload that reopens the same journal keeps it), and
/// released when the last holder goes away. The file holds the owner's pid, for the message.
final class JournalLock: Sendable {
    let path: String
    private let fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { close(fd) }

    /// Weak references to this process's locks by path.
    private static let held = Locked<[String: WeakLock]>([:])

    private struct WeakLock: @unchecked Sendable {
        weak var lock: JournalLock?
    }

    /// Takes the lock for the journal at `journal`, or throws naming the process that holds it.
    static func acquire(forJournal journal: String) throws(JournalError) -> JournalLock {
        let path = journal + ".lock"
        let result: Result<JournalLock, JournalError> = held.withLock { held in
            if let existing = held[path]?.lock { return .success(existing) }
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard fd >= 0 else { return .failure(Journal.accessError(path, call: "open", errno: errno)) }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                let code = errno
                var buffer = [UInt8](repeating: 0, count: 32)
                let n = pread(fd, &buffer, buffer.count, 0)
                close(fd)
                let pid = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
                let reason = code == EWOULDBLOCK
                    ? "in use by another process (pid \(pid.prefix(12)), from \(path)): one daemon owns a journal; this one touched nothing"
                    : "flock(\(path)) failed: \(String(cString: strerror(code))) (errno \(code))"
                return .failure(.cannotOpen(path: journal, reason: reason))
            }
            let text = Array("\(getpid())\n".utf8)
            _ = ftruncate(fd, 0)
            _ = pwrite(fd, text, text.count, 0)
            let lock = JournalLock(path: path, fd: fd)
            held[path] = WeakLock(lock: lock)
            return .success(lock)
        }
        return try result.get()
    }

    /// Whether some process holds the lock of the journal at `journal` (opens the lock file
    /// read-only when it exists; creates nothing).
    static func isHeld(forJournal journal: String) -> Bool {
        let path = journal + ".lock"
        if held.withLock({ $0[path]?.lock != nil }) { return true }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard flock(fd, LOCK_SH | LOCK_NB) == 0 else { return errno == EWOULDBLOCK }
        flock(fd, LOCK_UN)
        return false
    }
}
