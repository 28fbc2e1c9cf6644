import Cryptography
import Foundation
import PlateKeeperCore

#if canImport(Glibc)
import Glibc
#endif

/// The store's per-day data keys, one per class (reads that matched no hotlist, hits) and UTC day
/// of first sight, each a file of 32 random bytes in a directory only the store may enter
/// (`--key-dir`). Plate text, candidates, position, hit and crop of a read are sealed under its
/// class's key of its day, so when retention has passed a whole day the key file is overwritten
/// and removed, and every copy of those rows — PostgreSQL's WAL segments, backups, replicas —
/// becomes unreadable (crypto-shredding), which deleting rows alone cannot do.
///
/// The keys live outside the database on purpose: a key kept in a table would survive in the WAL
/// and in backups along with the rows it protects. Several store instances share one directory
/// (a shared volume); a key is created once, atomically (written to a temporary file, then
/// linked into place), so two instances racing for a day's key agree on it. The directory must
/// not be backed up with the database, or the backup keeps the keys too.
public final class DayKeys: Sendable {
    public let directory: String
    private let cache = Locked([String: SecretKey]())

    /// Why the key directory cannot be used.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { "key directory \(path): \(reason)" }
    }

    /// Checks that `directory` exists, is a directory and no group or other user may enter it.
    public init(directory: String) throws(Failure) {
        var st = stat()
        guard stat(directory, &st) == 0 else { throw Failure(path: directory, reason: Self.failureText("stat")) }
        guard st.st_mode & S_IFMT == S_IFDIR else { throw Failure(path: directory, reason: "not a directory") }
        guard st.st_mode & 0o077 == 0 else {
            throw Failure(path: directory, reason: "mode \(String(st.st_mode & 0o777, radix: 8)) lets other users in; chmod 700 and chown it to the store's user")
        }
        self.directory = directory
    }

    /// The file name of a day's key: `nohit-20261201.key` or `hit-20261201.key`.
    public static func name(hit: Bool, day: Date) -> String {
        let c = Calendar.utc.dateComponents([.year, .month, .day], from: day)
        return String(format: "%@-%04d%02d%02d.key", hit ? "hit" : "nohit", c.year ?? 0, c.month ?? 0, c.day ?? 0)
    }

    /// The key of `hit`'s class for the UTC day holding `time`; created when `create` and missing.
    /// Nil when it does not exist (never made, or destroyed by retention) and `create` is false.
    public func key(hit: Bool, time: Date, create: Bool) throws(Failure) -> SecretKey? {
        let name = Self.name(hit: hit, day: Calendar.utc.startOfDay(for: time))
        let path = directory + "/" + name
        // A cached key counts only while its file exists: another instance may have destroyed it.
        if let key = cache.withLock({ $0[name] }) {
            var st = stat()
            if stat(path, &st) == 0 { return key }
            cache.withLock { _ = $0.removeValue(forKey: name) }
        }
        var bytes = try readKey(path)
        if bytes == nil, create {
            try makeKey(path)
            bytes = try readKey(path)
        }
        guard let bytes else { return nil }
        let key = SecretKey(bytes: bytes)
        cache.withLock { $0[name] = key }
        return key
    }

    /// Destroys the keys of `hit`'s class for every day wholly before `cutoff`: each file is
    /// overwritten with zeros, synced and removed, and the directory synced. Returns the days
    /// destroyed (UTC midnights).
    public func destroy(hit: Bool, before cutoff: Date) throws(Failure) -> [Date] {
        let limit = Self.name(hit: hit, day: Calendar.utc.startOfDay(for: cutoff))
        let prefix = hit ? "hit-" : "nohit-"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            throw Failure(path: directory, reason: Self.failureText("opendir"))
        }
        var days: [Date] = []
        for name in names.sorted() where name.hasPrefix(prefix) && name.hasSuffix(".key") && name.count == limit.count && name < limit {
            let path = directory + "/" + name
            let fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)
            if fd >= 0 {
                let zeros = [UInt8](repeating: 0, count: 64)
                _ = zeros.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
                fsync(fd)
                close(fd)
            }
            cache.withLock { _ = $0.removeValue(forKey: name) }
            guard unlink(path) == 0 else {
                // Another instance destroyed it first: theirs is the one to report.
                if Glibc.errno == ENOENT { continue }
                throw Failure(path: path, reason: Self.failureText("unlink"))
            }
            if let day = Self.day(of: name, prefix: prefix) { days.append(day) }
        }
        if !days.isEmpty { syncDirectory() }
        cache.withLock { $0 = $0.filter { !($0.key.hasPrefix(prefix) && $0.key < limit) } }
        return days
    }

    /// The days (UTC midnights) whose key of `hit`'s class exists, oldest first.
    public func days(hit: Bool) -> [Date] {
        let prefix = hit ? "hit-" : "nohit-"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasPrefix(prefix) && $0.hasSuffix(".key") && $0.count == prefix.count + 12 }.sorted().compactMap {
            Self.day(of: $0, prefix: prefix)
        }
    }

    /// The day (UTC midnight) a key file named by `name(hit:day:)` is for.
    private static func day(of name: String, prefix: String) -> Date? {
        let digits = name.dropFirst(prefix.count).prefix(8)
        guard digits.count == 8, digits.allSatisfy(\.isNumber), let y = Int(digits.prefix(4)), let m = Int(digits.dropFirst(4).prefix(2)),
              let d = Int(digits.suffix(2)) else { return nil }
        return Calendar.utc.date(from: DateComponents(year: y, month: m, day: d))
    }

    private func readKey(_ path: String) throws(Failure) -> [UInt8]? {
        let bytes: [UInt8]
        do {
            bytes = try BoundedFile.read(path, limit: 64)
        } catch {
            if case .system(_, let code) = error.reason, code == ENOENT { return nil }
            throw Failure(path: path, reason: "\(error)")
        }
        guard bytes.count == 32 else { throw Failure(path: path, reason: "a key file holds 32 bytes, this one \(bytes.count)") }
        return bytes
    }

    /// Writes a new key to a temporary file, syncs it, and links it into place; if another
    /// instance linked one first, theirs stands.
    private func makeKey(_ path: String) throws(Failure) {
        let bytes: [UInt8]
        do { bytes = try SecureRandom.bytes(32) } catch { throw Failure(path: path, reason: "\(error)") }
        let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(path: temporary, reason: Self.failureText("open")) }
        defer { unlink(temporary) }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == 32, synced else { throw Failure(path: temporary, reason: Self.failureText("write")) }
        guard link(temporary, path) == 0 || Glibc.errno == EEXIST else { throw Failure(path: path, reason: Self.failureText("link")) }
        syncDirectory()
    }

    private func syncDirectory() {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    private static func failureText(_ call: String) -> String {
        "\(call): \(String(cString: strerror(Glibc.errno))) (errno \(Glibc.errno))"
    }
}
