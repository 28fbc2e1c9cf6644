import Foundation
import PlateKeeperCore
import PlateKeeperTesting
import Position
import Testing

/// The receiver models' sessions played the two ways a unit hears a receiver: into a serial port
/// (a pseudo-terminal) read by the unit itself, and through a real gpsd.
@Suite("Position: real receivers' sessions through a serial port and through gpsd", .serialized,
       .enabled(if: TestGpsd.available, "gpsd is not installed (.ci/install-deps installs it)"))
struct ReceiverSourceTests {
    /// A cold start (three epochs without a fix), then twenty 3D epochs.
    static let session: [(Int, Bool)] = (0..<23).map { ($0, $0 >= 3) }

    @Test("serial: each model from a cold start gives 3D fixes with its satellites; nothing counted as bad input or implausible",
          arguments: ReceiverModel.allCases)
    func serial(_ model: ReceiverModel) throws {
        let dir = try TemporaryDirectory()
        let port = try TestSerialPort(link: dir.file("ttyGPS0"))
        let feed = PositionFeed(source: .nmea)
        let runner = PositionSourceThread(SerialNMEASource(path: port.link, baud: 9600, logger: quietLogger), feed: feed)
        defer { runner.stop() }
        #expect(waitUntil(timeout: 10) { feed.snapshot().state == .receiving })
        let session = ReceiverSession(model: model)
        session.play(Self.session) { _ = port.write(lines: $0) }
        let last = session.track.t0 + 22_000_000_000
        #expect(waitUntil(timeout: 10) { feed.snapshot().lastFix?.fixTime?.unixNanoseconds == last }, "\(model): \(feed.snapshot())")
        let s = feed.snapshot()
        #expect(s.fixMode == .threeD && s.satellitesUsed == model.satellitesUsed, "\(model): \(s)")
        #expect(s.badInputs == 0 && s.implausibleTimes == 0, "\(model): \(s)")
        // The first epoch with a fix after the cold start has its position.
        let (p, status) = feed.lookup(at: session.track.t0 + 3_000_000_000, clockSynchronized: true)
        #expect(p != nil && status.state == .fix, "\(model): \(status)")
    }

    @Test("gpsd: each model from a cold start gives 3D fixes; nothing counted as bad input or implausible", arguments: ReceiverModel.allCases)
    func gpsd(_ model: ReceiverModel) throws {
        let session = ReceiverSession(model: model)
        let gpsd = try TestGpsd(track: session.track, period: 0.1, fix: nil)
        let feed = PositionFeed(source: .gpsd)
        let runner = PositionSourceThread(GpsdSource(host: "127.0.0.1", port: gpsd.port, logger: quietLogger), feed: feed)
        defer { runner.stop() }
        #expect(waitUntil(timeout: 10) { feed.snapshot().state == .receiving })
        session.play(Self.session, period: 0.1) { gpsd.inject($0) }
        let late = session.track.t0 + 15_000_000_000
        #expect(waitUntil(timeout: 10) { (feed.snapshot().lastFix?.fixTime?.unixNanoseconds ?? 0) >= late }, "\(model): \(feed.snapshot())")
        let s = feed.snapshot()
        // gpsd counts satellites from GSV (its SKY report); a receiver without GSV has none there.
        #expect(s.fixMode == .threeD && (model == .ggaRmcOnly || (s.satellitesUsed ?? 0) > 0), "\(model): \(s)")
        #expect(s.badInputs == 0 && s.implausibleTimes == 0, "\(model): \(s)")
        let (p, status) = feed.lookup(at: late, clockSynchronized: true)
        #expect(p != nil, "\(model): \(status)")
    }

    @Test("a receiver with a week-number rollover, in real time, both ways: positioned, dated from the system clock")
    func rolloverBothWays() throws {
        let now = Clocks.wallNanoseconds() / 1_000_000_000 * 1_000_000_000
        let session = ReceiverSession(model: .sirf2, track: StraightTrack(t0: now + 1_000_000_000), dateShiftDays: -7168)
        let epochs: [(Int, Bool)] = (0..<5).map { ($0, true) }
        // Serial.
        let dir = try TemporaryDirectory()
        let port = try TestSerialPort(link: dir.file("ttyGPS0"))
        let serialFeed = PositionFeed(source: .nmea, clockSynchronized: { true })
        let serial = PositionSourceThread(SerialNMEASource(path: port.link, baud: 9600, logger: quietLogger), feed: serialFeed)
        defer { serial.stop() }
        // gpsd.
        let gpsd = try TestGpsd(track: session.track, period: 0.1, fix: nil)
        let gpsdFeed = PositionFeed(source: .gpsd, clockSynchronized: { true })
        let client = PositionSourceThread(GpsdSource(host: "127.0.0.1", port: gpsd.port, logger: quietLogger), feed: gpsdFeed)
        defer { client.stop() }
        #expect(waitUntil(timeout: 10) { serialFeed.snapshot().state == .receiving && gpsdFeed.snapshot().state == .receiving })
        session.play(epochs, realTime: true) { lines in
            _ = port.write(lines: lines)
            gpsd.inject(lines)
        }
        let t = session.track.t0 + 3_000_000_000
        for (name, feed) in [("serial", serialFeed), ("gpsd", gpsdFeed)] {
            #expect(waitUntil(timeout: 5) { (feed.snapshot().lastFix?.fixTime?.unixNanoseconds ?? 0) >= t }, "\(name): \(feed.snapshot())")
            let (p, status) = feed.lookup(at: t, clockSynchronized: true)
            let position = try #require(p, "\(name): \(status)")
            #expect(StraightTrack.meters(session.track.truth(at: t), (position.latitude, position.longitude)) < 0.05, "\(name)")
            #expect(feed.snapshot().implausibleTimes == 0, "\(name): \(feed.snapshot())")
            print("rollover through \(name): the fix at \(ISO8601.format(unixNanoseconds: t)) positioned, date from the system clock: \(status.dateFromSystemClock)")
        }
        #expect(serialFeed.lookup(at: t, clockSynchronized: true).1.dateFromSystemClock)
    }
}
