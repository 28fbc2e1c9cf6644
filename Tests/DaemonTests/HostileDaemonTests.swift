@testable import Daemon
import Foundation
import Journal
import PlateKeeperCore
import Position
import PlateKeeperTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The running daemon against bad recordings, bad reloads, bad paths and a full disk: it keeps
/// running, says what is wrong in status, logs a bounded number of lines, and destroys nothing.
@Suite("Hostile input to the daemon", .serialized)
struct HostileDaemonTests {
    typealias Unit = DaemonTests.Unit

    static func unit(_ cameras: String, extra: String = "") throws -> Unit { try DaemonTests.unit(cameras: cameras, extra: extra) }
    static func status(_ unit: Unit) -> StatusDocument? { DaemonTests.status(unit) }

    static func replay(_ id: String, path: String, loop: Bool = true, speed: Double = 0) -> String {
        "\n[[cameras]]\nid = \"\(id)\"\nreplay = \"\(path)\"\nloop = \(loop)\nspeed = \(speed)\n"
    }

    /// Resident memory of a process, from /proc (bytes).
    static func residentBytes(_ pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8),
              let pages = text.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    @Test("a looping replay camera over zero-byte frames backs off, says so in status, logs little and holds its memory")
    func emptyFrames() throws {
        let unit = try Self.unit("")
        for i in 0..<12 { try unit.dir.write("empty/\(i).jpg", [UInt8]()) }
        let config = try String(contentsOfFile: unit.config, encoding: .utf8) + Self.replay("empty", path: unit.dir.file("empty"))
        try config.write(toFile: unit.config, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"))
        #expect(waitUntil(timeout: 30) { Self.status(unit)?.cameras.first?.state == "retrying" }, "\(daemon.log)")
        let early = Self.residentBytes(daemon.pid) ?? 0
        Thread.sleep(forTimeInterval: 6)
        let status = try #require(Self.status(unit))
        let camera = try #require(status.cameras.first)
        #expect(!status.healthy)
        #expect(!camera.healthy)
        #expect(camera.state == "retrying")
        #expect(camera.error?.contains("none of the 12 frames could be read") == true, "\(String(describing: camera.error))")
        #expect(camera.framesBad >= 12)
        #expect(camera.framesBad < 12 * 8, "passes back off (1 s, 2 s, 4 s …): \(camera.framesBad) bad frames")
        let late = Self.residentBytes(daemon.pid) ?? 0
        #expect(late - early < 32 << 20, "memory grew from \(early >> 20) MiB to \(late >> 20) MiB")
        let lines = daemon.log.split(separator: "\n").count
        #expect(lines < 60, "\(lines) log lines in about 8 s")
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0)
    }

    @Test("a manifest with capture times at the ends of 64-bit nanoseconds does not crash the camera")
    func extremeManifestTimes() throws {
        let unit = try Self.unit(DaemonTests.replayCamera("day", "pass-day", loop: true, speed: 0))
        let good = (TestPaths.testFrames as NSString).appendingPathComponent("stills/day-clear.jpg")
        try FileManager.default.createDirectory(atPath: unit.dir.file("rec"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: good, toPath: unit.dir.file("rec/a.jpg"))
        try FileManager.default.copyItem(atPath: good, toPath: unit.dir.file("rec/b.jpg"))
        try unit.dir.write("rec/manifest.json", """
            {"version": 1, "frames": [{"file": "a.jpg", "captureTime": "1678-01-01T00:00:00Z"},
                                      {"file": "b.jpg", "captureTime": "2261-12-31T23:59:59Z"}]}
            """)
        try unit.dir.write("wide/a.jpg", try BoundedFile.read(good, limit: 1 << 24))
        try unit.dir.write("wide/b.jpg", try BoundedFile.read(good, limit: 1 << 24))
        try unit.dir.write("wide/manifest.json", """
            {"version": 1, "frames": [{"file": "a.jpg", "captureTime": "1970-01-01T00:00:00Z"},
                                      {"file": "b.jpg", "captureTime": "2199-12-31T23:59:59Z"}]}
            """)
        let config = try String(contentsOfFile: unit.config, encoding: .utf8)
            + Self.replay("extreme", path: unit.dir.file("rec")) + Self.replay("wide", path: unit.dir.file("wide"), loop: false, speed: 0)
        try config.write(toFile: unit.config, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"))
        #expect(waitUntil(timeout: 60) {
            guard let cameras = Self.status(unit)?.cameras, cameras.count == 3 else { return false }
            return cameras[1].state == "retrying" && cameras[2].state == "finished" && cameras[2].framesProcessed == 2
        }, "\(daemon.log)")
        let extreme = Self.status(unit)?.cameras[1]
        #expect(extreme?.error?.contains("outside 1970-01-01 to 2199-12-31") == true)
        #expect(daemon.wait(timeout: 0.5) == nil, "still running")
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0)
    }

    @Test("SIGHUP with a file the old TOML library aborted on, a 30,000-part dotted key, a journal that cannot be opened, or a pipeline that cannot start keeps the daemon running")
    func reloads() throws {
        let unit = try Self.unit(DaemonTests.replayCamera("one", "stills", loop: true, speed: 1))
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"))
        #expect(waitUntil(timeout: 60) { Self.status(unit)?.cameras.count == 1 })
        let original = try String(contentsOfFile: unit.config, encoding: .utf8)
        try (original + "\n[#x]\n").write(toFile: unit.config, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        #expect(waitUntil(timeout: 10) { daemon.log.contains("new configuration rejected") })
        // A 30,000-part dotted key once crashed the daemon on SIGHUP (the loader recursed per part).
        try (original + "\n" + Array(repeating: "a", count: 30_000).joined(separator: ".") + " = 1\n")
            .write(toFile: unit.config, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        #expect(waitUntil(timeout: 10) { daemon.log.contains("more than 32 parts") }, "\(daemon.log.suffix(2000))")
        #expect(daemon.wait(timeout: 0.5) == nil, "still running")
        // A journal path under a regular file: its folder can never be made.
        let blocker = try unit.dir.write("blocker", "a file, not a folder")
        let unusable = original.replacingOccurrences(of: unit.journalPath, with: blocker + "/journal.sqlite")
            + DaemonTests.replayCamera("two", "pass-day", loop: true, speed: 1)
        try unusable.write(toFile: unit.config, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        #expect(waitUntil(timeout: 30) { daemon.log.contains("keeping the running configuration") }, "\(daemon.log)")
        #expect(waitUntil(timeout: 30) { Self.status(unit)?.cameras.map(\.id) == ["one"] }, "running the old configuration again")
        // The journal's figures (and so its path in status) come with the first refresh of the new run.
        #expect(waitUntil(timeout: 30) { Self.status(unit)?.journal.path == unit.journalPath })
        // A configuration that loads but whose pipeline cannot start (no OCR model there): the
        // daemon goes back to the configuration that ran before.
        let empty = unit.dir.file("no-model")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        try (original + DaemonTests.replayCamera("three", "pass-day", loop: true, speed: 1) + "\n[recognition]\ntessdata = \"\(empty)\"\n")
            .write(toFile: unit.config, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        #expect(waitUntil(timeout: 30) { daemon.log.contains("going back to the one that ran before") }, "\(daemon.log)")
        #expect(waitUntil(timeout: 30) { Self.status(unit)?.cameras.map(\.id) == ["one"] }, "running the old configuration again")
        try original.write(toFile: unit.config, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        #expect(waitUntil(timeout: 30) { daemon.log.components(separatedBy: "configuration reloaded").count == 3 }, "reloads still work")
        #expect(daemon.wait(timeout: 0.5) == nil, "still running")
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0)
        #expect(try String(contentsOfFile: blocker, encoding: .utf8) == "a file, not a folder")
    }

    @Test("a status socket path naming an existing file leaves the file alone and the daemon refuses to start")
    func socketOverFile() throws {
        let unit = try Self.unit(DaemonTests.replayCamera("day", "pass-day"))
        let precious = try unit.dir.write("precious.dat", "someone's data")
        let config = try String(contentsOfFile: unit.config, encoding: .utf8)
            .replacingOccurrences(of: "socket = \"\(unit.socketPath)\"", with: "socket = \"\(precious)\"")
        try config.write(toFile: unit.config, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"))
        #expect(daemon.wait(timeout: 60) == 1)
        #expect(daemon.log.contains("is not a socket"), "\(daemon.log)")
        #expect(try String(contentsOfFile: precious, encoding: .utf8) == "someone's data")
    }

    @Test("a journal this user may not read is refused with a clear message and left untouched, not moved aside as corrupt")
    func journalPermissions() throws {
        let unit = try Self.unit(DaemonTests.replayCamera("day", "pass-day"))
        // Everything readable by the unprivileged user except the journal itself (root's, 0600).
        for path in [unit.dir.path, unit.dir.file("state"), unit.dir.file("run")] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            chmod(path, 0o777)
        }
        chmod(unit.config, 0o644)
        do {
            let journal = try Journal(settings: JournalSettings(path: unit.journalPath))
            let now = CaptureTime(date: Date(), quality: .synchronized)
            _ = try journal.appendNow(ReadEvent(
                kind: .vehicle, camera: "day", plate: "KEEP1", confidence: 90, candidates: [], region: "us",
                box: PixelBox(x: 0, y: 0, width: 1, height: 1), firstSeen: now, lastSeen: now, frameCount: 1, bestFrame: "f"))
            try journal.checkpoint()
        }
        chmod(unit.journalPath, 0o600)
        let before = try BoundedFile.read(unit.journalPath, limit: 1 << 26)
        let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"), launcher: nobody)
        let status = daemon.wait(timeout: 60)
        #expect(status != nil && status != 0, "exit status \(String(describing: status))")
        #expect(daemon.log.contains("Permission denied"), "\(daemon.log)")
        #expect(daemon.log.contains("left untouched"), "\(daemon.log)")
        #expect(!daemon.log.contains("moved aside"))
        // The journal and the lock file root's journal took (it holds no data).
        #expect(try FileManager.default.contentsOfDirectory(atPath: unit.dir.file("state")).sorted() == ["journal.sqlite", "journal.sqlite.lock"])
        #expect(try BoundedFile.read(unit.journalPath, limit: 1 << 26) == before)
    }

    @Test("a full disk: the failing commit is retried each second and logged about once a minute; the daemon runs on",
          .disabled(if: ProcessInfo.processInfo.environment["TSAN_OPTIONS"] != nil,
                    "under ThreadSanitizer the daemon dies of SIGBUS inside TSan's runtime once RLIMIT_FSIZE is set (not understood yet; passes without sanitizers and under ASan)"))
    func diskFull() throws {
        let unit = try Self.unit(Self.replay("stills", path: (TestPaths.testFrames as NSString).appendingPathComponent("stills")),
                                 extra: "\n[logging]\nlevel = \"info\"\n")
        let config = try String(contentsOfFile: unit.config, encoding: .utf8).replacingOccurrences(of: "window = \"1s\"", with: "window = \"100ms\"")
        try config.write(toFile: unit.config, atomically: true, encoding: .utf8)
        // Files may not grow past 256 KiB (RLIMIT_FSIZE; SIGXFSZ ignored, so writes fail with EFBIG):
        // the journal fills this "disk" within seconds of replaying stills in a loop.
        let launcher = ["/bin/sh", "-c", "trap '' XFSZ; exec /usr/bin/prlimit --fsize=262144 \"$@\"", "sh"]
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"), launcher: launcher)
        #expect(waitUntil(timeout: 90) { daemon.log.contains("read event commit failed") }, "\(daemon.log.suffix(2000))")
        Thread.sleep(forTimeInterval: 8)
        let failures = daemon.log.split(separator: "\n").filter { $0.contains("read event commit failed") }.count
        #expect(failures <= 2, "\(failures) failure lines in about 8 s")
        let status = try #require(Self.status(unit))
        #expect(!status.healthy)
        #expect(status.journal.error != nil)
        daemon.signal(SIGTERM)
        _ = daemon.wait(timeout: 60)
        let journaled = daemon.log.split(separator: "\n").filter { $0.contains("journaled") }.compactMap { line in
            line.range(of: "read.id=").map { String(line[$0.upperBound...].prefix(36)) }
        }
        let stored = try Journal(settings: JournalSettings(path: unit.journalPath), mode: .inspect).events().map { $0.event.id.uuidString.lowercased() }
        #expect(!journaled.isEmpty)
        #expect(Set(journaled).isSubset(of: Set(stored)), "every read whose commit was logged is in the journal")
    }
}

@Suite("Status of a journal that refuses reads")
struct RefusingJournalStatusTests {
    @Test("a full journal under stop-accepting that drops reads is not healthy")
    func refusing() throws {
        let board = StatusBoard(version: "test", position: PositionFeed(), diskPath: "/", queuedFrames: { 0 })
        let dir = try TemporaryDirectory()
        let journal = try Journal(settings: JournalSettings(path: dir.file("j.sqlite")))
        board.journal(try journal.stats(), error: nil)
        #expect(board.document().problems.isEmpty)
        board.rejected()
        let document = board.document()
        #expect(!document.healthy)
        #expect(!document.journal.healthy)
        #expect(document.problems.contains { $0.contains("refuses new reads") })
    }
}

@Suite("Log throttle")
struct LogThrottleTests {
    @Test("a burst goes through, then one line per interval, with the count held back")
    func rate() {
        var throttle = LogThrottle(interval: 1, burst: 3)
        let first = (0..<10).map { _ in throttle.allow(now: 100).log }
        #expect(first == [true, true, true, false, false, false, false, false, false, false])
        #expect(throttle.allow(now: 100.5).log == false)
        let later = throttle.allow(now: 101.01)
        #expect(later.log && later.held == 8)
        #expect(throttle.allow(now: 101.02).log == false)
        #expect(throttle.allow(now: 110).log, "refilled after a quiet spell")
    }
}
