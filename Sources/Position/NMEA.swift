import PlateKeeperCore

/// Why an NMEA sentence was not used. Each names what was wrong, for one clear log line.
public enum NMEAError: Error, Equatable, CustomStringConvertible {
    case tooLong(Int)
    case notASentence
    case badChecksum(expected: String, found: String)
    case missingChecksum
    case unknownTalker(String)
    case invalidField(sentence: String, field: String, value: String)

    public var description: String {
        switch self {
        case let .tooLong(n): "NMEA sentence of \(n) bytes, longer than the 82 the standard allows"
        case .notASentence: "not an NMEA sentence (no leading $ or no fields)"
        case let .badChecksum(expected, found): "NMEA checksum \(found) does not match the sentence (\(expected))"
        case .missingChecksum: "NMEA sentence without a checksum"
        case let .unknownTalker(t): "NMEA talker \(t) is not a GNSS receiver (GP, GN, GL, GA, GB)"
        case let .invalidField(sentence, field, value): "NMEA \(sentence): invalid \(field) \"\(value.prefix(20))\""
        }
    }
}

/// One checked NMEA 0183 sentence: its talker (`GP`, `GN`…), type (`GGA`…) and fields.
public struct NMEASentence: Sendable, Equatable {
    public static let maxLength = 82
    /// Receivers of these systems: GPS, multi-GNSS, GLONASS, Galileo, BeiDou.
    public static let talkers: Set<String> = ["GP", "GN", "GL", "GA", "GB"]

    public var talker: String
    public var type: String
    public var fields: [String]

    /// Parses one line (with or without its CR LF). The checksum is required and checked.
    public init(_ line: Substring) throws(NMEAError) {
        var text = line
        while text.last?.isNewline == true { text = text.dropLast() }  // "\r\n" is one Character
        guard text.utf8.count <= Self.maxLength - 2 else { throw .tooLong(text.utf8.count + 2) }
        guard text.first == "$", text.allSatisfy({ $0.isASCII && $0 != "\0" }) else { throw .notASentence }
        guard let star = text.lastIndex(of: "*") else { throw .missingChecksum }
        let body = text[text.index(after: text.startIndex)..<star]
        let given = String(text[text.index(after: star)...])
        let expected = Self.checksum(body)
        guard given.count == 2, given.uppercased() == expected else { throw .badChecksum(expected: expected, found: String(given.prefix(4))) }
        let parts = body.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard let address = parts.first, address.count == 5 else { throw .notASentence }
        talker = String(address.prefix(2))
        type = String(address.suffix(3))
        guard Self.talkers.contains(talker) else { throw .unknownTalker(talker) }
        fields = Array(parts.dropFirst())
    }

    /// The checksummed sentence for `body` (the text between `$` and `*`), for tests and tools.
    public static func checksummed(_ body: String) -> String {
        "$\(body)*\(checksum(body[...]))"
    }

    /// The XOR of the body's bytes, as two upper-case hex digits.
    static func checksum(_ body: Substring) -> String {
        var sum: UInt8 = 0
        for byte in body.utf8 { sum ^= byte }
        let hex = String(sum, radix: 16, uppercase: true)
        return hex.count == 1 ? "0" + hex : hex
    }
}

/// Builds fixes from a receiver's sentences: RMC (time, date, position, speed, course, validity),
/// GGA (position, quality, satellites, HDOP, altitude), GSA (fix mode 1/2/3, DOPs) and VTG (course,
/// speed). A fix is emitted for each RMC or GGA that carries a time, merged with what the other
/// sentences of the same epoch said; others are remembered for the next one.
///
/// Every field is bounded before use: latitude ±90°, longitude ±180°, a date in 2020…2079 (a
/// receiver after a week-number rollover reports 1999 or 2099), speed below 1,000 m/s, HDOP below
/// 100, satellites below 100.
public struct NMEAReceiver: Sendable {
    /// The receiver's user-equivalent range error, metres: horizontal error ≈ HDOP × this (95 %).
    public static let rangeErrorMeters = 5.0

    private var date: (year: Int, month: Int, day: Int)?
    private var mode: GeoPosition.FixMode?
    private var satellites: Int?
    private var hdop: Double?
    private var altitude: Double?
    private var speed: Double?
    private var course: Double?

    public init() {}

    /// Takes one sentence; returns the fix it completes, if any. Sentences of other types are
    /// ignored (nil); a malformed field throws and leaves the receiver's state as it was.
    public mutating func take(_ s: NMEASentence) throws(NMEAError) -> PositionFix? {
        func field(_ i: Int) -> String { i < s.fields.count ? s.fields[i] : "" }
        func bad(_ name: String, _ value: String) -> NMEAError { .invalidField(sentence: s.talker + s.type, field: name, value: value) }
        func number(_ i: Int, _ name: String, _ range: ClosedRange<Double>) throws(NMEAError) -> Double? {
            let text = field(i)
            if text.isEmpty { return nil }
            guard text.count <= 16, let v = Double(text), v.isFinite, range.contains(v) else { throw bad(name, text) }
            return v
        }
        switch s.type {
        case "RMC":
            // hhmmss.ss,A|V,lat,N|S,lon,E|W,knots,course,ddmmyy,...
            let valid = field(1) == "A"
            let day = try Self.date(field(8)).map { (year: $0.0, month: $0.1, day: $0.2) } ?? date
            guard let day else { return nil }  // no date yet: a fix cannot be placed in time
            let time = try Self.time(field(0), year: day.year, month: day.month, day: day.day, bad: bad)
            let knots = try number(6, "speed", 0...1944)
            let heading = try number(7, "course", 0...360)
            let (lat, lon) = valid ? try Self.coordinates(field(2), field(3), field(4), field(5), bad: bad) : (nil, nil)
            date = day
            guard let time else { return nil }
            guard valid, let lat, let lon else {
                mode = GeoPosition.FixMode.none
                return lost(at: time)
            }
            speed = knots.map { $0 * 0.514444 }
            course = heading
            return PositionFix(
                time: time, mode: mode ?? .twoD, latitude: lat, longitude: lon, altitudeMeters: altitude,
                horizontalErrorMeters: hdop.map { $0 * Self.rangeErrorMeters }, speedMetersPerSecond: speed, courseDegrees: course,
                satellites: satellites)
        case "GGA":
            // hhmmss.ss,lat,N|S,lon,E|W,quality,sats,hdop,alt,M,...
            let quality = try number(5, "quality", 0...9).map(Int.init) ?? 0
            let sats = try number(6, "satellites", 0...99).map(Int.init)
            let h = try number(7, "hdop", 0...99.99)
            let alt = try number(8, "altitude", -1000...100_000)
            let (lat, lon) = try Self.coordinates(field(1), field(2), field(3), field(4), bad: bad)
            let time = try date.flatMap { d throws(NMEAError) in try Self.time(field(0), year: d.year, month: d.month, day: d.day, bad: bad) }
            satellites = sats
            hdop = h
            altitude = alt
            guard let time else { return nil }
            guard quality > 0, let lat, let lon else { return lost(at: time) }
            return PositionFix(
                time: time, mode: mode ?? (alt == nil ? .twoD : .threeD), latitude: lat, longitude: lon, altitudeMeters: alt,
                horizontalErrorMeters: h.map { $0 * Self.rangeErrorMeters }, speedMetersPerSecond: speed, courseDegrees: course,
                satellites: sats)
        case "GSA":
            // A|M,1|2|3,sv…(12),pdop,hdop,vdop
            switch field(1) {
            case "1": mode = GeoPosition.FixMode.none
            case "2": mode = .twoD
            case "3": mode = .threeD
            case "": break
            default: throw bad("fix mode", field(1))
            }
            if let h = try number(15, "hdop", 0...99.99) { hdop = h }
            return nil
        case "VTG":
            // course true,T,course magnetic,M,knots,N,km/h,K
            course = try number(0, "course", 0...360) ?? course
            if let kmh = try number(6, "speed", 0...3600) { speed = kmh / 3.6 }
            return nil
        default:
            return nil
        }
    }

    /// A fix-less epoch, so the track knows the receiver has lost its fix.
    private func lost(at time: Int64) -> PositionFix {
        PositionFix(time: time, mode: .none, latitude: nil, longitude: nil)
    }

    static func date(_ text: String) throws(NMEAError) -> (Int, Int, Int)? {
        if text.isEmpty { return nil }
        guard text.count == 6, let v = Int(text) else { throw .invalidField(sentence: "RMC", field: "date", value: text) }
        let day = v / 10000, month = v / 100 % 100, year = 2000 + v % 100
        guard ISO8601.isValidDate(year: year, month: month, day: day), (2020...2079).contains(year) else {
            throw .invalidField(sentence: "RMC", field: "date", value: text)
        }
        return (year, month, day)
    }

    static func time(
        _ text: String, year: Int, month: Int, day: Int, bad: (String, String) -> NMEAError
    ) throws(NMEAError) -> Int64? {
        if text.isEmpty { return nil }
        guard text.count >= 6, text.count <= 12, let whole = Int(text.prefix(6)) else { throw bad("time", text) }
        let h = whole / 10000, m = whole / 100 % 100, s = whole % 100
        guard h < 24, m < 60, s < 61 else { throw bad("time", text) }
        var fraction = 0.0
        if text.count > 6 {
            guard text.dropFirst(6).first == ".", let f = Double("0" + text.dropFirst(6)) else { throw bad("time", text) }
            fraction = f
        }
        let days = ISO8601.daysSinceEpoch(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(h * 3600 + m * 60 + s)
        return seconds * 1_000_000_000 + Int64((fraction * 1e9).rounded())
    }

    /// ddmm.mmmm,N|S and dddmm.mmmm,E|W to signed degrees; nil when empty.
    static func coordinates(
        _ lat: String, _ ns: String, _ lon: String, _ ew: String, bad: (String, String) -> NMEAError
    ) throws(NMEAError) -> (Double?, Double?) {
        if lat.isEmpty || lon.isEmpty { return (nil, nil) }
        func degrees(_ text: String, _ degreeDigits: Int, _ limit: Double, _ name: String) throws(NMEAError) -> Double {
            guard text.count <= 16, text.count > degreeDigits, let d = Double(text.prefix(degreeDigits)),
                  let m = Double(text.dropFirst(degreeDigits)), m >= 0, m < 60 else { throw bad(name, text) }
            let v = d + m / 60
            guard v <= limit else { throw bad(name, text) }
            return v
        }
        let la = try degrees(lat, 2, 90, "latitude"), lo = try degrees(lon, 3, 180, "longitude")
        guard ns == "N" || ns == "S" else { throw bad("latitude hemisphere", ns) }
        guard ew == "E" || ew == "W" else { throw bad("longitude hemisphere", ew) }
        return (ns == "S" ? -la : la, ew == "W" ? -lo : lo)
    }
}
