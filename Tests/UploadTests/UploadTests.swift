import Foundation
import Journal
import Logging
import PlateKeeperCore
import PlateKeeperTesting
import Testing
import Upload
import WireFormat


@Suite("Upload")
struct UploadTests {
    static func event(_ plate: String) -> ReadEvent {
        let t = CaptureTime(date: Date(), quality: .synchronized)
        return ReadEvent(
            kind: .vehicle, camera: "lane-1", plate: plate, confidence: 88,
            candidates: [PlateCandidate(text: plate, confidence: 88, matchesFormat: true)], region: "us",
            box: PixelBox(x: 10, y: 20, width: 120, height: 40), firstSeen: t, lastSeen: t, frameCount: 3, bestFrame: "lane-1#1",
            crop: [0xFF, 0xD8] + [UInt8](repeating: 7, count: 1500) + [0xFF, 0xD9])
    }

    static func journal(_ dir: TemporaryDirectory, reads: Int, poison: [Int: String] = [:]) async throws -> (Journal, Set<UUID>) {
        var settings = JournalSettings(path: dir.file("journal.sqlite"))
        settings.retentionSeconds = nil
        let journal = try Journal(settings: settings)
        var ids = Set<UUID>()
        for i in 0..<reads {
            let e = event(poison[i] ?? "R\(i)")
            ids.insert(e.id)
            _ = try await journal.append(e)
        }
        return (journal, ids)
    }

    static func settings(_ url: String, _ dir: TemporaryDirectory, batch: Int = 100) throws -> UploadSettings {
        let tokenPath = try dir.writeSecret("token", "unit-secret\n")
        var s = UploadSettings(url: url, unit: "unit-7", tokenPath: tokenPath)
        s.batchMaxCount = batch
        s.batchMaxAgeSeconds = 0
        s.timeoutSeconds = 2
        s.backoffMinSeconds = 0.05
        s.backoffMaxSeconds = 0.4
        return s
    }

    static func uploader(_ settings: UploadSettings, _ journal: Journal) throws -> Uploader {
        let path = settings.tokenPath
        return Uploader(
            settings: settings, journal: journal, transport: try CurlTransport(), logger: Logger(label: "test"),
            token: { try UploadToken.read(path: path) })
    }

    /// Runs the uploader until `done` holds or `timeout` passes; returns whether it held.
    static func run(_ uploader: Uploader, timeout: Double, until done: @escaping @Sendable () throws -> Bool) async throws -> Bool {
        let task = ThreadTaskExecutor.task { await uploader.run() }
        defer { task.cancel() }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try done() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try done()
    }

    @Test("every read reaches the store once, in gzip batches with the bearer token, and is marked uploaded")
    func uploadsEverything() async throws {
        let dir = try TemporaryDirectory()
        let store = try ScriptedStore()
        let (journal, ids) = try await Self.journal(dir, reads: 250)
        let uploader = try Self.uploader(try Self.settings(store.url, dir), journal)
        #expect(try await Self.run(uploader, timeout: 30) { try journal.stats().pending == 0 })
        #expect(store.storedIDs == ids)
        #expect(store.state.withLock { $0.stored.values.allSatisfy { $0 == 1 } })
        #expect(store.state.withLock { $0.requests } == 3)  // 100 + 100 + 50
        #expect(store.state.withLock { $0.tokens.allSatisfy { $0 == "Bearer unit-secret" } })
        #expect(store.state.withLock { $0.encodings.allSatisfy { $0 == "gzip" } })
        #expect(try journal.events().allSatisfy { $0.uploadState == "uploaded" && $0.uploadedAt != nil })
        let status = uploader.status
        #expect(status.uploaded == 250 && status.lastSuccess != nil && status.failuresInARow == 0)
    }

    @Test("faults between unit and store: 500s, hangs, resets, garbage, lost acknowledgements; nothing lost, nothing stored twice")
    func faults() async throws {
        let dir = try TemporaryDirectory()
        let store = try ScriptedStore()
        let good = try WireCoding.encode(UploadReply(batch: nil, accepted: []))
        store.script([
            .reply(status: 500, body: Data(#"{"error":"database down"}"#.utf8)),
            .reply(status: 503, headers: [("Retry-After", "1")]),
            .hang(seconds: 3),
            .resetMidBody(status: 200, body: good),
            .raw(Data("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".utf8)),
            .raw(Data("not http at all\r\n\r\n".utf8)),
            .close,
            .reply(status: 200, body: Data("{\"accepted\":\"yes\"}".utf8)),
            .reply(status: 502),
        ], afterCommit: [
            .reply(status: 500),  // committed, then the answer is lost
            .close,
        ])
        let (journal, ids) = try await Self.journal(dir, reads: 120)
        let uploader = try Self.uploader(try Self.settings(store.url, dir, batch: 50), journal)
        #expect(try await Self.run(uploader, timeout: 60) { try journal.stats().pending == 0 })
        #expect(store.storedIDs == ids, "the store holds exactly the journal's reads")
        #expect(try journal.events().allSatisfy { $0.uploadState == "uploaded" })
        // Reads whose acknowledgement was lost arrived twice and were stored once (the set above);
        // the journal marked them uploaded only after an acknowledgement.
        #expect(store.state.withLock { $0.stored.values.contains { $0 > 1 } })
        let status = uploader.status
        #expect(status.uploaded == 120)
        #expect(status.lastError != nil)
    }

    @Test("Retry-After is honoured before the next attempt")
    func retryAfter() async throws {
        let dir = try TemporaryDirectory()
        let store = try ScriptedStore()
        store.script([.reply(status: 429, headers: [("Retry-After", "2")], body: Data(#"{"error":"slow down"}"#.utf8))])
        let (journal, _) = try await Self.journal(dir, reads: 5)
        let uploader = try Self.uploader(try Self.settings(store.url, dir), journal)
        #expect(try await Self.run(uploader, timeout: 20) { try journal.stats().pending == 0 })
        let times = store.state.withLock { $0.requestTimes }
        try #require(times.count == 2)
        #expect(times[1].timeIntervalSince(times[0]) >= 1.9, "waited \(times[1].timeIntervalSince(times[0])) s; the backoff alone is under 0.4 s")
        #expect(uploader.status.lastError?.contains("429") == true)
    }

    @Test("a poison read is found by splitting the batch and parked as a dead letter; the rest is stored")
    func poisonBySplitting() async throws {
        let dir = try TemporaryDirectory()
        let store = try ScriptedStore(poison: ["POISON1"])
        let (journal, ids) = try await Self.journal(dir, reads: 64, poison: [37: "POISON1"])
        let uploader = try Self.uploader(try Self.settings(store.url, dir), journal)
        #expect(try await Self.run(uploader, timeout: 30) { try journal.stats().pending == 0 })
        let dead = try journal.events().filter { $0.uploadState == "dead" }
        #expect(dead.map(\.event.plate) == ["POISON1"])
        #expect(dead.first?.uploadError?.contains("422") == true)
        #expect(store.storedIDs == ids.subtracting(dead.map(\.event.id)))
        #expect(try journal.stats().deadLetters == 1)
        #expect(uploader.status.deadLettered == 1)
        // Splitting costs requests in proportion to log2 of the batch, not to its size.
        #expect(store.state.withLock { $0.requests } <= 16)
    }

    @Test("a 422 that names the bad reads parks just those, without splitting")
    func poisonNamed() async throws {
        let dir = try TemporaryDirectory()
        let store = try ScriptedStore(poison: ["BAD1", "BAD2"], nameThem: true)
        let (journal, ids) = try await Self.journal(dir, reads: 30, poison: [3: "BAD1", 20: "BAD2"])
        let uploader = try Self.uploader(try Self.settings(store.url, dir), journal)
        #expect(try await Self.run(uploader, timeout: 30) { try journal.stats().pending == 0 })
        let dead = try journal.events().filter { $0.uploadState == "dead" }
        #expect(Set(dead.map(\.event.plate)) == ["BAD1", "BAD2"])
        #expect(dead.allSatisfy { $0.uploadError == "plate: poison" })
        #expect(store.storedIDs.count == ids.count - 2)
        #expect(store.state.withLock { $0.requests } == 2)
    }

    @Test("a refused token stops uploads without marking anything; a rotated token file is read again")
    func refusedToken() async throws {
        let dir = try TemporaryDirectory()
        let store = try ScriptedStore(token: "rotated-secret")
        let (journal, ids) = try await Self.journal(dir, reads: 10)
        let settings = try Self.settings(store.url, dir)
        let uploader = try Self.uploader(settings, journal)
        let task = ThreadTaskExecutor.task { await uploader.run() }
        defer { task.cancel() }
        #expect(await eventually(timeout: 10) { uploader.status.state == "refused" })
        #expect(try journal.stats().pending == 10)
        #expect(uploader.status.lastError?.contains("401") == true)
        _ = try dir.writeSecret("token", "rotated-secret\n")
        #expect(await eventually(timeout: 10) { (try? journal.stats().pending) == 0 })
        #expect(store.storedIDs == ids)
    }

    @Test("the store being away for a while: reads wait in the journal and all arrive when it is back")
    func storeAway() async throws {
        let dir = try TemporaryDirectory()
        let parked = try TestHTTPServer { _ in .close }
        let port = parked.port
        parked.stop()  // nothing listens on the port now: connection refused
        let (journal, ids) = try await Self.journal(dir, reads: 40)
        let url = "http://127.0.0.1:\(port)/v1/reads"
        let uploader = try Self.uploader(try Self.settings(url, dir), journal)
        let task = ThreadTaskExecutor.task { await uploader.run() }
        defer { task.cancel() }
        #expect(await eventually(timeout: 10) { uploader.status.failuresInARow >= 3 })
        #expect(try journal.stats().pending == 40)
        #expect(uploader.status.lastError?.contains("curl_easy_perform") == true)
        let store = try ScriptedStore(port: port)
        #expect(await eventually(timeout: 20) { (try? journal.stats().pending) == 0 })
        #expect(store.storedIDs == ids)
    }
}

@Suite("Upload policy")
struct UploadPolicyTests {
    let a = UUID(), b = UUID()

    @Test func classification() throws {
        let sent: Set<UUID> = [a, b]
        let reply = try WireCoding.encode(UploadReply(batch: nil, accepted: [a, UUID()], rejected: [.init(id: b, reason: "x")]))
        #expect(UploadOutcome.classify(HTTPReply(status: 200, body: reply), sent: sent) == .stored(accepted: [a], rejected: [.init(id: b, reason: "x")]))
        #expect(UploadOutcome.classify(HTTPReply(status: 200, body: Data("<html>".utf8)), sent: sent)
            == .retry(reason: "HTTP 200 with a body that is not an upload reply (6 bytes)", after: nil))
        for status in [400, 413, 422] {
            guard case .poison = UploadOutcome.classify(HTTPReply(status: status, body: Data()), sent: sent) else {
                Issue.record("\(status) is not poison"); continue
            }
        }
        // A redirect is not followed (it would carry the token elsewhere): the URL needs an operator.
        for status in [401, 403, 301, 302, 307, 308] {
            guard case .refused = UploadOutcome.classify(HTTPReply(status: status, body: Data()), sent: sent) else {
                Issue.record("\(status) is not refused"); continue
            }
        }
        #expect(UploadOutcome.classify(HTTPReply(status: 429, body: Data(), retryAfterSeconds: 7), sent: sent) == .retry(reason: "HTTP 429", after: 7))
        #expect(UploadOutcome.classify(HTTPReply(status: 500, body: Data(#"{"error":"boom"}"#.utf8)), sent: sent) == .retry(reason: "HTTP 500: boom", after: nil))
        // 404: not the contract; retried, never taken as success.
        #expect(CurlTransport.isTLSAlert("OpenSSL SSL_read: error:0A00045C:SSL routines::tlsv13 alert certificate required, errno 0"))
        #expect(!CurlTransport.isTLSAlert("Connection reset by peer"))
        guard case .retry = UploadOutcome.classify(HTTPReply(status: 404, body: Data()), sent: sent) else { Issue.record("404"); return }
    }

    @Test func backoffDoublesWithJitterAndResets() {
        var backoff = Backoff(minimum: 1, maximum: 60)
        var rng = SeededRandom(seed: 1)
        var ceilings: [Double] = []
        for _ in 0..<10 {
            let c = backoff.ceiling
            let wait = backoff.next(using: &rng)
            #expect(wait >= c / 2 && wait <= c)
            ceilings.append(c)
        }
        #expect(ceilings == [1, 2, 4, 8, 16, 32, 60, 60, 60, 60])
        backoff.reset()
        #expect(backoff.ceiling == 1)
        for _ in 0..<1000 { _ = backoff.next(using: &rng) }
        #expect(backoff.ceiling == 60)
    }

    @Test func tokenFiles() throws {
        let dir = try TemporaryDirectory()
        #expect(try UploadToken.read(path: try dir.writeSecret("t1", "abc.DEF-123_x\n")) == "abc.DEF-123_x")
        for (name, content) in [("empty", ""), ("space", "ab cd"), ("binary", "\u{1}\u{2}")] {
            #expect(throws: (any Error).self, "\(name)") { _ = try UploadToken.read(path: try dir.writeSecret(name, content)) }
        }
        #expect(throws: (any Error).self) { _ = try UploadToken.read(path: try dir.writeSecret("big", String(repeating: "a", count: 5000))) }
        // A token other users can read is refused, as the journal's key is.
        #expect { _ = try UploadToken.read(path: try dir.write("open", "abc\n")) } throws: { "\($0)".contains("has mode 644") }
        #expect(throws: (any Error).self) { _ = try UploadToken.read(path: dir.file("missing")) }
        #expect(throws: (any Error).self) { _ = try UploadToken.read(path: dir.path) }
    }
}
