/// Line numbers of keys and table headers in a TOML text, by dotted path.
///
/// Array-of-tables get indices (`cameras[1].id`), and `[cameras.controls]` after the second
/// `[[cameras]]` maps to `cameras[1].controls`. Multi-line strings and arrays are skipped over.
/// Only used to point error messages at a line; the parser proper is TOMLKit.
struct SourceMap {
    private var lines: [String: Int] = [:]

    init(_ text: String) {
        var arrayCounts: [String: Int] = [:]
        var current = ""
        var inMultiline: String?  // the closing delimiter we are waiting for
        var bracketDepth = 0
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = raw.trimmingCharacters(in: .whitespaces)
            if let closing = inMultiline {
                if line.contains(closing) { inMultiline = nil }
                continue
            }
            if bracketDepth > 0 {
                bracketDepth += line.filter { $0 == "[" }.count - line.filter { $0 == "]" }.count
                continue
            }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("[[") , let end = line.range(of: "]]") {
                let name = Self.normalise(String(line[line.index(line.startIndex, offsetBy: 2)..<end.lowerBound]))
                let n = arrayCounts[name, default: 0]
                arrayCounts[name] = n + 1
                current = "\(Self.resolve(name, arrayCounts, excludingLast: true))[\(n)]"
                record(current, number)
                continue
            }
            if line.hasPrefix("["), let end = line.firstIndex(of: "]") {
                let name = Self.normalise(String(line[line.index(after: line.startIndex)..<end]))
                current = Self.resolve(name, arrayCounts, excludingLast: false)
                record(current, number)
                continue
            }
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = Self.normalise(String(line[..<eq]))
            let path = current.isEmpty ? key : "\(current).\(key)"
            record(path, number)
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            for delimiter in ["\"\"\"", "'''"] where value.hasPrefix(delimiter) {
                if !value.dropFirst(3).contains(delimiter) { inMultiline = delimiter }
            }
            if value.hasPrefix("[") {
                bracketDepth = value.filter { $0 == "[" }.count - value.filter { $0 == "]" }.count
            }
        }
    }

    private mutating func record(_ path: String, _ line: Int) {
        if lines[path] == nil { lines[path] = line }
    }

    /// The line of `path`, or of the closest enclosing table that appears in the text.
    func line(of path: String) -> Int? {
        var p = path
        while true {
            if let n = lines[p] { return n }
            if let dot = p.lastIndex(of: ".") {
                p = String(p[..<dot])
            } else if let bracket = p.lastIndex(of: "[") {
                p = String(p[..<bracket])
            } else {
                return nil
            }
        }
    }

    private static func normalise(_ key: String) -> String {
        key.split(separator: ".").map {
            $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
        }.joined(separator: ".")
    }

    /// Rewrites `a.b` as `a[i].b` when `a` is an array of tables seen so far (its last element).
    private static func resolve(_ name: String, _ counts: [String: Int], excludingLast: Bool) -> String {
        let parts = name.split(separator: ".").map(String.init)
        var out: [String] = []
        var plain: [String] = []
        for (i, part) in parts.enumerated() {
            plain.append(part)
            let key = plain.joined(separator: ".")
            let isLast = i == parts.count - 1
            if let n = counts[key], !(excludingLast && isLast) {
                out.append("\(part)[\(n - 1)]")
            } else {
                out.append(part)
            }
        }
        return out.joined(separator: ".")
    }
}

import Foundation
