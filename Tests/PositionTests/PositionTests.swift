import Foundation
import PlateKeeperCore
import PlateKeeperTesting
import Position
import Testing

func feed(_ lines: [String], into receiver: inout NMEAReceiver, track: inout PositionTrack) throws {
    for line in lines {
        if let fix = try receiver.take(try NMEASentence(Substring(line))) { track.add(fix) }
    }
}

@Suite("Position: NMEA sentences, fixes and the track")
struct PositionTests {
    @Test("sentences of every accepted talker parse with their checksum; fields come out in degrees, m/s and metres")
    func parsesSentences() throws {
        let track = StraightTrack()
        for talker in ["GP", "GN", "GL", "GA", "GB"] {
            var receiver = NMEAReceiver()
            var fixes: [PositionFix] = []
            for line in track.epoch(0, talker: talker) {
                if let fix = try receiver.take(try NMEASentence(Substring(line + "\r\n"))) { fixes.append(fix) }
            }
            #expect(fixes.count == 2, "\(talker): RMC and GGA each make a fix")
            let gga = try #require(fixes.last)
            #expect(gga.time == track.t0)
            #expect(abs(gga.latitude! - 48.137) < 1e-6 && abs(gga.longitude! - 11.575) < 1e-6)
            #expect(gga.altitudeMeters == 520 && gga.satellites == 8 && gga.mode == .threeD)
            #expect(abs(gga.speedMetersPerSecond! - 15) < 0.01 && gga.courseDegrees == 60)
        }
        // Another talker's sentence is well formed and skipped, not an error.
        var other = NMEAReceiver()
        let instrument = try NMEASentence(Substring(NMEASentence.checksummed("IIRMC,120000.00,A,4808.22,N,01134.50,E,1.0,60.0,181126,,,A")))
        #expect(instrument.talker == "II" && !instrument.isGNSS)
        #expect(try other.take(instrument) == nil)
    }

    @Test("bad input: checksums, truncation, overlong lines, random bytes and impossible fields are refused by name; the receiver goes on")
    func refusesBadInput() throws {
        let track = StraightTrack()
        let good = track.epoch(0)[0]
        var flipped = Array(good)
        flipped[10] = flipped[10] == "1" ? "2" : "1"
        #expect(throws: NMEAError.self) { try NMEASentence(Substring(String(flipped))) }
        #expect(throws: NMEAError.missingChecksum) { try NMEASentence(Substring(good.prefix(30))) }
        #expect(throws: NMEAError.tooLong(105)) { try NMEASentence(Substring("$GPRMC," + String(repeating: "1", count: 96))) }
        #expect(throws: NMEAError.notASentence) { try NMEASentence("GPRMC,hello*00") }
        var random = SeededRandom(seed: 7)
        for _ in 0..<2000 {
            let bytes = (0..<Int(random.next() % 100)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            let text = String(decoding: bytes, as: UTF8.self)
            var receiver = NMEAReceiver()
            if let s = try? NMEASentence(Substring(text)) { _ = try? receiver.take(s) }
        }
        var receiver = NMEAReceiver()
        let cases: [(String, String)] = [
            ("GPRMC,120000.00,A,9500.00000,N,01134.50000,E,29.16,60.0,181126,,,A", "latitude"),
            ("GPRMC,120000.00,A,4808.22000,N,18100.00000,E,29.16,60.0,181126,,,A", "longitude"),
            ("GPRMC,120000.00,A,4808.22000,N,01134.50000,E,29.16,60.0,000126,,,A", "date"),
            ("GPRMC,120000.00,A,4808.22000,N,01134.50000,E,29.16,60.0,011326,,,A", "date"),
            ("GPRMC,120000.00,A,4808.22000,N,01134.50000,E,29.16,60.0,310226,,,A", "date"),
            ("GPRMC,250000.00,A,4808.22000,N,01134.50000,E,29.16,60.0,181126,,,A", "time"),
            ("GPRMC,120000.00,A,4808.22000,Q,01134.50000,E,29.16,60.0,181126,,,A", "latitude hemisphere"),
            ("GPRMC,120000.00,A,4808.22000,N,01134.50000,E,nan,60.0,181126,,,A", "speed"),
            ("GPGSA,A,7,,,,,,,,,,,,,1.0,1.0,1.0", "fix mode"),
        ]
        func refusal(_ body: String) -> String {
            do {
                _ = try receiver.take(try NMEASentence(Substring(NMEASentence.checksummed(body))))
                return "accepted"
            } catch {
                if case let .invalidField(_, name, _) = error { return name }
                return "\(error)"
            }
        }
        for (body, field) in cases {
            #expect(refusal(body) == field, "\(body)")
        }
        // After all that, good sentences still make fixes.
        var positions = PositionTrack(source: .nmea)
        try feed(track.epoch(1), into: &receiver, track: &positions)
        #expect(positions.latest?.hasPosition == true)
    }

    @Test("a moving track: positions between 1 Hz fixes are interpolated to within a metre of the true line; beyond the last fix, carried for at most the limit, then stale")
    func interpolatesAlongTheTrack() throws {
        let line = StraightTrack()
        var receiver = NMEAReceiver()
        var track = PositionTrack(source: .gpsd, maxGapSeconds: 3, maxExtrapolationSeconds: 1)
        for i in 0..<20 { try feed(line.epoch(i), into: &receiver, track: &track) }
        var worst = 0.0, worstRaw = 0.0
        var ns = line.t0 + 250_000_000
        while ns < line.t0 + 19_000_000_000 {
            guard case let .position(p, age, method, _, _) = track.position(at: ns) else {
                Issue.record("no position at \(ns)")
                break
            }
            #expect((method == .interpolated || age == 0) && age <= 0.5 + 1e-9, "exactly at a fix, nothing to interpolate")
            let truth = line.truth(at: ns)
            worst = max(worst, StraightTrack.meters(truth, (p.latitude, p.longitude)))
            // What the previous fix alone would have said (no interpolation): up to 15 m off.
            let previous = line.truth(at: line.t0 + (ns - line.t0) / 1_000_000_000 * 1_000_000_000)
            worstRaw = max(worstRaw, StraightTrack.meters(truth, previous))
            ns += 130_000_000
        }
        #expect(worst < 1.0, "interpolation error \(worst) m")
        print("position: 15 m/s straight track, 1 Hz fixes: interpolation error at most \(String(format: "%.3f", worst)) m; the previous fix alone up to \(String(format: "%.1f", worstRaw)) m")
        #expect(worstRaw > 10, "the stale-fix error it replaces: \(worstRaw) m")
        // 0.6 s after the last fix: carried forward along speed and course.
        let last = line.t0 + 19_000_000_000
        guard case let .position(ahead, age, method, _, _) = track.position(at: last + 600_000_000) else {
            Issue.record("no position just after the last fix")
            return
        }
        #expect(abs(age - 0.6) < 1e-9 && method == .carried)
        #expect(StraightTrack.meters(line.truth(at: last + 600_000_000), (ahead.latitude, ahead.longitude)) < 1.0)
        #expect(track.position(at: last + 2_500_000_000) == .stale(ageSeconds: 2.5))
        #expect(track.position(at: line.t0 - 1) == .unknown)
    }

    @Test("fix lost and regained: reads in the outage have no position; nothing is interpolated across it; 2D after it says so")
    func fixLostAndRegained() throws {
        let line = StraightTrack()
        var receiver = NMEAReceiver()
        var track = PositionTrack(source: .gpsd, maxGapSeconds: 3, maxExtrapolationSeconds: 1)
        for i in 0..<5 { try feed(line.epoch(i), into: &receiver, track: &track) }
        for i in 5..<8 { try feed(line.epoch(i, fix: 0), into: &receiver, track: &track) }
        for i in 8..<11 { try feed(line.epoch(i, fix: 2), into: &receiver, track: &track) }
        #expect(track.position(at: line.t0 + 6_500_000_000) == .noFix)
        // Between the last good fix (4 s) and the first no-fix report (5 s): only carried forward.
        guard case let .position(_, age, _, _, _) = track.position(at: line.t0 + 4_500_000_000) else {
            Issue.record("no position before the outage")
            return
        }
        #expect(abs(age - 0.5) < 1e-9)
        guard case let .position(after, _, _, _, _) = track.position(at: line.t0 + 9_500_000_000) else {
            Issue.record("no position after the fix came back")
            return
        }
        #expect(after.fix == .twoD)
        #expect(after.altitudeMeters == nil)
        #expect(StraightTrack.meters(line.truth(at: line.t0 + 9_500_000_000), (after.latitude, after.longitude)) < 1.0)
    }

    @Test("reports that go back in time are dropped; the history is bounded")
    func boundedAndForwardOnly() {
        var track = PositionTrack(source: .gpsd, capacity: 10)
        for i in 0..<50 { track.add(PositionFix(time: Int64(i) * 1_000_000_000, mode: .threeD, latitude: 1, longitude: 2)) }
        #expect(track.count == 10)
        let accepted = track.add(PositionFix(time: 3_000_000_000, mode: .threeD, latitude: 5, longitude: 5))
        #expect(!accepted)
        #expect(track.position(at: 1_000_000_000) == .unknown, "older than the history kept")
    }
}

@Suite("Position: gpsd's JSON reports")
struct GpsdReportTests {
    static func report(_ line: String) throws(GpsdReport.Failure) -> GpsdReport { try GpsdReport(line: Array(line.utf8)) }

    @Test("the reports gpsd 3.22 sends (VERSION, TPV in 3D, 2D and without fix, SKY, DEVICE) decode to what they say")
    func decodesGpsd() throws {
        #expect(try Self.report(#"{"class":"VERSION","release":"3.22","rev":"3.22","proto_major":3,"proto_minor":14}"#)
            == .version(release: "3.22", protocolMajor: 3, protocolMinor: 14))
        let tpv = try Self.report(#"{"class":"TPV","device":"/dev/pts/3","mode":3,"time":"2024-05-01T12:00:18.000Z","ept":0.005,"lat":48.138214000,"lon":11.578151000,"altHAE":567.0000,"altMSL":520.0000,"alt":520.0000,"epv":29.900,"track":60.0000,"magtrack":63.3419,"magvar":3.3,"speed":15.001,"climb":0.000,"epc":59.80,"geoidSep":47.000,"eph":17.100,"sep":30.400}"#)
        guard case let .tpv(fix) = tpv else { Issue.record("\(tpv)"); return }
        #expect(fix.mode == .threeD && fix.latitude == 48.138214 && fix.longitude == 11.578151 && fix.altitudeMeters == 520)
        #expect(fix.horizontalErrorMeters == 17.1 && fix.speedMetersPerSecond == 15.001 && fix.courseDegrees == 60)
        #expect(fix.time == ISO8601.parse("2024-05-01T12:00:18.000Z"))
        #expect(try Self.report(#"{"class":"TPV","device":"/dev/pts/3","mode":1,"time":"2024-05-01T12:00:23.000Z","ept":0.005}"#)
            == .tpv(PositionFix(time: ISO8601.parse("2024-05-01T12:00:23.000Z")!, mode: .none, latitude: nil, longitude: nil)))
        guard case let .tpv(twoD) = try Self.report(#"{"class":"TPV","mode":2,"time":"2024-05-01T12:00:29.000Z","lat":48.138956,"lon":11.580076667,"track":60.0,"speed":15.001,"eph":47.5}"#) else {
            Issue.record("2D")
            return
        }
        #expect(twoD.mode == .twoD && twoD.altitudeMeters == nil)
        #expect(try Self.report(#"{"class":"SKY","satellites":[{"PRN":2,"used":true},{"PRN":5,"used":false},{"PRN":7,"used":true}]}"#)
            == .sky(used: 2, seen: 3))
        #expect(try Self.report(#"{"class":"DEVICE","path":"udp://127.0.0.1:48603","activated":0}"#) == .device(path: "udp://127.0.0.1:48603", active: false))
        #expect(try Self.report(#"{"class":"WATCH","enable":true,"json":true}"#) == .other("WATCH"))
        // A receiver with neither fix nor time yet: not an error, not a fix.
        #expect(try Self.report(#"{"class":"TPV","device":"/dev/ttyACM0","mode":1}"#) == .noFixWithoutTime)
        #expect(try Self.report(#"{"class":"TPV","mode":0}"#) == .noFixWithoutTime)
        // gpsd's first TPV from a receiver whose GGA came before any date: a fix without a time,
        // skipped quietly (it is not bad input).
        #expect(try Self.report(#"{"class":"TPV","device":"/dev/ttyACM0","mode":3,"lat":48.1,"lon":11.5,"altMSL":520.0}"#) == .untimedFix)
    }

    @Test("malformed or impossible reports are refused with the reason: not JSON, wrong types, latitude 95°, dates outside 1980–2200 or invalid, overlong lines")
    func refusesBadReports() {
        let cases: [(String, GpsdReport.Failure)] = [
            (#"{"class":"TPV","mode":3,"#, .malformed("not JSON")),
            (#"garbage"#, .malformed("not JSON")),
            (#"{"mode":3}"#, .malformed("no class")),
            (#"{"class":"TPV","mode":"3","time":"2026-11-18T11:06:40.000Z"}"#, .malformed("wrong type at mode")),
            (#"{"class":"TPV","mode":3,"time":"2026-11-18T11:06:40.000Z","lat":95.0,"lon":11.5}"#, .invalid(field: "lat", value: "95.0")),
            (#"{"class":"TPV","mode":3,"time":"1970-01-06T00:00:00.000Z","lat":48.1,"lon":11.5}"#, .invalid(field: "time", value: "1970-01-06T00:00:00.000Z")),
            (#"{"class":"TPV","mode":3,"time":"2290-01-01T00:00:00.000Z","lat":48.1,"lon":11.5}"#, .invalid(field: "time", value: "2290-01-01T00:00:00.000Z")),
            (#"{"class":"TPV","mode":3,"time":"2026-02-30T00:00:00.000Z","lat":48.1,"lon":11.5}"#, .invalid(field: "time", value: "2026-02-30T00:00:00.000Z")),
            (#"{"class":"TPV","mode":9,"time":"2026-11-18T11:06:40.000Z"}"#, .invalid(field: "mode", value: "9")),
        ]
        for (line, failure) in cases {
            #expect(throws: failure, "\(line)") { try Self.report(line) }
        }
        let long = #"{"class":"SKY","pad":""# + String(repeating: "x", count: 20_000) + #""}"#
        #expect(throws: GpsdReport.Failure.tooLong(long.utf8.count)) { try Self.report(long) }
    }

    @Test("an unsynchronised clock 10 s behind GNSS time: capture times are moved onto GNSS time by the measured offset; a synchronised clock is taken as it is")
    func clockOffset() throws {
        let track = StraightTrack()
        let feed = PositionFeed(source: .nmea)
        var receiver = NMEAReceiver()
        // Each epoch arrives 150 ms after its GNSS time, by a system clock 10 s behind.
        for i in 0..<6 {
            for line in track.epoch(i) {
                if let fix = try receiver.take(try NMEASentence(Substring(line))) {
                    _ = feed.report(fix, receivedAt: fix.time - 10_000_000_000 + 150_000_000)
                }
            }
        }
        #expect(abs((feed.gpsOffsetSeconds ?? 0) - 9.85) < 1e-6)
        // Captured at GNSS t0 + 2.5 s, which the system clock read as 10 s earlier.
        let capture = track.t0 + 2_500_000_000 - 10_000_000_000
        let (p, status) = feed.lookup(at: capture, clockSynchronized: false)
        let position = try #require(p)
        #expect(status.state == .interpolated)
        // Off by the reporting delay the offset includes: 0.15 s at 15 m/s.
        let error = StraightTrack.meters(track.truth(at: track.t0 + 2_500_000_000), (position.latitude, position.longitude))
        #expect(abs(error - 2.25) < 0.1, "\(error) m")
        #expect(feed.lookup(at: capture, clockSynchronized: true).1.state == .unknown, "a synchronised clock is not second-guessed")
    }
}
