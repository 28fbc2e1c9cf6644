public import Foundation

/// How far the wall-clock time of a read can be trusted.
///
/// Evidence depends on it: a read stamped by an unsynchronised clock must say so.
public enum ClockQuality: String, Sendable, Codable {
    /// The system clock was synchronised (NTP, GPS) when the frame was captured.
    case synchronized
    /// The system clock was running free; the time may be off by any amount.
    case unsynchronized
    /// Taken from a recording's manifest: as good as the recording unit's clock was.
    case recorded
    /// No better source than a file's modification time.
    case fileTime = "file-time"
    case unknown
}

/// When a frame was captured: wall-clock time, plus how good that clock was.
public struct CaptureTime: Sendable, Hashable, Codable {
    /// Nanoseconds since the Unix epoch, UTC.
    public var unixNanoseconds: Int64
    public var quality: ClockQuality

    public init(unixNanoseconds: Int64, quality: ClockQuality) {
        self.unixNanoseconds = unixNanoseconds
        self.quality = quality
    }

    public init(date: Date, quality: ClockQuality) {
        self.init(unixNanoseconds: Int64((date.timeIntervalSince1970 * 1e9).rounded()), quality: quality)
    }

    public var date: Date { Date(timeIntervalSince1970: Double(unixNanoseconds) / 1e9) }

    /// ISO 8601 UTC with milliseconds, e.g. `2026-11-27T13:05:01.250Z`.
    public var iso8601: String { ISO8601.format(unixNanoseconds: unixNanoseconds) }
}

/// ISO 8601 formatting and parsing in UTC with millisecond precision, without Foundation formatters
/// (they are slow and not thread-safe on every platform).
public enum ISO8601 {
    public static func format(unixNanoseconds ns: Int64) -> String {
        let ms = ns >= 0 ? ns / 1_000_000 : (ns - 999_999) / 1_000_000
        var secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let milli = Int(ms - secs * 1000)
        var days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        secs -= days * 86_400
        let hour = Int(secs / 3600), minute = Int(secs % 3600 / 60), second = Int(secs % 60)
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let doe = days - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = Int(doy - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        let year = Int(yoe + era * 400 + (month <= 2 ? 1 : 0))
        func pad(_ v: Int, _ n: Int) -> String {
            let s = String(v)
            return s.count >= n ? s : String(repeating: "0", count: n - s.count) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2)).\(pad(milli, 3))Z"
    }

    /// `seconds` × 10⁹ + `nanos`, or nil where 64 bits of nanoseconds cannot hold it (before 1678
    /// or after 2261): a file time or a count from outside never traps.
    public static func nanoseconds(seconds: Int64, plus nanos: Int64 = 0) -> Int64? {
        let (scaled, o1) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (sum, o2) = scaled.addingReportingOverflow(nanos)
        return o1 || o2 ? nil : sum
    }

    /// Nanoseconds for a number of seconds given as a double (an age, an offset), or nil where it
    /// is not finite or out of the range of 64-bit nanoseconds.
    public static func nanoseconds(seconds: Double) -> Int64? {
        let ns = (seconds * 1e9).rounded()
        guard ns.isFinite, abs(ns) < 9.2e18 else { return nil }
        return Int64(ns)
    }

    /// Whether `day` exists in `month` of `year` (proleptic Gregorian calendar).
    public static func isValidDate(year: Int, month: Int, day: Int) -> Bool {
        guard (1...12).contains(month), day >= 1 else { return false }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return day <= lengths[month - 1]
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)`. Returns nil for anything else, for dates that
    /// do not exist (2026-02-31), and for times that nanoseconds since 1970 in 64 bits cannot hold
    /// (before 1678 or after 2261).
    public static func parse(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        func num(_ from: Int, _ len: Int) -> Int? {
            guard from + len <= b.count else { return nil }
            var v = 0
            for i in from..<(from + len) {
                let c = b[i]
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            return v
        }
        guard b.count >= 20, let year = num(0, 4), b[4] == 45, let month = num(5, 2), b[7] == 45,
              let day = num(8, 2), b[10] == 84 || b[10] == 116 || b[10] == 32, let hour = num(11, 2), b[13] == 58,
              let minute = num(14, 2), b[16] == 58, let second = num(17, 2),
              isValidDate(year: year, month: month, day: day), hour < 24, minute < 60, second < 61,
              (1678...2261).contains(year)
        else { return nil }
        var i = 19
        var nanos: Int64 = 0
        if i < b.count, b[i] == 46 {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if digits < 9 { nanos = nanos * 10 + Int64(b[i] - 48); digits += 1 }
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<9 { nanos *= 10 }
        }
        var offset = 0
        guard i < b.count else { return nil }
        if b[i] == 90 || b[i] == 122 {
            i += 1
        } else if b[i] == 43 || b[i] == 45, let oh = num(i + 1, 2), i + 3 < b.count, b[i + 3] == 58, let om = num(i + 4, 2), om < 60,
                  oh * 60 + om <= 14 * 60 {
            // Offsets of real time zones: ±14:00 at most (PostgreSQL, among others, refuses more).
            offset = (oh * 60 + om) * 60 * (b[i] == 45 ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let secs = Int64(daysSinceEpoch(year: year, month: month, day: day)) * 86_400 + Int64(hour * 3600 + minute * 60 + second - offset)
        return nanoseconds(seconds: secs, plus: nanos)
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (the inverse of the algorithm in `format`).
    public static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
