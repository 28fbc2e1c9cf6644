@testable import Daemon
import Capture
import Foundation
import Journal
import PlateKeeperCore
import Position
import PlateKeeperTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `platekeeper run` end to end: the real binary, real replay cameras, a real journal file, the
/// real status socket, signals, and a datagram socket standing in for systemd's NOTIFY_SOCKET.
@Suite("Daemon", .serialized)
struct DaemonTests {
    struct Unit {
        let dir: TemporaryDirectory
        let config: String
        var journalPath: String { dir.file("state/journal.sqlite") }
        var socketPath: String { dir.file("run/status.sock") }
    }

    static func unit(cameras: String, extra: String = "") throws -> Unit {
        let dir = try TemporaryDirectory("pkd")
        let text = cameras + """

            [grouping]
            window = "1s"
            [journal]
            path = "\(dir.file("state/journal.sqlite"))"
            quota = "16MiB"
            [position]
            latitude = 52.0907
            longitude = 5.1214
            [status]
            socket = "\(dir.file("run/status.sock"))"
            """ + extra
        let config = try dir.write("platekeeper.toml", text)
        return Unit(dir: dir, config: config)
    }

    static func replayCamera(_ id: String, _ folder: String, loop: Bool = false, speed: Double = 0) -> String {
        """

        [[cameras]]
        id = "\(id)"
        replay = "\((TestPaths.testFrames as NSString).appendingPathComponent(folder))"
        loop = \(loop)
        speed = \(speed)
        """
    }

    static func status(_ unit: Unit) -> StatusDocument? {
        guard let data = try? StatusSocket.fetch(from: unit.socketPath, timeout: 2) else { return nil }
        return try? StatusDocument.decode(data)
    }

    static func expectedPlate(_ folder: String) throws -> String {
        let text = try String(contentsOfFile: (TestPaths.testFrames as NSString).appendingPathComponent("\(folder)/expected.txt"), encoding: .utf8)
        return String(text.split(separator: "\t")[0])
    }

    @Test("two replay cameras: each vehicle pass becomes exactly one read event in the journal; systemd is told READY, STATUS, WATCHDOG, STOPPING")
    func endToEnd() throws {
        let unit = try Self.unit(cameras: Self.replayCamera("day", "pass-day") + Self.replayCamera("night", "pass-night"))
        let notify = try NotifySocket(path: unit.dir.file("notify.sock"))
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"),
                                       environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "3000000"])
        let done = waitUntil(timeout: 120) {
            guard let s = Self.status(unit) else { return false }
            return s.cameras.allSatisfy { $0.state == "finished" && $0.framesProcessed == $0.framesReceived } && s.framesQueued == 0
        }
        #expect(done, "replay did not finish: \(daemon.log)")
        let running = try #require(Self.status(unit))
        #expect(running.cameras.map(\.framesReceived) == [12, 12])
        #expect(running.cameras.allSatisfy { $0.framesDropped == 0 })  // speed 0: nothing dropped
        #expect(running.position.latitude == 52.0907)
        #expect(running.journal.path == unit.journalPath)
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0, "exit status; log:\n\(daemon.log)")

        let journal = try Journal(settings: JournalSettings(path: unit.journalPath), mode: .inspect)
        let events = try journal.events().map(\.event)
        for (camera, folder) in [("day", "pass-day"), ("night", "pass-night")] {
            let plate = try Self.expectedPlate(folder)
            let matching = events.filter { $0.camera.rawValue == camera && $0.plate == plate }
            #expect(matching.count == 1, "\(camera): \(events.filter { $0.camera.rawValue == camera }.map { "\($0.plate)×\($0.frameCount)" })")
            if let e = matching.first {
                #expect(e.frameCount >= 8, "most frames of the pass were merged into the event")
                #expect(e.kind == .vehicle)
                #expect(e.position?.latitude == 52.0907)
                #expect(e.crop.map { $0.starts(with: [0xFF, 0xD8]) } ?? false == false)  // crops not loaded by default
            }
        }
        #expect(Set(events.map(\.id)).count == events.count)
        let withCrops = try journal.events(includeCrops: true).map(\.event)
        #expect(withCrops.allSatisfy { $0.crop?.starts(with: [0xFF, 0xD8]) == true }, "every event has a JPEG crop")

        // The journal tools read the same file.
        let stats = try runCommand(TestPaths.executable, ["journal", "stats", "--journal", unit.journalPath, "--json"])
        #expect(stats.status == 0)
        #expect(stats.stdout.contains("\"rows\":\(events.count)"))
        let csv = try runCommand(TestPaths.executable, ["journal", "export", "--purpose", "test run", "--category", "maintenance", "--audit-log", unit.dir.file("audit.log"), "--journal", unit.journalPath, "--format", "csv"])
        #expect(csv.status == 0)
        #expect(csv.stdout.split(separator: "\n").count == events.count + 1)
        #expect(csv.stdout.contains(",\(try Self.expectedPlate("pass-day")),"))
        let later = try runCommand(TestPaths.executable, ["journal", "export", "--purpose", "test run", "--category", "maintenance", "--audit-log", unit.dir.file("audit.log"), "--journal", unit.journalPath, "--since", "2200-01-01T00:00:00Z"])
        #expect(later.status == 0 && later.stdout.isEmpty)
        let recent = try runCommand(TestPaths.executable, ["journal", "export", "--purpose", "test run", "--category", "maintenance", "--audit-log", unit.dir.file("audit.log"), "--journal", unit.journalPath, "--since", "1h"])
        #expect(recent.stdout.split(separator: "\n").count == events.count)
        #expect(recent.stdout.contains("\"clock_quality\":"))
        let badSince = try runCommand(TestPaths.executable, ["journal", "export", "--purpose", "test run", "--category", "maintenance", "--audit-log", unit.dir.file("audit.log"), "--journal", unit.journalPath, "--since", "yesterday"])
        #expect(badSince.status != 0 && badSince.stderr.contains("--since"))

        let messages = notify.messages()
        notify.stop()
        #expect(messages.contains { $0.hasPrefix("READY=1") })
        #expect(messages.contains { $0.hasPrefix("STATUS=") })
        #expect(messages.contains("WATCHDOG=1"))
        #expect(messages.contains("STOPPING=1"))
        if let ready = messages.firstIndex(where: { $0.hasPrefix("READY=1") }), let stopping = messages.firstIndex(of: "STOPPING=1") {
            #expect(ready < stopping)
        }
    }

    @Test("status over the socket: text, JSON and exit codes (2 unhealthy, 3 unreachable)")
    func statusCommand() throws {
        let unit = try Self.unit(
            cameras: Self.replayCamera("loop", "stills", loop: true, speed: 1)
                + "\n[[cameras]]\nid = \"gone\"\nreplay = \"/nonexistent/recording\"\n")
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"))
        #expect(waitUntil(timeout: 60) { (Self.status(unit)?.journal.healthy ?? false) && (Self.status(unit)?.cameras.first?.framesProcessed ?? 0) > 0 })
        let text = try runCommand(TestPaths.executable, ["status", "--config", unit.config])
        #expect(text.status == 2, "a camera without its recording is unhealthy")
        #expect(text.stdout.contains("UNHEALTHY"))
        #expect(text.stdout.contains("loop: streaming"))
        #expect(text.stdout.contains("gone: retrying"))
        #expect(text.stdout.contains("camera gone is retrying"))
        #expect(text.stdout.contains("position: fixed 52.090700, 5.121400"))
        let json = try runCommand(TestPaths.executable, ["status", "--json", "--socket", unit.socketPath])
        #expect(json.status == 2)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((object?["cameras"] as? [[String: Any]])?.count == 2)
        #expect(object?["clock_synchronized"] is Bool)
        #expect((object?["journal"] as? [String: Any])?["quota_bytes"] as? Int == 16 << 20)
        #expect(object?["disk_free_bytes"] is Int)
        let mode = try FileManager.default.attributesOfItem(atPath: unit.socketPath)[.posixPermissions] as? Int
        #expect(mode == 0o660)
        daemon.signal(SIGINT)
        #expect(daemon.wait() == 0)
        #expect(!FileManager.default.fileExists(atPath: unit.socketPath), "socket removed at exit")
        let unreachable = try runCommand(TestPaths.executable, ["status", "--socket", unit.socketPath])
        #expect(unreachable.status == 3)
        #expect(unreachable.stderr == "platekeeper status: no daemon is running (nothing listens at \(unit.socketPath))\n")
    }

    @Test("a daemon with nothing broken is healthy (exit 0) with a synchronised clock, degraded (exit 1) without one")
    func healthyStatus() throws {
        let unit = try Self.unit(cameras: Self.replayCamera("loop", "pass-day", loop: true, speed: 0))
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"))
        #expect(waitUntil(timeout: 60) { Self.status(unit)?.problems.isEmpty ?? false })
        let result = try runCommand(TestPaths.executable, ["status", "--socket", unit.socketPath])
        let document = try #require(Self.status(unit))
        // This machine's kernel decides which: both are the real answer for it.
        if SystemClock.quality() == .synchronized {
            #expect(result.status == 0, "\(result.stdout)")
            #expect(result.stdout.contains(": healthy\n"))
            #expect(document.state == "healthy" && document.healthy && document.warnings.isEmpty)
        } else {
            #expect(result.status == 1, "\(result.stdout)")
            #expect(result.stdout.contains(": DEGRADED\n"))
            #expect(result.stdout.contains("~ system clock is not synchronised"))
            #expect(document.state == "degraded" && !document.healthy)
            #expect(document.warnings.count == 1)
        }
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0)
    }

    @Test("a torn frame in a replay camera's recording is skipped; the daemon and the pass go on")
    func badFrame() throws {
        let unit = try Self.unit(cameras: "")
        let source = (TestPaths.testFrames as NSString).appendingPathComponent("pass-day")
        let copy = unit.dir.file("recording")
        try FileManager.default.copyItem(atPath: source, toPath: copy)
        let torn = (copy as NSString).appendingPathComponent("000006.jpg")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: torn))
        try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: torn))
        try FileManager.default.removeItem(atPath: (copy as NSString).appendingPathComponent("000007.jpg"))  // listed, missing
        let config = try String(contentsOfFile: unit.config, encoding: .utf8)
        try (config + "\n[[cameras]]\nid = \"torn\"\nreplay = \"\(copy)\"\nspeed = 0\n").write(toFile: unit.config, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"))
        #expect(waitUntil(timeout: 90) {
            guard let c = Self.status(unit)?.cameras.first else { return false }
            return c.state == "finished" && c.framesProcessed == c.framesReceived
        })
        #expect(Self.status(unit)?.cameras.first?.framesReceived == 10)
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0)
        #expect(daemon.log.contains("000006.jpg"), "the torn frame is named in the log")
        #expect(daemon.log.contains("000007.jpg"), "the missing frame is named in the log")
        let events = try Journal(settings: JournalSettings(path: unit.journalPath), mode: .inspect).events().map(\.event)
        #expect(events.filter { $0.plate == "8DMW013" }.count == 1)
    }

    @Test("a pipeline that cannot start (no OCR model) makes the daemon exit 78, not hang")
    func pipelineFailure() throws {
        let unit = try Self.unit(cameras: Self.replayCamera("day", "pass-day"))
        let empty = unit.dir.file("no-model")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let config = try String(contentsOfFile: unit.config, encoding: .utf8)
        try (config + "\n[recognition]\ntessdata = \"\(empty)\"\n").write(toFile: unit.config, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"))
        let status = daemon.wait(timeout: 60)
        #expect(status == 78, "exit status \(String(describing: status)); log:\n\(daemon.log)")
        #expect(daemon.log.contains("<2>daemon cannot start"))
    }

    @Test("a status socket that cannot be made stops every service and the daemon exits with an error")
    func statusSocketFailure() throws {
        let unit = try Self.unit(cameras: Self.replayCamera("day", "pass-day", loop: true, speed: 1))
        let config = try String(contentsOfFile: unit.config, encoding: .utf8)
            .replacingOccurrences(of: "socket = \"\(unit.socketPath)\"", with: "socket = \"/proc/no-such-dir/status.sock\"")
        try config.write(toFile: unit.config, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"))
        let status = daemon.wait(timeout: 60)
        #expect(status == 1, "exit status \(String(describing: status)); log:\n\(daemon.log)")
        #expect(daemon.log.contains("status.sock"))
    }

    @Test("a bad configuration stops the start with exit status 78 and names line and key")
    func badConfig() throws {
        let dir = try TemporaryDirectory()
        let config = try dir.write("bad.toml", "[[cameras]]\nid = \"a\"\nreplay = \"/x\"\nspeed = \"fast\"\n")
        let result = try runCommand(TestPaths.executable, ["run", "--config", config])
        #expect(result.status == 78)
        #expect(result.stderr.contains("bad.toml:4: cameras[0].speed: must be a number"))
        let check = try runCommand(TestPaths.executable, ["config", "check", config])
        #expect(check.status == 1)
        #expect(check.stderr.contains("bad.toml:4: cameras[0].speed"))
        let missing = try runCommand(TestPaths.executable, ["run", "--config", dir.file("none.toml")])
        #expect(missing.status == 78)
        #expect(missing.stderr.contains("none.toml"))
    }

    @Test("a corrupt journal is moved aside loudly and the daemon starts a new one")
    func corruptJournalAtStart() throws {
        let unit = try Self.unit(cameras: Self.replayCamera("day", "pass-day"))
        let garbage = [UInt8](repeating: 0x42, count: 10_000)
        try unit.dir.write("state/journal.sqlite", garbage)
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"))
        #expect(waitUntil(timeout: 60) { Self.status(unit)?.journal.quarantined != nil })
        let quarantined = try #require(Self.status(unit)?.journal.quarantined)
        #expect(FileManager.default.contents(atPath: quarantined).map([UInt8].init) == garbage)
        #expect(daemon.log.contains("<2>journal file was unusable and has been moved aside"))
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0)
    }

    @Test("SIGHUP reloads a valid configuration and keeps the running one when the new one is invalid; status --config with that file still finds the daemon")
    func reload() throws {
        var unit = try Self.unit(cameras: Self.replayCamera("one", "stills", loop: true, speed: 1))
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"))
        #expect(waitUntil(timeout: 60) { Self.status(unit)?.cameras.count == 1 })
        let original = try String(contentsOfFile: unit.config, encoding: .utf8)
        try (original + Self.replayCamera("two", "pass-day", loop: true, speed: 1)).write(toFile: unit.config, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        #expect(waitUntil(timeout: 60) { Self.status(unit)?.cameras.map(\.id) == ["one", "two"] }, "\(daemon.log)")
        try (original + "\nnonsense = 1\n").write(toFile: unit.config, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        #expect(waitUntil(timeout: 10) { daemon.log.contains("new configuration rejected") })
        #expect(Self.status(unit)?.cameras.count == 2, "still running the previous configuration")
        // `status --config` with the file that does not validate still finds the running daemon.
        let viaConfig = try runCommand(TestPaths.executable, ["status", "--json", "--config", unit.config])
        #expect(viaConfig.status != 3 && viaConfig.stdout.contains(#""cameras""#), "status \(viaConfig.status): \(viaConfig.stderr)")
        unit = Unit(dir: unit.dir, config: unit.config)
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0)
    }

    @Test("a looping replay camera: every pass of the recording is a vehicle pass of its own, one event per plate per pass, lettering included")
    func loopingReplay() throws {
        let unit = try Self.unit(cameras: Self.replayCamera("loop", "pass-day", loop: true, speed: 0))
        let frames = try FileManager.default.contentsOfDirectory(atPath: (TestPaths.testFrames as NSString).appendingPathComponent("pass-day"))
            .filter { $0.hasSuffix(".jpg") }.count
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"))
        #expect(waitUntil(timeout: 120) { (Self.status(unit)?.cameras.first?.framesProcessed ?? 0) >= 4 * frames }, "\(daemon.log)")
        // A few more frames may come in between this look and the stop: one pass of slack.
        let received = try #require(Self.status(unit)?.cameras.first?.framesReceived)
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0)
        let passesBegun = (received + frames - 1) / frames + 1
        let journal = try Journal(settings: JournalSettings(path: unit.journalPath), mode: .inspect)
        let events = try journal.events().map(\.event)
        let plate = try Self.expectedPlate("pass-day")
        let byPlate = Dictionary(grouping: events, by: \.plate)
        let platePasses = try #require(byPlate[plate]).count
        #expect(platePasses >= 4 && platePasses <= passesBegun, "\(passesBegun) passes: \(byPlate.mapValues(\.count))")
        for (text, group) in byPlate {
            #expect(group.count <= passesBegun, "\(text) made more events than there were passes: \(byPlate.mapValues(\.count))")
            #expect(group.allSatisfy { $0.frameCount <= frames }, "\(text): an event spans more than one pass")
        }
    }

    @Test("kill -9 at random points, 20 times: every committed read survives, the journal opens cleanly, nothing is duplicated")
    func killNine() throws {
        let unit = try Self.unit(cameras: Self.replayCamera("stills", "stills", loop: true, speed: 0),
                                 extra: "\n[logging]\nlevel = \"info\"\n")
        // The grouping window is short so that reads turn into events continually.
        let config = try String(contentsOfFile: unit.config, encoding: .utf8).replacingOccurrences(of: "window = \"1s\"", with: "window = \"100ms\"")
        try config.write(toFile: unit.config, atomically: true, encoding: .utf8)
        var generator = SeededRandom(seed: 20_261_127)
        var committed: Set<String> = []
        var cycles = 0
        for cycle in 0..<20 {
            let log = unit.dir.file("daemon-\(cycle).log")
            let daemon = try DaemonProcess(config: unit.config, logPath: log)
            // Wait until this run has committed at least one read, then a random extra while.
            _ = waitUntil(timeout: 60) { daemon.log.contains("journaled") }
            Thread.sleep(forTimeInterval: Double(generator.next() % 1500) / 1000)
            daemon.signal(SIGKILL)
            _ = daemon.wait()
            let lines = daemon.log.split(separator: "\n")
            #expect(!lines.contains { $0.contains("moved aside") }, "cycle \(cycle): the journal was not clean:\n\(daemon.log)")
            for line in lines where line.contains("journaled") {
                if let range = line.range(of: "read.id=") {
                    committed.insert(String(line[range.upperBound...].prefix(36)))
                }
            }
            let journal = try Journal(settings: JournalSettings(path: unit.journalPath), mode: .inspect)
            let ids = try journal.events().map { $0.event.id.uuidString.lowercased() }
            let missing = committed.subtracting(ids)
            #expect(missing.isEmpty, "cycle \(cycle): committed reads missing after kill -9: \(missing)")
            #expect(Set(ids).count == ids.count, "cycle \(cycle): duplicated ids")
            let keys = try journal.events().map { "\($0.event.camera)|\($0.event.plate)|\($0.event.firstSeen.unixNanoseconds)" }
            #expect(Set(keys).count == keys.count, "cycle \(cycle): the same read journaled twice")
            cycles += 1
        }
        #expect(cycles == 20)
        #expect(committed.count >= 20, "reads were committed during the cycles (\(committed.count))")
    }
}

@Suite("Watchdog heartbeat")
struct HeartbeatTests {
    @Test("a loop that stops beating makes the pipeline count as stuck")
    func stale() {
        let board = StatusBoard(version: "test", position: PositionFeed(), diskPath: "/", queuedFrames: { 0 })
        #expect(board.pipelineAlive(within: 0.2), "alive while starting, before the first beat")
        board.beat("worker-0")
        board.beat("journal")
        #expect(board.pipelineAlive(within: 0.2))
        Thread.sleep(forTimeInterval: 0.3)
        board.beat("journal")  // the journal goes on, the worker is stuck
        #expect(!board.pipelineAlive(within: 0.2))
        board.beat("worker-0")
        #expect(board.pipelineAlive(within: 0.2))
    }
}

/// A Unix datagram socket standing in for systemd's notification socket, drained by a thread of
/// its own as systemd drains its socket.

@Suite("Daemon start-up", .serialized)
struct StartupTests {
    @Test("a missing glyph model or tessdata folder: exit 78 (not restarted), no READY=1 reaches systemd, no `ready` logged", arguments: [
        "glyph_model = \"/nonexistent/glyphs.bin\"", "tessdata = \"/nonexistent/tessdata\"",
    ])
    func unfixableStartIs78(_ setting: String) throws {
        let unit = try DaemonTests.unit(cameras: DaemonTests.replayCamera("day", "pass-day"), extra: "\n[recognition]\n\(setting)\n")
        let notify = try NotifySocket(path: unit.dir.file("notify.sock"))
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"), environment: ["NOTIFY_SOCKET": notify.path])
        #expect(daemon.wait(timeout: 60) == 78, "\(daemon.log)")
        #expect(daemon.log.contains("recognition cannot start"), "\(daemon.log)")
        #expect(!daemon.log.contains("ready"), "\(daemon.log)")
        #expect(!notify.messages().contains { $0.hasPrefix("READY=1") })
    }
}

/// A datagram socket standing in for systemd's notify socket or the journal's socket.
final class NotifySocket: @unchecked Sendable {
    let path: String
    let fd: Int32
    private let lock = NSLock()
    private var received: [String] = []
    private var raw: [[UInt8]] = []
    private var open = true

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        var tv = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        Thread.detachNewThread { [self] in
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while lock.withLock({ open }) {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n > 0 {
                    let lines = String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n").map(String.init)
                    lock.withLock {
                        received += lines
                        raw.append(Array(buffer[0..<n]))
                    }
                }
            }
        }
    }

    /// Every message received so far, split into assignments.
    func messages() -> [String] {
        Thread.sleep(forTimeInterval: 0.3)
        return lock.withLock { received }
    }

    /// Every datagram received so far, as sent.
    func datagrams() -> [[UInt8]] { lock.withLock { raw } }

    func stop() { lock.withLock { open = false } }

    deinit { close(fd) }
}
