import Foundation
import GRDB
import Journal
import PlateKeeperCore
import PlateKeeperTesting
import Testing

/// Journals written by every earlier release, kept as fixtures, open in this build with every read
/// intact: a unit in the field must never strand reads it has not uploaded because of an upgrade.
@Suite("Journal migrations")
struct JournalMigrationTests {
    /// A copy of a fixture in a fresh folder (the fixture itself is never opened).
    static func copyOfFixture(_ name: String, into dir: TemporaryDirectory) throws -> String {
        let source = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "sqlite"))
        let path = dir.file("state/journal.sqlite")
        try FileManager.default.createDirectory(atPath: dir.file("state"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: source.path, toPath: path)
        return path
    }

    static func rawRows(_ path: String) throws -> [[String: String]] {
        let queue = try DatabaseQueue(path: path, configuration: { var c = Configuration(); c.readonly = true; return c }())
        defer { try? queue.close() }
        return try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM read_event ORDER BY seq").map { row in
                var out: [String: String] = [:]
                for (column, value) in row { out[column] = value.isNull ? "NULL" : (String.fromDatabaseValue(value) ?? value.description) }
                return out
            }
        }
    }

    @Test("a version 1 journal is migrated in place: same rows, states, crops and times; new reads follow")
    func fromVersion1() async throws {
        let dir = try TemporaryDirectory()
        let path = try Self.copyOfFixture("journal-v1", into: dir)
        let before = try Self.rawRows(path)
        #expect(before.count == 12)

        var settings = JournalSettings(path: path)
        settings.retentionSeconds = nil
        let journal = try Journal(settings: settings)
        #expect(journal.quarantined == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("state")).allSatisfy { $0.hasPrefix("journal.sqlite") })
        let stats = try journal.stats()
        #expect(stats.schemaVersion == Journal.schemaVersion)
        #expect(stats.rows == 12 && stats.pending == 8)

        let events = try journal.events(includeCrops: true)
        #expect(events.map(\.event.plate) == (0..<12).map { "V1P\($0)" })
        #expect(events.map(\.uploadState) == Array(repeating: "uploaded", count: 4) + Array(repeating: "pending", count: 8))
        for (stored, row) in zip(events, before) {
            let e = stored.event
            #expect(e.id.uuidString.lowercased() == row["id"])
            #expect(String(e.firstSeen.unixNanoseconds) == row["first_seen_ns"])
            #expect(String(stored.journaledAt) == row["journaled_ns"])
            #expect(stored.cropBytes == (row["crop"] == "NULL" ? 0 : 300))
            #expect((e.position == nil) == (row["position"] == "NULL"))
        }
        // The richest row: every position field and both candidates survive the respelling.
        let seventh = events[7].event
        #expect(seventh.candidates.map(\.text) == ["V1P7", "V1P7X"])
        #expect(seventh.candidates[1].matchesFormat == false && seventh.candidates[1].confidence == 30)
        let p = try #require(seventh.position)
        #expect(p.latitude == 47.6 && p.longitude == -122.3 && p.altitudeMeters == 50 && p.horizontalErrorMeters == 4)
        #expect(p.speedMetersPerSecond == 11 && p.courseDegrees == 90 && p.fix == .threeD && p.source == .gpsd)
        #expect(p.fixTime == CaptureTime(unixNanoseconds: 1_795_000_070_000_000_000, quality: .synchronized))
        #expect(events[5].event.kind == .firstSight)

        // The migrated journal keeps working, and opening it again migrates nothing more.
        _ = try await journal.append(JournalTests.event("AFTER1"))
        let reopened = try Journal(settings: settings)
        #expect(try reopened.events().count == 13)
        #expect(try reopened.pending(limit: 100).count == 9)
    }

    /// journal-v2.sqlite: journal-v1.sqlite migrated by the schema-2 build (commit b1ce19b's
    /// `platekeeper run`), which then journaled two reads of TestFrames stills with a fixed position;
    /// one read was then parked as a dead letter and one given an upload error, with the statements
    /// that build's `markDead` and `recordUploadFailure` run.
    @Test("a version 2 journal is migrated in place: dead letters, upload errors and positions kept; old rows' best frame time reads as first seen")
    func fromVersion2() async throws {
        let dir = try TemporaryDirectory()
        let path = try Self.copyOfFixture("journal-v2", into: dir)
        let before = try Self.rawRows(path)
        #expect(before.count == 14)

        var settings = JournalSettings(path: path)
        settings.retentionSeconds = nil
        let journal = try Journal(settings: settings)
        #expect(journal.quarantined == nil)
        let stats = try journal.stats()
        #expect(stats.schemaVersion == Journal.schemaVersion)
        #expect(stats.rows == 14 && stats.pending == 9 && stats.deadLetters == 1)

        let events = try journal.events(includeCrops: true)
        for (stored, row) in zip(events, before) {
            let e = stored.event
            #expect(e.id.uuidString.lowercased() == row["id"])
            #expect(stored.uploadState == row["upload_state"])
            #expect((stored.uploadError ?? "NULL") == row["upload_error"])
            #expect(String(e.firstSeen.unixNanoseconds) == row["first_seen_ns"])
            #expect(e.bestSeen == e.firstSeen, "schema 2 did not keep the best frame's time")
            #expect(e.positionStatus == nil && e.clock == nil, "schema 2 did not record them")
            #expect(String(stored.journaledAt) == row["journaled_ns"])
            #expect((e.position == nil) == (row["position"] == "NULL"))
        }
        #expect(events.first { $0.event.plate == "V1P9" }?.uploadError == "HTTP 422: plate: not a plate text")
        let fixed = events.suffix(2).map(\.event)
        #expect(fixed.allSatisfy { $0.position?.source == .fixed && $0.position?.latitude == 47.6 && $0.crop != nil })

        // New reads keep their best frame's time.
        var event = JournalTests.event("AFTER2")
        event.bestSeen = CaptureTime(unixNanoseconds: event.firstSeen.unixNanoseconds + 40_000_000, quality: event.firstSeen.quality)
        event.lastSeen = CaptureTime(unixNanoseconds: event.firstSeen.unixNanoseconds + 80_000_000, quality: event.firstSeen.quality)
        event.positionStatus = PositionStatus(state: .stale, fixAgeSeconds: 4.5, satellites: 3)
        event.position = nil
        event.clock = ClockState(synchronized: true, estimatedErrorSeconds: 0.0001, maximumErrorSeconds: 0.05, gpsOffsetSeconds: 0.2)
        _ = try await journal.append(event)
        let reopened = try Journal(settings: settings)
        let last = try #require(try reopened.events().last)
        #expect(last.event.bestSeen == event.bestSeen)
        #expect(last.event.positionStatus == event.positionStatus && last.event.clock == event.clock)
        #expect(last.event.position == nil)
        #expect(try reopened.pending(limit: 100).count == 10)
    }

    @Test("a version 4 journal (made by the daemon before hotlists) is migrated in place: rows kept, no hits, retention logs")
    func fromVersion4() async throws {
        let dir = try TemporaryDirectory()
        let path = try Self.copyOfFixture("journal-v4", into: dir)
        let before = try Self.rawRows(path)
        #expect(before.count == 2)
        var settings = JournalSettings(path: path)
        settings.retentionSeconds = nil
        settings.hitRetentionSeconds = nil
        let journal = try Journal(settings: settings)
        #expect(journal.quarantined == nil)
        let events = try journal.events(includeCrops: true)
        #expect(events.map(\.event.plate) == ["8DMW013", "XIT12"])
        #expect(events.allSatisfy { $0.event.hit == nil && $0.event.crop != nil })
        #expect(try journal.stats().schemaVersion == Journal.schemaVersion)
        #expect(try journal.deletionLog().isEmpty)
        var hit = JournalTests.event("AFTER4")
        hit.hit = HotlistHit(list: "stolen", plate: "AFTER4", reason: "", distance: 1)
        _ = try await journal.append(hit)
        #expect(try journal.pending(limit: 1).first?.event.hit == hit.hit)
    }

    @Test("read-only tools refuse an old journal with the reason and change nothing")
    func inspectOldVersion() throws {
        let dir = try TemporaryDirectory()
        let path = try Self.copyOfFixture("journal-v1", into: dir)
        let bytes = FileManager.default.contents(atPath: path)
        do {
            _ = try Journal(settings: JournalSettings(path: path), mode: .inspect)
            Issue.record("opened an old journal read-only")
        } catch {
            #expect(String(describing: error).contains("schema version 1"))
        }
        #expect(FileManager.default.contents(atPath: path) == bytes)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("state")) == ["journal.sqlite"])
    }

    @Test("a journal of a newer schema is refused and left untouched, never moved aside")
    func newerVersion() throws {
        let dir = try TemporaryDirectory()
        let bytes = try JournalTests.sqliteFile(sql: """
            CREATE TABLE read_event(x); INSERT INTO read_event VALUES ('precious');
            PRAGMA application_id = \(Journal.applicationID); PRAGMA user_version = 99;
            """)
        let path = try dir.write("state/journal.sqlite", bytes)
        do {
            _ = try JournalTests.open(dir)
            Issue.record("opened a newer journal")
        } catch {
            #expect(String(describing: error).contains("schema version 99 is newer"))
        }
        #expect(FileManager.default.contents(atPath: path).map([UInt8].init) == bytes)
        // Only the lock file the daemon takes before anything else (it holds no data).
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("state")).sorted() == ["journal.sqlite", "journal.sqlite.lock"])
    }
}
