import Foundation
import GRDB
import Journal
import PlateKeeperCore
import PlateKeeperTesting
import Testing

@Suite("Journal")
struct JournalTests {
    static func event(_ plate: String, at seconds: Double = 0, crop: Int = 2000) -> ReadEvent {
        let t = CaptureTime(unixNanoseconds: Int64(seconds * 1e9), quality: .synchronized)
        var bytes = [UInt8](repeating: 0, count: crop)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 31 &+ plate.count) }
        return ReadEvent(
            kind: .vehicle, camera: "lane-1", plate: plate, confidence: 91.5,
            candidates: [PlateCandidate(text: plate, confidence: 91.5, matchesFormat: true)], region: "us",
            box: PixelBox(x: 1, y: 2, width: 3, height: 4), firstSeen: t, lastSeen: t, frameCount: 3, bestFrame: "lane-1#7",
            position: GeoPosition(latitude: 52.1, longitude: 5.1, fix: .fixed, source: .fixed), crop: bytes)
    }

    static func open(_ dir: TemporaryDirectory, quota: Int64 = 64 << 20, policy: JournalSettings.FullPolicy = .dropOldest,
                     retention: Double? = nil) throws -> Journal {
        var settings = JournalSettings(path: dir.file("state/journal.sqlite"))
        settings.quotaBytes = quota
        settings.whenFull = policy
        settings.retentionSeconds = retention
        return try Journal(settings: settings)
    }

    @Test("an event reads back exactly, durably configured, in a private file")
    func roundTrip() async throws {
        let dir = try TemporaryDirectory()
        let journal = try Self.open(dir)
        let event = Self.event("ABC1234", at: 1_800_000_000.25)
        #expect(try await journal.append(event) == .stored(evictedUploaded: 0, droppedPending: 0))
        let back = try journal.events(includeCrops: true)
        #expect(back.count == 1)
        #expect(back[0].event == event)
        #expect(back[0].uploadState == "pending")
        #expect(try journal.synchronousLevel() == 2)  // FULL
        for suffix in ["", "-wal", "-shm"] {
            let mode = try FileManager.default.attributesOfItem(atPath: journal.settings.path + suffix)[.posixPermissions] as? Int
            #expect(mode == 0o600, "mode of journal.sqlite\(suffix)")
        }
        let stats = try journal.stats()
        #expect(stats.rows == 1 && stats.pending == 1)
        #expect(stats.oldestPending == event.firstSeen.unixNanoseconds)
    }

    @Test("events survive closing and reopening; ids stay unique")
    func reopen() async throws {
        let dir = try TemporaryDirectory()
        var ids: [UUID] = []
        do {
            let journal = try Self.open(dir)
            for i in 0..<20 {
                let e = Self.event("P\(i)")
                ids.append(e.id)
                _ = try await journal.append(e)
            }
            // The same id twice is refused, not duplicated.
            await #expect(throws: JournalError.self) { try await journal.append(Self.event("P0").withID(ids[0])) }
        }
        let again = try Self.open(dir)
        #expect(again.quarantined == nil)
        #expect(try again.events().map(\.event.id) == ids)
    }

    @Test("the quota holds for database and WAL together; uploaded rows go first, oldest first")
    func quotaEvictsUploadedFirst() async throws {
        let dir = try TemporaryDirectory()
        let quota: Int64 = 1 << 20
        let journal = try Self.open(dir, quota: quota)
        var stored: [ReadEvent] = []
        for i in 0..<150 {
            let e = Self.event("UP\(i)", crop: 6000)
            _ = try await journal.append(e)
            stored.append(e)
            #expect(Journal.bytesOnDisk(journal.settings.path) <= quota)
        }
        let before = try journal.stats()
        #expect(before.droppedFull > 0)  // 150 × 6 KB does not fit in 1 MiB
        #expect(Journal.bytesOnDisk(journal.settings.path) > quota * 6 / 10, "the quota is used, not wasted")
        // Mark the oldest surviving half as uploaded, then add more: those go, the pending stay.
        let surviving = try journal.events().map(\.event.id)
        let uploaded = Array(surviving.prefix(surviving.count / 2))
        try await journal.markUploaded(uploaded)
        let dropsBefore = try journal.stats().droppedFull
        for i in 0..<20 {
            _ = try await journal.append(Self.event("NEW\(i)", crop: 6000))
            #expect(Journal.bytesOnDisk(journal.settings.path) <= quota)
        }
        let after = try journal.stats()
        #expect(after.droppedFull == dropsBefore, "no pending read was dropped while uploaded ones could go")
        #expect(after.evictedUploaded > 0)
        let left = Set(try journal.events().map(\.event.id))
        let pendingBefore = Set(surviving.dropFirst(uploaded.count))
        #expect(pendingBefore.isSubset(of: left))
        // The uploaded rows that went were the oldest ones.
        let goneUploaded = uploaded.filter { !left.contains($0) }
        #expect(goneUploaded == Array(uploaded.prefix(goneUploaded.count)))
    }

    @Test("stop-accepting refuses new reads when only un-uploaded rows are left, and counts them")
    func stopAccepting() async throws {
        let dir = try TemporaryDirectory()
        let journal = try Self.open(dir, quota: 1 << 20, policy: .stopAccepting)
        var outcomes: [Journal.AppendOutcome] = []
        for i in 0..<200 { outcomes.append(try await journal.append(Self.event("S\(i)", crop: 6000))) }
        let rejected = outcomes.filter { $0 == .rejected }.count
        #expect(rejected > 0)
        let stats = try journal.stats()
        #expect(stats.droppedFull == rejected)
        #expect(stats.rows == 200 - rejected)
        // The first reads are the ones kept.
        #expect(try journal.events().first?.event.plate == "S0")
        #expect(Journal.bytesOnDisk(journal.settings.path) <= 1 << 20)
    }

    @Test("retention deletes old rows, uploaded or not, and leaves no plate text in the files")
    func retentionLeavesNoTrace() async throws {
        let dir = try TemporaryDirectory()
        let journal = try Self.open(dir, retention: 3600)
        let now = Date()
        let old = (0..<30).map { Self.event(String(format: "OLDQ%03d", $0)) }
        for (i, e) in old.enumerated() { _ = try await journal.append(e, journaledAt: now.addingTimeInterval(-7200 + Double(i))) }
        try await journal.markUploaded(old.prefix(10).map(\.id))
        let fresh = (0..<5).map { Self.event(String(format: "NEWQ%03d", $0)) }
        for e in fresh { _ = try await journal.append(e, journaledAt: now) }
        #expect(try await journal.applyRetention(now: now) == 30)
        #expect(try journal.events().map(\.event.plate) == fresh.map(\.plate))
        #expect(try journal.stats().expired == 30)
        // Raw scan of every file of the journal: no expired plate text, the fresh plates present.
        var raw = Data()
        for suffix in ["", "-wal", "-shm"] {
            raw.append(FileManager.default.contents(atPath: journal.settings.path + suffix) ?? Data())
        }
        for e in old { #expect(raw.range(of: Data(e.plate.utf8)) == nil, "\(e.plate) still on disk") }
        #expect(raw.range(of: Data(fresh[0].plate.utf8)) != nil)
    }

    @Test("a reader holding a transaction across retention: the checkpoint is retried until the WAL no longer holds the expired plates, and the stay is counted")
    func retentionRetriesTheCheckpoint() async throws {
        let dir = try TemporaryDirectory()
        let journal = try Self.open(dir, retention: 3600)
        _ = try await journal.applyRetention()  // the checkpoint owed since opening
        #expect(journal.expiredPagesInWAL.current == nil)
        let now = Date()
        let old = (0..<20).map { Self.event(String(format: "HELDQ%03d", $0)) }
        for e in old { _ = try await journal.append(e, journaledAt: now.addingTimeInterval(-7200)) }
        // Another process reading the journal (as `journal export` does), inside a transaction.
        let reader = try DatabaseQueue(path: journal.settings.path)
        // It holds its transaction until told to let go: no timing decides what the test sees.
        let inTransaction = StopFlag(), release = StopFlag(), finished = StopFlag()
        Thread.detachNewThread {
            try? reader.inDatabase { db in
                try db.execute(sql: "BEGIN")
                _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM read_event")
                inTransaction.set()
                while !release.isSet { Thread.sleep(forTimeInterval: 0.01) }
                try db.execute(sql: "COMMIT")
            }
            finished.set()
        }
        defer { release.set() }
        while !inTransaction.isSet { try await Task.sleep(for: .milliseconds(10)) }
        #expect(try await journal.applyRetention(now: now) == 20)
        #expect(journal.expiredPagesInWAL.current != nil, "the reader kept the checkpoint from completing")
        func raw() -> Data {
            var raw = Data()
            for suffix in ["", "-wal"] { raw.append(FileManager.default.contents(atPath: journal.settings.path + suffix) ?? Data()) }
            return raw
        }
        #expect(raw().range(of: Data(old[0].plate.utf8)) != nil, "while the reader holds it, the WAL still has the old pages")
        // A second's stay, then the reader lets go.
        try await Task.sleep(for: .seconds(1))
        release.set()
        while !finished.isSet { try await Task.sleep(for: .milliseconds(10)) }
        try reader.close()
        // A later run that deletes nothing still completes the checkpoint.
        #expect(try await journal.applyRetention(now: now) == 0)
        let wal = journal.expiredPagesInWAL
        #expect(wal.current == nil)
        #expect(wal.longest >= 1, "the time the plates stayed is counted: \(wal.longest) s")
        #expect(try journal.stats().expiredInWalLongestSeconds == wal.longest)
        let after = raw()
        for e in old { #expect(after.range(of: Data(e.plate.utf8)) == nil, "\(e.plate) still on disk") }
    }

    @Test("quarantined journals fall under retention: deleted with their WAL once the longest rule has passed since the move, logged; never while a rule keeps reads until the quota")
    func quarantinedFilesExpire() async throws {
        let dir = try TemporaryDirectory()
        try dir.write("state/journal.sqlite", [UInt8](repeating: 0x5A, count: 8192))
        var settings = JournalSettings(path: dir.file("state/journal.sqlite"))
        settings.retentionSeconds = 600
        settings.hitRetentionSeconds = 3600
        let journal = try Journal(settings: settings)
        let moved = try #require(journal.quarantined).path
        try dir.write("state/" + Paths.lastComponent(of: moved) + "-wal", Array("QUARQ01".utf8))
        // Not the journal's: another name, or not a stamp, is never touched.
        try dir.write("state/journal.sqlite.quarantined-notastamp", [1])
        try dir.write("state/other.sqlite.quarantined-20200101T000000.000Z", [1])
        let now = Date()
        _ = try await journal.applyRetention(now: now.addingTimeInterval(3000))
        #expect(FileManager.default.fileExists(atPath: moved), "within the hit rule's hour: kept")
        _ = try await journal.applyRetention(now: now.addingTimeInterval(3700))
        #expect(!FileManager.default.fileExists(atPath: moved))
        #expect(!FileManager.default.fileExists(atPath: moved + "-wal"))
        #expect(FileManager.default.fileExists(atPath: dir.file("state/journal.sqlite.quarantined-notastamp")))
        #expect(FileManager.default.fileExists(atPath: dir.file("state/other.sqlite.quarantined-20200101T000000.000Z")))
        #expect(try journal.deletionLog().map(\.rule) == ["quarantined-file"])

        // Hits kept until the quota needs room: a quarantined file may hold them; it stays.
        let keep = try TemporaryDirectory()
        try keep.write("journal.sqlite", [UInt8](repeating: 0x5A, count: 8192))
        var unbounded = JournalSettings(path: keep.file("journal.sqlite"))
        unbounded.retentionSeconds = 600
        unbounded.hitRetentionSeconds = nil
        let second = try Journal(settings: unbounded)
        _ = try await second.applyRetention(now: now.addingTimeInterval(86_400 * 365))
        #expect(FileManager.default.fileExists(atPath: try #require(second.quarantined).path))
    }

    @Test("hits and other reads expire by their own ages; each run logs rule, count and time range, never a plate")
    func retentionByClass() async throws {
        let dir = try TemporaryDirectory()
        var settings = JournalSettings(path: dir.file("journal.sqlite"))
        settings.retentionSeconds = 600
        settings.hitRetentionSeconds = 86_400
        let journal = try Journal(settings: settings)
        let now = Date()
        var hit = Self.event("HITQ001", at: 1_800_000_000)
        hit.hit = HotlistHit(list: "stolen", plate: "HITQ001", reason: "case 12", distance: 0)
        let reads = (0..<4).map { Self.event(String(format: "PASSQ%02d", $0), at: 1_800_000_000 + Double($0)) }
        _ = try await journal.append(hit, journaledAt: now.addingTimeInterval(-3600))
        for e in reads { _ = try await journal.append(e, journaledAt: now.addingTimeInterval(-3600)) }
        #expect(try journal.events().first?.event.hit == hit.hit, "the hit is kept with the read")
        #expect(try journal.pending(limit: 1).first?.event.plate == "HITQ001", "hits are uploaded first")

        #expect(try await journal.applyRetention(now: now) == 4)
        #expect(try journal.events().map(\.event.plate) == ["HITQ001"], "the hit outlives the 10-minute rule")
        #expect(try journal.stats().hits == 1)
        #expect(try await journal.applyRetention(now: now.addingTimeInterval(86_400)) == 1)
        #expect(try journal.events().isEmpty)

        let log = try journal.deletionLog()
        #expect(log.map(\.rule) == ["reads", "hits"])
        #expect(log.map(\.rows) == [4, 1])
        #expect(log[0].maxAgeSeconds == 600 && log[1].maxAgeSeconds == 86_400)
        #expect(log[0].firstSeenFrom == reads[0].firstSeen.unixNanoseconds && log[0].lastSeenTo == reads[3].lastSeen.unixNanoseconds)
        #expect(try await journal.applyRetention(now: now.addingTimeInterval(86_400)) == 0)
        #expect(try journal.deletionLog().count == 2, "a run that deletes nothing logs nothing")

        var raw = Data()
        for suffix in ["", "-wal", "-shm"] { raw.append(FileManager.default.contents(atPath: settings.path + suffix) ?? Data()) }
        for plate in ["HITQ001", "PASSQ00", "PASSQ03"] { #expect(raw.range(of: Data(plate.utf8)) == nil, "\(plate) still on disk") }
    }

    @Test("reads not kept (hotlist-only mode) are a count and nothing else; reads, hits and those are counted per day and camera")
    func notKeptCount() async throws {
        let dir = try TemporaryDirectory()
        let journal = try Self.open(dir)
        let day1 = CaptureTime(unixNanoseconds: ISO8601.parse("2026-11-29T23:59:59Z")!, quality: .synchronized)
        let day2 = CaptureTime(unixNanoseconds: ISO8601.parse("2026-11-30T00:00:01Z")!, quality: .synchronized)
        try await journal.countNotKept(camera: "lane-1", seen: day1)
        try await journal.countNotKept(camera: "lane-1", seen: day2)
        try await journal.countNotKept(camera: "lane-2", seen: day2)
        var hit = Self.event("HIT1", at: Double(day2.unixNanoseconds) / 1e9)
        hit.hit = HotlistHit(list: "l", plate: "HIT1", reason: "", distance: 0)
        _ = try await journal.append(hit)
        #expect(try journal.stats().notKept == 3)
        #expect(try journal.stats().rows == 1)
        #expect(try journal.dailyCounts() == [
            DailyCount(day: "2026-11-29", camera: "lane-1", reads: 0, hits: 0, notKept: 1),
            DailyCount(day: "2026-11-30", camera: "lane-1", reads: 1, hits: 1, notKept: 1),
            DailyCount(day: "2026-11-30", camera: "lane-2", reads: 0, hits: 0, notKept: 1),
        ])
    }

    /// Files that must be moved aside, not used and not overwritten.
    static let unusable: [(name: String, bytes: @Sendable () throws -> [UInt8], reason: String)] = [
        ("garbage", { [UInt8](repeating: 0x5A, count: 8192) }, "not an SQLite database"),
        ("truncated header", { Array("SQLite format".utf8) }, "not an SQLite database"),
        ("another application's database", { try sqliteFile(sql: "CREATE TABLE t(x); PRAGMA application_id = 7;") }, "another application"),
        ("a plain SQLite database", { try sqliteFile(sql: "CREATE TABLE t(x);") }, "not a PlateKeeper journal"),
    ]

    @Test("an unusable journal is moved aside with its WAL and a new one started", arguments: unusable.indices)
    func quarantine(_ index: Int) async throws {
        let case_ = Self.unusable[index]
        let dir = try TemporaryDirectory()
        let bytes = try case_.bytes()
        try dir.write("state/journal.sqlite", bytes)
        let journal = try Self.open(dir)
        let moved = try #require(journal.quarantined, "\(case_.name)")
        #expect(moved.reason.contains(case_.reason), "\(case_.name): \(moved.reason)")
        #expect(FileManager.default.contents(atPath: moved.path).map([UInt8].init) == bytes, "kept byte for byte")
        _ = try await journal.append(Self.event("AFTER1"))
        #expect(try journal.events().count == 1)
    }

    @Test("a journal corrupted inside (a damaged page) is moved aside too")
    func corruptPage() async throws {
        let dir = try TemporaryDirectory()
        do {
            let journal = try Self.open(dir)
            for i in 0..<40 { _ = try await journal.append(Self.event("C\(i)", crop: 3000)) }
            try journal.checkpoint()
        }
        let path = dir.file("state/journal.sqlite")
        var bytes = [UInt8](FileManager.default.contents(atPath: path)!)
        #expect(bytes.count > 8 * 4096)
        for i in (3 * 4096)..<(3 * 4096 + 4096) { bytes[i] = 0xEE }  // wreck a whole b-tree page
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let reopened = try Self.open(dir)
        let moved = try #require(reopened.quarantined)
        #expect(moved.reason.contains("corrupt"))
        #expect(try reopened.events().isEmpty)
    }

    @Test("inspect mode never creates or moves files")
    func inspect() throws {
        let dir = try TemporaryDirectory()
        #expect(throws: JournalError.self) { try Journal(settings: JournalSettings(path: dir.file("none.sqlite")), mode: .inspect) }
        #expect(!FileManager.default.fileExists(atPath: dir.file("none.sqlite")))
        let garbage = try dir.write("bad.sqlite", [UInt8](repeating: 1, count: 4096))
        #expect(throws: JournalError.self) { try Journal(settings: JournalSettings(path: garbage), mode: .inspect) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["bad.sqlite"])
    }

    @Test("a quota below the minimum is refused")
    func tinyQuota() throws {
        let dir = try TemporaryDirectory()
        #expect(throws: JournalError.self) { try Self.open(dir, quota: 1000) }
    }

    @Test("a journal whose rows hold NULLs or wrong types (damaged or forged) gives errors, not a crash")
    func forgedRows() throws {
        let dir = try TemporaryDirectory()
        let bytes = try Self.sqliteFile(sql: """
            CREATE TABLE read_event (seq INTEGER PRIMARY KEY, id, plate, camera, upload_state, journaled_ns, first_seen_ns, last_seen_ns);
            CREATE TABLE counter (name, value);
            INSERT INTO read_event VALUES (1, '6f1c2d3e-0000-4000-8000-000000000001', NULL, 7, 'pending', 'x', NULL, 99);
            INSERT INTO counter VALUES (NULL, 'many');
            PRAGMA application_id = \(Journal.applicationID); PRAGMA user_version = \(Journal.schemaVersion);
            """)
        let path = try dir.write("forged.sqlite", bytes)
        let journal = try Journal(settings: JournalSettings(path: path), mode: .inspect)
        #expect(throws: JournalError.self) { try journal.stats() }
        #expect(throws: JournalError.self) { try journal.events() }
        #expect(throws: JournalError.self) { try journal.pending(limit: 5) }
    }

    /// A real SQLite file (rollback journal, so everything is in the one file) made with `sql`.
    static func sqliteFile(sql: String) throws -> [UInt8] {
        let dir = try TemporaryDirectory()
        let path = dir.file("x.sqlite")
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { try $0.execute(sql: sql) }
        try queue.close()
        return [UInt8](FileManager.default.contents(atPath: path)!)
    }
}

extension ReadEvent {
    func withID(_ id: UUID) -> ReadEvent {
        var copy = self
        copy.id = id
        return copy
    }
}
