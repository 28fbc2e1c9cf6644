import Cryptography
import Foundation
import Logging
import PlateKeeperCore
import PlateKeeperTesting
@testable import StoreCore
import StoreTesting
import Testing
import WireFormat

/// The store's privacy duties on a real PostgreSQL: retention by class with its deletion log and
/// the oldest read on /health; every read-out needs a purpose and is audited in a hash chain that
/// `platekeeper-store audit verify` checks.
@Suite("Store privacy", .serialized)
struct StorePrivacyTests {
    static func event(_ plate: String, daysAgo: Double, hit: Bool, now: Date) -> WireReadEvent {
        var e = Fixture.event(plate, seen: now.addingTimeInterval(-daysAgo * 86_400))
        if hit { e.hit = HotlistHit(list: "stolen", plate: plate, reason: "test", distance: 0) }
        return WireReadEvent(e)
    }

    @Test("retention by class: reads that matched nothing go after their days, hits after theirs; each deletion is logged without plates; /health shows the oldest read")
    func retentionByClass() async throws {
        let s = try await StoreTests.setUp(retentionDays: 90)
        defer { Task { await s.store.stop() } }
        let now = Date()
        let events = [
            Self.event("OLDNOHIT", daysAgo: 20, hit: false, now: now), Self.event("OLDHIT", daysAgo: 20, hit: true, now: now),
            Self.event("MIDNOHIT", daysAgo: 5, hit: false, now: now), Self.event("MIDHIT", daysAgo: 5, hit: true, now: now),
            Self.event("NEWNOHIT", daysAgo: 1, hit: false, now: now), Self.event("NEWHIT", daysAgo: 1, hit: true, now: now),
        ]
        #expect(try await Fixture.request(s.store.url + "/v1/reads", token: s.unitToken, body: try Fixture.batch(unit: "unit-1", events)).status == 200)

        let logger = Logger.quiet("r")
        let policy = Retention(days: 3, hitDays: 10)
        let deletions = try await StoreServer.withClient(s.postgres.configuration, logger: logger) { admin in
            let store = ReadStore(client: admin.client, retention: policy, logger: logger)
            let first = try await store.applyRetention(now: now)
            let again = try await store.applyRetention(now: now)
            #expect(again.isEmpty, "a second run finds nothing more to delete")
            return first
        }
        #expect(try s.postgres.psql("SELECT string_agg(plate, ',' ORDER BY plate) FROM read_event") == "MIDHIT,NEWHIT,NEWNOHIT")
        #expect(deletions.count == 2, "\(deletions)")
        #expect(deletions.first?.rule.hasPrefix("partition read_event_p") == true && deletions.first?.rows == 2)
        #expect(deletions.last?.rule == "reads that matched no hotlist older than 3 days" && deletions.last?.rows == 1)
        let mid = events[2].firstSeen
        #expect(deletions.last?.oldest == mid && deletions.last?.newest == mid)
        let log = try s.postgres.psql("SELECT string_agg(rule || ' ' || rows, ';' ORDER BY id) FROM deletion_log")
        for plate in events.map(\.plate) { #expect(!log.contains(plate)) }

        let health = try await Fixture.request(s.store.url + "/health", method: "GET", token: nil)
        #expect(health.status == 200)
        let doc = try #require(try JSONSerialization.jsonObject(with: health.body) as? [String: Any])
        #expect(doc["oldest_read"] as? String == events[3].firstSeen, "the 5-day-old hit is the oldest read held")
        #expect(doc["retention_days"] as? Int == 90)

        // The running store (90 days for both) takes a 20-day-old read; one kept 3 and 10 days refuses
        // a 5-day-old read that matched nothing and takes a 5-day-old hit.
        let strict = try await RunningStore(s.postgres, retentionDays: 3, retentionHitDays: 10)
        defer { Task { await strict.stop() } }
        let late = try Fixture.batch(unit: "unit-1", [Self.event("LATENOHIT", daysAgo: 5, hit: false, now: now)])
        let refused = try await Fixture.request(strict.url + "/v1/reads", token: s.unitToken, body: late)
        #expect(refused.status == 422 && String(decoding: refused.body, as: UTF8.self).contains("retention for its class (3 days)"))
        let lateHit = try Fixture.batch(unit: "unit-1", [Self.event("LATEHIT", daysAgo: 5, hit: true, now: now)])
        #expect(try await Fixture.request(strict.url + "/v1/reads", token: s.unitToken, body: lateHit).status == 200)
    }

    @Test("two store instances applying retention at once: each partition and each read is deleted and logged once")
    func retentionInParallel() async throws {
        let s = try await StoreTests.setUp(retentionDays: 90)
        defer { Task { await s.store.stop() } }
        let now = Date()
        let events = [40, 35, 31, 5].flatMap { days in
            [Self.event("PAR\(days)A", daysAgo: Double(days), hit: false, now: now), Self.event("PAR\(days)B", daysAgo: Double(days), hit: true, now: now)]
        }
        #expect(try await Fixture.request(s.store.url + "/v1/reads", token: s.unitToken, body: try Fixture.batch(unit: "unit-1", events)).status == 200)
        let logger = Logger.quiet("r")
        let config = s.postgres.configuration
        let policy = Retention(days: 3, hitDays: 30)
        async let a = StoreServer.withClient(config, logger: logger, retention: policy) { try await $0.applyRetention(now: now) }
        async let b = StoreServer.withClient(config, logger: logger, retention: policy) { try await $0.applyRetention(now: now) }
        let (x, y) = try await (a, b)
        #expect(x.count + y.count >= 3, "\(x) \(y)")
        #expect(try s.postgres.psql("SELECT string_agg(plate, ',' ORDER BY plate) FROM read_event") == "PAR5B")
        #expect(try s.postgres.psql("SELECT count(*) FROM deletion_log WHERE rule LIKE 'partition %'") == "3")
        #expect(try s.postgres.psql("SELECT count(DISTINCT rule) FROM deletion_log WHERE rule LIKE 'partition %'") == "3")
        #expect(try s.postgres.psql("SELECT sum(rows) FROM deletion_log") == "7", "every deleted read counted once")
    }

    @Test("every read-out needs a purpose and is audited (who, query, purpose, records); audit verify names a tampered entry",
          .enabled(if: FileManager.default.isExecutableFile(atPath: StoreKillTests.storeExecutable), "needs the platekeeper-store executable beside the tests"))
    func audit() async throws {
        let s = try await StoreTests.setUp()
        defer { Task { await s.store.stop() } }
        let now = Date()
        let events = [Self.event("AUD1", daysAgo: 0, hit: false, now: now), Self.event("AUD2", daysAgo: 0, hit: true, now: now)]
        #expect(try await Fixture.request(s.store.url + "/v1/reads", token: s.unitToken, body: try Fixture.batch(unit: "unit-1", events)).status == 200)
        let url = s.store.url + "/v1/reads"
        for bad in ["", "&purpose=", "&purpose=ab", "&purpose=%20%20%20%20", "&purpose=a%0Ab%0Ac", "&purpose=" + String(repeating: "x", count: 501)] {
            let r = try await Fixture.request(url + "?plate=AUD1" + bad, method: "GET", token: s.readerToken)
            #expect(r.status == 400 && String(decoding: r.body, as: UTF8.self).contains("purpose"), "\(bad)")
        }
        #expect(try await Fixture.request(url + "/\(events[0].id.uuidString.lowercased())/crop", method: "GET", token: s.readerToken).status == 400)
        #expect(try s.postgres.psql("SELECT count(*) FROM audit_log") == "0", "a refused read-out reads nothing and is not an entry")

        let found = try await Fixture.request(url + "?plate=AUD1&purpose=case%202026-117", method: "GET", token: s.readerToken)
        #expect(found.status == 200)
        let crop = try await Fixture.request(url + "/\(events[1].id.uuidString.lowercased())/crop?purpose=case%202026-117", method: "GET", token: s.readerToken)
        #expect(crop.status == 200)
        let none = try await Fixture.request(url + "?unit=unit-9&purpose=fleet%20review", method: "GET", token: s.readerToken)
        #expect(none.status == 200)
        #expect(try s.postgres.psql("SELECT string_agg(concat_ws('|', seq, who, action, query, purpose, records), ';' ORDER BY seq) FROM audit_log")
            == "1|reader:analyst|query|plate=AUD1 limit=100|case 2026-117|1;"
            + "2|reader:analyst|crop|id=\(events[1].id.uuidString.lowercased())|case 2026-117|1;"
            + "3|reader:analyst|query|unit=unit-9 limit=100|fleet review|0")

        let db = ["--db-socket", s.postgres.folder, "--db-user", s.postgres.user]
        let exe = StoreKillTests.storeExecutable
        let good = try runCommand(exe, ["audit", "verify"] + db)
        #expect(good.status == 0 && good.stdout.contains("3 entries"), "\(good.stdout)\(good.stderr)")
        _ = try s.postgres.psql("UPDATE audit_log SET purpose = 'curiosity' WHERE seq = 2")
        let tampered = try runCommand(exe, ["audit", "verify"] + db)
        #expect(tampered.status == 1 && tampered.stderr.contains("broken at entry 2") && tampered.stderr.contains("altered"), "\(tampered.stderr)")
        _ = try s.postgres.psql("UPDATE audit_log SET purpose = 'case 2026-117' WHERE seq = 2")
        #expect(try runCommand(exe, ["audit", "verify"] + db).status == 0, "restored, the chain holds again")
        _ = try s.postgres.psql("DELETE FROM audit_log WHERE seq = 1")
        let cut = try runCommand(exe, ["audit", "verify"] + db)
        #expect(cut.status == 1 && cut.stderr.contains("broken at entry 1"), "\(cut.stderr)")
        let log = try runCommand(exe, ["deletions"] + db)
        #expect(log.status == 0 && log.stdout.isEmpty, "nothing deleted yet")
    }

    /// For each needle, the files under `root` (PostgreSQL's data directory: tables, WAL, logs)
    /// that hold it. Each file is read once.
    static func filesHolding(_ needles: [String], under root: String) -> [String: [String]] {
        var found: [String: [String]] = [:]
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let relative = enumerator?.nextObject() as? String {
            let path = root + "/" + relative
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                  let data = FileManager.default.contents(atPath: path) else { continue }
            for needle in needles {
                let hit = data.withUnsafeBytes { Self.contains($0, Array(needle.utf8)) }
                if hit { found[needle, default: []].append(relative) }
            }
        }
        return found
    }

    /// Whether `needle` occurs in `hay` (memchr for the first byte, memcmp for the rest).
    static func contains(_ hay: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, var p = hay.baseAddress else { return false }
        var remaining = hay.count
        while remaining >= needle.count, let q = memchr(p, Int32(needle[0]), remaining - needle.count + 1) {
            if memcmp(q, needle, needle.count) == 0 { return true }
            let step = UnsafeRawPointer(q) - p + 1
            p += step
            remaining -= step
        }
        return false
    }

    @Test("with a key directory: no plate, candidate, position or hit reason reaches PostgreSQL's files (WAL included) in the clear; queries and crops open; after retention a day's key is destroyed and its rows open with no key the store has")
    func sealedAndShredded() async throws {
        let postgres = try PrivatePostgres()
        let keyDir = try TemporaryDirectory()
        chmod(keyDir.path, 0o700)
        let store = try await RunningStore(postgres, retentionDays: 30, retentionHitDays: 60, keyDirectory: keyDir.path)
        defer { Task { await store.stop() } }
        let logger = Logger.quiet("admin")
        let (unit, reader) = try await StoreServer.withClient(postgres.configuration, logger: logger) { s in
            (try await s.addUnit("unit-1"), try await s.addReader("analyst"))
        }
        let now = Date()
        var events = [Self.event("ZQX4821", daysAgo: 2, hit: false, now: now), Self.event("KJW7730", daysAgo: 2, hit: true, now: now)]
        events[0].candidates.append(.init(plate: "ZQX4B21", confidence: 40, matchesFormat: true))
        events[1].hit?.reason = "REASONTEXT"
        for i in events.indices {
            events[i].position?.lat = 47.6123457
            events[i].position?.lon = -122.3321987
        }
        #expect(try await Fixture.request(store.url + "/v1/reads", token: unit, body: try Fixture.batch(unit: "unit-1", events)).status == 200)

        // Read back whole through the API (with a purpose), crops too.
        for e in events {
            let r = try await Fixture.request(store.url + "/v1/reads?plate=\(e.plate)&purpose=case%207", method: "GET", token: reader)
            struct Reads: Decodable { let reads: [WireReadEvent] }
            let reads = try WireCoding.decode(Reads.self, from: r.body).reads
            var expected = e
            expected.cropJPEG = nil
            #expect(reads == [expected], "\(String(decoding: r.body.prefix(400), as: UTF8.self))")
            let crop = try await Fixture.request(store.url + "/v1/reads/\(e.id.uuidString.lowercased())/crop?purpose=case%207", method: "GET", token: reader)
            #expect(crop.status == 200 && crop.body == e.cropJPEG)
        }
        _ = try postgres.psql("CHECKPOINT")
        let data = postgres.folder + "/data"
        #expect(FileManager.default.fileExists(atPath: data + "/pg_wal"))
        // The hit's list name stays in the clear (the report counts hits per list); its plate and reason do not.
        let scan = Self.filesHolding(["ZQX4821", "ZQX4B21", "KJW7730", "REASONTEXT", "47.6123457", "-122.3321987"], under: data)
        #expect(scan.isEmpty, "found in the clear: \(scan)")
        #expect(try postgres.psql("SELECT count(*) FROM read_event WHERE sealed IS NOT NULL AND plate = '' AND lat IS NULL") == "2")
        // The audit trail names the plates asked for by a token that dies with the day's hit key.
        let queries = try postgres.psql("SELECT string_agg(query, ';' ORDER BY seq) FROM audit_log WHERE action = 'query'")
        #expect(queries.split(separator: ";").allSatisfy { $0.hasPrefix("plate=~") && $0.hasSuffix(" limit=100") } && !queries.contains("ZQX"), "\(queries)")
        let keyFiles = try FileManager.default.contentsOfDirectory(atPath: keyDir.path).sorted()
        // Each class's key of the reads' day, and today's hit key (the audit tokens').
        #expect(keyFiles.count == 3 && keyFiles.allSatisfy { $0.hasSuffix(".key") }, "\(keyFiles)")

        // Retention 40 days on: the non-hit's day is past 30 days, the hit's is not past 60.
        let boxes = try postgres.psql("SELECT encode(sealed, 'hex') FROM read_event ORDER BY hit IS NULL DESC").split(separator: "\n").map(String.init)
        let later = now.addingTimeInterval(40 * 86_400)
        let deletions = try await StoreServer.withClient(postgres.configuration, logger: logger) { admin in
            try await ReadStore(client: admin.client, retention: Retention(days: 30, hitDays: 60), keys: try DayKeys(directory: keyDir.path), logger: logger)
                .applyRetention(now: later)
        }
        #expect(deletions.map(\.rows) == [1, 0], "\(deletions)")
        #expect(deletions.last?.rule.contains("crypto-shredding") == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: keyDir.path).filter { $0.hasPrefix("nohit-") }.isEmpty)
        #expect(try postgres.psql("SELECT count(*) FROM read_event") == "1")
        // The deleted read's box, as a WAL segment or a backup would still hold it: no key the store
        // has opens it.
        let box = try #require(bytes(fromHex: boxes[0]))
        for name in try FileManager.default.contentsOfDirectory(atPath: keyDir.path) {
            let day = SecretKey(bytes: try #require(FileManager.default.contents(atPath: keyDir.path + "/" + name)).map { $0 })
            #expect(throws: AES256GCM.OpenFailure.authentication) {
                try AES256GCM.open(box, key: Sealer.sealKey(day), aad: Array("\(events[0].id.uuidString.lowercased())/read".utf8))
            }
        }
        // The hit is still there and still opens.
        let hit = try await Fixture.request(store.url + "/v1/reads?plate=KJW7730&purpose=case%207", method: "GET", token: reader)
        #expect(String(decoding: hit.body, as: UTF8.self).contains("REASONTEXT"))
        let health = try await Fixture.request(store.url + "/health", method: "GET", token: nil)
        #expect(String(decoding: health.body, as: UTF8.self).contains(#""sealed":true"#))
    }

    @Test("the scan finds plates when the store has no key directory (the scan can fail)")
    func clearStoreHoldsPlates() async throws {
        let s = try await StoreTests.setUp()
        defer { Task { await s.store.stop() } }
        let events = [Self.event("ZQX4821", daysAgo: 0, hit: false, now: Date())]
        #expect(try await Fixture.request(s.store.url + "/v1/reads", token: s.unitToken, body: try Fixture.batch(unit: "unit-1", events)).status == 200)
        _ = try s.postgres.psql("CHECKPOINT")
        #expect(Self.filesHolding(["ZQX4821"], under: s.postgres.folder + "/data")["ZQX4821"]?.isEmpty == false)
    }

    @Test("a key directory others may enter, or a missing one, is refused at start with the reason")
    func badKeyDirectory() throws {
        let dir = try TemporaryDirectory()
        chmod(dir.path, 0o755)
        #expect { try DayKeys(directory: dir.path) } throws: { "\($0)".contains("lets other users in") }
        #expect { try DayKeys(directory: dir.path + "/none") } throws: { "\($0)".contains("No such file") }
        let file = try dir.write("file", "x")
        #expect { try DayKeys(directory: file) } throws: { "\($0)".contains("not a directory") }
        let keys = dir.file("keys")
        mkdir(keys, 0o700)
        let shortKey = keys + "/" + DayKeys.name(hit: false, day: Date())
        _ = FileManager.default.createFile(atPath: shortKey, contents: Data([1, 2, 3]))
        let dayKeys = try DayKeys(directory: keys)
        #expect { try dayKeys.key(hit: false, time: Date(), create: true) } throws: { "\($0)".contains("holds 32 bytes") }
        #expect(FileManager.default.contents(atPath: shortKey) == Data([1, 2, 3]), "a damaged key file is reported, never replaced")
    }

    @Test("public release from the store: tokens, no plate; a rare cell left out; two releases share no token; audited. Report: numbers only, reads per day and camera that outlive retention",
          .enabled(if: FileManager.default.isExecutableFile(atPath: StoreKillTests.storeExecutable), "needs the platekeeper-store executable beside the tests"))
    func releaseAndReport() async throws {
        let postgres = try PrivatePostgres()
        let keyDir = try TemporaryDirectory()
        chmod(keyDir.path, 0o700)
        let store = try await RunningStore(postgres, keyDirectory: keyDir.path)
        defer { Task { await store.stop() } }
        let logger = Logger.quiet("admin")
        let unit = try await StoreServer.withClient(postgres.configuration, logger: logger) { try await $0.addUnit("unit-1") }
        // Six vehicles in one hour and place, one of them a hit; one lone vehicle a day earlier.
        let now = Date()
        let hour = (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600
        var events = (0..<6).map { i in
            WireReadEvent(Fixture.event("RELA\(i)X", seen: Date(timeIntervalSince1970: hour + Double(i))))
        }
        events[0].hit = .init(HotlistHit(list: "stolen", plate: "RELA0X", reason: "test", distance: 0))
        events.append(WireReadEvent(Fixture.event("LONELY9", seen: Date(timeIntervalSince1970: hour - 86_400))))
        #expect(try await Fixture.request(store.url + "/v1/reads", token: unit, body: try Fixture.batch(unit: "unit-1", events)).status == 200)

        let exe = StoreKillTests.storeExecutable
        let db = ["--db-socket", postgres.folder, "--db-user", postgres.user]
        let range = ["--from", ISO8601.format(unixNanoseconds: Int64(hour - 2 * 86_400) * 1_000_000_000),
                     "--to", ISO8601.format(unixNanoseconds: Int64(hour + 3600) * 1_000_000_000)]
        let release = ["release"] + db + range + ["--key-dir", keyDir.path, "--purpose", "public records request 12"]
        let one = try runCommand(exe, release), two = try runCommand(exe, release)
        #expect(one.status == 0 && two.status == 0, "\(one.stderr)")
        for plate in events.map(\.plate) { #expect(!one.stdout.contains(plate)) }
        let tokens = { (out: String) in Set(out.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["token"] as? String }) }
        #expect(tokens(one.stdout).count == 6, "the lone vehicle's cell is left out: \(one.stdout)")
        #expect(tokens(one.stdout).isDisjoint(with: tokens(two.stdout)))
        #expect(one.stderr.contains("left out 1 reads in 1 cells"))
        #expect(one.stdout.contains(#""camera":"unit-1\/lane-1""#) || one.stdout.contains(#""camera":"unit-1/lane-1""#))
        let withoutKeys = try runCommand(exe, ["release"] + db + range + ["--purpose", "public records request 12"])
        #expect(withoutKeys.status == 0 && withoutKeys.stdout.isEmpty && withoutKeys.stderr.contains("7 sealed reads had no key"))
        #expect(try runCommand(exe, ["release"] + db + range).status != 0, "no purpose, no release")
        #expect(try postgres.psql("SELECT string_agg(action || ' ' || records, ',' ORDER BY seq) FROM audit_log") == "release 6,release 6,release 0")

        // Retention takes every read; the report still counts them.
        _ = try await StoreServer.withClient(postgres.configuration, logger: logger, retention: Retention(days: 1, hitDays: 1),
                                             keys: try DayKeys(directory: keyDir.path)) { try await $0.applyRetention(now: now.addingTimeInterval(5 * 86_400)) }
        #expect(try postgres.psql("SELECT count(*) FROM read_event") == "0")
        let report = try runCommand(exe, ["report"] + db)
        #expect(report.status == 0, "\(report.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])
        let days = try #require(doc["scans_per_day"] as? [[String: Any]])
        #expect(days.reduce(0) { $0 + ($1["reads"] as? Int ?? 0) } == 7 && days.reduce(0) { $0 + ($1["hits"] as? Int ?? 0) } == 1)
        #expect(doc["audit_chain_intact"] as? Bool == true)
        #expect((doc["audit_entries_per_role"] as? [[String: Any]])?.first?["name"] as? String == "store administrator")
        #expect((doc["audit_entries_per_role"] as? [[String: Any]])?.first?["count"] as? Int == 3)
        #expect(doc["audit_entries_per_purpose"] == nil && !report.stdout.contains("public records request"), "no purpose's words in public")
        #expect((doc["retention_deletions"] as? [[String: Any]])?.isEmpty == false)
        for plate in events.map(\.plate) { #expect(!report.stdout.contains(plate)) }
        let page = try runCommand(exe, ["report", "--format", "html"] + db)
        #expect(page.status == 0 && page.stdout.contains("<svg") && !page.stdout.contains("RELA"))
    }
}
