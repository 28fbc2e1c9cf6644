import Foundation
import Journal
import Logging
import PlateKeeperCore
import PlateKeeperTesting
import PostgresNIO
import StoreCore
import StoreTesting
import Testing
import Upload
import WireFormat

/// The store on a real PostgreSQL, driven by the real uploader and by hostile requests.
@Suite("Store", .serialized)
struct StoreTests {
    struct Setup {
        let postgres: PrivatePostgres
        let store: RunningStore
        let unitToken: String
        let readerToken: String
    }

    static func setUp(retentionDays: Int = 90) async throws -> Setup {
        let postgres = try PrivatePostgres()
        let store = try await RunningStore(postgres, retentionDays: retentionDays)
        let logger = Logger.quiet("admin")
        let (unit, reader) = try await StoreServer.withClient(postgres.configuration, logger: logger) { s in
            (try await s.addUnit("unit-1"), try await s.addReader("analyst"))
        }
        return Setup(postgres: postgres, store: store, unitToken: unit, readerToken: reader)
    }

    @Test("migrations: two instances starting at once on an empty database, then again: one schema, no error")
    func migrations() async throws {
        let postgres = try PrivatePostgres()
        let logger = Logger.quiet("m")
        let config = postgres.configuration
        async let a: Void = StoreServer.withClient(config, logger: logger) { _ in () }
        async let b: Void = StoreServer.withClient(config, logger: logger) { _ in () }
        _ = try await (a, b)
        try await StoreServer.withClient(config, logger: logger) { _ in () }
        // Every version once, each applied by exactly one of the instances.
        #expect(try postgres.psql("SELECT string_agg(version::text, ',' ORDER BY version) FROM store_schema")
            == (1...StoreSchema.currentVersion).map(String.init).joined(separator: ","))
        #expect(try postgres.psql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'read_event' AND column_name IN ('best_seen', 'position_status', 'clock', 'hit')") == "4")
        #expect(try postgres.psql("SELECT relkind FROM pg_class WHERE relname = 'read_event'") == "p", "read_event is partitioned")
        // Tokens are stored as hashes only.
        let token = try await StoreServer.withClient(config, logger: logger) { try await $0.addUnit("u-9") }
        #expect(try postgres.psql("SELECT token_sha256 FROM unit WHERE id = 'u-9'") == ReadStore.hash(token))
        #expect(try postgres.psql("SELECT count(*) FROM unit WHERE token_sha256 LIKE '%\(token.prefix(12))%'") == "0")
    }

    @Test("the uploader's reads are stored exactly once, with crops, in daily partitions; a reader finds them")
    func uploaderToStore() async throws {
        let s = try await Self.setUp()
        defer { Task { await s.store.stop() } }
        let dir = try TemporaryDirectory()
        let (journal, ids) = try await Fixture.journal(dir, reads: 300)
        let uploader = try Fixture.uploader(url: s.store.url, unit: "unit-1", token: s.unitToken, journal: journal, dir: dir)
        #expect(await Fixture.drain(uploader, journal))
        #expect(try s.postgres.storedIDs() == ids)
        #expect(try s.postgres.count() == 300)
        #expect(try s.postgres.count("crop IS NOT NULL AND length(crop) = 1204 AND unit = 'unit-1'") == 300)
        #expect(try s.postgres.psql("SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'read_event'") != "0")

        let found = try await Fixture.request(s.store.url + "/v1/reads?plate=S17&unit=unit-1&purpose=case%2042", method: "GET", token: s.readerToken)
        #expect(found.status == 200)
        struct Reads: Decodable { let reads: [WireReadEvent] }
        let reads = try WireCoding.decode(Reads.self, from: found.body).reads
        #expect(reads.map(\.plate) == ["S17"], "\(found.status) \(String(decoding: found.body.prefix(500), as: UTF8.self))")
        let original = try #require(try journal.events(includeCrops: true).first { $0.event.plate == "S17" }).event
        var expected = WireReadEvent(original, includeCrop: false)
        expected.cropJPEG = nil
        #expect(reads.first == expected, "the store gives back exactly what the unit sent")
        #expect(reads.first?.hit?.list == "stolen", "S17 is a hotlist hit in the fixture")
        #expect(try s.postgres.count("hit IS NOT NULL") == 18)
        let crop = try await Fixture.request(s.store.url + "/v1/reads/\(original.id.uuidString.lowercased())/crop?purpose=case%2042", method: "GET", token: s.readerToken)
        #expect(crop.status == 200 && crop.body == Data(original.crop ?? []))
        let metrics = try await Fixture.request(s.store.url + "/metrics", method: "GET", token: nil)
        #expect(String(decoding: metrics.body, as: UTF8.self).contains("platekeeper_store_reads_stored_total 300"))
        #expect(try await Fixture.request(s.store.url + "/health", method: "GET", token: nil).status == 200)
    }

    @Test("faults between uploader and store (lost acknowledgements, cut and late answers, refused connections): each read stored once")
    func faultProxy() async throws {
        let s = try await Self.setUp()
        defer { Task { await s.store.stop() } }
        // Each fault ends its connection, so the uploader's next request opens the next one and
        // meets the next fault; after the script, connections pass (and are kept alive).
        let proxy = try FaultProxy(upstream: UInt16(s.store.port), script: [
            .dropResponse, .cutResponse(after: 20), .refuse, .delayResponse(seconds: 4), .dropResponse, .cutResponse(after: 200), .dropResponse,
        ])
        let dir = try TemporaryDirectory()
        let (journal, ids) = try await Fixture.journal(dir, reads: 200)
        let uploader = try Fixture.uploader(url: "http://127.0.0.1:\(proxy.port)", unit: "unit-1", token: s.unitToken, journal: journal,
                                            dir: dir, batch: 25, timeout: 2)
        #expect(await Fixture.drain(uploader, journal, timeout: 90))
        #expect(try s.postgres.storedIDs() == ids)
        #expect(try s.postgres.count() == 200, "no read stored twice")
        let metrics = String(decoding: try await Fixture.request(s.store.url + "/metrics", method: "GET", token: nil).body, as: UTF8.self)
        #expect(!metrics.contains("platekeeper_store_reads_duplicate_total 0"), "some batches arrived twice: \(metrics)")
        #expect(proxy.connections >= 8, "every fault met, then a passing connection")
    }

    @Test("PostgreSQL restarted under the store: 503 with Retry-After meanwhile, every read stored once after")
    func postgresRestart() async throws {
        let s = try await Self.setUp()
        defer { Task { await s.store.stop() } }
        let dir = try TemporaryDirectory()
        let (journal, ids) = try await Fixture.journal(dir, reads: 150)
        try s.postgres.stop(immediate: true)
        let down = try await Fixture.request(s.store.url + "/v1/reads", token: s.unitToken,
                                             body: try Fixture.batch(unit: "unit-1", [WireReadEvent(Fixture.event("DOWN1"))]))
        #expect(down.status == 503 && down.retryAfterSeconds == 1)
        #expect(try await Fixture.request(s.store.url + "/health", method: "GET", token: nil).status == 503)
        let uploader = try Fixture.uploader(url: s.store.url, unit: "unit-1", token: s.unitToken, journal: journal, dir: dir, batch: 10)
        let task = ThreadTaskExecutor.task { await uploader.run() }
        try await Task.sleep(for: .seconds(2))
        #expect(try journal.stats().pending == 150)
        try s.postgres.start()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, try journal.stats().pending > 0 { try await Task.sleep(for: .milliseconds(100)) }
        task.cancel()
        #expect(try journal.stats().pending == 0)
        #expect(try s.postgres.storedIDs() == ids)
    }

    @Test("least privilege: wrong tokens, a reader uploading, a unit reading or posing as another unit are all refused")
    func privileges() async throws {
        let s = try await Self.setUp()
        defer { Task { await s.store.stop() } }
        let body = try Fixture.batch(unit: "unit-1", [WireReadEvent(Fixture.event("PRIV1"))])
        let url = s.store.url + "/v1/reads"
        #expect(try await Fixture.request(url, token: nil, body: body).status == 401)
        #expect(try await Fixture.request(url, token: "not-a-token", body: body).status == 401)
        #expect(try await Fixture.request(url, token: s.readerToken, body: body).status == 403)
        let other = try Fixture.batch(unit: "unit-2", [WireReadEvent(Fixture.event("PRIV2"))])
        #expect(try await Fixture.request(url, token: s.unitToken, body: other).status == 403)
        #expect(try await Fixture.request(url + "?plate=PRIV1", method: "GET", token: s.unitToken).status == 403)
        #expect(try await Fixture.request(url, method: "GET", token: "nope").status == 401)
        #expect(try await Fixture.request(url + "/\(UUID())/crop", method: "GET", token: s.unitToken).status == 403)
        #expect(try s.postgres.count() == 0)
        #expect(try await Fixture.request(url, token: s.unitToken, body: body).status == 200)
        #expect(try s.postgres.count() == 1)
    }

    @Test("a read id is the store's identity: another unit's upload of it, or its own unit's with another first_seen, is refused as a conflict and counted; the owner's read and crop are what is served")
    func readIdentity() async throws {
        let s = try await Self.setUp()
        defer { Task { await s.store.stop() } }
        let attacker = try await StoreServer.withClient(s.postgres.configuration, logger: Logger.quiet("admin")) { try await $0.addUnit("unit-2") }
        let url = s.store.url + "/v1/reads"
        let original = WireReadEvent(Fixture.event("OWNER1", crop: 8104))
        #expect(try await Fixture.request(url, token: s.unitToken, body: Fixture.batch(unit: "unit-1", [original])).status == 200)
        // Another unit sends the same id with another first_seen and an 8-byte crop.
        var forged = WireReadEvent(Fixture.event("FORGED", seen: Date().addingTimeInterval(-86_400), crop: 8))
        forged.id = original.id
        let reply = try await Fixture.request(url, token: attacker, body: Fixture.batch(unit: "unit-2", [forged]))
        #expect(reply.status == 200)
        let decoded = try WireCoding.decode(UploadReply.self, from: reply.body)
        #expect(decoded.accepted.isEmpty && decoded.rejected.map(\.id) == [original.id], "\(String(decoding: reply.body, as: UTF8.self))")
        // The same with the owner's own first_seen: still another unit's read.
        forged.firstSeen = original.firstSeen
        forged.lastSeen = original.lastSeen
        forged.bestSeen = original.bestSeen
        let again = try WireCoding.decode(UploadReply.self, from: try await Fixture.request(url, token: attacker, body: Fixture.batch(unit: "unit-2", [forged])).body)
        #expect(again.rejected.map(\.id) == [original.id])
        // Its own unit resending it with another first_seen: a conflict too, not a second row.
        var moved = original
        moved.firstSeen = forged.firstSeen == original.firstSeen ? Date().addingTimeInterval(-3600).iso : forged.firstSeen
        moved.lastSeen = moved.firstSeen
        moved.bestSeen = moved.firstSeen
        let own = try WireCoding.decode(UploadReply.self, from: try await Fixture.request(url, token: s.unitToken, body: Fixture.batch(unit: "unit-1", [moved])).body)
        #expect(own.rejected.map(\.id) == [original.id])
        // A true retry is accepted and changes nothing.
        let retry = try WireCoding.decode(UploadReply.self, from: try await Fixture.request(url, token: s.unitToken, body: Fixture.batch(unit: "unit-1", [original])).body)
        #expect(retry.accepted == [original.id] && retry.rejected.isEmpty)
        #expect(try s.postgres.count() == 1, "one row for the id")
        let crop = try await Fixture.request(url + "/\(original.id.uuidString.lowercased())/crop?purpose=case%2042", method: "GET", token: s.readerToken)
        #expect(crop.status == 200 && crop.body.count == 8108, "the owner's crop: \(crop.body.count) bytes")
        let found = try await Fixture.request(url + "?plate=OWNER1&purpose=case%2042", method: "GET", token: s.readerToken)
        #expect(found.status == 200 && String(decoding: found.body, as: UTF8.self).contains("OWNER1"))
        let metrics = try await Fixture.request(s.store.url + "/metrics", method: "GET", token: nil)
        #expect(String(decoding: metrics.body, as: UTF8.self).contains("platekeeper_store_reads_conflicting_total 3"), "\(String(decoding: metrics.body, as: UTF8.self).prefix(3000))")
    }

    @Test("a private PostgreSQL server whose test process died is noticed and stopped by the next run's sweep")
    func orphanedServers() throws {
        let postgres = try PrivatePostgres()
        #expect(try postgres.psql("SELECT 1") == "1")
        // As if the process that started it had been killed: its owner is a process that has ended.
        let ended = try runCommand("/bin/sh", ["-c", "echo $$"])
        let dead = try #require(Int32(ended.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        try "\(dead)\n".write(toFile: "\(postgres.folder)/owner.pid", atomically: false, encoding: .utf8)
        let stopped = PrivatePostgres.sweep()
        #expect(stopped.contains(postgres.folder))
        #expect(!FileManager.default.fileExists(atPath: postgres.folder))
        #expect((try? postgres.psql("SELECT 1")) == nil, "the server is stopped")
    }

    @Test("gzip bodies that inflate to 51 MB, 16 at once: refused from a count of their events before any is decoded, or told to come back (503, Retry-After) past the instance's limit of uploads decoded at once; then the store serves as before")
    func inflationBombs() async throws {
        let postgres = try PrivatePostgres()
        let store = try await RunningStore(postgres, maxConcurrentUploads: 2)
        defer { Task { await store.stop() } }
        let token = try await StoreServer.withClient(postgres.configuration, logger: Logger.quiet("admin")) { try await $0.addUnit("unit-1") }
        var json = Data(#"{"version":1,"unit":"unit-1","batch":"\#(UUID().uuidString.lowercased())","sent":"\#(Date().iso)","events":["#.utf8)
        let empty = Data("{},".utf8)
        json.reserveCapacity(51 << 20)
        while json.count < 51 << 20 { json.append(empty) }
        json.append(Data("{}]}".utf8))
        let bomb = try Gzip.compress(json)
        json = Data()
        let url = store.url + "/v1/reads"
        let statuses = try await withThrowingTaskGroup(of: (Int, Double?, String).self) { group in
            for _ in 0..<16 {
                group.addTask {
                    let reply = try await Fixture.request(url, token: token, body: bomb, gzip: false, headers: [("Content-Encoding", "gzip")])
                    return (reply.status, reply.retryAfterSeconds, String(decoding: reply.body.prefix(200), as: UTF8.self))
                }
            }
            var all: [(Int, Double?, String)] = []
            for try await r in group { all.append(r) }
            return all
        }
        print("16 concurrent gzip bombs of \(bomb.count) bytes (51 MB inflated): " + Dictionary(grouping: statuses, by: \.0).map { "\($0.key) ×\($0.value.count)" }.sorted().joined(separator: ", "))
        for (status, retryAfter, body) in statuses {
            #expect(status == 413 && body.contains("more than 5000 events") || status == 503 && retryAfter != nil && body.contains("being decoded"), "\(status): \(body)")
        }
        #expect(statuses.contains { $0.0 == 413 })
        #expect(try await Fixture.request(url, token: token, body: Fixture.batch(unit: "unit-1", [WireReadEvent(Fixture.event("AFTER1"))])).status == 200)
        #expect(try postgres.count() == 1)
    }

    @Test("a cancelled retention service returns at once (it used to spin at full CPU until the process ended)")
    func retentionServiceEndsWhenCancelled() async throws {
        let postgres = try PrivatePostgres()
        let ended = try await StoreServer.withClient(postgres.configuration, logger: Logger.quiet("retention")) { store in
            let service = Task { try await RetentionService(store: store, intervalSeconds: 1).run() }
            try await Task.sleep(for: .milliseconds(300))
            service.cancel()
            // Whichever comes first: the service's end, or half a minute.
            return await withTaskGroup(of: Bool.self) { group in
                group.addTask { _ = try? await service.value; return true }
                group.addTask { try? await Task.sleep(for: .seconds(30)); return false }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
        }
        #expect(ended, "the retention service kept running after it was cancelled")
    }

    @Test("bad input: a clear 4xx, nothing stored, the store keeps serving")
    func badInput() async throws {
        let s = try await Self.setUp()
        defer { Task { await s.store.stop() } }
        let url = s.store.url + "/v1/reads"
        let good = WireReadEvent(Fixture.event("GOOD1"))
        var badPlate = WireReadEvent(Fixture.event("BAD1"))
        badPlate.plate = "bad plate"
        var badTime = WireReadEvent(Fixture.event("OLD1"))
        badTime.firstSeen = "1999-01-01T00:00:00.000Z"
        // An offset PostgreSQL refuses (it once made the store answer 503 for ever).
        var badOffset = WireReadEvent(Fixture.event("OFF1"))
        let seen = try #require(ISO8601.parse(badOffset.firstSeen))
        badOffset.firstSeen = String(ISO8601.format(unixNanoseconds: seen).dropLast()) + "-19:18"
        var future = try JSONSerialization.jsonObject(with: try Fixture.batch(unit: "unit-1", [good])) as? [String: Any] ?? [:]
        future["version"] = 99
        let version99 = try JSONSerialization.data(withJSONObject: future)
        let huge = Data(count: 100 << 20)
        var many = (0..<100_000).map { i -> WireReadEvent in var e = good; e.id = UUID(); e.plate = "M\(i % 1000)"; e.cropJPEG = nil; return e }
        let manyBody = try Fixture.batch(unit: "unit-1", many)
        many = []
        let cases: [(String, Data, Bool, [(String, String)], Int, String)] = [
            ("malformed JSON", Data("{\"version\":1,".utf8), true, [], 400, "not JSON"),
            ("not gzip", Data("hello".utf8), false, [("Content-Encoding", "gzip")], 400, "gzip"),
            ("unknown encoding", Data("{}".utf8), false, [("Content-Encoding", "br")], 415, "gzip"),
            ("wrong types", Data(#"{"version":"one","unit":"unit-1","batch":"x","sent":"now","events":{}}"#.utf8), true, [], 400, "wrong type"),
            ("repeated id", try Fixture.batch(unit: "unit-1", [good, good]), true, [], 400, "repeated"),
            ("a bad read", try Fixture.batch(unit: "unit-1", [good, badPlate]), true, [], 422, "plate"),
            ("a read older than retention", try Fixture.batch(unit: "unit-1", [good, badTime]), true, [], 422, "retention"),
            ("a time offset of -19:18", try Fixture.batch(unit: "unit-1", [good, badOffset]), true, [], 422, "first_seen"),
            ("version 99", version99, true, [], 400, "version"),
            ("100 MB body", huge, false, [], 413, "larger"),
            ("100,000 reads", manyBody, true, [], 413, "more than 5000 events"),
        ]
        for (name, body, gzip, headers, status, words) in cases {
            let reply = try await Fixture.request(url, token: s.unitToken, body: body, gzip: gzip, headers: headers)
            #expect(reply.status == status, "\(name): \(String(decoding: reply.body.prefix(300), as: UTF8.self))")
            let problem = try? WireCoding.decode(WireProblem.self, from: reply.body)
            #expect(problem?.error.contains(words) == true || problem?.rejected?.contains { $0.reason.contains(words) } == true,
                    "\(name): \(String(decoding: reply.body.prefix(300), as: UTF8.self))")
            #expect(try s.postgres.count() == 0, "\(name): nothing stored")
        }
        let rejected = try await Fixture.request(url, token: s.unitToken, body: try Fixture.batch(unit: "unit-1", [good, badPlate]))
        let problem = try WireCoding.decode(WireProblem.self, from: rejected.body)
        #expect(problem.rejected?.map(\.id) == [badPlate.id], "the 422 names the bad read only")
        // Still serving.
        #expect(try await Fixture.request(url, token: s.unitToken, body: try Fixture.batch(unit: "unit-1", [good])).status == 200)
        #expect(try s.postgres.count() == 1)
        #expect(try await Fixture.request(url + "?plate=bad-plate", method: "GET", token: s.readerToken).status == 400)
        #expect(try await Fixture.request(url + "?limit=100000", method: "GET", token: s.readerToken).status == 400)
        #expect(try await Fixture.request(url + "?from=yesterday", method: "GET", token: s.readerToken).status == 400)
        #expect(try await Fixture.request(url + "?from=2026-12-07T19:27:52.533-19:18&purpose=case%201", method: "GET", token: s.readerToken).status == 400)
        // A valid offset is stored and found in UTC.
        var offset = WireReadEvent(Fixture.event("OFF2"))
        let t = try #require(ISO8601.parse(offset.firstSeen))
        func local(_ ns: Int64) -> String { String(ISO8601.format(unixNanoseconds: ns + 19_800_000_000_000).dropLast()) + "+05:30" }
        offset.firstSeen = local(t)
        offset.lastSeen = local(try #require(ISO8601.parse(offset.lastSeen)))
        offset.bestSeen = offset.bestSeen.flatMap(ISO8601.parse).map(local)
        #expect(try await Fixture.request(url, token: s.unitToken, body: try Fixture.batch(unit: "unit-1", [offset])).status == 200)
        let found = try await Fixture.request(url + "?plate=OFF2&from=\(ISO8601.format(unixNanoseconds: t - 1_000_000))&purpose=case%201", method: "GET", token: s.readerToken)
        #expect(String(decoding: found.body, as: UTF8.self).contains(#""first_seen":"\#(ISO8601.format(unixNanoseconds: t))""#), "\(String(decoding: found.body, as: UTF8.self))")
    }

    @Test("retention drops whole daily partitions, not rows, and logs each drop")
    func retention() async throws {
        let s = try await Self.setUp(retentionDays: 30)
        defer { Task { await s.store.stop() } }
        let now = Date()
        let events = [40, 35, 20, 1, 0].enumerated().map { i, days in
            WireReadEvent(Fixture.event("RET\(i)", seen: now.addingTimeInterval(-Double(days) * 86_400 + 60)))
        }
        // Store them all under a long retention first (a unit uploading an old backlog).
        let long = try await RunningStore(s.postgres, retentionDays: 90)
        #expect(try await Fixture.request(long.url + "/v1/reads", token: s.unitToken, body: try Fixture.batch(unit: "unit-1", events)).status == 200)
        await long.stop()
        #expect(try s.postgres.count() == 5)
        let logger = Logger.quiet("r")
        let deletions = try await StoreServer.withClient(s.postgres.configuration, logger: logger) { store in
            try await ReadStore(client: store.client, retention: Retention(days: 30, hitDays: 30), logger: logger).applyRetention(now: now)
        }
        #expect(deletions.map(\.rule).allSatisfy { $0.hasPrefix("partition read_event_p") } && deletions.map(\.rows) == [1, 1])
        #expect(try s.postgres.psql("SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'read_event'") == "3")
        #expect(try s.postgres.psql("SELECT string_agg(plate, ',' ORDER BY plate) FROM read_event") == "RET2,RET3,RET4")
    }
}
