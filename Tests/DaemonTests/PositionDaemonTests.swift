@testable import Daemon
import Foundation
import Journal
import PlateKeeperCore
import PlateKeeperTesting
import Position
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `platekeeper run` with a real gpsd: reads are tagged with the position at their best frame's
/// capture time, status shows the source, and a source that goes away leaves reads marked, not lost.
@Suite("Daemon: position and clock", .serialized, .enabled(if: TestGpsd.available, "gpsd is not installed (.ci/install-deps installs it)"))
struct PositionDaemonTests {
    /// The frames of one pass as a recording whose capture times start at `start` (Unix ns), 100 ms apart.
    static func recording(in dir: TemporaryDirectory, start: Int64, name: String = "rec") throws -> String {
        let source = (TestPaths.testFrames as NSString).appendingPathComponent("pass-day")
        let files = try FileManager.default.contentsOfDirectory(atPath: source).filter { $0.hasSuffix(".jpg") }.sorted()
        try FileManager.default.createDirectory(atPath: dir.file(name), withIntermediateDirectories: true)
        var entries: [String] = []
        for (k, file) in files.enumerated() {
            try FileManager.default.copyItem(atPath: (source as NSString).appendingPathComponent(file), toPath: dir.file("\(name)/\(file)"))
            let time = ISO8601.format(unixNanoseconds: start + Int64(k) * 100_000_000)
            entries.append(#"{"file": "\#(file)", "captureTime": "\#(time)"}"#)
        }
        try dir.write("\(name)/manifest.json", #"{"version": 1, "camera": "lane", "clockQuality": "synchronized", "frames": ["#
            + entries.joined(separator: ",") + "]}")
        return dir.file(name)
    }

    static func config(_ dir: TemporaryDirectory, recording: String, position: String, camera: String = "") throws -> String {
        try dir.write("platekeeper.toml", """
            [[cameras]]
            id = "lane"
            replay = "\(recording)"
            speed = 0
            \(camera)
            [grouping]
            window = "3s"
            [journal]
            path = "\(dir.file("state/journal.sqlite"))"
            quota = "16MiB"
            [position]
            \(position)
            [status]
            socket = "\(dir.file("run/status.sock"))"
            """)
    }

    static func status(_ dir: TemporaryDirectory) -> StatusDocument? {
        guard let data = try? StatusSocket.fetch(from: dir.file("run/status.sock"), timeout: 2) else { return nil }
        return try? StatusDocument.decode(data)
    }

    /// Status once the replay has played and its reads are journaled (nil after 60 s).
    static func statusOnceJournaled(_ dir: TemporaryDirectory) -> StatusDocument? {
        var seen: StatusDocument?
        _ = waitUntil(timeout: 60) {
            seen = status(dir)
            return seen.map { s in s.cameras.allSatisfy { $0.state == "finished" } && s.journal.rows > 0 } ?? false
        }
        return seen.flatMap { s in s.journal.rows > 0 ? s : nil }
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1e9) }

    @Test("gpsd on a moving unit: every read carries the position at its capture time, within a metre of the track, with fix mode, age and clock; status shows the source; gpsd gone leaves the daemon running and says so")
    func movingUnit() throws {
        let start = Self.now()
        // The receiver drives the test track in real time: epoch i is sent at t0 + i s.
        let gpsd = try TestGpsd(track: StraightTrack(t0: start / 1_000_000_000 * 1_000_000_000 - 5_000_000_000), realTime: true)
        let dir = try TemporaryDirectory("pkpos")
        // The recording appears once the daemon has fixes (its replay camera retries until then),
        // with frames captured just then: fixes before and after each capture time.
        let recording = dir.file("rec")
        let config = try Self.config(dir, recording: recording, position: """
            source = "gpsd"
            gpsd = "127.0.0.1:\(gpsd.port)"
            clock_offset_warning = "5s"
            """)
        let daemon = try DaemonProcess(config: config, logPath: dir.file("daemon.log"))
        let journalPath = dir.file("state/journal.sqlite")
        #expect(waitUntil(timeout: 30) { Self.status(dir)?.position.fixMode == "3d" }, "the daemon got fixes: \(daemon.log)")
        let staged = try Self.recording(in: dir, start: Self.now(), name: "staged")
        try FileManager.default.moveItem(atPath: staged, toPath: recording)
        let seen = Self.statusOnceJournaled(dir)
        #expect(seen != nil, "reads journaled: \(daemon.log)")
        let s = try #require(seen)
        #expect(s.position.source == "gpsd" && s.position.state == "receiving", "\(s.position)")
        #expect(s.position.fixMode == "3d")
        #expect(s.position.satellitesUsed == 8 && s.position.satellitesSeen == 8, "gpsd's SKY")
        #expect((s.position.lastFixAgeSeconds ?? 99) < 3)
        #expect(s.position.latitude != nil)
        #expect(s.clock?.synchronized != nil)
        #expect(s.clock?.gpsOffsetSeconds.map { abs($0) < 2 } == true, "GNSS time is the system clock here, less gpsd's delay")

        let events = try Journal(settings: JournalSettings(path: journalPath), mode: .inspect).events().map(\.event)
        #expect(!events.isEmpty)
        var worst = 0.0
        for e in events {
            let status = try #require(e.positionStatus)
            #expect([.interpolated, .fix].contains(status.state), "\(e.plate): \(status)")
            let p = try #require(e.position, "\(e.plate): \(status)")
            #expect(p.source == .gpsd && p.fix == .threeD)
            let error = StraightTrack.meters(gpsd.track.truth(at: e.bestSeen.unixNanoseconds), (p.latitude, p.longitude))
            #expect(error < 1.0, "\(e.plate) at \(e.bestSeen.iso8601): \(error) m from the track")
            worst = max(worst, error)
            #expect((status.fixAgeSeconds ?? 9) <= 0.5)
            #expect(status.satellites == 8)
            #expect(e.clock?.synchronized != nil)
        }
        print("daemon with gpsd: \(events.count) read event(s), position at capture time at most \(String(format: "%.3f", worst)) m from the track")
        // The export carries them in the wire format.
        let export = try runCommand(TestPaths.executable, ["journal", "export", "--purpose", "test run", "--category", "maintenance", "--audit-log", dir.file("audit.log"), "--journal", journalPath])
        #expect(export.stdout.contains(#""position_status":{"#) && export.stdout.contains(#""state":"interpolated""#)
                || export.stdout.contains(#""state":"fix""#))

        // gpsd goes away: status says so; the daemon keeps running and stops cleanly.
        gpsd.stopGpsd()
        #expect(waitUntil(timeout: 20) { Self.status(dir)?.position.state == "disconnected" })
        #expect(Self.status(dir)?.problems.contains { $0.contains("position source gpsd is disconnected") } == true)
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0, "exit status; log:\n\(daemon.log)")
        #expect(daemon.log.contains("gpsd connected"))
    }

    @Test("a serial receiver that is not there: the daemon runs, reads are journaled marked no-source, status names the error")
    func missingReceiver() throws {
        let dir = try TemporaryDirectory("pkpos")
        let recording = try Self.recording(in: dir, start: Self.now())
        let config = try Self.config(dir, recording: recording, position: """
            source = "nmea"
            device = "\(dir.file("ttyNONE"))"
            baud = 4800
            """)
        let daemon = try DaemonProcess(config: config, logPath: dir.file("daemon.log"))
        let seen = Self.statusOnceJournaled(dir)
        #expect(seen != nil, "reads journaled: \(daemon.log)")
        #expect(seen?.position.state == "disconnected")
        #expect(seen?.position.error?.contains("No such file or directory") == true, "\(String(describing: seen?.position))")
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0, "exit status; log:\n\(daemon.log)")
        let events = try Journal(settings: JournalSettings(path: dir.file("state/journal.sqlite")), mode: .inspect).events().map(\.event)
        #expect(!events.isEmpty)
        #expect(events.allSatisfy { $0.position == nil && $0.positionStatus?.state == .noSource })
    }

    @Test("GNSS time 10 s ahead of the system clock: the daemon warns, status lists the problem and shows the offset")
    func clockOffsetWarning() throws {
        let now = Self.now()
        let gpsd = try TestGpsd(track: StraightTrack(t0: now / 1_000_000_000 * 1_000_000_000), realTime: true, gnssAheadSeconds: 10)
        let dir = try TemporaryDirectory("pkpos")
        let config = try Self.config(dir, recording: dir.file("none"), position: """
            source = "gpsd"
            gpsd = "127.0.0.1:\(gpsd.port)"
            clock_offset_warning = "2s"
            """)
        let daemon = try DaemonProcess(config: config, logPath: dir.file("daemon.log"))
        #expect(waitUntil(timeout: 30) {
            guard let s = Self.status(dir), let offset = s.clock?.gpsOffsetSeconds else { return false }
            return offset > 9 && offset < 10.5 && s.problems.contains { $0.contains("system clock differs from GNSS time") }
        }, "\(String(describing: Self.status(dir)?.clock)) \(daemon.log)")
        #expect(Self.status(dir)?.clock?.offsetWarningSeconds == 2)
        #expect(waitUntil(timeout: 10) { daemon.log.contains("system clock differs from GNSS time") })
        let text = try runCommand(TestPaths.executable, ["status", "--socket", dir.file("run/status.sock")])
        #expect(text.stdout.contains("GNSS − system +9.") || text.stdout.contains("GNSS − system +10."), "\(text.stdout)")
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0, "exit status; log:\n\(daemon.log)")
    }

    @Test("source = \"recording\": a car unit's recording replayed through the daemon gets the positions the unit saw")
    func recordedPositions() throws {
        let dir = try TemporaryDirectory("pkpos")
        let start = Int64(1_795_000_010) * 1_000_000_000 + 250_000_000
        let recording = try Self.recording(in: dir, start: start)
        let track = StraightTrack(t0: start / 1_000_000_000 * 1_000_000_000 - 2_000_000_000)
        let log = try dir.write("position.log", track.positionLog(through: start + 2_000_000_000))
        let config = try Self.config(dir, recording: recording, position: """
            source = "recording"
            recording = "\(log)"
            """, camera: "recorded_times = true")
        let daemon = try DaemonProcess(config: config, logPath: dir.file("daemon.log"))
        let seen = Self.statusOnceJournaled(dir)
        #expect(seen?.position.state == "recorded" && seen?.position.source == "nmea", "\(String(describing: seen?.position))")
        #expect(seen?.problems.isEmpty == true, "\(String(describing: seen?.problems))")
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0, "exit status; log:\n\(daemon.log)")
        let events = try Journal(settings: JournalSettings(path: dir.file("state/journal.sqlite")), mode: .inspect).events().map(\.event)
        #expect(!events.isEmpty)
        for e in events {
            #expect(e.firstSeen.unixNanoseconds >= start && e.lastSeen.unixNanoseconds < start + 2_000_000_000, "recorded times kept")
            #expect(e.positionStatus?.state == .interpolated || e.positionStatus?.state == .fix, "\(String(describing: e.positionStatus))")
            let p = try #require(e.position)
            #expect(StraightTrack.meters(track.truth(at: e.bestSeen.unixNanoseconds), (p.latitude, p.longitude)) < 1.0)
        }
    }

    @Test("source = \"recording\" with a log that is missing or holds no fix: status says unusable and lists the problem; reads are journaled without a position", arguments: [false, true])
    func unusableRecording(_ exists: Bool) throws {
        let dir = try TemporaryDirectory("pkpos")
        let start = Int64(1_795_000_010) * 1_000_000_000 + 250_000_000
        let recording = try Self.recording(in: dir, start: start)
        // A log with lines but no fix: a receiver that never saw a satellite.
        let log = exists ? try dir.write("position.log", "\(start) $GPGSA,A,1,,,,,,,,,,,,,99.0,99.0,99.0*00\n") : dir.file("missing.log")
        let config = try Self.config(dir, recording: recording, position: """
            source = "recording"
            recording = "\(log)"
            """, camera: "recorded_times = true")
        let daemon = try DaemonProcess(config: config, logPath: dir.file("daemon.log"))
        let seen = Self.statusOnceJournaled(dir)
        #expect(seen?.position.state == "unusable", "\(String(describing: seen?.position))")
        #expect(seen?.problems.contains { $0.contains("position source") && $0.contains("unusable") } == true, "\(String(describing: seen?.problems))")
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0, "exit status; log:\n\(daemon.log)")
        let events = try Journal(settings: JournalSettings(path: dir.file("state/journal.sqlite")), mode: .inspect).events().map(\.event)
        #expect(!events.isEmpty && events.allSatisfy { $0.position == nil })
    }

    @Test("a serial receiver that sends only garbage: each kind is logged clearly (at a bounded rate), counted in status; the daemon keeps journaling, positions marked missing")
    func garbageReceiver() throws {
        let dir = try TemporaryDirectory("pkpos")
        let port = try TestSerialPort(link: dir.file("ttyGPS0"))
        let sending = Locked(true)
        let sender = Thread {
            var random = SeededRandom(seed: 3)
            while sending.withLock({ $0 }) {
                let good = NMEASentence.checksummed("GPRMC,120000.00,A,4808.000,N,01134.500,E,10.0,90.0,181126,,,A")
                _ = port.write(lines: [
                    String(good.dropLast(2)) + "00", "$GPGGA,1200", NMEASentence.checksummed("GPRMC,120000.00,A,9500.000,N,01134.500,E,10.0,90.0,181126,,,A"),
                    String(decoding: (0..<60).map { _ in UInt8(random.next() % 94) + 33 }, as: UTF8.self),
                ])
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        sender.start()
        defer { sending.withLock { $0 = false } }
        let recording = try Self.recording(in: dir, start: Self.now())
        let config = try Self.config(dir, recording: recording, position: """
            source = "nmea"
            device = "\(port.link)"
            """)
        let daemon = try DaemonProcess(config: config, logPath: dir.file("daemon.log"))
        let seen = Self.statusOnceJournaled(dir)
        #expect(seen?.position.state == "receiving" || seen?.position.state == "silent", "\(String(describing: seen?.position))")
        #expect((seen?.position.badInputs ?? 0) > 10)
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0, "exit status; log:\n\(daemon.log)")
        let log = daemon.log
        #expect(log.contains("position input skipped") && log.contains("does not match the sentence") && log.contains("invalid latitude"), "\(log)")
        let skippedLines = log.split(separator: "\n").filter { $0.contains("position input skipped") }.count
        #expect(skippedLines < 60, "bounded: \(skippedLines) lines for \(seen?.position.badInputs ?? 0) bad inputs")
        let events = try Journal(settings: JournalSettings(path: dir.file("state/journal.sqlite")), mode: .inspect).events().map(\.event)
        #expect(!events.isEmpty)
        #expect(events.allSatisfy { $0.position == nil && $0.positionStatus?.state == .noSource })
    }

    @Test("a GGA+RMC-only receiver from a cold start, and a receiver with a week-number rollover, on the serial port in real time: the daemon's reads are positioned (the rollover's dated from the system clock, and said so); nothing counted as bad input",
          arguments: [(ReceiverModel.ggaRmcOnly, 0), (ReceiverModel.sirf2, -7168)])
    func realReceivers(_ model: ReceiverModel, _ dateShiftDays: Int) throws {
        let dir = try TemporaryDirectory("pkpos")
        let port = try TestSerialPort(link: dir.file("ttyGPS0"))
        let t0 = Self.now() / 1_000_000_000 * 1_000_000_000 + 2_000_000_000
        let session = ReceiverSession(model: model, track: StraightTrack(t0: t0), dateShiftDays: dateShiftDays)
        let playing = Thread {
            // Three epochs without a fix (a cold start), then 3D fixes for 25 s.
            session.play((0..<28).map { ($0, $0 >= 3) }, realTime: true) { _ = port.write(lines: $0) }
        }
        playing.start()
        let recording = dir.file("rec")
        let config = try Self.config(dir, recording: recording, position: """
            source = "nmea"
            device = "\(port.link)"
            """)
        let daemon = try DaemonProcess(config: config, logPath: dir.file("daemon.log"))
        #expect(waitUntil(timeout: 30) { Self.status(dir)?.position.fixMode == "3d" }, "the daemon got fixes: \(daemon.log)")
        let staged = try Self.recording(in: dir, start: Self.now(), name: "staged")
        try FileManager.default.moveItem(atPath: staged, toPath: recording)
        let seen = try #require(Self.statusOnceJournaled(dir), "reads journaled: \(daemon.log)")
        #expect(seen.position.badInputs == 0 && seen.position.implausibleTimes == 0, "\(seen.position)")
        #expect(seen.position.dateFromSystemClock == (dateShiftDays != 0 ? true : nil), "\(seen.position)")
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0, "exit status; log:\n\(daemon.log)")
        let events = try Journal(settings: JournalSettings(path: dir.file("state/journal.sqlite")), mode: .inspect).events().map(\.event)
        #expect(!events.isEmpty)
        for e in events {
            let status = try #require(e.positionStatus)
            let p = try #require(e.position, "\(model): \(e.plate): \(status)")
            #expect([.interpolated, .fix].contains(status.state) && p.fix == .threeD, "\(model): \(status)")
            #expect(status.dateFromSystemClock == (dateShiftDays != 0))
            #expect(StraightTrack.meters(session.track.truth(at: e.bestSeen.unixNanoseconds), (p.latitude, p.longitude)) < 3.0)
        }
        print("daemon with a \(model) receiver\(dateShiftDays != 0 ? " after a rollover" : ""): \(events.count) read event(s), all positioned")
    }

    @Test("source = \"recording\" with a position log from a receiver after a week-number rollover: the replayed reads are positioned and say their date came from the unit's clock")
    func recordedRollover() throws {
        let dir = try TemporaryDirectory("pkpos")
        let start = Int64(1_795_000_010) * 1_000_000_000 + 250_000_000
        let recording = try Self.recording(in: dir, start: start)
        let session = ReceiverSession(model: .sirf2, track: StraightTrack(t0: start / 1_000_000_000 * 1_000_000_000 - 2_000_000_000), dateShiftDays: -7168)
        var lines: [String] = []
        for i in 0..<6 {
            let received = session.track.t0 + Int64(i) * 1_000_000_000 + 120_000_000
            lines += session.epoch(i).map { "\(received) \($0)" }
        }
        let log = try dir.write("position.log", lines.joined(separator: "\n") + "\n")
        let config = try Self.config(dir, recording: recording, position: """
            source = "recording"
            recording = "\(log)"
            """, camera: "recorded_times = true")
        let daemon = try DaemonProcess(config: config, logPath: dir.file("daemon.log"))
        let seen = Self.statusOnceJournaled(dir)
        #expect(seen?.position.state == "recorded", "\(String(describing: seen?.position))")
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0, "exit status; log:\n\(daemon.log)")
        let events = try Journal(settings: JournalSettings(path: dir.file("state/journal.sqlite")), mode: .inspect).events().map(\.event)
        #expect(!events.isEmpty)
        for e in events {
            let p = try #require(e.position, "\(String(describing: e.positionStatus))")
            #expect(e.positionStatus?.dateFromSystemClock == true)
            #expect(StraightTrack.meters(session.track.truth(at: e.bestSeen.unixNanoseconds), (p.latitude, p.longitude)) < 1.0)
        }
    }
}
