import Foundation
import GRDB
import Journal
import PlateKeeperCore
import PlateKeeperTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Journal encryption at rest")
struct EncryptionTests {
    static let k1 = "k1 " + String(repeating: "0123456789abcdef", count: 4)
    static let k2 = "k2 " + String(repeating: "fedcba9876543210", count: 4)

    static func sealedJournal(_ dir: TemporaryDirectory, keys: String) throws -> Journal {
        var settings = JournalSettings(path: dir.file("journal.sqlite"))
        settings.keyring = try JournalKeyring.parse(keys)
        return try Journal(settings: settings)
    }

    static func raw(_ path: String) -> Data {
        var raw = Data()
        for suffix in ["", "-wal", "-shm"] { raw.append(FileManager.default.contents(atPath: path + suffix) ?? Data()) }
        return raw
    }

    /// Runs `body` on the file directly (outside the journal), synchronously.
    @discardableResult
    static func sql<T>(_ path: String, _ body: (Database) throws -> T) throws -> T {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.inDatabase(body)
    }

    static func event(_ plate: String) -> ReadEvent {
        var e = JournalTests.event(plate)
        e.candidates.append(PlateCandidate(text: plate + "Q", confidence: 40, matchesFormat: false))
        e.position = GeoPosition(latitude: 52.123456, longitude: 5.654321, fix: .fixed, source: .fixed)
        e.crop = Array("CROPBYTES-\(plate)".utf8) + [UInt8](repeating: 7, count: 500)
        return e
    }

    @Test("sealed: no plate, candidate, position, crop or hit in the files; everything reads back exactly with the key")
    func noClearText() async throws {
        let dir = try TemporaryDirectory()
        let journal = try Self.sealedJournal(dir, keys: Self.k1)
        var events = (0..<5).map { Self.event(String(format: "SEAL%03d", $0)) }
        events[2].hit = HotlistHit(list: "stolenlist", plate: "SEAL002", reason: "secret reason", distance: 0)
        for e in events { _ = try await journal.append(e) }
        let back = try journal.events(includeCrops: true).map(\.event)
        #expect(back == events)
        #expect(try journal.pending(limit: 1).first?.event.plate == "SEAL002", "hits first, sealed or not")
        try journal.checkpoint()
        let raw = Self.raw(journal.settings.path)
        for needle in ["SEAL00", "SEAL001Q", "CROPBYTES", "stolenlist", "secret reason", "52.123456", "5.654321"] {
            #expect(raw.range(of: Data(needle.utf8)) == nil, "\(needle) is on disk in the clear")
        }
        #expect(try journal.stats().hits == 1, "a hit is still known to be a hit (for retention and upload order)")
    }

    @Test("without the key, or with the wrong one, a sealed read is an error naming the key; nothing is changed")
    func wrongKey() async throws {
        let dir = try TemporaryDirectory()
        let journal = try Self.sealedJournal(dir, keys: Self.k1)
        _ = try await journal.append(Self.event("LOCKED1"))
        try journal.close()
        let path = dir.file("journal.sqlite")
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect { try Journal(settings: JournalSettings(path: path), mode: .inspect).events() } throws: { error in
            "\(error)".contains("sealed with key k1")
        }
        var other = JournalSettings(path: path)
        other.keyring = try JournalKeyring.parse(Self.k2)
        #expect { try Journal(settings: other, mode: .inspect).events() } throws: { error in
            "\(error)".contains("key k1, which the key file does not hold")
        }
        // A key with the right id but other bytes: authentication fails.
        other.keyring = try JournalKeyring.parse("k1 " + String(repeating: "ab", count: 32))
        #expect(throws: JournalError.self) { try Journal(settings: other, mode: .inspect).events() }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test("rotation: rows sealed under k1 and k2 both read with a file holding both; new rows take the last key")
    func rotation() async throws {
        let dir = try TemporaryDirectory()
        let first = try Self.sealedJournal(dir, keys: Self.k1)
        _ = try await first.append(Self.event("OLDKEY1"))
        try first.close()
        let second = try Self.sealedJournal(dir, keys: Self.k1 + "\n" + Self.k2 + "\n")
        _ = try await second.append(Self.event("NEWKEY1"))
        #expect(try second.events().map(\.event.plate) == ["OLDKEY1", "NEWKEY1"])
        try second.close()
        let ids = try Self.sql(dir.file("journal.sqlite")) { db in try String.fetchAll(db, sql: "SELECT key_id FROM read_event ORDER BY seq") }
        #expect(ids == ["k1", "k2"])
    }

    @Test("a sealed box moved to another row does not open (each is bound to its read's id)")
    func boundToRow() async throws {
        let dir = try TemporaryDirectory()
        let journal = try Self.sealedJournal(dir, keys: Self.k1)
        _ = try await journal.append(Self.event("ROWONE1"))
        _ = try await journal.append(Self.event("ROWTWO2"))
        try journal.close()
        try Self.sql(dir.file("journal.sqlite")) { db in
            try db.execute(sql: "UPDATE read_event SET sealed = (SELECT sealed FROM read_event WHERE seq = 1) WHERE seq = 2")
        }
        var settings = JournalSettings(path: dir.file("journal.sqlite"))
        settings.keyring = try JournalKeyring.parse(Self.k1)
        #expect(throws: JournalError.self) { try Journal(settings: settings, mode: .inspect).events() }
    }

    @Test("bad key files are clear errors: malformed lines with their number, no key, duplicates, readable by others, missing")
    func badKeyFiles() throws {
        let cases: [(String, String)] = [
            ("", "holds no key"),
            ("# only a comment\n", "holds no key"),
            ("k1\n", ":1: a line is `ID HEX`"),
            ("k1 abc\n", ":1: key k1 must be 64 hex digits"),
            ("k1 " + String(repeating: "zz", count: 32), ":1: key k1 must be 64 hex digits"),
            ("\(Self.k1)\n\(Self.k1)\n", ":2: key id k1 appears twice"),
            ("bad/id " + String(repeating: "00", count: 32), ":1: key id must be"),
            (String(repeating: "x", count: 70_000), "larger than"),
        ]
        let dir = try TemporaryDirectory()
        for (i, (text, message)) in cases.enumerated() {
            let path = try dir.write("keys\(i)", text)
            chmod(path, 0o600)
            #expect { try JournalKeyring.load(path: path) } throws: { error in "\(error)".contains(message) }
        }
        let open = try dir.write("open-keys", Self.k1)
        chmod(open, 0o644)
        #expect { try JournalKeyring.load(path: open) } throws: { error in "\(error)".contains("lets other users read it") }
        #expect { try JournalKeyring.load(path: dir.file("none")) } throws: { error in "\(error)".contains("No such file") }
        let line = try JournalKeyring.newKeyLine(id: "k9")
        #expect(try JournalKeyring.parse(line).ids == ["k9"])
        #expect(try JournalKeyring.newKeyLine(id: "k9") != line, "fresh random bytes each time")
    }
}
