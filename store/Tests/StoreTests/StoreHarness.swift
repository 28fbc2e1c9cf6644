import Foundation
import Journal
import Logging
import PlateKeeperCore
import PlateKeeperTesting
import PostgresNIO
import StoreCore
import StoreTesting
import Upload
import WireFormat

/// A store instance running in the test process on a free port of 127.0.0.1.
final class RunningStore: Sendable {
    let port: Int
    let task: Task<Void, any Error>
    var url: String { "http://127.0.0.1:\(port)" }

    init(_ postgres: PrivatePostgres, retentionDays: Int = 90, retentionHitDays: Int? = nil, keyDirectory: String? = nil,
         maxConcurrentUploads: Int = 4) async throws {
        var settings = StoreSettings()
        settings.maxConcurrentUploads = maxConcurrentUploads
        settings.port = 0
        settings.retention = Retention(days: retentionDays, hitDays: retentionHitDays ?? retentionDays)
        settings.keyDirectory = keyDirectory
        settings.retryAfterSeconds = 1
        settings.databaseTimeoutSeconds = 2
        var logger = Logger(label: "store")
        logger.logLevel = ProcessInfo.processInfo.environment["STORE_LOG"] == nil ? .error : .debug
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let configuration = postgres.configuration
        task = Task { [logger] in
            defer { continuation.finish() }
            do {
                try await StoreServer.run(settings: settings, postgres: configuration, logger: logger) { continuation.yield($0) }
            } catch {
                print("store stopped: \(error)")
                throw error
            }
        }
        var bound: Int?
        for await p in ports {
            bound = p
            break
        }
        port = try bound ?? { throw PrivatePostgres.Failure("the store did not start") }()
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}

/// Test fixtures: read events, journals, tokens, requests.
enum Fixture {
    static func event(_ plate: String, seen: Date = Date(), crop: Int = 1200) -> ReadEvent {
        let t = CaptureTime(date: seen, quality: .synchronized)
        func later(_ ms: Int64) -> CaptureTime { CaptureTime(unixNanoseconds: t.unixNanoseconds + ms * 1_000_000, quality: t.quality) }
        return ReadEvent(
            kind: .vehicle, camera: "lane-1", plate: plate, confidence: 88,
            candidates: [PlateCandidate(text: plate, confidence: 88, matchesFormat: true)], region: "us",
            box: PixelBox(x: 10, y: 20, width: 120, height: 40), firstSeen: t, lastSeen: later(400), bestSeen: later(200), frameCount: 3,
            bestFrame: "lane-1#1",
            position: GeoPosition(latitude: 47.6, longitude: -122.3, fix: .threeD, source: .gpsd),
            positionStatus: PositionStatus(state: .interpolated, fixAgeSeconds: 0.25, satellites: 9),
            clock: ClockState(synchronized: true, estimatedErrorSeconds: 0.000012, maximumErrorSeconds: 0.0125, gpsOffsetSeconds: -0.081),
            crop: [0xFF, 0xD8] + [UInt8](repeating: 9, count: crop) + [0xFF, 0xD9])
    }

    static func journal(_ dir: TemporaryDirectory, reads: Int, prefix: String = "S") async throws -> (Journal, Set<UUID>) {
        var settings = JournalSettings(path: dir.file("journal.sqlite"))
        settings.retentionSeconds = nil
        settings.hitRetentionSeconds = nil
        let journal = try Journal(settings: settings)
        var ids = Set<UUID>()
        for i in 0..<reads {
            var e = event("\(prefix)\(i)")
            // Every seventeenth read is a hotlist hit, so the store keeps and serves `hit` too.
            if i % 17 == 0 { e.hit = HotlistHit(list: "stolen", plate: "\(prefix)\(i)", reason: "fixture", distance: 0) }
            ids.insert(e.id)
            _ = try await journal.append(e)
        }
        return (journal, ids)
    }

    static func uploader(url: String, unit: String, token: String, journal: Journal, dir: TemporaryDirectory, batch: Int = 100,
                         timeout: Double = 3) throws -> Uploader {
        var s = UploadSettings(url: url + "/v1/reads", unit: unit, tokenPath: try dir.writeSecret("token-\(unit)", token + "\n"))
        s.batchMaxCount = batch
        s.batchMaxAgeSeconds = 0
        s.timeoutSeconds = timeout
        s.backoffMinSeconds = 0.05
        s.backoffMaxSeconds = 0.5
        let path = s.tokenPath
        var logger = Logger(label: "upload")
        logger.logLevel = .error
        return Uploader(settings: s, journal: journal, transport: try CurlTransport(), logger: logger) { try UploadToken.read(path: path) }
    }

    /// Runs `uploader` until the journal has nothing pending (or `timeout`); returns whether it drained.
    static func drain(_ uploader: Uploader, _ journal: Journal, timeout: Double = 60) async -> Bool {
        let task = ThreadTaskExecutor.task { await uploader.run() }
        defer { task.cancel() }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try? journal.stats().pending) == 0 { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// A raw request to the store.
    static func request(_ url: String, method: String = "POST", token: String?, body: Data = Data(), gzip: Bool = true,
                        headers: [(String, String)] = []) async throws -> HTTPReply {
        var h = headers
        if let token { h.append(("Authorization", "Bearer \(token)")) }
        var payload = body
        if method == "POST" {
            h.append(("Content-Type", "application/json"))
            if gzip {
                h.append(("Content-Encoding", "gzip"))
                payload = try Gzip.compress(body)
            }
        }
        return try await CurlTransport().post(HTTPRequest(method: method, url: url, headers: h, body: payload, timeoutSeconds: 60))
    }

    static func batch(unit: String, _ events: [WireReadEvent]) throws -> Data {
        try WireCoding.encode(UploadBatch(unit: unit, sent: Date().iso, events: events))
    }
}

extension Date {
    var iso: String { ISO8601.format(unixNanoseconds: Int64(timeIntervalSince1970 * 1000) * 1_000_000) }
}

extension PrivatePostgres {
    func count(_ condition: String = "true") throws -> Int {
        Int(try psql("SELECT count(*) FROM read_event WHERE \(condition)")) ?? -1
    }

    func storedIDs() throws -> Set<UUID> {
        Set(try psql("SELECT id FROM read_event").split(separator: "\n").compactMap { UUID(uuidString: String($0)) })
    }
}

extension Logger {
    static func quiet(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = .error
        return logger
    }
}
