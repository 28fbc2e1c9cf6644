import Foundation
import Logging
import PlateKeeperCore
import PlateKeeperTesting
import Position
import Testing

#if canImport(Glibc)
import Glibc
#endif

let quietLogger: Logger = {
    var l = Logger(label: "position-test")
    l.logLevel = .critical
    return l
}()

@Suite("Position sources: a real gpsd, a serial port, a recording", .enabled(if: TestGpsd.available, "gpsd is not installed (.ci/install-deps installs it)"))
struct PositionSourceTests {
    @Test("gpsd: positions between fixes of a moving receiver are interpolated to within a metre of the track's true line")
    func gpsdMovingTrack() throws {
        let gpsd = try TestGpsd(period: 0.1)
        let feed = PositionFeed(source: .gpsd)
        // What `record --gpsd` saves beside the frames, for the replay below.
        let log = gpsd.dir.file(PositionRecording.fileName)
        let writer = try PositionRecording.Writer(path: log)
        let runner = PositionSourceThread(GpsdSource(host: "127.0.0.1", port: gpsd.port, logger: quietLogger, tap: writer.tap), feed: feed)
        defer { runner.stop() }
        let times = Locked<[Int64]>([])
        #expect(waitUntil(timeout: 20) {
            guard let t = feed.snapshot().lastFix?.fixTime?.unixNanoseconds else { return false }
            times.withLock { if $0.last != t { $0.append(t) } }
            return times.withLock { $0.count } >= 12
        }, "gpsd delivered fixes")
        let received = times.withLock { $0 }
        let first = try #require(received.first), last = try #require(received.last)
        let snapshot = feed.snapshot()
        #expect(snapshot.state == .receiving)
        #expect(snapshot.fixMode == .threeD)
        // Every 100 ms between the first and last fix received: what a read captured then gets.
        var worst = 0.0, checked = 0
        var t = first
        while t <= last {
            let (position, status) = feed.lookup(at: t, clockSynchronized: true)
            let p = try #require(position, "no position at \(t): \(status)")
            #expect([.fix, .interpolated].contains(status.state))
            #expect(p.source == .gpsd && p.fix == .threeD)
            #expect((status.fixAgeSeconds ?? 9) <= 0.5 + 1e-6)
            worst = max(worst, StraightTrack.meters(gpsd.track.truth(at: t), (p.latitude, p.longitude)))
            checked += 1
            t += 100_000_000
        }
        // The recorded log, replayed, gives the same positions.
        runner.stop()
        writer.close()
        var settings = PositionFeed.Settings()
        settings.capacity = 100_000
        let replayed = PositionFeed(source: .gpsd, settings: settings)
        let summary = try PositionRecording.load(path: log, into: replayed)
        #expect(summary.fixes >= received.count && summary.bad == 0, "\(summary)")
        for t in stride(from: first, through: last, by: 100_000_000) {
            #expect(replayed.lookup(at: t, clockSynchronized: true).0 == feed.lookup(at: t, clockSynchronized: true).0)
        }
        #expect(throws: (any Error).self, "a recording's log is never replaced") { try PositionRecording.Writer(path: log) }
        print("gpsd track: \(checked) capture times over \(received.count) fixes; interpolation error at most \(String(format: "%.3f", worst)) m")
        #expect(checked >= 100)
        #expect(worst < 1.0)
        // Past the last fix by more than the limit: stale, with its age, never a position.
        let newest = try #require(feed.snapshot().lastFix?.fixTime?.unixNanoseconds)
        let (none, stale) = feed.lookup(at: newest + 5_000_000_000, clockSynchronized: true)
        #expect(none == nil && stale.state == .stale && abs((stale.fixAgeSeconds ?? 0) - 5) < 1e-6)
    }

    @Test("gpsd: fix lost and regained, a silent receiver, the device unplugged, gpsd restarted: each is seen and the source recovers")
    func gpsdLifecycle() throws {
        let gpsd = try TestGpsd(period: 0.1)
        var settings = PositionFeed.Settings()
        settings.silentAfterSeconds = 1
        let feed = PositionFeed(source: .gpsd, settings: settings)
        let runner = PositionSourceThread(GpsdSource(host: "127.0.0.1", port: gpsd.port, logger: quietLogger), feed: feed)
        defer { runner.stop() }
        #expect(waitUntil(timeout: 20) { feed.snapshot().fixMode == .threeD })

        // Fix lost: gpsd reports mode 1; a read then has no position and says why.
        gpsd.fix = 0
        #expect(waitUntil(timeout: 10) { feed.snapshot().fixMode == GeoPosition.FixMode.none })
        let lostAt = try #require(feed.newestReportTime)
        let (lostPosition, lostStatus) = feed.lookup(at: lostAt, clockSynchronized: true)
        #expect(lostPosition == nil && lostStatus.state == .noFix)

        // Regained as 2D.
        gpsd.fix = 2
        #expect(waitUntil(timeout: 10) { feed.snapshot().fixMode == .twoD })
        let backAt = try #require(feed.snapshot().lastFix?.fixTime?.unixNanoseconds)
        let (back, backStatus) = feed.lookup(at: backAt, clockSynchronized: true)
        #expect(back?.fix == .twoD && backStatus.state == .fix)

        // Silent: no reports at all; the feed notices by itself.
        gpsd.fix = nil
        #expect(waitUntil(timeout: 10) { feed.snapshot().state == .silent })
        gpsd.fix = 3
        #expect(waitUntil(timeout: 10) { feed.snapshot().state == .receiving && feed.snapshot().fixMode == .threeD })

        // The receiver unplugged (gpsd's control socket): gpsd says the device is gone.
        gpsd.unplug()
        #expect(waitUntil(timeout: 10) { feed.snapshot().state == .deviceGone })
        gpsd.replug()
        #expect(waitUntil(timeout: 10) { feed.snapshot().state == .receiving })

        // gpsd restarted: the connection drops, the source reconnects and fixes resume.
        gpsd.stopGpsd()
        #expect(waitUntil(timeout: 10) { feed.snapshot().state == .disconnected })
        #expect(feed.snapshot().error?.isEmpty == false)
        let before = feed.snapshot().lastFix?.fixTime?.unixNanoseconds ?? 0
        try gpsd.startGpsd()
        #expect(waitUntil(timeout: 20) {
            let s = feed.snapshot()
            return s.state == .receiving && (s.lastFix?.fixTime?.unixNanoseconds ?? 0) > before
        }, "fixes after gpsd came back: \(feed.snapshot())")
    }

    @Test("gpsd JSON from outside: malformed, truncated, overlong, out of range and random lines are skipped and counted; the fixes around them are used; a protocol other than 3 is refused")
    func gpsdBadInput() throws {
        let server = try ScriptedLineServer()
        let feed = PositionFeed(source: .gpsd)
        let runner = PositionSourceThread(GpsdSource(host: "127.0.0.1", port: server.port, logger: quietLogger), feed: feed)
        defer { runner.stop() }
        func tpv(_ time: String, lat: Double = 48.1, mode: Int = 3) -> String {
            #"{"class":"TPV","mode":\#(mode),"time":"\#(time)","lat":\#(lat),"lon":11.5,"speed":10.0,"track":90.0}"#
        }
        var random = SeededRandom(seed: 14)
        let noise = String(decoding: (0..<200).map { _ in UInt8(random.next() % 255) + 1 }.filter { $0 != 0x0A }, as: UTF8.self)
        var session = [#"{"class":"VERSION","release":"3.22","proto_major":3,"proto_minor":14}"#, tpv("2026-11-30T10:00:00.000Z")]
        session += [
            "not json at all", #"{"class":"TPV","mode":3,"time":"2026-11-30T10:00:00.5"#, String(repeating: "x", count: 20_000), noise,
            tpv("2026-11-30T10:00:00.600Z", lat: 95), tpv("1980-01-06T00:00:00.000Z"), tpv("2090-01-01T00:00:00.000Z"),
            #"{"class":"TPV","mode":"three","time":"2026-11-30T10:00:00.700Z"}"#, #"{"class":"SKY","uSat":5000}"#,
        ]
        session.append(tpv("2026-11-30T10:00:01.000Z", lat: 48.2))
        server.serve(session)
        #expect(waitUntil(timeout: 10) { feed.snapshot().lastFix?.latitude == 48.2 }, "\(feed.snapshot())")
        let s = feed.snapshot()
        // The fixes of 1980 and 2090 are well formed: refused for their time, not counted as bad input.
        #expect(s.badInputs == 7 && s.implausibleTimes == 2, "\(s)")
        #expect(s.state == .receiving)
        let mid = ISO8601.parse("2026-11-30T10:00:00.500Z")!
        let (p, status) = feed.lookup(at: mid, clockSynchronized: true)
        #expect(status.state == .interpolated && abs((p?.latitude ?? 0) - 48.15) < 1e-9, "the bad lines in between did not break the track")

        // A gpsd speaking another protocol version is refused with a clear reason, and retried.
        server.serve([#"{"class":"VERSION","release":"2.95","proto_major":2,"proto_minor":0}"#, tpv("2026-11-30T10:00:02.000Z")])
        #expect(waitUntil(timeout: 10) { feed.snapshot().error?.contains("protocol 2.0") == true }, "\(feed.snapshot())")
        #expect(feed.snapshot().lastFix?.latitude == 48.2, "nothing from the refused server was used")

        // A server that accepts and says nothing is not taken for gpsd.
        server.serve([])
        #expect(waitUntil(timeout: 15) { feed.snapshot().error?.contains("no VERSION greeting") == true }, "\(feed.snapshot())")
    }

    @Test("serial NMEA over a pseudo-terminal: fixes arrive; bad checksums, truncated, overlong and random lines, latitude 95° are skipped as bad input, fixes dated 1980 and 2090 refused for their time; unplugged and plugged back in, it reopens")
    func serialReceiver() throws {
        let dir = try TemporaryDirectory()
        let port = try TestSerialPort(link: dir.file("ttyGPS0"))
        let feed = PositionFeed(source: .nmea)
        let runner = PositionSourceThread(SerialNMEASource(path: port.link, baud: 9600, logger: quietLogger), feed: feed)
        defer { runner.stop() }
        let track = StraightTrack()
        let epoch = Locked(0)
        let writing = Locked(true)
        // A receiver sending an epoch every 50 ms, like a 20 Hz unit.
        let writer = Thread {
            while writing.withLock({ $0 }) {
                let i = epoch.withLock { i in defer { i += 1 }; return i }
                _ = port.write(lines: track.epoch(i))
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        writer.start()
        defer { writing.withLock { $0 = false } }
        #expect(waitUntil(timeout: 10) { (feed.snapshot().lastFix?.fixTime?.unixNanoseconds ?? 0) >= track.t0 + 3_000_000_000 })
        #expect(feed.snapshot().fixMode == .threeD && feed.snapshot().satellitesUsed == 8)

        let good = track.epoch(1)[0]
        var random = SeededRandom(seed: 7)
        let bad = [
            String(good.dropLast(2)) + "00",  // checksum wrong
            String(good.prefix(30)),  // truncated: no checksum
            "$GPGGA," + String(repeating: "1", count: 120) + "*00",  // longer than gpsd's 102
            String(decoding: (0..<120).map { _ in UInt8(random.next() % 94) + 33 }, as: UTF8.self),
            NMEASentence.checksummed("GPRMC,120000.00,A,9500.000,N,01134.500,E,10.0,90.0,181126,,,A"),  // latitude 95°
            NMEASentence.checksummed("GPRMC,120000.00,A,4808.000,N,01134.500,E,10.0,90.0,060180,,,A"),  // 1980
            NMEASentence.checksummed("GPRMC,120000.00,A,4808.000,N,01134.500,E,10.0,90.0,010190,,,A"),  // 2090
        ]
        _ = port.write(lines: bad)
        // The fixes of 1980 and 2090 are well formed: refused for their implausible time, apart.
        let malformed = bad.count - 2
        #expect(waitUntil(timeout: 10) { feed.snapshot().badInputs >= malformed && feed.snapshot().implausibleTimes == 2 }, "\(feed.snapshot())")
        let afterBad = feed.snapshot().lastFix?.fixTime?.unixNanoseconds ?? 0
        #expect(waitUntil(timeout: 10) { (feed.snapshot().lastFix?.fixTime?.unixNanoseconds ?? 0) > afterBad + 1_000_000_000 },
                "fixes keep coming after the bad lines")
        #expect(feed.snapshot().badInputs == malformed, "\(feed.snapshot())")
        let (p, status) = feed.lookup(at: afterBad - 500_000_000, clockSynchronized: true)
        let position = try #require(p, "\(status)")
        #expect(StraightTrack.meters(track.truth(at: afterBad - 500_000_000), (position.latitude, position.longitude)) < 1.0)
        #expect(position.source == .nmea)

        // Unplugged: the reader gets EIO or a hang-up; the source says so and tries again.
        port.unplug()
        #expect(waitUntil(timeout: 10) { feed.snapshot().state == .disconnected }, "\(feed.snapshot())")
        let gone = feed.snapshot().lastFix?.fixTime?.unixNanoseconds ?? 0
        try port.replug()
        #expect(waitUntil(timeout: 15) { (feed.snapshot().lastFix?.fixTime?.unixNanoseconds ?? 0) > gone + 1_000_000_000 },
                "fixes after the receiver came back: \(feed.snapshot())")
        #expect(feed.snapshot().state == .receiving)
    }

    @Test("a recorded position log gives a replay the positions the unit saw; lines that are not fixes are counted, not fatal")
    func recording() throws {
        let dir = try TemporaryDirectory()
        let track = StraightTrack()
        var lines: [String] = []
        for i in 0..<10 {
            for sentence in track.epoch(i) { lines.append("\(track.t0 + Int64(i) * 1_000_000_000 + 300_000_000) \(sentence)") }
        }
        lines.insert("garbage without a time", at: 5)
        lines.insert("123 $GPRMC,broken*00", at: 9)
        let path = try dir.write(PositionRecording.fileName, lines.joined(separator: "\n") + "\n")
        var settings = PositionFeed.Settings()
        settings.capacity = 100_000
        let feed = PositionFeed(source: .nmea, settings: settings)
        let summary = try PositionRecording.load(path: path, into: feed)
        #expect(summary.bad == 2 && summary.lines == 32)
        let at = track.t0 + 4_250_000_000
        let (p, status) = feed.lookup(at: at, clockSynchronized: true)
        #expect(status.state == .interpolated)
        #expect(StraightTrack.meters(track.truth(at: at), (p?.latitude ?? 0, p?.longitude ?? 0)) < 1.0)
        #expect(throws: (any Error).self) { try PositionRecording.load(path: dir.file("missing.log"), into: feed) }
    }
}

/// A TCP server on 127.0.0.1 that, for each connection, sends the lines it was given and keeps
/// the connection open until the next `serve` (which closes it, as a restarted gpsd would).
final class ScriptedLineServer: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let lines = Locked<[String]>([])
    private let generation = Locked(0)

    init() throws {
        let (listener, port) = try Loopback.listen(port: 0)
        self.listener = listener
        self.port = port
        let lines = self.lines, generation = self.generation
        let thread = Thread {
            while true {
                let fd = accept(listener, nil, nil)
                if fd < 0 { return }
                let mine = generation.withLock { $0 }
                let text = lines.withLock { $0.map { $0 + "\n" }.joined() }
                let bytes = Array(text.utf8)
                _ = send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL))
                while generation.withLock({ $0 }) == mine { Thread.sleep(forTimeInterval: 0.05) }
                close(fd)
            }
        }
        thread.start()
    }

    /// What the next connection gets; closes the current one.
    func serve(_ script: [String]) {
        lines.withLock { $0 = script }
        generation.withLock { $0 += 1 }
    }

    deinit {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}
