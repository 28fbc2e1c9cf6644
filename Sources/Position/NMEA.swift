import PlateKeeperCore

/// Why an NMEA sentence was not used. Each names what was wrong, for one clear log line.
public enum NMEAError: Error, Equatable, CustomStringConvertible {
    case tooLong(Int)
    case notASentence
    case badChecksum(expected: String, found: String)
    case missingChecksum
    case invalidField(sentence: String, field: String, value: String)

    public var description: String {
        switch self {
        case let .tooLong(n): "NMEA sentence of \(n) bytes, longer than the \(NMEASentence.maxLength) accepted"
        case .notASentence: "not an NMEA sentence (no leading $ or no fields)"
        case let .badChecksum(expected, found): "NMEA checksum \(found) does not match the sentence (\(expected))"
        case .missingChecksum: "NMEA sentence without a checksum"
        case let .invalidField(sentence, field, value): "NMEA \(sentence): invalid \(field) \"\(value.prefix(20))\""
        }
    }
}

/// One checked NMEA 0183 sentence: its talker (`GP`, `GN`…), type (`GGA`…) and fields; or a
/// proprietary sentence (`$PSRF…`, `$PSTI…`, `$PUBX…`), which is well formed but not used.
public struct NMEASentence: Sendable, Equatable {
    /// Bytes with CR LF. The standard says 82, but real receivers send more (MediaTek's GGA with
    /// centimetre fields is 84); this is gpsd's limit, which accepts what they send.
    public static let maxLength = 102
    /// Talkers whose GGA, RMC, GSA and VTG are used: GPS, multi-GNSS, GLONASS, Galileo, BeiDou
    /// (GB and BD), QZSS and NavIC. Any other talker's sentences are well formed and skipped.
    public static let gnssTalkers: Set<String> = ["GP", "GN", "GL", "GA", "GB", "BD", "GQ", "QZ", "GI"]

    public var talker: String
    public var type: String
    public var fields: [String]
    /// A manufacturer's own sentence (`$P` + maker + type): checked, then skipped.
    public var isProprietary: Bool { talker == "P" }
    /// A sentence from a GNSS talker, whose fixes the receiver uses.
    public var isGNSS: Bool { Self.gnssTalkers.contains(talker) }

    /// Parses one line (with or without its CR LF). The checksum is required and checked, except on
    /// a proprietary sentence, where some receivers leave it out.
    public init(_ line: Substring) throws(NMEAError) {
        var text = line
        while text.last?.isNewline == true { text = text.dropLast() }  // "\r\n" is one Character
        guard text.utf8.count <= Self.maxLength - 2 else { throw .tooLong(text.utf8.count + 2) }
        guard text.first == "$", text.allSatisfy({ $0.isASCII && $0 != "\0" }) else { throw .notASentence }
        let proprietary = text.dropFirst().first == "P"
        let star = text.lastIndex(of: "*")
        if star == nil, !proprietary { throw .missingChecksum }
        let body = text[text.index(after: text.startIndex)..<(star ?? text.endIndex)]
        if let star {
            let given = String(text[text.index(after: star)...])
            let expected = Self.checksum(body)
            guard given.count == 2, given.uppercased() == expected else { throw .badChecksum(expected: expected, found: String(given.prefix(4))) }
        }
        let parts = body.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard let address = parts.first, address.utf8.allSatisfy({ (0x41...0x5A).contains($0) || (0x30...0x39).contains($0) }) else {
            throw .notASentence
        }
        if proprietary {
            guard address.count >= 2 else { throw .notASentence }
            talker = "P"
            type = String(address.dropFirst())
        } else {
            guard address.count == 5 else { throw .notASentence }
            talker = String(address.prefix(2))
            type = String(address.suffix(3))
        }
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

/// Builds fixes from a receiver's sentences, one epoch at a time: RMC (time, date, position,
/// speed, course, validity), GGA (position, quality, satellites, HDOP, altitude), GSA (fix mode
/// 2/3, HDOP) and VTG (course, speed). A fix is emitted for each RMC or GGA that carries a time,
/// from what the sentences of its epoch (those with the same time of day) have said so far; GSA
/// and VTG, which carry no time, belong to the epoch being received. Nothing carries over from
/// one epoch to the next but the date: whether there is a fix is what this epoch's GGA quality
/// and RMC status say, and 2D or 3D what its GSA says, or else whether its GGA has an altitude.
/// A receiver that sends one GGA per constellation (GPGGA, GLGGA) has its satellite counts added.
///
/// Every field is bounded before use: latitude ±90°, longitude ±180°, a valid date (two-digit
/// years 80–99 are 1980–1999, a receiver's rollover; the feed judges whether a date is
/// plausible), speed below 1,000 m/s, HDOP below 100, satellites below 100.
public struct NMEAReceiver: Sendable {
    /// The receiver's user-equivalent range error, metres: horizontal error ≈ HDOP × this (95 %).
    public static let rangeErrorMeters = 5.0

    /// What one epoch's sentences said.
    private struct Epoch {
        var timeOfDay: String
        var gsaMode: GeoPosition.FixMode?
        var satellitesByTalker: [String: Int] = [:]
        var hdop: Double?
        var altitude: Double?
        var speed: Double?
        var course: Double?
        /// The newest fix emitted for this epoch, re-emitted when a later GSA changes its mode.
        var emitted: PositionFix?

        var satellites: Int? {
            if let all = satellitesByTalker["GN"] { return all }
            return satellitesByTalker.isEmpty ? nil : satellitesByTalker.values.reduce(0, +)
        }
    }

    private var date: (year: Int, month: Int, day: Int)?
    /// The newest RMC's time, to date a GGA that comes after midnight before the next RMC.
    private var lastDated: Int64?
    private var epoch: Epoch?

    public init() {}

    /// Takes one sentence; returns the fix it completes, if any. Sentences of other types, other
    /// talkers and proprietary ones are skipped (nil); a malformed field throws and leaves the
    /// receiver's state as it was.
    public mutating func take(_ s: NMEASentence) throws(NMEAError) -> PositionFix? {
        guard s.isGNSS else { return nil }
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
            // hhmmss.ss,A|V,lat,N|S,lon,E|W,knots,course,ddmmyy,magvar,E|W[,mode A|D|E|N…]
            let valid = field(1) == "A" && field(11) != "N"
            let day = try Self.date(field(8)).map { (year: $0.0, month: $0.1, day: $0.2) } ?? date
            guard let day else { return nil }  // no date yet: a fix cannot be placed in time
            let time = try Self.time(field(0), year: day.year, month: day.month, day: day.day, bad: bad)
            let knots = try number(6, "speed", 0...1944)
            let heading = try number(7, "course", 0...360)
            let (lat, lon) = valid ? try Self.coordinates(field(2), field(3), field(4), field(5), bad: bad) : (nil, nil)
            date = day
            guard let time else { return nil }
            lastDated = time
            var e = begin(field(0))
            defer { epoch = e }
            guard valid, let lat, let lon else { return lost(at: time, in: &e) }
            if let knots { e.speed = knots * 0.514444 }
            if let heading { e.course = heading }
            return emit(PositionFix(time: time, mode: .twoD, latitude: lat, longitude: lon), in: &e)
        case "GGA":
            // hhmmss.ss,lat,N|S,lon,E|W,quality,sats,hdop,alt,M,...
            let quality = try number(5, "quality", 0...9).map(Int.init) ?? 0
            let sats = try number(6, "satellites", 0...99).map(Int.init)
            let h = try number(7, "hdop", 0...99.99)
            let alt = try number(8, "altitude", -1000...100_000)
            let (lat, lon) = try Self.coordinates(field(1), field(2), field(3), field(4), bad: bad)
            var time = try date.flatMap { d throws(NMEAError) in try Self.time(field(0), year: d.year, month: d.month, day: d.day, bad: bad) }
            // Past midnight before the next RMC brings the new date.
            if let t = time, let last = lastDated, last - t > 43_200_000_000_000 { time = t + 86_400_000_000_000 }
            var e = begin(field(0))
            defer { epoch = e }
            e.satellitesByTalker[s.talker] = sats
            if e.hdop == nil || s.talker == "GN" { e.hdop = h ?? e.hdop }
            if e.altitude == nil || s.talker == "GN" { e.altitude = alt ?? e.altitude }
            guard let time else { return nil }  // no date yet: the epoch's RMC will place it
            guard quality > 0, let lat, let lon else {
                // One constellation's GGA without a fix does not undo another's with one.
                if e.emitted?.hasPosition == true { return nil }
                return lost(at: time, in: &e)
            }
            if e.emitted?.hasPosition == true, let prior = e.emitted, e.satellitesByTalker.count > 1 {
                // A second constellation's GGA of the same solution: the counts are added, the
                // position is the first's.
                return emit(prior, in: &e)
            }
            return emit(PositionFix(time: time, mode: .twoD, latitude: lat, longitude: lon), in: &e)
        case "GSA":
            // A|M,1|2|3,sv…(12),pdop,hdop,vdop[,system]
            let mode: GeoPosition.FixMode?
            switch field(1) {
            case "1": mode = GeoPosition.FixMode.none
            case "2": mode = .twoD
            case "3": mode = .threeD
            case "": mode = nil
            default: throw bad("fix mode", field(1))
            }
            let h = try number(15, "hdop", 0...99.99)
            guard var e = epoch else { return nil }
            defer { epoch = e }
            // Several GSA per epoch (one per constellation) say the same mode; the best is kept.
            if let mode, mode != .none, e.gsaMode != .threeD { e.gsaMode = mode }
            if e.hdop == nil, let h, h < 99.99 { e.hdop = h }
            guard let prior = e.emitted, prior.hasPosition else { return nil }
            let again = emit(prior, in: &e)
            return again == prior ? nil : again
        case "VTG":
            // course true,T,course magnetic,M,knots,N,km/h,K
            let heading = try number(0, "course", 0...360)
            let kmh = try number(6, "speed", 0...3600)
            guard var e = epoch else { return nil }
            e.course = heading ?? e.course
            if let kmh { e.speed = kmh / 3.6 }
            epoch = e
            return nil
        default:
            return nil
        }
    }

    /// The epoch of `timeOfDay`: the current one, or a new one that forgets the last.
    private func begin(_ timeOfDay: String) -> Epoch {
        if let epoch, epoch.timeOfDay == timeOfDay { return epoch }
        return Epoch(timeOfDay: timeOfDay)
    }

    /// `fix` completed with what its epoch has said: mode, satellites, HDOP, altitude, speed, course.
    private func emit(_ fix: PositionFix, in e: inout Epoch) -> PositionFix {
        var fix = fix
        fix.mode = e.gsaMode ?? (e.altitude == nil ? .twoD : .threeD)
        fix.altitudeMeters = fix.mode == .threeD ? e.altitude : nil
        fix.horizontalErrorMeters = e.hdop.map { $0 * Self.rangeErrorMeters }
        fix.satellites = e.satellites
        fix.speedMetersPerSecond = e.speed
        fix.courseDegrees = e.course
        e.emitted = fix
        return fix
    }

    /// A fix-less epoch, so the track knows the receiver has lost its fix.
    private func lost(at time: Int64, in e: inout Epoch) -> PositionFix {
        let fix = PositionFix(time: time, mode: .none, latitude: nil, longitude: nil, satellites: e.satellites)
        e.emitted = fix
        return fix
    }

    static func date(_ text: String) throws(NMEAError) -> (Int, Int, Int)? {
        if text.isEmpty { return nil }
        guard text.count == 6, let v = Int(text) else { throw .invalidField(sentence: "RMC", field: "date", value: text) }
        let yy = v % 100
        let day = v / 10000, month = v / 100 % 100, year = yy >= 80 ? 1900 + yy : 2000 + yy
        guard ISO8601.isValidDate(year: year, month: month, day: day) else {
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
