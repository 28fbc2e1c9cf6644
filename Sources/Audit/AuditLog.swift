import Cryptography
public import Foundation
import PlateKeeperCore

#if canImport(Glibc)
import Glibc
#endif

/// One read-out of plate data: who asked, for what, and how many records they got.
public struct AuditEntry: Sendable, Equatable, Codable {
    /// 1, 2, 3 … in file order.
    public var seq: Int
    /// ISO 8601 UTC.
    public var time: String
    /// Who: the Unix user (with the user behind sudo), or the store's authenticated principal.
    public var who: String
    /// What was done: `journal export`, …
    public var action: String
    /// What was asked: the filters of the query, never the plates returned.
    public var query: String
    /// Why, in the operator's words (required).
    public var purpose: String
    /// The purpose's category from the operator's fixed list: what the public report counts.
    /// Absent in entries made before categories existed (their hashes do not cover it).
    public var category: String?
    /// How many records were returned.
    public var records: Int
    /// `hash` of the entry before (64 zeros for the first).
    public var prev: String
    /// SHA-256 over `prev` and every field above (each length-prefixed), hex.
    public var hash: String

    public init(seq: Int, time: String, who: String, action: String, query: String, purpose: String, category: String? = nil,
                records: Int, prev: String, hash: String) {
        self.category = category
        self.seq = seq
        self.time = time
        self.who = who
        self.action = action
        self.query = query
        self.purpose = purpose
        self.records = records
        self.prev = prev
        self.hash = hash
    }

    /// The hash this entry should carry, from its fields.
    public var computedHash: String {
        var message: [UInt8] = []
        for field in [prev, String(seq), time, who, action, query, purpose, String(records)] + (category.map { ["category", $0] } ?? []) {
            let bytes = Array(field.utf8)
            message += Array("\(bytes.count):".utf8)
            message += bytes
        }
        return hexString(Digest.sha256(message))
    }

    public static let genesis = String(repeating: "0", count: 64)

    /// Who read, as a role without a name, for public counts: a store reader's token, a store
    /// administrator, or an operator on the unit.
    public var role: String {
        if who.hasPrefix("reader:") { return "store reader" }
        if who.hasPrefix("admin:") { return "store administrator" }
        return "unit operator"
    }

    /// The entry that follows `last` (nil: the first), hashed: the one way entries are made, for
    /// the unit's file and the store's table alike.
    public static func next(after last: AuditEntry?, who: String, action: String, query: String, purpose: String, category: String? = nil,
                            records: Int, now: Date) throws(AuditError) -> AuditEntry {
        try AuditLog.checkPurpose(purpose)
        guard query.count <= AuditLog.maxQueryLength else { throw .invalid("the query is longer than \(AuditLog.maxQueryLength) characters") }
        var entry = AuditEntry(
            seq: (last?.seq ?? 0) + 1, time: ISO8601.format(unixNanoseconds: Int64(now.timeIntervalSince1970 * 1e9)),
            who: String(who.prefix(200)), action: String(action.prefix(100)), query: query, purpose: purpose, category: category,
            records: max(0, records), prev: last?.hash ?? AuditEntry.genesis, hash: "")
        entry.hash = entry.computedHash
        return entry
    }

    /// Checks that `entries`, in order, are a whole chain from the first entry (see `AuditChain`).
    public static func checkChain(_ entries: some Sequence<AuditEntry>) throws(AuditError) {
        var chain = AuditChain()
        for entry in entries { try chain.append(entry) }
    }
}

/// Checks a trail entry by entry, as it is read: numbered 1, 2, …, each linked to the hash of the
/// one before and matching its own hash. The first entry that does not is named by its place
/// (1-based) in `AuditError.broken`.
public struct AuditChain: Sendable {
    public private(set) var count = 0
    /// The hash of the last entry checked (the genesis before any).
    public private(set) var head = AuditEntry.genesis

    public init() {}

    public mutating func append(_ entry: AuditEntry) throws(AuditError) {
        let n = count + 1
        guard entry.seq == n else { throw .broken(line: n, reason: "sequence number \(entry.seq) where \(n) was expected (an entry was removed or inserted)") }
        guard entry.prev == head else {
            throw .broken(line: n, reason: "its link to entry \(n - 1) does not match (entry \(n - 1) was altered, or entries were removed before this one)")
        }
        guard entry.hash == entry.computedHash else { throw .broken(line: n, reason: "its content does not match its hash (the entry was altered)") }
        head = entry.hash
        count = n
    }
}

/// What goes wrong with the audit log: the call that failed and its errno, or the entry that is
/// malformed or whose chain is broken.
public enum AuditError: Error, Sendable, Equatable, CustomStringConvertible {
    case system(path: String, call: String, errno: Int32)
    case invalid(String)
    /// The chain breaks at entry `seq` (line `line`); entries before it verify.
    case broken(line: Int, reason: String)

    public var description: String {
        switch self {
        case let .system(path, call, code): "\(call)(\(path)) failed: \(String(cString: strerror(code))) (errno \(code))"
        case let .invalid(message): message
        case let .broken(line, reason): "audit log broken at entry \(line): \(reason)"
        }
    }
}

/// The append-only, tamper-evident audit trail: one JSON object per line, each carrying the hash
/// of the one before, so that changing, inserting or removing an entry breaks the chain at that
/// entry (`verify` names it). Appends take an exclusive `flock`, read the last entry, and write
/// the new line with one `write` on an `O_APPEND` descriptor, then `fsync`: concurrent tools
/// never interleave, and an entry that `append` returned is on disk. The file is created mode
/// 0600. Cutting entries off the end leaves a valid shorter chain; each append therefore also
/// returns the new head (count and hash) for the caller to log elsewhere (the system journal).
public struct AuditLog: Sendable {
    public let path: String
    /// A log larger than this is not read whole (`verify` refuses it; appends read only the tail).
    public static let maxFileBytes = 1 << 30
    /// A field longer than these is refused (purpose, query) or cut (who, action).
    public static let maxPurposeLength = 500
    public static let maxQueryLength = 2000

    public init(path: String) {
        self.path = path
    }

    /// Checks `purpose` as `append` will: 3 to 500 characters, not only spaces, no control characters.
    public static func checkPurpose(_ purpose: String) throws(AuditError) {
        let trimmed = purpose.trimmingCharacters(in: .whitespaces)
        guard trimmed.count >= 3, purpose.count <= maxPurposeLength,
              !purpose.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw .invalid("a purpose must be 3 to \(maxPurposeLength) characters of text without control characters (say why the data is read: a case number, a request)")
        }
    }

    /// Appends one entry and returns it (with its hash, the log's new head).
    @discardableResult
    public func append(who: String, action: String, query: String, purpose: String, category: String? = nil, records: Int,
                       now: Date = Date()) throws(AuditError) -> AuditEntry {
        try Self.checkPurpose(purpose)  // before the file is made
        let fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .system(path: path, call: "open", errno: errno) }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw .system(path: path, call: "flock", errno: errno) }
        let entry = try AuditEntry.next(after: try lastEntry(fd), who: who, action: action, query: query, purpose: purpose, category: category,
                                        records: records, now: now)
        let line: [UInt8]
        do {
            line = Array(try Self.encoder.encode(entry)) + [0x0A]
        } catch {
            throw .invalid("cannot encode the entry: \(error)")
        }
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count else { throw .system(path: path, call: "write", errno: written < 0 ? errno : EIO) }
        guard fsync(fd) == 0 else { throw .system(path: path, call: "fsync", errno: errno) }
        return entry
    }

    /// Reads the whole log (read-only) and checks every entry's own hash and its link to the one
    /// before. Returns the entries when the chain holds; throws `.broken` naming the first entry
    /// (1-based line) that does not.
    public func verify() throws(AuditError) -> [AuditEntry] {
        let bytes: [UInt8]
        do {
            bytes = try BoundedFile.read(path, limit: Self.maxFileBytes)
        } catch {
            if case let .system(call, code) = error.reason { throw .system(path: path, call: call, errno: code) }
            throw .invalid("\(error)")
        }
        var entries: [AuditEntry] = []
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        for (i, line) in lines.enumerated() {
            guard let entry = try? Self.decoder.decode(AuditEntry.self, from: Data(line)) else {
                // The entries before it may still be broken: report the first break of all.
                try AuditEntry.checkChain(entries)
                throw .broken(line: i + 1, reason: "not an audit entry (malformed JSON or missing fields)")
            }
            entries.append(entry)
        }
        try AuditEntry.checkChain(entries)
        return entries
    }

    /// The last entry of the open log, read from its tail (an entry is at most a few KiB).
    private func lastEntry(_ fd: Int32) throws(AuditError) -> AuditEntry? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .system(path: path, call: "fstat", errno: errno) }
        let size = Int(st.st_size)
        guard size > 0 else { return nil }
        let tail = min(size, 16 * 1024)
        var buffer = [UInt8](repeating: 0, count: tail)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, tail, off_t(size - tail)) }
        guard n == tail else { throw .system(path: path, call: "pread", errno: n < 0 ? errno : EIO) }
        guard buffer.last == 0x0A else {
            throw .invalid("\(path) does not end with a complete entry (a torn write?); nothing was appended: run `platekeeper audit verify`")
        }
        let body = buffer.dropLast()
        let start = body.lastIndex(of: 0x0A).map { $0 + 1 } ?? body.startIndex
        guard start > body.startIndex || tail == size else { throw .invalid("the last entry of \(path) is longer than 16 KiB") }
        guard let entry = try? Self.decoder.decode(AuditEntry.self, from: Data(body[start...])), entry.hash == entry.computedHash else {
            throw .invalid("the last entry of \(path) is damaged; nothing was appended: run `platekeeper audit verify`")
        }
        return entry
    }

    /// The Unix user running this process, with the user behind `sudo` when there is one.
    public static func currentUser() -> String {
        let uid = getuid()
        var name = "uid \(uid)"
        if let pw = getpwuid(uid), let n = pw.pointee.pw_name { name = "\(String(cString: n)) (uid \(uid))" }
        if let sudo = ProcessInfo.processInfo.environment["SUDO_USER"], !sudo.isEmpty, uid == 0 {
            name += " via sudo by \(sudo.prefix(64))"
        }
        return name
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()
    static let decoder = JSONDecoder()
}
