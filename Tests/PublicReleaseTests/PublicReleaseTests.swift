import Audit
import Cryptography
import Foundation
import Journal
import PlateKeeperCore
import PlateKeeperTesting
@testable import PublicRelease
import Testing

@Suite("Public release")
struct PublicReleaseTests {
    static let base = ISO8601.parse("2026-11-30T10:00:00Z")!

    static func read(_ plate: String, minute: Int, lat: Double?, lon: Double? = 5.1214, camera: String = "lane-1",
                     kind: ReadEvent.Kind = .vehicle) -> ReadEvent {
        let t = CaptureTime(unixNanoseconds: base + Int64(minute) * 60_000_000_000, quality: .synchronized)
        return ReadEvent(
            kind: kind, camera: CameraID(camera), plate: plate, confidence: 90,
            candidates: [PlateCandidate(text: plate, confidence: 90, matchesFormat: true)], region: "us",
            box: PixelBox(x: 0, y: 0, width: 1, height: 1), firstSeen: t, lastSeen: t, frameCount: 3, bestFrame: "f",
            position: lat.map { GeoPosition(latitude: $0, longitude: lon ?? 0, fix: .fixed, source: .fixed) }, crop: [0xFF, 0xD8, 0xFF, 0xD9])
    }

    /// Cell A (10:00–11:00, one 0.01° cell): five vehicles, one seen twice. Cell B (the next
    /// cell east): four vehicles. Cell C (no position, camera "x"): one vehicle. A first-sight
    /// event repeats a pass and is not released.
    static let crafted: [ReadEvent] = [
        read("AAA001", minute: 1, lat: 52.0901), read("AAA002", minute: 5, lat: 52.0905), read("AAA003", minute: 20, lat: 52.0999),
        read("AAA004", minute: 40, lat: 52.0950), read("AAA005", minute: 59, lat: 52.0901), read("AAA001", minute: 30, lat: 52.0902),
        read("BBB001", minute: 2, lat: 52.0901, lon: 5.1314), read("BBB002", minute: 3, lat: 52.0901, lon: 5.1314),
        read("BBB003", minute: 4, lat: 52.0901, lon: 5.1314), read("BBB004", minute: 5, lat: 52.0901, lon: 5.1314),
        read("CCC001", minute: 6, lat: nil, camera: "x"),
        read("AAA002", minute: 7, lat: 52.0901, kind: .firstSight),
    ]

    @Test("k-suppression: cells with fewer than k distinct vehicles are left out whole; time rounded, positions at cell centres, no plate text")
    func suppression() throws {
        var settings = ReleaseSettings()
        settings.k = 5
        let result = Pseudonymiser.release(Self.crafted, settings: settings)
        #expect(result.reads.count == 6, "cell A only: its six vehicle reads")
        #expect(result.cells == 3 && result.suppressedCells == 2 && result.suppressedReads == 5)
        #expect(Set(result.reads.map(\.time)) == ["2026-11-30T10:00:00.000Z"])
        #expect(Set(result.reads.compactMap(\.lat)) == [52.095] && Set(result.reads.compactMap(\.lon)) == [5.125])
        #expect(Set(result.reads.map(\.token)).count == 5, "five vehicles")
        let text = String(decoding: try JSONEncoder().encode(result.reads), as: UTF8.self)
        for plate in Set(Self.crafted.map(\.plate)) { #expect(!text.contains(plate)) }
        #expect(!text.contains("crop") && !text.contains("confidence"))
        // Every released cell holds at least k distinct vehicles.
        var cells: [String: Set<String>] = [:]
        for r in result.reads { cells["\(r.time) \(r.lat ?? 0) \(r.lon ?? 0) \(r.camera) \(r.region)", default: []].insert(r.token) }
        #expect(cells.values.allSatisfy { $0.count >= 5 })

        settings.k = 4
        let looser = Pseudonymiser.release(Self.crafted, settings: settings)
        #expect(looser.reads.count == 10 && looser.suppressedCells == 1, "cell B has four vehicles")
    }

    @Test("k applies to every attribute a row shows: a lone vehicle at a named camera inside a busy grid cell is left out; the others stay")
    func loneVehicleAtANamedCamera() throws {
        var settings = ReleaseSettings()
        settings.k = 5
        let lone = Self.read("SIDE001", minute: 12, lat: 52.0903, camera: "side-street")
        let result = Pseudonymiser.release(Self.crafted + [lone], settings: settings)
        #expect(!result.reads.contains { $0.camera == "side-street" }, "the only vehicle at side-street that hour")
        #expect(result.reads.count == 6, "cell A's five vehicles at lane-1 are still released")
        // A rare region narrows a row as much as a rare camera.
        var foreign = Self.read("FOREIGN1", minute: 13, lat: 52.0903)
        foreign.region = "eu"
        #expect(!Pseudonymiser.release(Self.crafted + [foreign], settings: settings).reads.contains { $0.region == "eu" })
    }

    @Test("vehicles are counted by look-alike-folded plate: one car read as OCRVAR1 and OCRVARI is one vehicle, one token")
    func lookAlikeSpellingsAreOneVehicle() throws {
        var settings = ReleaseSettings()
        settings.k = 2
        let reads = [Self.read("OCRVAR1", minute: 1, lat: 52.0901), Self.read("OCRVARI", minute: 2, lat: 52.0901)]
        let result = Pseudonymiser.release(reads, settings: settings)
        #expect(result.reads.isEmpty && result.suppressedCells == 1, "one vehicle is below k = 2")
        let three = Pseudonymiser.release(reads + [Self.read("OTHER22", minute: 3, lat: 52.0901)], settings: settings)
        #expect(three.reads.count == 3)
        #expect(Set(three.reads.map(\.token)).count == 2, "two vehicles, two tokens")
    }

    @Test("tokens: the same plate has the same token within a release; two releases of the same data share none")
    func tokens() throws {
        let key = try SecretKey.random()
        let one = Pseudonymiser.release(Self.crafted, settings: { var s = ReleaseSettings(); s.k = 2; return s }(), key: key)
        let byToken = Dictionary(grouping: one.reads, by: \.token)
        #expect(byToken.values.contains { $0.count == 2 }, "AAA001 twice, one token")
        var s = ReleaseSettings()
        s.k = 2
        let a = Pseudonymiser.release(Self.crafted, settings: s), b = Pseudonymiser.release(Self.crafted, settings: s)
        #expect(Set(a.reads.map(\.token)).isDisjoint(with: b.reads.map(\.token)))
        #expect(a.reads.count == b.reads.count)
    }

    @Test("settings from outside are bounded: a zero or infinite precision or a k of 0 cannot reach the arithmetic")
    func bounds() {
        var s = ReleaseSettings()
        s.timeSeconds = 0
        s.gridDegrees = .infinity
        s.k = 0
        let b = s.bounded
        #expect(b.timeSeconds == 60 && b.gridDegrees == 0.01 && b.k == 2)
        _ = Pseudonymiser.release(Self.crafted, settings: s)
    }

    @Test("transparency report: numbers only, scans per day and camera, hits per list, deletions, read-outs per category and role, never a purpose's words; a page with charts")
    func report() async throws {
        let dir = try TemporaryDirectory()
        var settings = JournalSettings(path: dir.file("journal.sqlite"))
        settings.retentionSeconds = 600
        settings.hitRetentionSeconds = nil
        let journal = try Journal(settings: settings)
        var hit = Self.read("HIT777", minute: 1, lat: 52.09)
        hit.hit = HotlistHit(list: "stolen", plate: "HIT777", reason: "r", distance: 0)
        _ = try await journal.append(hit)
        for e in Self.crafted.prefix(4) { _ = try await journal.append(e, journaledAt: Date().addingTimeInterval(-3600)) }
        #expect(try await journal.applyRetention() == 4)
        let log = AuditLog(path: dir.file("audit.log"))
        try log.append(who: "a", action: "journal export", query: "", purpose: "case 1 for Jane Doe, 12 Elm St", category: "investigation", records: 1)
        try log.append(who: "a", action: "journal export", query: "", purpose: "case 1", category: "investigation", records: 2)
        try log.append(who: "b", action: "journal release", query: "", purpose: "<script>FOIA</script>", records: 3)
        let report = TransparencyReport(
            unit: "pole-7", settings: settings, daily: try journal.dailyCounts(), hitsHeldPerList: try journal.hitsHeldPerList(),
            deletions: try journal.deletionLog(), audit: Result { () throws(AuditError) in try log.verify() })
        #expect(report.scansPerDay == [DailyCount(day: "2026-11-30", camera: "lane-1", reads: 5, hits: 1, notKept: 0)])
        #expect(report.hitsHeldPerList == [.init(name: "stolen", count: 1)])
        #expect(report.retentionDeletions.map(\.rows) == [4] && report.retentionDeletions.first?.rule == "reads")
        #expect(report.auditEntriesPerCategory == [.init(name: "investigation", count: 2), .init(name: "uncategorised", count: 1)])
        #expect(report.auditEntriesPerRole == [.init(name: "unit operator", count: 3)])
        #expect(report.auditChainIntact)
        let json = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        for text in ["HIT777", "AAA001", "Jane Doe", "case 1", "FOIA"] { #expect(!json.contains(text), "\(text) in the public report") }
        let page = report.html()
        #expect(page.contains("<svg") && page.contains("pole-7") && !page.contains("HIT777"))
        #expect(!page.contains("FOIA") && !page.contains("Jane Doe"), "no purpose's words on the page")
    }
}
