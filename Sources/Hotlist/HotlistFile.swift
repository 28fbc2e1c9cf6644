import Foundation
import PlateKeeperCore

/// One plate wanted on one list: the rows of a hotlist file.
public struct HotlistEntry: Sendable, Equatable {
    /// Normalised: upper case, letters and digits only (spaces, dashes and dots removed).
    public var plate: String
    public var list: String
    public var reason: String
    /// When the entry stops matching (Unix ns); nil for never.
    public var expires: Int64?
    /// Where it came from, for messages: `path:line`.
    public var origin: String

    public init(plate: String, list: String, reason: String, expires: Int64? = nil, origin: String = "") {
        self.plate = plate
        self.list = list
        self.reason = reason
        self.expires = expires
        self.origin = origin
    }
}

/// A line of a hotlist file that was skipped, and why. The rest of the file still loads.
public struct HotlistProblem: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// 1-based; nil for a problem with the whole file (unreadable, too large, not UTF-8).
    public var line: Int?
    public var message: String

    public var description: String { "\(file):\(line.map(String.init) ?? "-"): \(message)" }
}

/// Reads hotlist files: CSV with the columns `plate, list, reason, expires` (reason and expires
/// optional), one entry per line.
///
/// A header line (first column `plate`), blank lines and lines starting with `#` are skipped.
/// Fields may be double-quoted (`"a, b"`, with `""` for a quote). `expires` is a date (the entry
/// matches through that day, UTC) or an ISO 8601 time. A malformed line is reported with its
/// number and skipped; everything else loads. Every size is bounded before it is used: the file
/// (64 MiB), a line (4 KiB), the entries of one file (2 million), a plate (12 characters after
/// normalising), a list name (64), a reason (200).
public enum HotlistFile {
    public static let maxFileBytes = 64 << 20
    public static let maxLineBytes = 4096
    public static let maxEntries = 2_000_000
    public static let maxPlateLength = 12
    public static let maxListLength = 64
    public static let maxReasonLength = 200

    /// The entries of the file at `path` and the lines skipped; a file that cannot be read at all
    /// gives no entries and one problem.
    public static func load(path: String) -> (entries: [HotlistEntry], problems: [HotlistProblem]) {
        let bytes: [UInt8]
        do {
            bytes = try BoundedFile.read(path, limit: maxFileBytes)
        } catch {
            let message = switch error.reason {
            case .tooLarge: "larger than \(maxFileBytes >> 20) MiB; not loaded"
            case .notRegularFile: "not a regular file; not loaded"
            case let .system(call, code): "cannot read (\(call): \(String(cString: strerror(code))), errno \(code)); not loaded"
            }
            return ([], [HotlistProblem(file: path, line: nil, message: message)])
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return ([], [HotlistProblem(file: path, line: nil, message: "not UTF-8 text; not loaded")])
        }
        return parse(text, file: path)
    }

    /// Parses hotlist text (see the type's documentation).
    public static func parse(_ text: String, file: String = "<hotlist>") -> (entries: [HotlistEntry], problems: [HotlistProblem]) {
        var entries: [HotlistEntry] = []
        var problems: [HotlistProblem] = []
        var number = 0
        var sawContent = false
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            if number == 1, line.hasPrefix("\u{FEFF}") { line = line.dropFirst() }
            func skip(_ message: String) { problems.append(HotlistProblem(file: file, line: number, message: message)) }
            if line.utf8.count > maxLineBytes {
                skip("longer than \(maxLineBytes) bytes; skipped")
                continue
            }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard let fields = splitCSV(line) else {
                skip("unterminated quoted field; skipped")
                continue
            }
            let first = !sawContent
            sawContent = true
            if first, fields.first?.trimmingCharacters(in: .whitespaces).lowercased() == "plate" { continue }
            guard fields.count >= 2, fields.count <= 4 else {
                skip("has \(fields.count) field\(fields.count == 1 ? "" : "s"); a line is plate,list[,reason[,expires]]; skipped")
                continue
            }
            guard entries.count < maxEntries else {
                skip("more than \(maxEntries) entries in one file; this line and the rest are skipped")
                break
            }
            let rawPlate = fields[0].trimmingCharacters(in: .whitespaces)
            guard let plate = normalise(rawPlate) else {
                skip("plate \"\(rawPlate.prefix(20))\" must be 1 to \(maxPlateLength) letters A-Z or digits (spaces and dashes are ignored); skipped")
                continue
            }
            let list = fields[1].trimmingCharacters(in: .whitespaces)
            guard !list.isEmpty, list.utf8.count <= maxListLength,
                  list.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)) })
            else {
                skip("list name \"\(list.prefix(70))\" must be 1 to \(maxListLength) letters, digits, '-', '_' or '.'; skipped")
                continue
            }
            let reason = fields.count > 2 ? fields[2].trimmingCharacters(in: .whitespaces) : ""
            guard reason.count <= maxReasonLength, !reason.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                skip("reason is longer than \(maxReasonLength) characters or has control characters; skipped")
                continue
            }
            var expires: Int64?
            if fields.count > 3 {
                let text = fields[3].trimmingCharacters(in: .whitespaces)
                if !text.isEmpty {
                    guard let ns = expiry(text) else {
                        skip("expires \"\(text.prefix(40))\" must be a date (2027-01-31) or an ISO 8601 time (2027-01-31T12:00:00Z); skipped")
                        continue
                    }
                    expires = ns
                }
            }
            entries.append(HotlistEntry(plate: plate, list: list, reason: reason, expires: expires, origin: "\(file):\(number)"))
        }
        return (entries, problems)
    }

    /// Upper case, letters and digits only; nil unless 1…12 ASCII letters or digits remain after
    /// removing spaces, dashes and dots.
    public static func normalise(_ text: String) -> String? {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "a"..."z": out.unicodeScalars.append(Unicode.Scalar(scalar.value - 32)!)
            case "A"..."Z", "0"..."9": out.unicodeScalars.append(scalar)
            case " ", "-", ".", "\u{B7}": continue
            default: return nil
            }
            if out.utf8.count > maxPlateLength { return nil }
        }
        return out.isEmpty ? nil : out
    }

    /// The fields of one CSV line (RFC 4180 quoting, no line breaks inside fields); nil when a
    /// quoted field is not closed.
    static func splitCSV(_ line: Substring) -> [String]? {
        var fields: [String] = []
        var field = ""
        var quoted = false, wasQuoted = false
        var chars = line.makeIterator()
        var pending: Character?
        while let c = pending ?? chars.next() {
            pending = nil
            if quoted {
                if c == "\"" {
                    let next = chars.next()
                    if next == "\"" { field.append("\"") } else { quoted = false; pending = next }
                } else {
                    field.append(c)
                }
            } else if c == "\"", field.trimmingCharacters(in: .whitespaces).isEmpty, !wasQuoted {
                quoted = true
                wasQuoted = true
                field = ""
            } else if c == "," {
                fields.append(field)
                field = ""
                wasQuoted = false
            } else {
                field.append(c)
            }
        }
        if quoted { return nil }
        fields.append(field)
        return fields
    }

    /// A date means "through that day, UTC": the entry expires at the next midnight.
    static func expiry(_ text: String) -> Int64? {
        let parts = text.split(separator: "-")
        if text.utf8.count == 10, parts.count == 3, let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]),
           (1970...9999).contains(y), (1...12).contains(m), (1...31).contains(d)
        {
            var components = DateComponents()
            (components.year, components.month, components.day) = (y, m, d)
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            guard let day = calendar.date(from: components), calendar.component(.day, from: day) == d else { return nil }
            return Int64(day.timeIntervalSince1970 + 86_400) * 1_000_000_000
        }
        guard text.utf8.count <= 40, let date = ISO8601DateFormatter().date(from: text),
              (0...253_402_300_799).contains(date.timeIntervalSince1970)
        else { return nil }
        return Int64(date.timeIntervalSince1970) * 1_000_000_000
    }
}
