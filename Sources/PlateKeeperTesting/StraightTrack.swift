import Foundation
import Position

/// A receiver driving a straight line at constant speed: NMEA sentences per 1 s epoch, and the
/// true position at any time, for checking what the track makes of them.
public struct StraightTrack: Sendable {
    public init(t0: Int64 = Int64(1_795_000_000) * 1_000_000_000) {
        self.t0 = t0
    }

    public var t0 = Int64(1_795_000_000) * 1_000_000_000  // 2026-11-18T11:06:40Z
    public var lat0 = 48.137, lon0 = 11.575, speed = 15.0, course = 60.0
    public static let r = 6_371_008.8

    public func truth(at ns: Int64) -> (lat: Double, lon: Double) {
        let d = speed * Double(ns - t0) / 1e9
        let lat = lat0 + (d * cos(course * .pi / 180) / Self.r) * 180 / .pi
        let lon = lon0 + (d * sin(course * .pi / 180) / (Self.r * cos(lat0 * .pi / 180))) * 180 / .pi
        return (lat, lon)
    }

    public static func dm(_ v: Double, lat: Bool) -> String {
        let a = abs(v), d = Int(a), m = (a - Double(d)) * 60
        let hemi = lat ? (v >= 0 ? "N" : "S") : (v >= 0 ? "E" : "W")
        return String(format: lat ? "%02d%08.5f,%@" : "%03d%08.5f,%@", d, m, hemi)
    }

    /// RMC, GGA, GSA for second `i`; `fix` 3, 2 or 0 (none). With `satellites`, a 3D epoch also
    /// has the GSV sentences of its eight satellites (gpsd reports SKY only after them).
    public func epoch(_ i: Int, fix: Int = 3, talker: String = "GP", satellites: Bool = false) -> [String] {
        let ns = t0 + Int64(i) * 1_000_000_000
        let date = Date(timeIntervalSince1970: Double(ns) / 1e9)
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        let c = cal.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let hms = String(format: "%02d%02d%02d.00", c.hour!, c.minute!, c.second!)
        let dmy = String(format: "%02d%02d%02d", c.day!, c.month!, c.year! % 100)
        let p = truth(at: ns)
        let pos = "\(Self.dm(p.lat, lat: true)),\(Self.dm(p.lon, lat: false))"
        let knots = String(format: "%.2f", speed / 0.514444)
        if fix == 0 {
            return [NMEASentence.checksummed("\(talker)RMC,\(hms),V,,,,,,,\(dmy),,,N"),
                    NMEASentence.checksummed("\(talker)GGA,\(hms),,,,,0,00,99.99,,,,,,"),
                    NMEASentence.checksummed("\(talker)GSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99")]
        }
        let rmc = NMEASentence.checksummed("\(talker)RMC,\(hms),A,\(pos),\(knots),\(String(format: "%.1f", course)),\(dmy),,,A")
        if fix == 2 {
            return [rmc, NMEASentence.checksummed("\(talker)GGA,\(hms),\(pos),1,03,2.5,,,,,,"),
                    NMEASentence.checksummed("\(talker)GSA,A,2,05,12,18,,,,,,,,,,2.8,2.5,1.0")]
        }
        let gsv = satellites ? [
            NMEASentence.checksummed("\(talker)GSV,2,1,08,02,45,050,40,05,30,120,38,12,60,200,42,15,20,300,35"),
            NMEASentence.checksummed("\(talker)GSV,2,2,08,18,50,010,41,21,35,090,39,25,25,180,36,29,15,270,33"),
        ] : []
        return [rmc, NMEASentence.checksummed("\(talker)GGA,\(hms),\(pos),1,08,0.9,520.0,M,47.0,M,,"),
                NMEASentence.checksummed("\(talker)GSA,A,3,02,05,12,15,18,21,25,29,,,,,1.6,0.9,1.3")] + gsv
    }

    /// Metres between two points (equirectangular; exact enough over a few hundred metres).
    public static func meters(_ a: (lat: Double, lon: Double), _ b: (lat: Double, lon: Double)) -> Double {
        let x = (b.lon - a.lon) * .pi / 180 * cos((a.lat + b.lat) / 2 * .pi / 180), y = (b.lat - a.lat) * .pi / 180
        return (x * x + y * y).squareRoot() * r
    }

    /// A position log as `record` saves it (`<receive ns> <sentence>` lines): this track's epochs
    /// from t0 until 3 s after `last`, each received 120 ms after its GNSS time.
    public func positionLog(through last: Int64) -> String {
        var lines: [String] = []
        for i in 0...Int((last - t0) / 1_000_000_000 + 3) {
            let received = t0 + Int64(i) * 1_000_000_000 + 120_000_000
            lines += epoch(i).map { "\(received) \($0)" }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
