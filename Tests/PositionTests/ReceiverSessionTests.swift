import Foundation
import PlateKeeperCore
import PlateKeeperTesting
import Position
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Plays a session's epochs into a receiver and a feed, each received 120 ms after its GNSS time
/// plus `clockBehind` (a system clock that is off); returns the sentences refused.
@discardableResult
func play(
    _ session: ReceiverSession, _ epochs: [(Int, Bool)], receiver: inout NMEAReceiver, feed: PositionFeed, clockBehindSeconds: Int64 = 0
) -> [String] {
    var refused: [String] = []
    for (i, fix) in epochs {
        let received = session.track.t0 + Int64(i) * 1_000_000_000 + 120_000_000 - clockBehindSeconds * 1_000_000_000
        for line in session.epoch(i, fix: fix) {
            do {
                if let f = try receiver.take(try NMEASentence(Substring(line + "\r\n"))) { feed.report(f, receivedAt: received) }
            } catch {
                refused.append("\(line): \(error)")
            }
        }
    }
    return refused
}

/// A cold start (three epochs without a fix), ten 3D epochs, two without, five with.
let coldStartSession: [(Int, Bool)] = (0..<20).map { ($0, !(0..<3).contains($0) && !(13..<15).contains($0)) }

@Suite("Position: real receivers' sessions, epoch by epoch")
struct ReceiverSessionTests {
    @Test("each receiver model from a cold start: no sentence refused, a 3D position at every epoch with a fix (the first after each regained fix too), the epoch's own satellites and altitude; none in the outage",
          arguments: ReceiverModel.allCases)
    func coldStart(_ model: ReceiverModel) throws {
        let session = ReceiverSession(model: model)
        var receiver = NMEAReceiver()
        let feed = PositionFeed(source: .nmea)
        let refused = play(session, coldStartSession, receiver: &receiver, feed: feed)
        #expect(refused.isEmpty, "\(refused)")
        for (i, fix) in coldStartSession {
            let t = session.track.t0 + Int64(i) * 1_000_000_000
            let (p, status) = feed.lookup(at: t, clockSynchronized: true)
            guard fix else {
                #expect(p == nil && status.state == .noFix, "\(model) epoch \(i): \(status)")
                continue
            }
            let position = try #require(p, "\(model) epoch \(i): \(status)")
            #expect(status.state == .fix && status.satellites == model.satellitesUsed, "\(model) epoch \(i): \(status)")
            #expect(position.fix == .threeD && position.altitudeMeters.map { abs($0 - 520) < 0.01 } == true, "\(model) epoch \(i): \(position)")
            #expect(StraightTrack.meters(session.track.truth(at: t), (position.latitude, position.longitude)) < 0.05)
            #expect(position.horizontalErrorMeters != nil && position.speedMetersPerSecond != nil)
        }
        #expect(feed.snapshot().badInputs == 0 && feed.snapshot().implausibleTimes == 0)
    }

    @Test("MediaTek's GGA of 84 bytes with CR LF is taken whole: altitude, satellites and HDOP kept")
    func longGGA() throws {
        let gga = try #require(ReceiverSession(model: .mt3339).epoch(5).first)
        #expect(gga.utf8.count + 2 == 84, "\(gga)")
        var receiver = NMEAReceiver()
        _ = try receiver.take(try NMEASentence(Substring(ReceiverSession(model: .mt3339).epoch(5).last { $0.contains("RMC") }! + "\r\n")))
        let fix = try #require(try receiver.take(try NMEASentence(Substring(gga + "\r\n"))))
        #expect(fix.altitudeMeters == 520.001 && fix.satellites == 8 && fix.horizontalErrorMeters == 0.9 * NMEAReceiver.rangeErrorMeters)
    }

    @Test("other talkers' ordinary sentences and proprietary ones are skipped quietly; a malformed one of them is still refused")
    func otherTalkers() throws {
        var receiver = NMEAReceiver()
        for body in ["BDGSA,A,3,07,10,21,,,,,,,,,,1.6,0.9,1.3", "BDGSV,1,1,03,07,40,100,38", "QZGSV,1,1,01,193,60,100,40",
                     "PSTI,030,120000.000,A,4808.22,N,01134.50,E,520.0,0.0,0.0,0.0,181126,A,,1.0,1.0", "PSRF103,00,01,00,01", "PUBX,00,120000.00",
                     "GNTXT,01,01,02,ANTSTATUS=OK", "IIHDT,274.07,T"] {
            let sentence = try NMEASentence(Substring(NMEASentence.checksummed(body)))
            #expect(try receiver.take(sentence) == nil, "\(body)")
        }
        // A proprietary sentence may come without a checksum.
        #expect(try NMEASentence("$PMTK001,314,3").isProprietary)
        #expect(throws: NMEAError.self) { try NMEASentence("$PSRF103,00,01,00,01*7F") }
        #expect(throws: NMEAError.self) { try NMEASentence(Substring(NMEASentence.checksummed("BDG\u{1B}A,A,3"))) }
    }

    @Test("values belong to their epoch: an RMC-only epoch after a GGA carries no altitude, satellites or HDOP of the minute before")
    func valuesPerEpoch() throws {
        let session = ReceiverSession(model: .ggaRmcOnly)
        var receiver = NMEAReceiver()
        for line in session.epoch(0) { _ = try receiver.take(try NMEASentence(Substring(line))) }
        let rmc = try #require(session.epoch(60).first { $0.contains("RMC") })
        let fix = try #require(try receiver.take(try NMEASentence(Substring(rmc))))
        #expect(fix.hasPosition && fix.mode == .twoD)
        #expect(fix.altitudeMeters == nil && fix.satellites == nil && fix.horizontalErrorMeters == nil, "\(fix)")
    }

    @Test("SiRF V's GPGGA and GLGGA of one epoch: satellites added (9 + 5), not the GLONASS count alone")
    func constellationsCombined() throws {
        let session = ReceiverSession(model: .sirf5)
        var receiver = NMEAReceiver()
        var fixes: [PositionFix] = []
        for line in session.epoch(4) { if let f = try receiver.take(try NMEASentence(Substring(line))) { fixes.append(f) } }
        #expect(fixes.last?.satellites == 14 && fixes.allSatisfy { $0.latitude == fixes[0].latitude })
    }

    @Test("one fix hours ahead (a GGA dated by the last RMC) is refused, counted and named; the fixes after it are all used")
    func oneBadTime() throws {
        let session = ReceiverSession(model: .ggaRmcOnly)
        var receiver = NMEAReceiver()
        let feed = PositionFeed(source: .nmea)
        play(session, (0..<10).map { ($0, true) }, receiver: &receiver, feed: feed)
        var ahead = session
        ahead.timeShiftSeconds = 3 * 3600
        let gga = try #require(ahead.epoch(10).last)
        if let f = try receiver.take(try NMEASentence(Substring(gga))) { #expect(feed.report(f, receivedAt: session.track.t0 + 10_120_000_000) == .held) }
        play(session, (10..<20).map { ($0, true) }, receiver: &receiver, feed: feed)
        for i in 10..<20 {
            let (p, status) = feed.lookup(at: session.track.t0 + Int64(i) * 1_000_000_000, clockSynchronized: false)
            #expect(p != nil && status.state == .fix, "epoch \(i): \(status)")
        }
        let s = feed.snapshot()
        #expect(s.implausibleTimes == 1 && s.timeSteps == 0 && s.lastImplausibleTime?.contains("jumps") == true, "\(s)")
        #expect(abs((s.gpsOffsetSeconds ?? 99) + 0.12) < 0.001, "the offset is the good fixes': \(s)")
        #expect(s.fixMode == .threeD && s.lastFix?.fixTime?.unixNanoseconds == session.track.t0 + 19_000_000_000)
    }

    @Test("a step of the receiver's own time (reset an hour back, or a rollover to 2034) is taken within three fixes; a reconnect forgets what the source left behind")
    func receiverSteps() throws {
        for shift in [Int64(-3600), Int64(7168 * 86_400 + 3 * 86_400)] {
            let session = ReceiverSession(model: .ubloxLEA4H)
            var receiver = NMEAReceiver()
            let feed = PositionFeed(source: .nmea)
            play(session, (0..<10).map { ($0, true) }, receiver: &receiver, feed: feed)
            var stepped = session
            stepped.timeShiftSeconds = shift
            play(stepped, (10..<20).map { ($0, true) }, receiver: &receiver, feed: feed)
            let s = feed.snapshot()
            #expect(s.timeSteps == 1, "\(shift): \(s)")
            // A read captured (system clock) at epoch 15 gets that epoch's position through the new offset.
            let (p, status) = feed.lookup(at: session.track.t0 + 15_000_000_000 + 120_000_000, clockSynchronized: false)
            let position = try #require(p, "\(shift): \(status)")
            #expect(StraightTrack.meters(session.track.truth(at: session.track.t0 + 15_000_000_000), (position.latitude, position.longitude)) < 2.5)
            #expect(abs((s.gpsOffsetSeconds ?? 0) - Double(shift)) < 1, "\(s)")
        }
        // A source that reconnects: its next fix may go back in time, and is taken.
        let session = ReceiverSession(model: .ggaRmcOnly)
        var receiver = NMEAReceiver()
        let feed = PositionFeed(source: .nmea)
        play(session, (0..<10).map { ($0, true) }, receiver: &receiver, feed: feed)
        feed.connected()
        var earlier = session
        earlier.timeShiftSeconds = -600
        var fresh = NMEAReceiver()
        play(earlier, (10..<12).map { ($0, true) }, receiver: &fresh, feed: feed)
        #expect(feed.snapshot().lastFix?.fixTime?.unixNanoseconds == session.track.t0 + 11_000_000_000 - 600_000_000_000)
    }

    @Test("a week-number rollover (dates 19.6 years back: 2007, or 1999; or 2034 as gpsd dated one): dated from the system clock, flagged on the read's status; a wrong time of day is refused")
    func rollover() throws {
        for days in [-7168, -10_227] {
            let session = ReceiverSession(model: .sirf2, dateShiftDays: days)
            for synchronized in [true, false] {
                var receiver = NMEAReceiver()
                let feed = PositionFeed(source: .nmea, clockSynchronized: { synchronized })
                let refused = play(session, coldStartSession, receiver: &receiver, feed: feed)
                #expect(refused.isEmpty, "\(refused)")
                let t = session.track.t0 + 7_000_000_000
                let (p, status) = feed.lookup(at: t, clockSynchronized: synchronized)
                #expect(p != nil && status.state == .fix && status.dateFromSystemClock, "\(days) \(synchronized): \(status)")
                #expect(p?.fixTime?.unixNanoseconds == t)
                #expect(feed.snapshot().dateFromSystemClock && feed.snapshot().implausibleTimes == 0)
            }
        }
        // gpsd dating a rolled-over receiver's fixes 2034, with the clock synchronised: re-dated too.
        let ahead = ReceiverSession(model: .sirf2, dateShiftDays: 7168 + 3)
        var aheadReceiver = NMEAReceiver()
        let aheadFeed = PositionFeed(source: .nmea, clockSynchronized: { true })
        play(ahead, coldStartSession, receiver: &aheadReceiver, feed: aheadFeed)
        #expect(aheadFeed.lookup(at: ahead.track.t0 + 7_000_000_000, clockSynchronized: true).1.dateFromSystemClock)
        // The system clock synchronised and the receiver's time of day two hours off: refused, named.
        var wrong = ReceiverSession(model: .sirf2)
        wrong.timeShiftSeconds = 7200
        var receiver = NMEAReceiver()
        let feed = PositionFeed(source: .nmea, clockSynchronized: { true })
        play(wrong, (0..<5).map { ($0, true) }, receiver: &receiver, feed: feed)  // an RMC, then a GGA and an RMC each
        let s = feed.snapshot()
        #expect(s.lastFix == nil && s.implausibleTimes == 9 && s.lastImplausibleTime?.contains("synchronised system clock") == true, "\(s)")
    }

    @Test("status after the feed stops: no fix now, the last fix's mode and age shown as past")
    func statusAfterSilence() {
        let session = ReceiverSession(model: .ggaRmcOnly)
        var receiver = NMEAReceiver()
        let feed = PositionFeed(source: .nmea)
        feed.connected()
        play(session, (0..<5).map { ($0, true) }, receiver: &receiver, feed: feed)
        #expect(feed.snapshot().fixMode == .threeD && feed.snapshot().lastFixMode == nil)
        feed.disconnected("read(/dev/ttyUSB0): Input/output error")
        let s = feed.snapshot()
        #expect(s.fixMode == nil && s.lastFixMode == .threeD && s.satellitesUsed == nil && s.lastFixAgeSeconds != nil, "\(s)")
    }
}
