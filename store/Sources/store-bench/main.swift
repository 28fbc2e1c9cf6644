// store-bench: the upload path's figures on this machine, against a private PostgreSQL server.
//
//   swift run -c release --package-path store store-bench [--quick] [--sealing]
//
// 1. Throughput of uploader + store for batch sizes 1, 100 and 1,000 (reads/s).
// 2. A fleet: 200 units uploading at once through two store instances into one PostgreSQL
//    (reads/s, p50/p99 request latency, and a check that every read is stored exactly once).
// 3. A backlog of 100,000 journaled reads draining after the store comes back.
// With --sealing, only: throughput into a sealing store (--key-dir) against a clear one.
// Each figure is one run; the README quotes them with the machine's load.
import Foundation
import Journal
import Logging
import PlateKeeperCore
import PlateKeeperTesting
import StoreCore
import StoreTesting
import Upload
import WireFormat

let quick = CommandLine.arguments.contains("--quick")

func quiet(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = .error
    return logger
}

/// Wraps a transport and records each request's duration.
final class TimedTransport: HTTPTransport, Sendable {
    let inner: CurlTransport
    let durations = Locked([Double]())
    init(_ inner: CurlTransport) { self.inner = inner }
    func post(_ request: HTTPRequest) async throws(TransportError) -> HTTPReply {
        let start = ContinuousClock.now
        defer {
            let d = ContinuousClock.now - start
            let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
            durations.withLock { $0.append(seconds) }
        }
        return try await inner.post(request)
    }
}

func startStore(_ postgres: PrivatePostgres, keyDirectory: String? = nil) async throws -> (port: Int, task: Task<Void, any Error>) {
    var settings = StoreSettings()
    settings.port = 0
    settings.keyDirectory = keyDirectory
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    let configuration = postgres.configuration
    let task = Task {
        defer { continuation.finish() }
        try await StoreServer.run(settings: settings, postgres: configuration, logger: quiet("store")) { continuation.yield($0) }
    }
    for await port in ports { return (port, task) }
    throw PrivatePostgres.Failure("the store did not start")
}

func event(_ i: Int) -> ReadEvent {
    let t = CaptureTime(date: Date(), quality: .synchronized)
    let plate = "B\(i % 1_000_000)"
    return ReadEvent(
        kind: .vehicle, camera: "lane-1", plate: plate, confidence: 88,
        candidates: [PlateCandidate(text: plate, confidence: 88, matchesFormat: true)], region: "us",
        box: PixelBox(x: 10, y: 20, width: 120, height: 40), firstSeen: t, lastSeen: t, frameCount: 3, bestFrame: "lane-1#1",
        position: GeoPosition(latitude: 47.6, longitude: -122.3, fix: .threeD, source: .gpsd),
        crop: [0xFF, 0xD8] + [UInt8](repeating: UInt8(i & 0xFF), count: 4000) + [0xFF, 0xD9])
}

/// A journal of `count` reads (synchronous = NORMAL to make it quickly; uploads use it as usual).
func journal(_ dir: TemporaryDirectory, _ name: String, count: Int, offset: Int = 0) throws -> Journal {
    var settings = JournalSettings(path: dir.file("\(name).sqlite"))
    settings.retentionSeconds = nil
    settings.quotaBytes = 4 << 30
    settings.synchronous = .normal
    let j = try Journal(settings: settings)
    for i in 0..<count { _ = try j.appendNow(event(offset + i)) }
    return j
}

func uploader(_ url: String, unit: String, token: String, journal: Journal, dir: TemporaryDirectory, batch: Int,
              transport: any HTTPTransport) throws -> Uploader {
    var s = UploadSettings(url: url + "/v1/reads", unit: unit, tokenPath: try dir.write("token-\(unit)", token))
    s.batchMaxCount = batch
    s.batchMaxAgeSeconds = 0
    s.batchMaxBytes = 16 << 20
    s.backoffMinSeconds = 0.05
    s.backoffMaxSeconds = 1
    let path = s.tokenPath
    return Uploader(settings: s, journal: journal, transport: transport, logger: quiet("upload")) { try UploadToken.read(path: path) }
}

/// Runs uploaders until every journal is drained; returns the seconds it took.
func drain(_ pairs: [(Uploader, Journal)]) async -> Double {
    let start = ContinuousClock.now
    await withTaskGroup(of: Void.self) { group in
        for (u, j) in pairs {
            group.addTask {
                let task = Task { await u.run() }
                while (try? j.stats().pending) != 0 { try? await Task.sleep(for: .milliseconds(20)) }
                task.cancel()
                await task.value
            }
        }
    }
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int((p * Double(sorted.count - 1)).rounded()))]
}

func f(_ x: Double, _ decimals: Int) -> String {
    var p = 1.0
    for _ in 0..<decimals { p *= 10 }
    let r = (x * p).rounded() / p
    return decimals == 0 ? String(Int(r)) : String(r)
}

func ms(_ s: Double) -> String { f(s * 1000, 1) + " ms" }

// `store-bench --prefill-journal PATH N`: make a unit journal of N pending reads and exit (for
// measuring the daemon's frames/s while such a backlog drains; see the README).
if let i = CommandLine.arguments.firstIndex(of: "--prefill-journal"), CommandLine.arguments.count > i + 2,
   let n = Int(CommandLine.arguments[i + 2]), (1...10_000_000).contains(n) {
    var settings = JournalSettings(path: CommandLine.arguments[i + 1])
    settings.retentionSeconds = nil
    settings.quotaBytes = 4 << 30
    settings.synchronous = .normal
    let j = try Journal(settings: settings)
    for k in 0..<n { _ = try j.appendNow(event(k)) }
    print("journal \(CommandLine.arguments[i + 1]): \(n) pending reads")
    exit(0)
}

// `store-bench --sealing`: upload throughput into a store that seals plate data under per-day
// keys (--key-dir) against one that does not, alternating rounds in one process, on one database.
if CommandLine.arguments.contains("--sealing") {
    let postgres = try PrivatePostgres()
    let keys = try TemporaryDirectory("pkkeys")
    chmod(keys.path, 0o700)
    let (clearPort, clearStore) = try await startStore(postgres)
    let (sealedPort, sealedStore) = try await startStore(postgres, keyDirectory: keys.path)
    let dir = try TemporaryDirectory("pkbench")
    let rounds = quick ? 3 : 7, count = quick ? 2000 : 10_000
    var rates: [Bool: [Double]] = [false: [], true: []]
    var offset = 0
    for round in 0..<rounds {
        for sealed in [false, true] {
            let unit = "\(sealed ? "sealed" : "clear")-\(round)"
            let token = try await StoreServer.withClient(postgres.configuration, logger: quiet("admin")) { try await $0.addUnit(unit) }
            let j = try journal(dir, unit, count: count, offset: offset)
            offset += count
            let u = try uploader("http://127.0.0.1:\(sealed ? sealedPort : clearPort)", unit: unit, token: token, journal: j, dir: dir,
                                 batch: 100, transport: try CurlTransport())
            rates[sealed, default: []].append(Double(count) / (await drain([(u, j)])))
        }
    }
    let clear = percentile(rates[false] ?? [], 0.5), sealed = percentile(rates[true] ?? [], 0.5)
    print("sealing: \(rounds) rounds of \(count) reads (batch 100, 4 KB crops), median \(f(clear, 0)) reads/s clear, "
        + "\(f(sealed, 0)) reads/s sealed: sealed/clear = \(f(sealed / clear, 2))")
    clearStore.cancel()
    sealedStore.cancel()
    _ = try? await clearStore.value
    _ = try? await sealedStore.value
    exit(0)
}

let postgres = try PrivatePostgres()
let (portA, storeA) = try await startStore(postgres)
let (portB, storeB) = try await startStore(postgres)
let urlA = "http://127.0.0.1:\(portA)", urlB = "http://127.0.0.1:\(portB)"
let dir = try TemporaryDirectory("pkbench")
print("store-bench: PostgreSQL (\(postgres.bin)) on a Unix socket, fsync off; 4 KB crops; \(ProcessInfo.processInfo.activeProcessorCount) cores")

// 1. Throughput by batch size.
var offset = 0
for batch in [1, 100, 1000] {
    let count = quick ? (batch == 1 ? 300 : 3000) : (batch == 1 ? 2000 : 20_000)
    let unit = "tp-\(batch)"
    let token = try await StoreServer.withClient(postgres.configuration, logger: quiet("admin")) { try await $0.addUnit(unit) }
    let j = try journal(dir, unit, count: count, offset: offset)
    offset += count
    let timed = TimedTransport(try CurlTransport())
    let u = try uploader(urlA, unit: unit, token: token, journal: j, dir: dir, batch: batch, transport: timed)
    let seconds = await drain([(u, j)])
    let d = timed.durations.withLock { $0 }
    print("throughput, batch \(batch): \(count) reads in \(f(seconds, 2)) s = \(f(Double(count) / seconds, 0)) reads/s; "
        + "request p50 \(ms(percentile(d, 0.5))), p99 \(ms(percentile(d, 0.99)))")
}

// 2. A fleet of 200 units through two store instances.
let units = 200, perUnit = quick ? 10 : 50
var pairs: [(Uploader, Journal)] = []
var fleetTransports: [TimedTransport] = []
var fleetIDs = Set<UUID>()
for n in 0..<units {
    let unit = "fleet-\(n)"
    let token = try await StoreServer.withClient(postgres.configuration, logger: quiet("admin")) { try await $0.addUnit(unit) }
    let j = try journal(dir, unit, count: perUnit, offset: offset)
    offset += perUnit
    fleetIDs.formUnion(try j.events().map(\.event.id))
    // Each unit its own connection (a transport each); latencies recorded for all.
    let t = TimedTransport(try CurlTransport())
    fleetTransports.append(t)
    pairs.append((try uploader(n % 2 == 0 ? urlA : urlB, unit: unit, token: token, journal: j, dir: dir, batch: 10, transport: t), j))
}
let fleetSeconds = await drain(pairs)
let fleetStored = Int(try postgres.psql("SELECT count(*) FROM read_event WHERE unit LIKE 'fleet-%'")) ?? -1
let distinct = Int(try postgres.psql("SELECT count(DISTINCT id) FROM read_event WHERE unit LIKE 'fleet-%'")) ?? -1
let latencies = fleetTransports.flatMap { $0.durations.withLock { $0 } }
print("fleet: \(units) units x \(perUnit) reads (batches of 10) through 2 store instances: \(f(fleetSeconds, 2)) s = "
    + "\(f(Double(units * perUnit) / fleetSeconds, 0)) reads/s; request p50 \(ms(percentile(latencies, 0.5))), p99 \(ms(percentile(latencies, 0.99))); "
    + "stored \(fleetStored) rows, \(distinct) distinct, expected \(fleetIDs.count)")

// 3. A backlog of 100,000 reads draining after the store comes back.
let backlog = quick ? 5000 : 100_000
let backlogToken = try await StoreServer.withClient(postgres.configuration, logger: quiet("admin")) { try await $0.addUnit("backlog") }
let bj = try journal(dir, "backlog", count: backlog, offset: offset)
let bu = try uploader(urlA, unit: "backlog", token: backlogToken, journal: bj, dir: dir, batch: 100, transport: try CurlTransport())
let backlogSeconds = await drain([(bu, bj)])
print("backlog: \(backlog) reads drained in \(f(backlogSeconds, 1)) s = \(f(Double(backlog) / backlogSeconds, 0)) reads/s (batch 100, the default)")

storeA.cancel()
storeB.cancel()
_ = try? await storeA.value
_ = try? await storeB.value
