import Foundation
import PlateKeeperCore

/// One line of gpsd's JSON protocol (https://gpsd.io/gpsd_json.html), the classes the unit uses.
///
/// A line from outside: its length is bounded, every number is range-checked, and a malformed
/// line is an error that names what was wrong (the client logs it and reads on).
public enum GpsdReport: Sendable, Equatable {
    /// The greeting: gpsd's release and protocol version (3.x is what this client speaks).
    case version(release: String, protocolMajor: Int, protocolMinor: Int)
    /// Time-position-velocity: a fix, or the news that there is none (mode 0 or 1).
    case tpv(PositionFix)
    /// A TPV without time and without a fix (mode 0 or 1): a receiver that has neither yet.
    case noFixWithoutTime
    /// A TPV with a fix but no time (gpsd's first report from a receiver whose GGA came before
    /// any date): it cannot be placed in time, and is skipped without being bad input.
    case untimedFix
    /// Satellites seen and used.
    case sky(used: Int, seen: Int)
    /// A device appeared (`activated` set) or went away (`activated` 0).
    case device(path: String, active: Bool)
    /// Any other class (WATCH, DEVICES, GST…): not used.
    case other(String)

    /// gpsd's lines are a few hundred bytes; SKY with many satellites a few KiB.
    public static let maxLineBytes = 16 * 1024

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case tooLong(Int)
        case malformed(String)
        case invalid(field: String, value: String)

        public var description: String {
            switch self {
            case let .tooLong(n): "gpsd line of \(n) bytes, longer than \(GpsdReport.maxLineBytes)"
            case let .malformed(why): "gpsd line is not a JSON report: \(why)"
            case let .invalid(field, value): "gpsd report: invalid \(field) \(value.prefix(40))"
            }
        }
    }

    private struct Line: Decodable {
        var `class`: String
        var release: String?
        var proto_major: Int?
        var proto_minor: Int?
        var mode: Int?
        var time: String?
        var lat: Double?
        var lon: Double?
        var altHAE: Double?
        var altMSL: Double?
        var alt: Double?
        var eph: Double?
        var epx: Double?
        var epy: Double?
        var speed: Double?
        var track: Double?
        var path: String?
        var activated: Activated?
        var satellites: [Satellite]?
        var uSat: Int?
        var nSat: Int?
    }

    /// `activated` is a time when a device is active and 0 when it went away.
    private enum Activated: Decodable {
        case time(String), zero
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) { self = .time(s) } else { _ = try c.decode(Double.self); self = .zero }
        }
    }

    private struct Satellite: Decodable {
        var used: Bool?
    }

    public init(line: some Collection<UInt8>) throws(Failure) {
        guard line.count <= Self.maxLineBytes else { throw .tooLong(line.count) }
        let parsed: Line
        do {
            parsed = try JSONDecoder().decode(Line.self, from: Data(line))
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw .malformed("wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))")
        } catch let DecodingError.keyNotFound(key, _) {
            throw .malformed("no \(key.stringValue)")
        } catch {
            throw .malformed("not JSON")
        }
        switch parsed.class {
        case "VERSION":
            self = .version(release: String((parsed.release ?? "?").prefix(32)), protocolMajor: parsed.proto_major ?? 0,
                            protocolMinor: parsed.proto_minor ?? 0)
        case "TPV":
            // Without a fix a receiver may not know the time either; without time, a fix is refused.
            if parsed.time == nil {
                guard (0...3).contains(parsed.mode ?? 0) else { throw .invalid(field: "mode", value: "\(parsed.mode ?? 0)") }
                self = (parsed.mode ?? 0) < 2 ? .noFixWithoutTime : .untimedFix
            } else {
                self = .tpv(try Self.fix(parsed))
            }
        case "SKY":
            let used = parsed.uSat ?? parsed.satellites?.filter { $0.used == true }.count ?? 0
            let seen = parsed.nSat ?? parsed.satellites?.count ?? 0
            guard (0...999).contains(used), (0...999).contains(seen) else { throw .invalid(field: "uSat", value: "\(used)") }
            self = .sky(used: used, seen: seen)
        case "DEVICE":
            let active: Bool = if case .time = parsed.activated { true } else { false }
            self = .device(path: String((parsed.path ?? "?").prefix(256)), active: active)
        default:
            self = .other(String(parsed.class.prefix(32)))
        }
    }

    private static func fix(_ l: Line) throws(Failure) -> PositionFix {
        guard let text = l.time else { throw .invalid(field: "time", value: "missing") }
        return try fix(l, time: text)
    }

    private static func fix(_ l: Line, time text: String) throws(Failure) -> PositionFix {
        // Any valid time: whether it is plausible (a receiver's week-number rollover dates its
        // fixes 1999 or 2034) is the feed's judgement, against the track and the system clock.
        guard let time = ISO8601.parse(text), let year = Int(text.prefix(4)), (1980...2200).contains(year) else {
            throw .invalid(field: "time", value: text)
        }
        func check(_ v: Double?, _ name: String, _ range: ClosedRange<Double>) throws(Failure) -> Double? {
            guard let v else { return nil }
            guard v.isFinite, range.contains(v) else { throw .invalid(field: name, value: "\(v)") }
            return v
        }
        let mode: GeoPosition.FixMode = switch l.mode ?? 0 { case 2: .twoD; case 3: .threeD; default: .none }
        guard (0...3).contains(l.mode ?? 0) else { throw .invalid(field: "mode", value: "\(l.mode ?? 0)") }
        let lat = try check(l.lat, "lat", -90...90), lon = try check(l.lon, "lon", -180...180)
        let alt = try check(l.altMSL ?? l.alt, "altMSL", -1000...100_000)
        let eph = try check(l.eph, "eph", 0...1_000_000)
        let epx = try check(l.epx, "epx", 0...1_000_000), epy = try check(l.epy, "epy", 0...1_000_000)
        let speed = try check(l.speed, "speed", 0...1000), track = try check(l.track, "track", 0...360)
        // eph is gpsd's 95 % horizontal error; with only epx/epy, their root sum of squares.
        let error = eph ?? { () -> Double? in
            guard let epx, let epy else { return nil }
            return (epx * epx + epy * epy).squareRoot()
        }()
        guard mode != .none, let lat, let lon else { return PositionFix(time: time, mode: .none, latitude: nil, longitude: nil) }
        return PositionFix(
            time: time, mode: mode, latitude: lat, longitude: lon, altitudeMeters: mode == .threeD ? alt : nil,
            horizontalErrorMeters: error, speedMetersPerSecond: speed, courseDegrees: track)
    }
}
