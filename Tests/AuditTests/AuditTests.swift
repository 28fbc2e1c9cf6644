import Audit
import Foundation
import PlateKeeperCore
import PlateKeeperTesting
import Testing

@Suite("Audit log")
struct AuditTests {
    static func filled(_ n: Int, in dir: TemporaryDirectory) throws -> AuditLog {
        let log = AuditLog(path: dir.file("audit.log"))
        for i in 1...n {
            try log.append(who: "alice (uid 1000)", action: "journal export", query: "since=7d camera=lane\(i)",
                           purpose: "case 2026-\(i): stolen vehicle report", records: i * 3)
        }
        return log
    }

    static func lines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    @Test("entries chain: each carries the hash of the one before; verify returns them all; the file is 0600")
    func chain() throws {
        let dir = try TemporaryDirectory()
        defer { withExtendedLifetime(dir) {} }
        let log = try Self.filled(5, in: dir)
        let entries = try log.verify()
        #expect(entries.map(\.seq) == [1, 2, 3, 4, 5])
        #expect(entries[0].prev == AuditEntry.genesis)
        for (a, b) in zip(entries, entries.dropFirst()) { #expect(b.prev == a.hash) }
        #expect(entries[2].records == 9 && entries[2].purpose == "case 2026-3: stolen vehicle report")
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: log.path)[.posixPermissions] as? NSNumber)
        #expect(mode.intValue & 0o777 == 0o600)
    }

    @Test("an altered entry is named: its own hash fails, or (re-hashed) the next entry's link fails")
    func tamperedEntry() throws {
        let dir = try TemporaryDirectory()
        defer { withExtendedLifetime(dir) {} }
        let log = try Self.filled(6, in: dir)
        var lines = try Self.lines(log.path)
        let original = lines
        // Fewer records reported for entry 3, hash left as it was.
        lines[2] = lines[2].replacingOccurrences(of: "\"records\":9", with: "\"records\":1")
        #expect(lines[2] != original[2])
        try (lines.joined(separator: "\n") + "\n").write(toFile: log.path, atomically: false, encoding: .utf8)
        #expect(throws: AuditError.broken(line: 3, reason: "its content does not match its hash (the entry was altered)")) { try log.verify() }

        // The same change with entry 3's hash recomputed: entry 4's link breaks.
        var entry = try JSONDecoder().decode(AuditEntry.self, from: Data(original[2].utf8))
        entry.records = 1
        entry.hash = entry.computedHash
        lines[2] = String(decoding: try JSONEncoder().encode(entry), as: UTF8.self)
        try (lines.joined(separator: "\n") + "\n").write(toFile: log.path, atomically: false, encoding: .utf8)
        #expect {
            try log.verify()
        } throws: { error in
            guard case let .broken(line, _) = error as? AuditError else { return false }
            return line == 4
        }
    }

    @Test("a removed or swapped entry, and a line that is not an entry, are named")
    func removedSwappedGarbage() throws {
        let dir = try TemporaryDirectory()
        defer { withExtendedLifetime(dir) {} }
        let log = try Self.filled(5, in: dir)
        let lines = try Self.lines(log.path)
        func verify(_ changed: [String]) throws -> Int? {
            try (changed.joined(separator: "\n") + "\n").write(toFile: log.path, atomically: false, encoding: .utf8)
            do {
                _ = try log.verify()
                return nil
            } catch let AuditError.broken(line, _) {
                return line
            }
        }
        var removed = lines
        removed.remove(at: 1)
        #expect(try verify(removed) == 2)
        var swapped = lines
        swapped.swapAt(2, 3)
        #expect(try verify(swapped) == 3)
        var garbage = lines
        garbage[4] = "{\"seq\": 5"
        #expect(try verify(garbage) == 5)
        #expect(try verify(lines) == nil)
    }

    @Test("append refuses a log whose last entry is torn or damaged, and appends nothing")
    func appendAfterDamage() throws {
        let dir = try TemporaryDirectory()
        defer { withExtendedLifetime(dir) {} }
        let log = try Self.filled(2, in: dir)
        let intact = try Data(contentsOf: URL(fileURLWithPath: log.path))
        let torn = intact.dropLast(10)
        try torn.write(to: URL(fileURLWithPath: log.path))
        #expect(throws: AuditError.self) {
            try log.append(who: "bob", action: "journal export", query: "", purpose: "case 1", records: 1)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: log.path)) == torn)
    }

    @Test("a purpose is required: empty, blank, too long or with control characters is refused")
    func purposes() throws {
        let dir = try TemporaryDirectory()
        let log = AuditLog(path: dir.file("audit.log"))
        for bad in ["", "  ", "ok", String(repeating: "x", count: 501), "case\n12"] {
            #expect(throws: AuditError.self) { try log.append(who: "w", action: "a", query: "", purpose: bad, records: 0) }
        }
        #expect(!FileManager.default.fileExists(atPath: log.path), "nothing written for a refused purpose")
        try log.append(who: "w", action: "a", query: "", purpose: "FOIA request 12", records: 0)
        #expect(try log.verify().count == 1)
    }

    @Test("concurrent appends from several threads never interleave and keep one chain")
    func concurrentAppends() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("audit.log")
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<4 {
                group.addTask {
                    for i in 0..<25 {
                        _ = try? AuditLog(path: path).append(who: "t\(t)", action: "journal export", query: "i=\(i)", purpose: "load test", records: i)
                    }
                }
            }
        }
        #expect(try AuditLog(path: path).verify().count == 100)
    }

    @Test("an unreadable or missing log is an error naming the call, not a broken chain")
    func unreadable() throws {
        let dir = try TemporaryDirectory()
        #expect(throws: AuditError.system(path: dir.file("none.log"), call: "open", errno: ENOENT)) {
            try AuditLog(path: dir.file("none.log")).verify()
        }
    }
}
