/// A TOML 1.0 parser that returns errors instead of aborting, and keeps the line of every key.
///
/// Why our own parser rather than TOMLKit: TOMLKit wraps toml++, whose assertions abort the process
/// on some malformed input (`[#x]` appended to a config killed `config check`, `run`, and a running
/// daemon on SIGHUP). The config file is input from outside, so its parser must fail with an error
/// for any bytes at all; it is also fuzzed (Fuzz/). No other TOML package is available to this
/// project, and the format is small enough to parse completely here. Keeping each key's line in
/// the tree also gives every config error its line, whatever the file's line endings.
///
/// Covered: comments, LF and CRLF line endings, bare, quoted and dotted keys, `[tables]` and
/// `[[arrays of tables]]` with TOML's rules on redefinition, basic and literal strings (single-
/// and multi-line, all escapes), integers (decimal, hex, octal, binary, underscores; out-of-range
/// values are errors), floats (with `inf` and `nan`), booleans, dates and times (kept as text),
/// arrays and inline tables. Nesting and dotted keys are bounded (`maxDepth`) so hostile input cannot
/// exhaust the stack or the loader's memory.
struct TOMLParser {
    /// A syntax or structure error at a line.
    struct Failure: Error, Equatable {
        var line: Int
        var message: String
    }

    static let maxDepth = 32

    private let b: [UInt8]
    private var i = 0
    private var line = 1
    private var depth = 0

    /// Parses a whole document into its root table.
    static func parse(_ text: String) throws(Failure) -> TOMLTable {
        var parser = TOMLParser(bytes: Array(text.utf8))
        return try parser.document()
    }

    private init(bytes: [UInt8]) {
        b = bytes
    }

    // MARK: Document structure

    private mutating func document() throws(Failure) -> TOMLTable {
        let root = TOMLTable(line: 1, kind: .explicit)
        var current = root
        while true {
            skipWhitespace()
            guard let c = peek() else { break }
            switch c {
            case UInt8(ascii: "#"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                try endOfLine()
            case UInt8(ascii: "["):
                current = try header(root)
                try endOfLine()
            default:
                try keyValue(into: current)
                try endOfLine()
            }
        }
        return root
    }

    /// `[a.b]` or `[[a.b]]`: returns the table that the following key/value lines go into.
    private mutating func header(_ root: TOMLTable) throws(Failure) -> TOMLTable {
        let headerLine = line
        i += 1
        let isArray = peek() == UInt8(ascii: "[")
        if isArray { i += 1 }
        skipWhitespace()
        let keys = try dottedKey()
        skipWhitespace()
        guard expect("]"), !isArray || expect("]") else {
            throw fail(isArray ? "a [[table]] header must end with ]]" : "a [table] header must end with ]")
        }
        var table = root
        for key in keys.dropLast() {
            table = try descend(table, key, headerLine)
        }
        let last = keys[keys.count - 1]
        if isArray {
            let element = TOMLTable(line: headerLine, kind: .explicit)
            if let existing = table.entries[last] {
                guard case .array(let items, isTableArray: true) = existing.value else {
                    throw Failure(line: headerLine, message: "[[\(keys.joined(separator: "."))]] redefines '\(last)', which is not an array of tables")
                }
                table.set(last, TOMLNode(.array(items + [TOMLNode(.table(element), line: headerLine)], isTableArray: true), line: existing.line))
            } else {
                table.set(last, TOMLNode(.array([TOMLNode(.table(element), line: headerLine)], isTableArray: true), line: headerLine))
            }
            return element
        }
        if let existing = table.entries[last] {
            guard case let .table(t) = existing.value else {
                throw Failure(line: headerLine, message: "[\(keys.joined(separator: "."))] redefines '\(last)', which is already a value")
            }
            guard t.kind == .implicit else {
                throw Failure(line: headerLine, message: "table [\(keys.joined(separator: "."))] is defined more than once")
            }
            t.kind = .explicit
            t.line = headerLine
            return t
        }
        let t = TOMLTable(line: headerLine, kind: .explicit)
        table.set(last, TOMLNode(.table(t), line: headerLine))
        return t
    }

    /// The table under `key` in `table` for a header path: made (implicitly) if missing, the last
    /// element if it is an array of tables.
    private func descend(_ table: TOMLTable, _ key: String, _ at: Int) throws(Failure) -> TOMLTable {
        guard let node = table.entries[key] else {
            let t = TOMLTable(line: at, kind: .implicit)
            table.set(key, TOMLNode(.table(t), line: at))
            return t
        }
        switch node.value {
        case let .table(t) where t.kind != .inline:
            return t
        case .array(let items, isTableArray: true):
            if let lastItem = items.last, case let .table(t) = lastItem.value { return t }
            throw Failure(line: at, message: "'\(key)' is an empty array of tables")
        default:
            throw Failure(line: at, message: "'\(key)' is already a value and cannot hold a table")
        }
    }

    /// `a.b.c = value` into `table`; dotted keys make (dotted-defined) tables on the way.
    private mutating func keyValue(into table: TOMLTable) throws(Failure) {
        let keyLine = line
        let keys = try dottedKey()
        skipWhitespace()
        guard expect("=") else { throw fail("expected '=' after the key '\(keys.joined(separator: "."))'") }
        skipWhitespace()
        let value = try self.value()
        var target = table
        for key in keys.dropLast() {
            if let node = target.entries[key] {
                // Only tables made by dotted keys take more dotted keys; not header or inline tables.
                guard case let .table(t) = node.value, t.kind == .dotted else {
                    throw Failure(line: keyLine, message: "'\(key)' is already defined and cannot be extended with dotted keys")
                }
                target = t
            } else {
                let t = TOMLTable(line: keyLine, kind: .dotted)
                target.set(key, TOMLNode(.table(t), line: keyLine))
                target = t
            }
        }
        let last = keys[keys.count - 1]
        guard target.entries[last] == nil else {
            throw Failure(line: keyLine, message: "key '\(keys.joined(separator: "."))' is defined more than once")
        }
        target.set(last, TOMLNode(value, line: keyLine))
    }

    private mutating func dottedKey() throws(Failure) -> [String] {
        var keys = [try simpleKey()]
        while true {
            let save = i
            skipWhitespace()
            guard peek() == UInt8(ascii: ".") else {
                i = save
                return keys
            }
            i += 1
            skipWhitespace()
            // Each segment is a level of the tree, which the loader walks: bounded like nesting.
            guard keys.count < Self.maxDepth else { throw fail("a dotted key has more than \(Self.maxDepth) parts") }
            keys.append(try simpleKey())
        }
    }

    private mutating func simpleKey() throws(Failure) -> String {
        guard let c = peek() else { throw fail("expected a key") }
        if c == UInt8(ascii: "\"") { return try basicString() }
        if c == UInt8(ascii: "'") { return try literalString() }
        let start = i
        while let c = peek(), Self.isBareKey(c) { i += 1 }
        guard i > start else { throw fail("expected a key, found \(describe(c))") }
        return String(decoding: b[start..<i], as: UTF8.self)
    }

    private static func isBareKey(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x5F || c == 0x2D
    }

    // MARK: Values

    private mutating func value() throws(Failure) -> TOMLValue {
        guard let c = peek() else { throw fail("expected a value at the end of the file") }
        switch c {
        case UInt8(ascii: "\""):
            return .string(try startsWith("\"\"\"") ? multilineBasicString() : basicString())
        case UInt8(ascii: "'"):
            return .string(try startsWith("'''") ? multilineLiteralString() : literalString())
        case UInt8(ascii: "["):
            return try array()
        case UInt8(ascii: "{"):
            return try inlineTable()
        case UInt8(ascii: "t"):
            guard startsWith("true") else { throw fail("expected a value, found \(describe(c))") }
            i += 4
            return .bool(true)
        case UInt8(ascii: "f"):
            guard startsWith("false") else { throw fail("expected a value, found \(describe(c))") }
            i += 5
            return .bool(false)
        default:
            return try scalar()
        }
    }

    private mutating func nested<T>(_ body: (inout TOMLParser) throws(Failure) -> T) throws(Failure) -> T {
        guard depth < Self.maxDepth else { throw fail("arrays and inline tables nest deeper than \(Self.maxDepth) levels") }
        depth += 1
        defer { depth -= 1 }
        return try body(&self)
    }

    private mutating func array() throws(Failure) -> TOMLValue {
        try nested { (p: inout TOMLParser) throws(Failure) -> TOMLValue in
            p.i += 1
            var items: [TOMLNode] = []
            while true {
                try p.skipBlankAndComments()
                guard let c = p.peek() else { throw p.fail("an array is not closed with ]") }
                if c == UInt8(ascii: "]") {
                    p.i += 1
                    return .array(items, isTableArray: false)
                }
                let at = p.line
                items.append(TOMLNode(try p.value(), line: at))
                try p.skipBlankAndComments()
                if p.peek() == UInt8(ascii: ",") {
                    p.i += 1
                } else if p.peek() != UInt8(ascii: "]") {
                    throw p.fail("expected ',' or ']' in an array")
                }
            }
        }
    }

    private mutating func inlineTable() throws(Failure) -> TOMLValue {
        try nested { (p: inout TOMLParser) throws(Failure) -> TOMLValue in
            p.i += 1
            let table = TOMLTable(line: p.line, kind: .explicit)
            p.skipWhitespace()
            if p.peek() == UInt8(ascii: "}") {
                p.i += 1
                table.kind = .inline
                return .table(table)
            }
            while true {
                p.skipWhitespace()
                try p.keyValue(into: table)
                p.skipWhitespace()
                guard let c = p.peek() else { throw p.fail("an inline table is not closed with }") }
                if c == UInt8(ascii: "}") {
                    p.i += 1
                    table.freeze()
                    return .table(table)
                }
                guard c == UInt8(ascii: ",") else { throw p.fail("expected ',' or '}' in an inline table (it must fit on one line)") }
                p.i += 1
            }
        }
    }

    /// Numbers, dates and times, and the special floats: the run of characters up to a delimiter.
    private mutating func scalar() throws(Failure) -> TOMLValue {
        let start = i
        while let c = peek() {
            if c == UInt8(ascii: " "), isDateTimeSpace(start) {
                i += 1
                continue
            }
            if c == UInt8(ascii: ",") || c == UInt8(ascii: "]") || c == UInt8(ascii: "}") || c == UInt8(ascii: "#")
                || c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") {
                break
            }
            i += 1
        }
        let text = String(decoding: b[start..<i], as: UTF8.self)
        guard !text.isEmpty else { throw fail("expected a value, found \(peek().map(describe) ?? "the end of the file")") }
        if let v = Self.integer(text) { return .integer(v) }
        if let v = Self.float(text) { return .float(v) }
        if Self.isDateTime(text) { return .dateTime(text) }
        if Self.looksNumeric(text) { throw fail("'\(text)' is not a valid number (or it is out of range)") }
        throw fail("'\(text)' is not a value (strings need quotes)")
    }

    /// A space between a date and a time (`1979-05-27 07:32:00`) belongs to the value.
    private func isDateTimeSpace(_ start: Int) -> Bool {
        i - start == 10 && i + 1 < b.count && Self.isDigit(b[i + 1]) && Self.isDate(String(decoding: b[start..<i], as: UTF8.self))
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    private static func looksNumeric(_ s: String) -> Bool {
        guard let first = s.utf8.first else { return false }
        return isDigit(first) || first == UInt8(ascii: "+") || first == UInt8(ascii: "-") || first == UInt8(ascii: ".")
    }

    static func integer(_ s: String) -> Int? {
        var u = Array(s.utf8)
        var radix = 10
        var negative = false
        if u.count > 2, u[0] == UInt8(ascii: "0"), let r = [UInt8(ascii: "x"): 16, UInt8(ascii: "o"): 8, UInt8(ascii: "b"): 2][u[1]] {
            radix = r
            u.removeFirst(2)
        } else {
            if let sign = u.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                negative = sign == UInt8(ascii: "-")
                u.removeFirst()
            }
            // No leading zeros in decimal.
            if u.count > 1, u[0] == UInt8(ascii: "0") { return nil }
        }
        guard let digits = underscoresRemoved(u) else { return nil }
        var value = 0
        for c in digits {
            let d: Int
            switch c {
            case 0x30...0x39: d = Int(c - 0x30)
            case 0x61...0x66: d = Int(c - 0x61 + 10)
            case 0x41...0x46: d = Int(c - 0x41 + 10)
            default: return nil
            }
            guard d < radix else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: radix)
            let (a, o2) = negative ? m.subtractingReportingOverflow(d) : m.addingReportingOverflow(d)
            if o1 || o2 { return nil }
            value = a
        }
        return value
    }

    /// The digits with single underscores between digits removed; nil if an underscore is misplaced.
    private static func underscoresRemoved(_ u: [UInt8]) -> [UInt8]? {
        guard let first = u.first, let last = u.last, first != UInt8(ascii: "_"), last != UInt8(ascii: "_") else { return nil }
        var out: [UInt8] = []
        var previousUnderscore = false
        for c in u {
            if c == UInt8(ascii: "_") {
                if previousUnderscore { return nil }
                previousUnderscore = true
                continue
            }
            previousUnderscore = false
            out.append(c)
        }
        return out
    }

    static func float(_ s: String) -> Double? {
        var u = Array(s.utf8)
        var sign = 1.0
        if let c = u.first, c == UInt8(ascii: "+") || c == UInt8(ascii: "-") {
            sign = c == UInt8(ascii: "-") ? -1 : 1
            u.removeFirst()
        }
        if u == Array("inf".utf8) { return sign * .infinity }
        if u == Array("nan".utf8) { return .nan }
        // digits [. digits] [e [sign] digits], underscores only between digits, no leading zero.
        var j = 0
        func digits() -> Bool {
            let start = j
            while j < u.count, isDigit(u[j]) || (u[j] == UInt8(ascii: "_") && j > start && j + 1 < u.count && isDigit(u[j + 1]) && isDigit(u[j - 1])) { j += 1 }
            return j > start
        }
        let intStart = j
        guard digits() else { return nil }
        if j - intStart > 1, u[intStart] == UInt8(ascii: "0") { return nil }
        var hasFractionOrExponent = false
        if j < u.count, u[j] == UInt8(ascii: ".") {
            j += 1
            guard digits() else { return nil }
            hasFractionOrExponent = true
        }
        if j < u.count, u[j] == UInt8(ascii: "e") || u[j] == UInt8(ascii: "E") {
            j += 1
            if j < u.count, u[j] == UInt8(ascii: "+") || u[j] == UInt8(ascii: "-") { j += 1 }
            guard digits() else { return nil }
            hasFractionOrExponent = true
        }
        guard j == u.count, hasFractionOrExponent else { return nil }
        let cleaned = String(decoding: u.filter { $0 != UInt8(ascii: "_") }, as: UTF8.self)
        guard let v = Double(cleaned) else { return nil }
        return sign * v
    }

    private static func isDate(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard u.count == 10, u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-") else { return false }
        return [0, 1, 2, 3, 5, 6, 8, 9].allSatisfy { isDigit(u[$0]) }
    }

    private static func isTime(_ u: ArraySlice<UInt8>) -> Bool {
        let u = Array(u)
        guard u.count >= 8, u[2] == UInt8(ascii: ":"), u[5] == UInt8(ascii: ":"),
              [0, 1, 3, 4, 6, 7].allSatisfy({ isDigit(u[$0]) }) else { return false }
        var j = 8
        if j < u.count, u[j] == UInt8(ascii: ".") {
            j += 1
            let start = j
            while j < u.count, isDigit(u[j]) { j += 1 }
            guard j > start else { return false }
        }
        if j == u.count { return true }
        if u[j] == UInt8(ascii: "Z") || u[j] == UInt8(ascii: "z") { return j + 1 == u.count }
        guard u[j] == UInt8(ascii: "+") || u[j] == UInt8(ascii: "-"), u.count - j == 6, u[j + 3] == UInt8(ascii: ":") else { return false }
        return [1, 2, 4, 5].allSatisfy { isDigit(u[j + $0]) }
    }

    /// Offset or local date-times, local dates and local times, checked for shape only.
    static func isDateTime(_ s: String) -> Bool {
        let u = Array(s.utf8)
        if u.count >= 10, isDate(String(decoding: u[0..<10], as: UTF8.self)) {
            if u.count == 10 { return true }
            guard [UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: " ")].contains(u[10]) else { return false }
            return isTime(u[11...])
        }
        return isTime(u[...])
    }

    // MARK: Strings

    private mutating func basicString() throws(Failure) -> String {
        i += 1
        var out: [UInt8] = []
        while true {
            guard let c = peek() else { throw fail("a string is not closed with \"") }
            i += 1
            switch c {
            case UInt8(ascii: "\""):
                return try utf8(out)
            case UInt8(ascii: "\\"):
                try escape(into: &out)
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                throw fail("a \"string\" cannot span lines (use \"\"\" for that)")
            default:
                try checkAllowed(c, in: "string")
                out.append(c)
            }
        }
    }

    private mutating func multilineBasicString() throws(Failure) -> String {
        i += 3
        try skipFirstNewline()
        var out: [UInt8] = []
        while true {
            guard let c = peek() else { throw fail("a \"\"\"string\"\"\" is not closed") }
            if closesMultiline(UInt8(ascii: "\""), into: &out) { return try utf8(out) }
            i += 1
            if c == UInt8(ascii: "\\") {
                // A backslash at the end of a line trims the newline and the whitespace after it.
                var j = i
                while j < b.count, b[j] == UInt8(ascii: " ") || b[j] == UInt8(ascii: "\t") { j += 1 }
                if j < b.count, b[j] == UInt8(ascii: "\n") || b[j] == UInt8(ascii: "\r") {
                    i = j
                    while let w = peek(), w == UInt8(ascii: " ") || w == UInt8(ascii: "\t") || w == UInt8(ascii: "\n") || w == UInt8(ascii: "\r") {
                        if w == UInt8(ascii: "\r") { guard i + 1 < b.count, b[i + 1] == UInt8(ascii: "\n") else { throw fail("a bare carriage return") } }
                        if w == UInt8(ascii: "\n") { line += 1 }
                        i += 1
                    }
                    continue
                }
                try escape(into: &out)
            } else if c == UInt8(ascii: "\n") {
                line += 1
                out.append(c)
            } else if c == UInt8(ascii: "\r") {
                guard peek() == UInt8(ascii: "\n") else { throw fail("a bare carriage return") }
            } else {
                try checkAllowed(c, in: "string")
                out.append(c)
            }
        }
    }

    private mutating func literalString() throws(Failure) -> String {
        i += 1
        let start = i
        while true {
            guard let c = peek() else { throw fail("a 'string' is not closed with '") }
            if c == UInt8(ascii: "'") {
                defer { i += 1 }
                return try utf8(Array(b[start..<i]))
            }
            try checkAllowed(c, in: "string")
            i += 1
        }
    }

    private mutating func multilineLiteralString() throws(Failure) -> String {
        i += 3
        try skipFirstNewline()
        var out: [UInt8] = []
        while true {
            guard let c = peek() else { throw fail("a '''string''' is not closed") }
            if closesMultiline(UInt8(ascii: "'"), into: &out) { return try utf8(out) }
            i += 1
            if c == UInt8(ascii: "\n") {
                line += 1
            } else if c == UInt8(ascii: "\r") {
                guard peek() == UInt8(ascii: "\n") else { throw fail("a bare carriage return") }
                continue
            } else {
                try checkAllowed(c, in: "string")
            }
            out.append(c)
        }
    }

    /// At three `quote`s, consumes the closing delimiter (up to two more quotes before it belong
    /// to the string) and returns true.
    private mutating func closesMultiline(_ quote: UInt8, into out: inout [UInt8]) -> Bool {
        guard i + 3 <= b.count, b[i] == quote, b[i + 1] == quote, b[i + 2] == quote else { return false }
        var quotes = 3
        while quotes < 5, i + quotes < b.count, b[i + quotes] == quote { quotes += 1 }
        out += Array(repeating: quote, count: quotes - 3)
        i += quotes
        return true
    }

    /// Tab and printable characters only; other control characters are not allowed in strings and comments.
    private func checkAllowed(_ c: UInt8, in what: String) throws(Failure) {
        guard c >= 0x20 || c == 0x09, c != 0x7F else { throw fail("control character \(describe(c)) in a \(what)") }
    }

    private mutating func skipFirstNewline() throws(Failure) {
        if startsWith("\r\n") {
            i += 2
            line += 1
        } else if peek() == UInt8(ascii: "\n") {
            i += 1
            line += 1
        }
    }

    private mutating func escape(into out: inout [UInt8]) throws(Failure) {
        guard let e = peek() else { throw fail("a string ends in a backslash") }
        i += 1
        let simple: [UInt8: UInt8] = [
            UInt8(ascii: "b"): 0x08, UInt8(ascii: "t"): 0x09, UInt8(ascii: "n"): 0x0A, UInt8(ascii: "f"): 0x0C,
            UInt8(ascii: "r"): 0x0D, UInt8(ascii: "\""): 0x22, UInt8(ascii: "\\"): 0x5C,
        ]
        if let s = simple[e] {
            out.append(s)
            return
        }
        guard e == UInt8(ascii: "u") || e == UInt8(ascii: "U") else { throw fail("unknown escape \\\(describe(e)) in a string") }
        let n = e == UInt8(ascii: "u") ? 4 : 8
        guard i + n <= b.count, let code = UInt32(String(decoding: b[i..<(i + n)], as: UTF8.self), radix: 16),
              let scalar = Unicode.Scalar(code)
        else { throw fail("\\\(e == UInt8(ascii: "u") ? "u" : "U") needs \(n) hex digits of a Unicode scalar value") }
        i += n
        out += Array(String(Character(scalar)).utf8)
    }

    private func utf8(_ bytes: [UInt8]) throws(Failure) -> String {
        guard let s = String(validating: bytes, as: UTF8.self) else { throw fail("a string is not valid UTF-8") }
        return s
    }

    // MARK: Whitespace, comments, lines

    private func peek() -> UInt8? { i < b.count ? b[i] : nil }

    private func startsWith(_ s: String) -> Bool {
        let u = Array(s.utf8)
        return i + u.count <= b.count && b[i..<(i + u.count)].elementsEqual(u)
    }

    private mutating func expect(_ s: String) -> Bool {
        guard startsWith(s) else { return false }
        i += s.utf8.count
        return true
    }

    private mutating func skipWhitespace() {
        while let c = peek(), c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { i += 1 }
    }

    private mutating func comment() throws(Failure) {
        guard peek() == UInt8(ascii: "#") else { return }
        while let c = peek(), c != UInt8(ascii: "\n"), c != UInt8(ascii: "\r") {
            try checkAllowed(c, in: "comment")
            i += 1
        }
    }

    private mutating func newline() throws(Failure) -> Bool {
        if peek() == UInt8(ascii: "\n") {
            i += 1
        } else if peek() == UInt8(ascii: "\r") {
            guard startsWith("\r\n") else { throw fail("a bare carriage return (line endings must be LF or CRLF)") }
            i += 2
        } else {
            return false
        }
        line += 1
        return true
    }

    /// Whitespace, an optional comment, then a line end or the end of the file.
    private mutating func endOfLine() throws(Failure) {
        skipWhitespace()
        try comment()
        guard let c = peek() else { return }
        guard try newline() else { throw fail("unexpected \(describe(c)) after a value (one key = value per line)") }
    }

    /// Inside arrays: whitespace, newlines and comments.
    private mutating func skipBlankAndComments() throws(Failure) {
        while true {
            skipWhitespace()
            try comment()
            guard try newline() else { return }
        }
    }

    private func describe(_ c: UInt8) -> String {
        c >= 0x21 && c < 0x7F ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(String(c, radix: 16, uppercase: true))"
    }

    private func fail(_ message: String) -> Failure { Failure(line: line, message: message) }
}

/// A TOML value as parsed; every value knows the line it was defined on (see `TOMLNode`).
indirect enum TOMLValue {
    case string(String)
    case integer(Int)
    case float(Double)
    case bool(Bool)
    /// A date, time or date-time, as written (the config has none, but TOML allows them).
    case dateTime(String)
    /// `isTableArray`: made by `[[headers]]`, so later headers may append to it.
    case array([TOMLNode], isTableArray: Bool)
    case table(TOMLTable)
}

/// A value and the line it was defined on.
struct TOMLNode {
    var value: TOMLValue
    var line: Int

    init(_ value: TOMLValue, line: Int) {
        self.value = value
        self.line = line
    }

    var string: String? { if case let .string(s) = value { s } else { nil } }
    var int: Int? { if case let .integer(n) = value { n } else { nil } }
    var double: Double? { if case let .float(x) = value { x } else { nil } }
    var bool: Bool? { if case let .bool(x) = value { x } else { nil } }
    var array: [TOMLNode]? { if case let .array(a, _) = value { a } else { nil } }
    var table: TOMLTable? { if case let .table(t) = value { t } else { nil } }

    /// The TOML type's name, for error messages.
    var type: String {
        switch value {
        case .string: "a string"
        case .integer: "an integer"
        case .float: "a float"
        case .bool: "a boolean"
        case .dateTime: "a date-time"
        case .array: "an array"
        case .table: "a table"
        }
    }
}

/// A table, with its keys in the order they were written.
///
/// A class because the parser extends tables after it made them (later headers, dotted keys);
/// once parsing returns, nothing changes it.
final class TOMLTable {
    enum Kind {
        /// Made as the parent of a header (`[a.b]` makes `a`); a later `[a]` may still define it.
        case implicit
        /// Defined by a header, or the root.
        case explicit
        /// Made by a dotted key (`a.b = 1` makes `a`).
        case dotted
        /// An inline table `{ … }`: closed to later additions.
        case inline
    }

    private(set) var entries: [String: TOMLNode] = [:]
    private(set) var keys: [String] = []
    var line: Int
    var kind: Kind

    init(line: Int, kind: Kind) {
        self.line = line
        self.kind = kind
    }

    subscript(key: String) -> TOMLNode? { entries[key] }

    func set(_ key: String, _ node: TOMLNode) {
        if entries[key] == nil { keys.append(key) }
        entries[key] = node
    }

    /// Marks this inline table, and the dotted tables inside it, closed to later additions.
    func freeze() {
        kind = .inline
        for node in entries.values {
            if case let .table(t) = node.value, t.kind == .dotted { t.freeze() }
        }
    }
}
