public import Foundation
public import PlateKeeperCore
import GRDB
import Synchronization
import WireFormat

#if canImport(Glibc)
import Glibc
#endif

/// The unit's durable record of read events: one SQLite file in WAL mode, owned by this type.
///
/// Durability: `synchronous = FULL` in WAL mode, so every commit fsyncs the write-ahead log before
/// `append` returns; a read whose append returned survives a crash or a power cut (with `NORMAL`,
/// the last commits before a power cut could be lost). Bounded size: the database file, its WAL and
/// its shared-memory index stay under `quotaBytes`; rows already uploaded are evicted first, oldest
/// first, and then `whenFull` decides. Privacy: `secure_delete` zeroes deleted rows, retention
/// deletes old rows whether uploaded or not, and a checkpoint empties the WAL afterwards, so expired
/// plate text does not linger on disk. A file that is not a journal is moved aside, never
/// overwritten; a journal of an older schema is migrated in place, one of a newer schema refused.
///
/// GRDB rather than the C API: it owns the connection pool (one writer, concurrent WAL readers for
/// status and export), transactions and typed rows, which is the part of SQLite's C API that is
/// easiest to get wrong.
public final class Journal: Sendable {
    /// `PRAGMA application_id`: "PKJN".
    public static let applicationID: Int32 = 0x504B_4A4E
    /// `PRAGMA user_version` of the schema this build writes. Older journals are migrated in place
    /// when the daemon opens them (`JournalSchema`); a newer one is refused and left untouched.
    public static let schemaVersion = JournalSchema.version

    public let settings: JournalSettings
    /// Where an unusable file found at `settings.path` was moved, with the reason, if that happened on open.
    public let quarantined: (path: String, reason: String)?
    private let pool: DatabasePool
    private let pageSize: Int64
    /// The owner's lock on the journal (nil for read-only tools).
    private let lock: JournalLock?
    /// Whether the WAL may still hold pages of rows retention deleted (a reader kept the last
    /// checkpoint from completing, or the journal was just opened), since when, and the longest
    /// such stay this run (monotonic seconds). Retention retries the checkpoint until it completes.
    private let expiredInWAL = Mutex<(since: Double?, longest: Double)>((nil, 0))

    /// How a journal is opened.
    public enum OpenMode: Sendable {
        /// The daemon: create the file if missing, move an unusable one aside and start anew.
        case owner
        /// Tools (`journal stats`, `export`): the file must exist and be usable; nothing is changed.
        case inspect
    }

    /// Opens the journal at `settings.path`, creating it (mode 0600) if needed and migrating an older
    /// schema in place. A file that is not a PlateKeeper journal or fails SQLite's quick check is
    /// renamed to `NAME.quarantined-TIMESTAMP` (with its WAL) and a new journal is started.
    public init(settings: JournalSettings, mode: OpenMode = .owner) throws(JournalError) {
        guard settings.quotaBytes >= JournalSettings.minimumQuotaBytes else {
            throw .invalidSettings("quota \(settings.quotaBytes) bytes is below the minimum of \(JournalSettings.minimumQuotaBytes)")
        }
        self.settings = settings
        let path = settings.path
        let folder = Paths.folder(of: path)
        var moved: (String, String)?
        // Where read-only tools open the file (nil for the daemon).
        let readOnly: String?
        if mode == .inspect {
            // Read-only tools create nothing and change nothing.
            lock = nil
            guard FileManager.default.fileExists(atPath: path) else { throw .cannotOpen(path: path, reason: "no journal file") }
            let location = Self.readOnlyLocation(path)
            if let problem = try Self.problem(withFileAt: path, readOnlyAt: location) { throw .cannotOpen(path: path, reason: problem) }
            readOnly = location
        } else {
            if !folder.isEmpty, !FileManager.default.fileExists(atPath: folder) {
                do {
                    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                } catch {
                    throw .cannotOpen(path: path, reason: "cannot create folder \(folder): \(error.localizedDescription)")
                }
            }
            // Before anything else of the journal is touched: a second daemon stops here.
            lock = try JournalLock.acquire(forJournal: path)
            readOnly = nil
            if let problem = try Self.problem(withFileAt: path) {
                moved = (try Self.quarantine(path, reason: problem), problem)
            }
        }
        quarantined = moved
        if mode == .owner {
            try Self.createFileIfMissing(path)
            // After a crash the WAL may hold what the last retention deleted: checkpoint at the first run.
            expiredInWAL.withLock { $0.since = Clocks.monotonicSeconds() }
        }
        do {
            pool = if let readOnly {
                try DatabasePool(path: readOnly, configuration: Self.readOnlyConfiguration())
            } else {
                try DatabasePool(path: path, configuration: Self.configuration(settings))
            }
            // GRDB sets synchronous = NORMAL with WAL; a read must survive a power cut, so FULL.
            if mode == .owner {
                let level = settings.synchronous.rawValue
                try pool.writeWithoutTransaction { db in
                    try db.execute(sql: "PRAGMA synchronous = \(level)")
                }
                try JournalSchema.migrator.migrate(pool)
            }
            pageSize = try pool.read { db in try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 4096 }
        } catch {
            throw .cannotOpen(path: path, reason: String(describing: error))
        }
    }

    /// Closes the database at a clean stop: the last connection checkpoints the WAL into the file
    /// and removes the WAL and shared-memory files, so the journal is one file that read-only
    /// tools open without changing anything. Nothing can be read or written afterwards.
    /// Throws when a connection cannot be closed (a statement still open): the WAL then stays, as
    /// after a crash, and every commit in it is durable.
    public func close() throws(JournalError) {
        // Folded in first, so that even if SQLite keeps the WAL file it is empty.
        try checkpoint()
        do {
            try pool.close()
        } catch {
            throw .sqlite(path: settings.path, operation: "close", message: "\(error)")
        }
    }

    // MARK: Writing

    /// What happened to an appended event.
    public enum AppendOutcome: Sendable, Equatable {
        /// Committed and durable. `evictedUploaded` uploaded rows and `droppedPending` un-uploaded
        /// rows were deleted to make room.
        case stored(evictedUploaded: Int, droppedPending: Int)
        /// Not stored: the journal is full of un-uploaded reads and the policy is `stop-accepting`.
        case rejected
    }

    /// Commits `event`. When this returns `.stored`, the event is on disk (WAL fsynced).
    public func append(_ event: ReadEvent, journaledAt: Date = Date()) async throws(JournalError) -> AppendOutcome {
        let settings = self.settings, pageSize = self.pageSize
        return try await writing("append") { db in
            try Self.append(event, journaledAt: journaledAt, settings: settings, pageSize: pageSize, db: db)
        }
    }

    /// The blocking form of `append`, for tools and tests.
    public func appendNow(_ event: ReadEvent, journaledAt: Date = Date()) throws(JournalError) -> AppendOutcome {
        let settings = self.settings, pageSize = self.pageSize
        return try writingNow("append") { db in
            try Self.append(event, journaledAt: journaledAt, settings: settings, pageSize: pageSize, db: db)
        }
    }

    /// Applies the retention rules: reads that matched no hotlist are deleted once journaled longer
    /// ago than `retentionSeconds`, hits once longer ago than `hitRetentionSeconds`, uploaded or
    /// not. Each rule that deleted rows appends to the deletion log (when, rule, rows, the time
    /// range they covered; never a plate), in the same transaction; then a checkpoint, so the WAL
    /// no longer holds their pages (`secure_delete` has zeroed them in the file). Returns how many
    /// rows were deleted.
    @discardableResult
    public func applyRetention(now: Date = Date()) async throws(JournalError) -> Int {
        let rules: [(name: String, age: Double?, hits: Bool)] = [
            ("reads", settings.retentionSeconds, false), ("hits", settings.hitRetentionSeconds, true),
        ]
        let nowNs = Self.nanoseconds(now)
        let deleted = try await writing("retention") { db in
            var total = 0
            for rule in rules {
                guard let age = rule.age else { continue }
                let cutoff = nowNs - Int64(min(age, 1e11) * 1e9)
                let condition = "journaled_ns < ? AND hotlist IS \(rule.hits ? "NOT NULL" : "NULL")"
                let range = try Row.fetchOne(
                    db, sql: "SELECT count(*) AS n, min(first_seen_ns) AS lo, max(last_seen_ns) AS hi FROM read_event WHERE \(condition)",
                    arguments: [cutoff])
                let n: Int = try range?.decode(forColumn: "n") ?? 0
                guard n > 0 else { continue }
                try db.execute(sql: "DELETE FROM read_event WHERE \(condition)", arguments: [cutoff])
                let rows = db.changesCount
                try db.execute(
                    sql: "INSERT INTO deletion_log (at_ns, rule, max_age_s, rows, first_seen_from_ns, last_seen_to_ns) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [nowNs, rule.name, age, rows, try range?.decode(forColumn: "lo") as Int64?,
                                try range?.decode(forColumn: "hi") as Int64?])
                try Self.bump("expired", by: rows, db)
                total += rows
            }
            return total
        }
        if deleted > 0 { expiredInWAL.withLock { $0.since = $0.since ?? Clocks.monotonicSeconds() } }
        if expiredInWAL.withLock({ $0.since != nil }), try checkpoint() {
            expiredInWAL.withLock { state in
                if let since = state.since { state.longest = max(state.longest, Clocks.monotonicSeconds() - since) }
                state.since = nil
            }
        }
        try deleteExpiredQuarantinedFiles(now: now)
        return deleted
    }

    /// How long the WAL has held pages of rows retention deleted (nil: it holds none), and the
    /// longest such stay this run, seconds. Nonzero when a reader held a transaction open across a
    /// retention run; retention then retries each time it runs (the daemon: every 2 seconds).
    public var expiredPagesInWAL: (current: Double?, longest: Double) {
        expiredInWAL.withLock { state in (state.since.map { Clocks.monotonicSeconds() - $0 }, state.longest) }
    }

    /// Files this journal moved aside as unusable (`NAME.quarantined-STAMP`, with their WAL) fall
    /// under retention too: once the longest retention rule has passed since the move, every read
    /// they can hold is past its age, and they are deleted (a line in the deletion log says so).
    /// Nothing is deleted while either rule keeps reads until the quota needs room.
    private func deleteExpiredQuarantinedFiles(now: Date) throws(JournalError) {
        guard let reads = settings.retentionSeconds, let hits = settings.hitRetentionSeconds, lock != nil else { return }
        let age = max(reads, hits)
        let folder = Paths.folder(of: settings.path), name = Paths.lastComponent(of: settings.path)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.isEmpty ? "." : folder)) ?? []
        for file in names {
            guard let movedAt = Self.quarantineTime(file, journal: name), now.timeIntervalSince(movedAt) > age else { continue }
            let path = folder.isEmpty ? file : folder + "/" + file
            for suffix in ["-wal", "-shm", ""] where FileManager.default.fileExists(atPath: path + suffix) {
                guard unlink(path + suffix) == 0 else {
                    throw .sqlite(path: path + suffix, operation: "delete a quarantined file past retention",
                                  message: "\(String(cString: strerror(errno))) (errno \(errno))")
                }
            }
            let nowNs = Self.nanoseconds(now)
            try writingNow("log a quarantined file's deletion") { db in
                try db.execute(sql: "INSERT INTO deletion_log (at_ns, rule, max_age_s, rows) VALUES (?, 'quarantined-file', ?, 0)",
                               arguments: [nowNs, age])
            }
        }
    }

    /// When the file `name` was moved aside, if it is one of this journal's quarantined files
    /// (`JOURNAL.quarantined-20261208T013000.123Z`, with an optional `-N`; not its `-wal` or `-shm`).
    static func quarantineTime(_ name: String, journal: String) -> Date? {
        let prefix = journal + ".quarantined-"
        guard name.hasPrefix(prefix), !name.hasSuffix("-wal"), !name.hasSuffix("-shm") else { return nil }
        let stamp = name.dropFirst(prefix.count).prefix { $0 != "-" }
        // 20261208T013000.123Z → 2026-12-08T01:30:00.123Z
        let c = Array(stamp)
        guard c.count >= 16, c[8] == "T" else { return nil }
        let text = String(c[0..<4]) + "-" + String(c[4..<6]) + "-" + String(c[6..<8]) + "T" + String(c[9..<11]) + ":"
            + String(c[11..<13]) + ":" + String(c[13...])
        return ISO8601.parse(text).map { Date(timeIntervalSince1970: Double($0) / 1e9) }
    }

    /// Counts a read that was seen and dropped without being written (hotlist-only mode: it
    /// matched no hotlist). Only the counts are kept: the total and the day's, per camera.
    public func countNotKept(camera: CameraID, seen: CaptureTime) async throws(JournalError) {
        try await writing("count not kept") { db in
            try Self.bump("not_kept", by: 1, db)
            try Self.countDaily(camera: camera, seen: seen, column: "not_kept", db)
        }
    }

    /// Reads, hits and reads not kept per UTC day (of first sight) and camera, oldest day first:
    /// numbers that outlive the rows, for the transparency report.
    public func dailyCounts() throws(JournalError) -> [DailyCount] {
        try readingNow("daily counts") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM daily_count ORDER BY day, camera").map { row in
                DailyCount(day: try row.decode(forColumn: "day"), camera: try row.decode(forColumn: "camera"),
                           reads: try row.decode(forColumn: "reads"), hits: try row.decode(forColumn: "hits"),
                           notKept: try row.decode(forColumn: "not_kept"))
            }
        }
    }

    private static func countDaily(camera: CameraID, seen: CaptureTime, column: String, _ db: Database) throws {
        let day = String(ISO8601.format(unixNanoseconds: seen.unixNanoseconds).prefix(10))
        try db.execute(
            sql: "INSERT INTO daily_count(day, camera, \(column)) VALUES (?, ?, 1) ON CONFLICT(day, camera) DO UPDATE SET \(column) = \(column) + 1",
            arguments: [day, camera.rawValue])
    }

    /// The deletion log, oldest first.
    public func deletionLog() throws(JournalError) -> [DeletionRecord] {
        try readingNow("deletion log") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM deletion_log ORDER BY seq").map { row in
                DeletionRecord(
                    at: try row.decode(forColumn: "at_ns"), rule: try row.decode(forColumn: "rule"),
                    maxAgeSeconds: try row.decode(forColumn: "max_age_s"), rows: try row.decode(forColumn: "rows"),
                    firstSeenFrom: try row.decode(forColumn: "first_seen_from_ns"), lastSeenTo: try row.decode(forColumn: "last_seen_to_ns"))
            }
        }
    }

    /// Marks events as uploaded (the store acknowledged them by id): they become the first to go
    /// when space is needed. Ids no longer in the journal (expired meanwhile) are ignored. Returns
    /// how many rows changed.
    @discardableResult
    public func markUploaded(_ ids: [UUID], at date: Date = Date()) async throws(JournalError) -> Int {
        let ns = Self.nanoseconds(date)
        return try await writing("mark uploaded") { db in
            var changed = 0
            for id in ids {
                try db.execute(
                    sql: "UPDATE read_event SET upload_state = 'uploaded', uploaded_ns = ?, upload_error = NULL WHERE id = ? AND upload_state != 'uploaded'",
                    arguments: [ns, id.uuidString.lowercased()])
                changed += db.changesCount
            }
            return changed
        }
    }

    /// Counts a failed attempt for each of `ids` and keeps the reason; they stay pending.
    public func recordUploadFailure(_ ids: [UUID], reason: String) async throws(JournalError) {
        let text = String(reason.prefix(500))
        try await writing("record upload failure") { db in
            for id in ids {
                try db.execute(
                    sql: "UPDATE read_event SET upload_attempts = upload_attempts + 1, upload_error = ? WHERE id = ? AND upload_state = 'pending'",
                    arguments: [text, id.uuidString.lowercased()])
            }
        }
    }

    /// Parks a read the store refused for good (a dead letter): it leaves the upload queue, keeps its
    /// reason, stays in the journal under retention, and shows in status and `journal export`.
    public func markDead(_ id: UUID, reason: String) async throws(JournalError) {
        let text = String(reason.prefix(500))
        try await writing("mark dead letter") { db in
            try db.execute(
                sql: "UPDATE read_event SET upload_state = 'dead', upload_error = ?, upload_attempts = upload_attempts + 1 WHERE id = ? AND upload_state = 'pending'",
                arguments: [text, id.uuidString.lowercased()])
            if db.changesCount > 0 { try Self.bump("dead_letters", by: 1, db) }
        }
    }

    /// Writes the WAL back into the database file and truncates it. Returns false when it could not
    /// complete (a reader still uses frames of the WAL): those frames stay until a later checkpoint.
    @discardableResult
    public func checkpoint() throws(JournalError) -> Bool {
        try writingNow("checkpoint") { db in
            // TRUNCATE waits for readers through the busy handler: briefly, so that a reader holding
            // a transaction does not stall appends for the whole busy timeout; the caller retries.
            try db.execute(sql: "PRAGMA busy_timeout = 200")
            defer { try? db.execute(sql: "PRAGMA busy_timeout = 10000") }
            // One row: busy (1 when a reader kept it from completing), WAL frames, frames checkpointed.
            let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            let busy: Int = try row?.decode(atIndex: 0) ?? 1
            return busy == 0
        }
    }

    // MARK: Reading

    /// Counts and sizes, for `journal stats` and the status document.
    public func stats() throws(JournalError) -> JournalStats {
        let quota = settings.quotaBytes, path = settings.path, wal = expiredPagesInWAL
        return try readingNow("stats") { db in
            let rows = try Int.fetchOne(db, sql: "SELECT count(*) FROM read_event") ?? 0
            let pending = try Int.fetchOne(db, sql: "SELECT count(*) FROM read_event WHERE upload_state = 'pending'") ?? 0
            let dead = try Int.fetchOne(db, sql: "SELECT count(*) FROM read_event WHERE upload_state = 'dead'") ?? 0
            let oldestPending = try Int64.fetchOne(db, sql: "SELECT min(first_seen_ns) FROM read_event WHERE upload_state = 'pending'")
            let oldestPendingJournaled = try Int64.fetchOne(db, sql: "SELECT min(journaled_ns) FROM read_event WHERE upload_state = 'pending'")
            let oldest = try Int64.fetchOne(db, sql: "SELECT min(first_seen_ns) FROM read_event")
            let newest = try Int64.fetchOne(db, sql: "SELECT max(last_seen_ns) FROM read_event")
            let hits = try Int.fetchOne(db, sql: "SELECT count(*) FROM read_event WHERE hotlist IS NOT NULL") ?? 0
            let oldestJournaled = try Int64.fetchOne(db, sql: "SELECT min(journaled_ns) FROM read_event")
            var counters: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT name, value FROM counter") {
                counters[try row.decode(forColumn: "name")] = try row.decode(forColumn: "value")
            }
            return JournalStats(
                path: path, rows: rows, pending: pending, bytesOnDisk: Self.bytesOnDisk(path), quotaBytes: quota,
                oldestPending: oldestPending, oldest: oldest, newest: newest,
                droppedFull: counters["dropped_full", default: 0], evictedUploaded: counters["evicted_uploaded", default: 0],
                expired: counters["expired", default: 0], schemaVersion: Self.schemaVersion, deadLetters: dead,
                oldestPendingJournaled: oldestPendingJournaled, hits: hits, notKept: counters["not_kept", default: 0],
                oldestJournaled: oldestJournaled, expiredInWalSeconds: wal.current, expiredInWalLongestSeconds: wal.longest
            )
        }
    }

    /// Hits held now, per hotlist: for the transparency report, which needs no key. Only the hit
    /// column is read; a sealed hit's list is opened when the key file is at hand, and counted
    /// under "(sealed)" when it is not.
    public func hitsHeldPerList() throws(JournalError) -> [String: Int] {
        let keyring = settings.keyring
        return try readingNow("hits per list") { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, hotlist, key_id FROM read_event WHERE hotlist IS NOT NULL") {
                var text: String = try row.decode(forColumn: "hotlist")
                if text.hasPrefix("sealed:") {
                    let id: String = try row.decode(forColumn: "id")
                    guard let keyring, let keyID = try row.decode(forColumn: "key_id") as String?,
                          let box = Data(base64Encoded: String(text.dropFirst(7))),
                          let opened = try? keyring.open(Array(box), id: keyID, context: id + "/hit")
                    else {
                        counts["(sealed)", default: 0] += 1
                        continue
                    }
                    text = String(decoding: opened, as: UTF8.self)
                }
                let list = (try? WireCoding.decode(WireReadEvent.Hit.self, from: Data(text.utf8)))?.list ?? "(unreadable)"
                counts[list, default: 0] += 1
            }
            return counts
        }
    }

    /// Events in journal order, optionally only those last seen at or after `since` (Unix ns).
    public func events(since: Int64? = nil, includeCrops: Bool = false) throws(JournalError) -> [StoredEvent] {
        let keyring = settings.keyring
        return try readingNow("export") { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM read_event WHERE last_seen_ns >= ? ORDER BY seq", arguments: [since ?? Int64.min])
            return try rows.map { try StoredEvent(row: $0, includeCrop: includeCrops, keyring: keyring) }
        }
    }

    /// The events waiting for upload, hits (a hotlist match) first, then oldest first (for the upload stage).
    public func pending(limit: Int) throws(JournalError) -> [StoredEvent] {
        let keyring = settings.keyring
        return try readingNow("pending") { db in try Self.pending(limit: limit, keyring: keyring, db) }
    }

    /// `pending(limit:)` without blocking the caller's thread (for the uploader).
    public func pendingBatch(limit: Int) async throws(JournalError) -> [StoredEvent] {
        do {
            let keyring = settings.keyring
            return try await pool.read { db in try Self.pending(limit: limit, keyring: keyring, db) }
        } catch {
            throw .sqlite(path: settings.path, operation: "pending", message: String(describing: error))
        }
    }

    private static func pending(limit: Int, keyring: JournalKeyring?, _ db: Database) throws -> [StoredEvent] {
        try Row.fetchAll(
            db, sql: "SELECT * FROM read_event WHERE upload_state = 'pending' ORDER BY hotlist IS NULL, seq LIMIT ?",
            arguments: [max(0, limit)]
        ).map { try StoredEvent(row: $0, includeCrop: true, keyring: keyring) }
    }

    /// The `PRAGMA synchronous` level of the writer connection (2 = FULL).
    public func synchronousLevel() throws(JournalError) -> Int {
        try writingNow("synchronous") { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    /// Database, WAL and shared-memory file sizes together.
    public static func bytesOnDisk(_ path: String) -> Int64 {
        [path, path + "-wal", path + "-shm"].reduce(0) { sum, p in
            sum + ((try? FileManager.default.attributesOfItem(atPath: p)[.size] as? NSNumber)?.int64Value ?? 0)
        }
    }

    // MARK: Internals

    private static func configuration(_ settings: JournalSettings) -> Configuration {
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.label = "journal"
        let walPages = max(8, settings.walAllowanceBytes / 4096 / 3)
        let walLimit = settings.walAllowanceBytes
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA secure_delete = ON")
            if !db.configuration.readonly {
                try db.execute(sql: "PRAGMA journal_size_limit = \(walLimit)")
                try db.execute(sql: "PRAGMA wal_autocheckpoint = \(walPages)")
            }
        }
        return config
    }

    private static func append(
        _ event: ReadEvent, journaledAt: Date, settings: JournalSettings, pageSize: Int64, db: Database
    ) throws -> AppendOutcome {
        let crop = settings.keepCrops ? event.crop : nil
        let wire = WireReadEvent(event, includeCrop: false)
        let candidates = String(decoding: try WireCoding.encode(wire.candidates), as: UTF8.self)
        let position = try wire.position.map { String(decoding: try WireCoding.encode($0), as: UTF8.self) }
        let positionStatus = try wire.positionStatus.map { String(decoding: try WireCoding.encode($0), as: UTF8.self) }
        let clock = try wire.clock.map { String(decoding: try WireCoding.encode($0), as: UTF8.self) }
        var hit = try wire.hit.map { String(decoding: try WireCoding.encode($0), as: UTF8.self) }
        // Sealed at rest: plate text, candidates, position, crop and hit go into AES-GCM boxes
        // bound to the read's id; the clear columns keep nothing of them.
        var plate = event.plate, candidatesColumn = candidates, positionColumn = position
        var latitude = event.position?.latitude, longitude = event.position?.longitude
        var cropColumn = crop.map { Data($0) }
        var sealed: Data?, keyID: String?
        if let ring = settings.keyring {
            let id = event.id.uuidString.lowercased()
            let fields = SealedFields(plate: event.plate, candidates: wire.candidates, position: wire.position)
            sealed = Data(try ring.seal(Array(try WireCoding.encode(fields)), context: id + "/fields"))
            cropColumn = try crop.map { Data(try ring.seal($0, context: id + "/crop")) }
            hit = try hit.map { "sealed:" + Data(try ring.seal(Array($0.utf8), context: id + "/hit")).base64EncodedString() }
            (plate, candidatesColumn, positionColumn, latitude, longitude, keyID) = ("", "[]", nil, nil, nil, ring.current)
        }
        // Pages this row may need: its bytes spread over pages, plus index and counter pages.
        let rowBytes = Int64((cropColumn?.count ?? 0) + candidatesColumn.utf8.count + (positionColumn?.utf8.count ?? 0) + (sealed?.count ?? 0) + 600)
        let need = (rowBytes + pageSize - 101) / (pageSize - 100) + 3
        let budget = settings.budgetPages(pageSize: pageSize)
        var evicted = 0, dropped = 0
        while try usedPages(db) + need > budget {
            if let seq = try Int64.fetchOne(db, sql: "SELECT seq FROM read_event WHERE upload_state = 'uploaded' ORDER BY seq LIMIT 1") {
                try db.execute(sql: "DELETE FROM read_event WHERE seq = ?", arguments: [seq])
                evicted += 1
            } else if settings.whenFull == .dropOldest,
                      let seq = try Int64.fetchOne(db, sql: "SELECT seq FROM read_event ORDER BY seq LIMIT 1") {
                try db.execute(sql: "DELETE FROM read_event WHERE seq = ?", arguments: [seq])
                dropped += 1
            } else {
                if evicted > 0 { try bump("evicted_uploaded", by: evicted, db) }
                try bump("dropped_full", by: 1, db)
                return .rejected
            }
        }
        try db.execute(
            sql: """
                INSERT INTO read_event (id, kind, camera, plate, confidence, region, candidates, box_x, box_y, box_w, box_h,
                    first_seen_ns, last_seen_ns, best_seen_ns, clock_quality, frame_count, best_frame, latitude, longitude, position,
                    position_status, clock, crop, journaled_ns, hotlist, sealed, key_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                event.id.uuidString.lowercased(), event.kind.rawValue, event.camera.rawValue, plate, event.confidence,
                event.region, candidatesColumn, event.box.x, event.box.y, event.box.width, event.box.height,
                event.firstSeen.unixNanoseconds, event.lastSeen.unixNanoseconds, event.bestSeen.unixNanoseconds,
                event.firstSeen.quality.rawValue,
                event.frameCount, event.bestFrame, latitude, longitude, positionColumn,
                positionStatus, clock, cropColumn, nanoseconds(journaledAt), hit, sealed, keyID,
            ])
        if evicted > 0 { try bump("evicted_uploaded", by: evicted, db) }
        if dropped > 0 { try bump("dropped_full", by: dropped, db) }
        if event.kind == .vehicle {
            try countDaily(camera: event.camera, seen: event.firstSeen, column: "reads", db)
            if event.hit != nil { try countDaily(camera: event.camera, seen: event.firstSeen, column: "hits", db) }
        }
        return .stored(evictedUploaded: evicted, droppedPending: dropped)
    }

    private static func usedPages(_ db: Database) throws -> Int64 {
        let pages = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
        let free = try Int64.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
        return pages - free
    }

    private static func bump(_ name: String, by n: Int, _ db: Database) throws {
        try db.execute(
            sql: "INSERT INTO counter(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            arguments: [name, n])
    }

    static func nanoseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1e9).rounded()) }

    private func writing<T: Sendable>(_ operation: String, _ body: @escaping @Sendable (Database) throws -> T) async throws(JournalError) -> T {
        do {
            return try await pool.write(body)
        } catch {
            throw .sqlite(path: settings.path, operation: operation, message: String(describing: error))
        }
    }

    private func writingNow<T>(_ operation: String, _ body: (Database) throws -> T) throws(JournalError) -> T {
        do {
            return try pool.writeWithoutTransaction(body)
        } catch {
            throw .sqlite(path: settings.path, operation: operation, message: String(describing: error))
        }
    }

    private func readingNow<T>(_ operation: String, _ body: (Database) throws -> T) throws(JournalError) -> T {
        do {
            return try pool.read(body)
        } catch {
            throw .sqlite(path: settings.path, operation: operation, message: String(describing: error))
        }
    }

    // MARK: Opening safely

    /// Why the content of the file at `path` makes it unusable as our journal, or nil if it is
    /// usable (or does not exist).
    ///
    /// Throws instead when the file cannot be examined at all (permission denied, an I/O error,
    /// SQLite unable to open it): that says nothing about its content, so it must never lead to the
    /// file being moved aside. Without `readOnlyAt` (the daemon), the files the daemon writes (the
    /// journal, its WAL and shared-memory files, the folder for them) must be writable too; with
    /// it (the tools), the file is opened read-only at that location (`readOnlyLocation`).
    static func problem(withFileAt path: String, readOnlyAt location: String? = nil) throws(JournalError) -> String? {
        let writable = location == nil
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { return nil }
            throw accessError(path, call: "open", errno: code)
        }
        var header = [UInt8](repeating: 0, count: 100)
        let n = header.withUnsafeMutableBytes { read(fd, $0.baseAddress, 100) }
        let readErrno = errno
        Glibc.close(fd)
        guard n >= 0 else { throw accessError(path, call: "read", errno: readErrno) }
        if writable {
            let folder = Paths.folder(of: path)
            for p in [path, path + "-wal", path + "-shm", folder.isEmpty ? "." : folder] where access(p, F_OK) == 0 {
                if access(p, R_OK | W_OK) != 0 { throw accessError(p, call: "access", errno: errno) }
            }
        }
        if n == 0 { return nil }  // created but never written: nothing to lose
        guard n >= 16, header.prefix(16).elementsEqual("SQLite format 3\0".utf8) else {
            return "not an SQLite database (bad header)"
        }
        // Open it through SQLite, which replays a WAL left by a crash, then check what it is;
        // read-only tools open it read-only.
        do {
            var config = writable ? Configuration() : readOnlyConfiguration()
            config.busyMode = .timeout(10)
            let queue = try DatabaseQueue(path: location ?? path, configuration: config)
            defer { try? queue.close() }
            return try queue.read { db -> String? in
                let appID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
                let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                let tables = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") ?? 0
                if appID == 0, version == 0, tables == 0 { return nil }  // an empty database
                if appID != applicationID {
                    return appID == 0 ? "an SQLite database that is not a PlateKeeper journal"
                        : "an SQLite database of another application (application_id \(appID))"
                }
                if version > schemaVersion {
                    throw JournalError.cannotOpen(path: path, reason: "journal schema version \(version) is newer than this build's (\(schemaVersion)); "
                        + "the file was left untouched: run the build that wrote it, or a newer one")
                }
                if version < 1 { return "journal schema version \(version) is not one this build can migrate" }
                if version < schemaVersion, !writable {
                    throw JournalError.cannotOpen(path: path, reason: "journal schema version \(version): the daemon of this build migrates it "
                        + "to version \(schemaVersion) when it starts; read-only tools do not change it")
                }
                let check = try String.fetchAll(db, sql: "PRAGMA quick_check")
                return check == ["ok"] ? nil : "corrupt: " + check.prefix(3).joined(separator: "; ")
            }
        } catch let error as JournalError {
            throw error
        } catch let error as DatabaseError where [ResultCode.SQLITE_CORRUPT, .SQLITE_NOTADB].contains(error.resultCode) {
            return "corrupt: \(error.message ?? "\(error)")"
        } catch {
            // Busy, locked, read-only, out of memory, I/O: the file may be fine; leave it alone.
            throw .cannotOpen(path: path, reason: "SQLite cannot examine it (the file was left untouched): \(error)")
        }
    }

    /// How read-only tools open the journal. When no daemon holds it and no WAL is left over, the
    /// file is opened immutable (`?immutable=1`): SQLite then creates no WAL or shared-memory file
    /// and writes nothing. A live journal (or a WAL left by a crash) is opened read-only, which
    /// reads the WAL through the daemon's shared-memory file.
    static func readOnlyLocation(_ path: String) -> String {
        var st = stat()
        let walLeft = stat(path + "-wal", &st) == 0 && st.st_size > 0
        guard !walLeft, !JournalLock.isHeld(forJournal: path) else { return path }
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "?#%")
        let encoded = path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path
        return "file:\(encoded)?immutable=1"
    }

    static func readOnlyConfiguration() -> Configuration {
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(10)
        config.label = "journal (read-only)"
        return config
    }

    /// A journal file the process may not read or write: never corruption, never moved aside.
    static func accessError(_ path: String, call: String, errno code: Int32) -> JournalError {
        var reason = "\(call)(\(path)) failed: \(String(cString: strerror(code))) (errno \(code))"
        if code == EACCES || code == EPERM {
            var st = stat()
            let owner = stat(path, &st) == 0 ? "owned by uid \(st.st_uid) with mode \(String(st.st_mode & 0o7777, radix: 8))" : "not accessible"
            reason += "; it is \(owner) and this process runs as uid \(getuid()). "
                + "The file was left untouched: fix its ownership or permissions (chown, chmod), or the service's User="
        }
        return .cannotOpen(path: path, reason: reason)
    }

    /// Moves the journal and its WAL aside; returns the new name of the main file.
    static func quarantine(_ path: String, reason: String) throws(JournalError) -> String {
        let stamp = ISO8601.format(unixNanoseconds: nanoseconds(Date()))
            .replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "")
        var target = "\(path).quarantined-\(stamp)"
        var n = 1
        while FileManager.default.fileExists(atPath: target) {
            n += 1
            target = "\(path).quarantined-\(stamp)-\(n)"
        }
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
            guard rename(path + suffix, target + suffix) == 0 else {
                throw .cannotOpen(path: path, reason: "rename to \(target + suffix) failed: \(String(cString: strerror(errno))) (errno \(errno))")
            }
        }
        return target
    }

    private static func createFileIfMissing(_ path: String) throws(JournalError) {
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw .cannotOpen(path: path, reason: "open(O_CREAT) failed: \(String(cString: strerror(errno))) (errno \(errno))")
        }
        Glibc.close(fd)
    }
}
