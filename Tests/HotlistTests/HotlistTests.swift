import Foundation
@testable import Hotlist
import PlateKeeperCore
import PlateKeeperTesting
import Testing

@Suite("Hotlist files and matching")
struct HotlistTests {
    static let now = Int64(1_800_000_000) * 1_000_000_000

    @Test("a well-formed file loads: header, comments, quotes, optional reason and expiry, plates normalised")
    func parsesGoodFile() throws {
        let text = """
            plate,list,reason,expires
            # stolen vehicles, county feed
            ABC 123,stolen,"reported 2026-11-02, case 77",2030-01-31
            xyz-9876,amber
            "7 ""Q"" 1",watch,,

            8DMW013,stolen,plate of a stolen car,2030-05-01T12:00:00Z\r
            """
        let (entries, problems) = HotlistFile.parse(text, file: "h.csv")
        #expect(problems.map(\.description) == ["h.csv:5: plate \"7 \"Q\" 1\" must be 1 to 12 letters A-Z or digits (spaces and dashes are ignored); skipped"])
        #expect(entries.map(\.plate) == ["ABC123", "XYZ9876", "8DMW013"])
        #expect(entries[0].reason == "reported 2026-11-02, case 77")
        #expect(entries[0].expires == ISO8601.parse("2030-02-01T00:00:00Z"), "a date is valid through that day, UTC")
        #expect(entries[1].list == "amber" && entries[1].reason == "" && entries[1].expires == nil)
        #expect(entries[2].expires == ISO8601.parse("2030-05-01T12:00:00Z"))
        #expect(entries[2].origin == "h.csv:7")
    }

    @Test("every malformed line is reported with its number and skipped; the rest still loads")
    func badLines() throws {
        let long = String(repeating: "A", count: 5000)
        let lines = [
            "GOOD1,stolen",
            "ONLYPLATE",
            "BAD PLATE!,stolen",
            "TOOLONGPLATE1234,stolen",
            "GOOD2,bad list name",
            "GOOD3,stolen,reason,31/01/2030",
            "GOOD4,stolen,reason,2030-02-30",
            "\"UNCLOSED,stolen",
            "A,B,C,D,E",
            "\(long),stolen",
            "GOOD5,stolen,\(String(repeating: "r", count: 201))",
            ",stolen",
            "GOOD6,amber,ok,",
        ]
        let (entries, problems) = HotlistFile.parse(lines.joined(separator: "\n"), file: "bad.csv")
        #expect(entries.map(\.plate) == ["GOOD1", "GOOD6"])
        #expect(problems.map(\.line) == Array(2...12).map(Optional.some))
        #expect(problems.allSatisfy { $0.message.hasSuffix("skipped") })
    }

    @Test("files that cannot be used: missing, a folder, not UTF-8, too large — one problem, no entries, no crash")
    func badFiles() throws {
        let dir = try TemporaryDirectory()
        let missing = HotlistFile.load(path: dir.file("none.csv"))
        #expect(missing.entries.isEmpty && missing.problems.count == 1 && missing.problems[0].line == nil)
        #expect(missing.problems[0].message.contains("No such file"))
        #expect(HotlistFile.load(path: dir.path).problems.first?.message.contains("not a regular file") == true)
        let latin1 = try dir.write("latin1.csv", [0x41, 0x42, 0x43, 0x2C, 0x6C, 0xE9, 0x0A])
        #expect(HotlistFile.load(path: latin1).problems.first?.message.contains("not UTF-8") == true)
        let big = dir.file("big.csv")
        #expect(FileManager.default.createFile(atPath: big, contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: big))
        try handle.truncate(atOffset: UInt64(HotlistFile.maxFileBytes) + 1)
        try handle.close()
        #expect(HotlistFile.load(path: big).problems.first?.message.contains("larger than") == true)
    }

    @Test("random bytes never crash the parser, and what it keeps is well formed")
    func fuzzedInput() {
        var rng = SeededRandom(seed: 16)
        let alphabet = Array("AB1,\"\n\r #-x9Z ,,é".unicodeScalars)
        for _ in 0..<2000 {
            var text = ""
            for _ in 0..<Int(rng.next() % 80) { text.unicodeScalars.append(alphabet[Int(rng.next() % UInt64(alphabet.count))]) }
            let (entries, _) = HotlistFile.parse(text)
            for e in entries {
                #expect(!e.plate.isEmpty && e.plate.count <= HotlistFile.maxPlateLength)
                #expect(e.plate.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) })
            }
        }
    }

    @Test("look-alikes cost nothing; the tolerance allows that many more edits; candidates match only exactly")
    func matching() {
        let list = Hotlist(entries: [
            HotlistEntry(plate: "8DMW013", list: "stolen", reason: "car"),
            HotlistEntry(plate: "ABC1234", list: "amber", reason: "child"),
        ], maxEditDistance: 1)
        #expect(list.match(plate: "8DMW013", now: Self.now)?.distance == 0)
        #expect(list.match(plate: "BDMWO1З", now: Self.now) == nil, "a Cyrillic letter is not a plate character")
        #expect(list.match(plate: "BDMWOI3", now: Self.now) == HotlistHit(list: "stolen", plate: "8DMW013", reason: "car", distance: 0))
        #expect(list.match(plate: "8DMW01", now: Self.now)?.distance == 1, "a dropped last character")
        #expect(list.match(plate: "X8DMW013", now: Self.now)?.distance == 1, "an extra first character")
        #expect(list.match(plate: "8DMW0XX", now: Self.now) == nil, "two edits with a tolerance of one")
        #expect(list.match(plate: "ZZZ999", candidates: ["ABCI234"], now: Self.now)?.list == "amber", "a candidate, exact after folding")
        #expect(list.match(plate: "ZZZ999", candidates: ["ABC123"], now: Self.now) == nil, "candidates get no tolerance")
        let strict = Hotlist(entries: list.entries, maxEditDistance: 0)
        #expect(strict.match(plate: "8DMW01", now: Self.now) == nil)
        #expect(strict.match(plate: "8DMWO13", now: Self.now) != nil)
        let wide = Hotlist(entries: list.entries, maxEditDistance: 2)
        #expect(wide.match(plate: "8DMW0XX", now: Self.now)?.distance == 2)
    }

    @Test("the nearest entry wins, then the first loaded; an expired entry never matches")
    func nearestAndExpiry() {
        let list = Hotlist(entries: [
            HotlistEntry(plate: "ABC1235", list: "first", reason: ""),
            HotlistEntry(plate: "ABC1234", list: "exact", reason: "", expires: Self.now - 1),
            HotlistEntry(plate: "ABC1236", list: "second", reason: ""),
        ], maxEditDistance: 1)
        #expect(list.match(plate: "ABC1234", now: Self.now)?.list == "first", "the exact entry has expired")
        #expect(list.match(plate: "ABC1234", now: Self.now - 2)?.list == "exact")
        #expect(list.lists.map(\.name) == ["first", "exact", "second"])
    }

    @Test("the banded edit distance agrees with the full one within its limit")
    func bandedDistance() {
        var rng = SeededRandom(seed: 7)
        let letters = Array("AB01".utf8)
        for _ in 0..<3000 {
            let a = (0..<Int(rng.next() % 9)).map { _ in letters[Int(rng.next() % 4)] }
            let b = (0..<Int(rng.next() % 9)).map { _ in letters[Int(rng.next() % 4)] }
            let full = editDistance(String(decoding: a, as: UTF8.self), String(decoding: b, as: UTF8.self))
            for limit in 1...2 {
                let banded = Hotlist.distance(a, b, limit: limit)
                #expect(banded == (full <= limit ? full : nil), "\(a) \(b) limit \(limit)")
            }
        }
    }

    @Test("the two ways of a tolerant match (scan, neighbour lookup) give the same hit on random lists and reads")
    func strategiesAgree() {
        var rng = SeededRandom(seed: 99)
        let alphabet = Array("AB0O18SZ5X".utf8)
        func text(_ n: Int) -> String { String(decoding: (0..<n).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }, as: UTF8.self) }
        for tolerance in 1...2 {
            for _ in 0..<20 {
                let entries = (0..<200).map { i in HotlistEntry(plate: text(3 + Int(rng.next() % 4)), list: "l\(i)", reason: "") }
                let scan = Hotlist(entries: entries, maxEditDistance: tolerance, strategy: .scan)
                let look = Hotlist(entries: entries, maxEditDistance: tolerance, strategy: .neighbours)
                for _ in 0..<50 {
                    let probe = text(2 + Int(rng.next() % 6))
                    #expect(scan.match(plate: probe, now: Self.now) == look.match(plate: probe, now: Self.now), "\(probe), tolerance \(tolerance)")
                }
            }
        }
    }
}
