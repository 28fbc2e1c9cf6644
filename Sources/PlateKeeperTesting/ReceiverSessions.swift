import Foundation
import Position
import PlateKeeperCore

/// The output of real GNSS receiver models, epoch by epoch, along a `StraightTrack`: the
/// sentences each sends, in its order and number formats, with its quirks. Written from the
/// models' interface descriptions and the shapes a field test recorded (see the README's car-unit
/// section); used to play the same session into a serial port and through a real gpsd.
public enum ReceiverModel: String, Sendable, CaseIterable, CustomStringConvertible {
    /// A receiver that sends only RMC and GGA (no GSA): whether it has a fix is in each epoch's
    /// RMC status and GGA quality, nowhere else.
    case ggaRmcOnly = "gga-rmc-only"
    /// u-blox LEA-4H (NMEA 2.3): RMC, VTG, GGA, GSA, GSV, GLL, talker GP.
    case ubloxLEA4H = "u-blox-lea-4h"
    /// u-blox ZED-F9P (NMEA 4.10): GN talker, one GSA per constellation, GSV per system, TXT.
    case ubloxZEDF9P = "u-blox-zed-f9p"
    /// SiRF III: GGA first, then GSA, GSV, RMC; a proprietary $PSRF line now and then.
    case sirf3 = "sirf-iii"
    /// SiRF V: GPGGA then GLGGA (each constellation's satellites), GNGSA, GSV, RMC.
    case sirf5 = "sirf-v"
    /// MediaTek MT3339: GGA with extra decimals (an 82-character body, 84 bytes with CR LF),
    /// millisecond times, $PMTK lines; BeiDou and QZSS sentences ($BDGSA, $BDGSV, $QZGSV, $PSTI).
    case mt3339 = "mediatek-mt3339"
    /// SiRF II: millisecond times, GGA, GSA, GSV, RMC; the one with a week-number rollover.
    case sirf2 = "sirf-ii"

    public var description: String { rawValue }

    /// Satellites the receiver uses in a 3D epoch, all constellations together.
    public var satellitesUsed: Int {
        switch self {
        case .sirf5: 14
        case .ubloxZEDF9P: 22
        default: 8
        }
    }
}

/// One receiver's session along a track: `fix` 3 (3D) or 0 (none) per epoch, dated
/// `dateShiftDays` away from the truth (a week-number rollover is −7,168 days) and `timeShift`
/// seconds off in time (a receiver that jumped).
public struct ReceiverSession: Sendable {
    public var model: ReceiverModel
    public var track: StraightTrack
    public var dateShiftDays = 0
    public var timeShiftSeconds: Int64 = 0

    public init(model: ReceiverModel, track: StraightTrack = StraightTrack(), dateShiftDays: Int = 0) {
        self.model = model
        self.track = track
        self.dateShiftDays = dateShiftDays
    }

    /// The sentences of epoch `i` (GNSS time t0 + i s), 3D or without a fix.
    public func epoch(_ i: Int, fix: Bool = true) -> [String] {
        let ns = track.t0 + Int64(i) * 1_000_000_000 + timeShiftSeconds * 1_000_000_000
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        let c = cal.dateComponents([.hour, .minute, .second], from: Date(timeIntervalSince1970: Double(ns) / 1e9))
        let day = cal.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: Double(ns) / 1e9 + Double(dateShiftDays) * 86_400))
        let millis = [.mt3339, .sirf2, .sirf3, .sirf5].contains(model)
        let hms = String(format: millis ? "%02d%02d%02d.000" : "%02d%02d%02d.00", c.hour!, c.minute!, c.second!)
        let dmy = String(format: "%02d%02d%02d", day.day!, day.month!, day.year! % 100)
        let p = track.truth(at: track.t0 + Int64(i) * 1_000_000_000)
        let pos = "\(StraightTrack.dm(p.lat, lat: true)),\(StraightTrack.dm(p.lon, lat: false))"
        let knots = String(format: "%.2f", track.speed / 0.514444), course = String(format: "%.1f", track.course)
        let kmh = String(format: "%.2f", track.speed * 3.6)
        func s(_ body: String) -> String { NMEASentence.checksummed(body) }
        let gsv = [s("GPGSV,2,1,08,02,45,050,40,05,30,120,38,12,60,200,42,15,20,300,35"),
                   s("GPGSV,2,2,08,18,50,010,41,21,35,090,39,25,25,180,36,29,15,270,33")]
        switch model {
        case .ggaRmcOnly:
            return fix
                ? [s("GPRMC,\(hms),A,\(pos),\(knots),\(course),\(dmy),,,A"), s("GPGGA,\(hms),\(pos),1,08,0.9,520.0,M,47.0,M,,")]
                : [s("GPRMC,\(hms),V,,,,,,,\(dmy),,,N"), s("GPGGA,\(hms),,,,,0,00,99.99,,,,,,")]
        case .ubloxLEA4H:
            return fix
                ? [s("GPRMC,\(hms),A,\(pos),\(knots),\(course),\(dmy),,,A"), s("GPVTG,\(course),T,,M,\(knots),N,\(kmh),K,A"),
                   s("GPGGA,\(hms),\(pos),1,08,0.90,520.0,M,47.0,M,,"), s("GPGSA,A,3,02,05,12,15,18,21,25,29,,,,,1.60,0.90,1.30")]
                    + gsv + [s("GPGLL,\(pos),\(hms),A,A")]
                : [s("GPRMC,\(hms),V,,,,,,,\(dmy),,,N"), s("GPVTG,,,,,,,,,N"), s("GPGGA,\(hms),,,,,0,00,99.99,,,,,,"),
                   s("GPGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99"), s("GPGSV,1,1,00"), s("GPGLL,,,,,\(hms),V,N")]
        case .ubloxZEDF9P:
            return fix
                ? [s("GNRMC,\(hms),A,\(pos),\(knots),\(course),\(dmy),,,A,V"), s("GNVTG,\(course),T,,M,\(knots),N,\(kmh),K,A"),
                   s("GNGGA,\(hms),\(pos),1,22,0.55,520.0,M,47.0,M,,"),
                   s("GNGSA,A,3,02,05,12,15,18,21,25,29,,,,,1.00,0.55,0.80,1"), s("GNGSA,A,3,65,66,72,73,81,,,,,,,,1.00,0.55,0.80,2"),
                   s("GNGSA,A,3,04,09,11,19,36,,,,,,,,1.00,0.55,0.80,3"), s("GNGSA,A,3,07,10,21,22,,,,,,,,,1.00,0.55,0.80,4")]
                    + gsv + [s("GLGSV,1,1,04,65,40,100,38,66,30,200,36,72,20,300,30,73,50,010,40,1"),
                             s("GAGSV,1,1,04,04,40,100,38,09,30,200,36,11,20,300,30,19,50,010,40,7"),
                             s("GBGSV,1,1,04,07,40,100,38,10,30,200,36,21,20,300,30,22,50,010,40,1"),
                             s("GNGLL,\(pos),\(hms),A,A")]
                : [s("GNTXT,01,01,02,u-blox AG - www.u-blox.com"), s("GNRMC,\(hms),V,,,,,,,\(dmy),,,N,V"), s("GNVTG,,,,,,,,,N"),
                   s("GNGGA,\(hms),,,,,0,00,99.99,,,,,,"), s("GNGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99,1"), s("GNGLL,,,,,\(hms),V,N")]
        case .sirf3:
            return fix
                ? [s("GPGGA,\(hms),\(pos),1,08,0.9,520.0,M,47.0,M,,0000"), s("GPGSA,A,3,02,05,12,15,18,21,25,29,,,,,1.6,0.9,1.3")]
                    + gsv + [s("GPRMC,\(hms),A,\(pos),\(knots),\(course),\(dmy),,,A"), s("PSRFTXT,Version:GSW3.5.0")]
                : [s("GPGGA,\(hms),,,,,0,00,,,M,0.0,M,,0000"), s("GPGSA,A,1,,,,,,,,,,,,,,,"), s("GPRMC,\(hms),V,,,,,,,\(dmy),,,N")]
        case .sirf5:
            return fix
                ? [s("GPGGA,\(hms),\(pos),1,09,0.8,520.0,M,47.0,M,,"), s("GLGGA,\(hms),\(pos),1,05,0.8,520.0,M,47.0,M,,"),
                   s("GNGSA,A,3,02,05,12,15,18,21,25,29,31,,,,1.4,0.8,1.1"), s("GNGSA,A,3,65,66,72,73,81,,,,,,,,1.4,0.8,1.1")]
                    + gsv + [s("GLGSV,1,1,05,65,40,100,38,66,30,200,36,72,20,300,30,73,50,010,40,81,10,150,28"),
                             s("GNRMC,\(hms),A,\(pos),\(knots),\(course),\(dmy),,,A")]
                : [s("GPGGA,\(hms),,,,,0,00,,,M,,M,,"), s("GLGGA,\(hms),,,,,0,00,,,M,,M,,"), s("GNGSA,A,1,,,,,,,,,,,,,,,"),
                   s("GNRMC,\(hms),V,,,,,,,\(dmy),,,N")]
        case .mt3339:
            // Four decimals of minutes more than the others, and centimetre altitude: 82 characters.
            let fine = "\(Self.fine(p.lat, lat: true)),\(Self.fine(p.lon, lat: false))"
            return fix
                ? [s("GPGGA,\(hms),\(fine),1,08,0.90,520.001,M,47.001,M,,"), s("GPGSA,A,3,02,05,12,15,18,21,25,29,,,,,1.60,0.90,1.30"),
                   s("BDGSA,A,3,07,10,21,,,,,,,,,,1.60,0.90,1.30")]
                    + gsv + [s("BDGSV,1,1,03,07,40,100,38,10,30,200,36,21,20,300,30"), s("QZGSV,1,1,01,193,60,100,40"),
                             s("GPRMC,\(hms),A,\(fine),\(knots),\(course),\(dmy),,,A"), s("GPVTG,\(course),T,,M,\(knots),N,\(kmh),K,A"),
                             s("PSTI,030,\(hms),A,\(fine),520.001,0.00,0.00,0.00,\(dmy),A,,1.0,1.0"), s("PMTK010,002")]
                : [s("GPGGA,\(hms),,,,,0,0,,,M,,M,,"), s("GPGSA,A,1,,,,,,,,,,,,,,,"), s("GPRMC,\(hms),V,,,,,,,\(dmy),,,N"),
                   s("GPVTG,,T,,M,,N,,K,N"), s("PMTK010,001")]
        case .sirf2:
            return fix
                ? [s("GPGGA,\(hms),\(pos),1,08,0.9,520.0,M,47.0,M,0.0,0000"), s("GPGSA,A,3,02,05,12,15,18,21,25,29,,,,,1.6,0.9,1.3")]
                    + gsv + [s("GPRMC,\(hms),A,\(pos),\(knots),\(course),\(dmy),,,A")]
                : [s("GPGGA,\(hms),,,,,0,00,,,M,0.0,M,,0000"), s("GPGSA,A,1,,,,,,,,,,,,,,,"), s("GPRMC,\(hms),V,,,,,,,\(dmy),,,N")]
        }
    }

    /// ddmm.mmmmmmm, as MediaTek sends it.
    static func fine(_ v: Double, lat: Bool) -> String {
        let a = abs(v), d = Int(a), m = (a - Double(d)) * 60
        let hemi = lat ? (v >= 0 ? "N" : "S") : (v >= 0 ? "E" : "W")
        return String(format: lat ? "%02d%010.7f,%@" : "%03d%010.7f,%@", d, m, hemi)
    }
}

extension ReceiverSession {
    /// Plays `epochs` (index, fix) to `send`, one epoch every `period` seconds, or, with
    /// `realTime`, epoch i at the system time t0 + i s (skipping those already past).
    public func play(_ epochs: [(Int, Bool)], period: Double = 0.05, realTime: Bool = false, send: ([String]) -> Void) {
        for (i, fix) in epochs {
            if realTime {
                let due = track.t0 + Int64(i) * 1_000_000_000
                let wait = Double(due - Clocks.wallNanoseconds()) / 1e9
                if wait < -0.5 { continue }
                if wait > 0 { Thread.sleep(forTimeInterval: wait) }
            }
            send(epoch(i, fix: fix))
            if !realTime { Thread.sleep(forTimeInterval: period) }
        }
    }
}
