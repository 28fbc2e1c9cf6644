import Foundation

/// Walks a JSON document's structure without building it: objects member by member, arrays
/// element by element, any value skipped or handed back as its byte range.
///
/// For documents from outside that may be large (a recording's manifest, an upload batch): the
/// caller decodes only the parts it wants, each on its own and bounded, and counts elements
/// before any is decoded, so a document's size or shape (one huge array of junk) never turns into
/// memory. Nesting is bounded (`maxDepth`) and walked without recursion; strings, numbers and
/// literals are checked for their shape here, and fully by the decoder of the parts kept.
public struct JSONScanner {
    /// Why the document is not the JSON expected, with the byte offset.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var offset: Int
        public var message: String
        public var description: String { "\(message) at byte \(offset)" }
    }

    public static let maxDepth = 64

    public let bytes: [UInt8]
    public private(set) var offset: Int

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        offset = 0
    }

    private func fail(_ message: String) -> Failure { Failure(offset: offset, message: message) }

    public mutating func skipWhitespace() {
        while offset < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[offset]) { offset += 1 }
    }

    /// The next byte after whitespace, not consumed.
    public mutating func peek() -> UInt8? {
        skipWhitespace()
        return offset < bytes.count ? bytes[offset] : nil
    }

    /// After the document: only whitespace may follow.
    public mutating func end() throws(Failure) {
        guard peek() == nil else { throw fail("unexpected content after the document") }
    }

    /// Skips one value of any kind and returns its byte range.
    @discardableResult
    public mutating func value() throws(Failure) -> Range<Int> {
        guard let first = peek() else { throw fail("unexpected end of the document") }
        let start = offset
        switch first {
        case UInt8(ascii: "\""):
            try skipString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            try skipContainer()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            while offset < bytes.count, "0123456789+-.eE".utf8.contains(bytes[offset]) { offset += 1 }
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            let word = [Array("true".utf8), Array("false".utf8), Array("null".utf8)].first { bytes[offset...].starts(with: $0) }
            guard let word else { throw fail("not a JSON value") }
            offset += word.count
        default:
            throw fail("not a JSON value")
        }
        return start..<offset
    }

    /// A string value (a key), decoded; at most `limit` bytes of it.
    public mutating func string(limit: Int = 256) throws(Failure) -> String {
        guard peek() == UInt8(ascii: "\"") else { throw fail("expected a string") }
        let start = offset
        try skipString()
        guard offset - start - 2 <= limit else { throw fail("a key longer than \(limit) bytes") }
        let raw = bytes[(start + 1)..<(offset - 1)]
        guard raw.contains(UInt8(ascii: "\\")) else { return String(decoding: raw, as: UTF8.self) }
        // Escapes are rare in keys: the standard decoder reads those few bytes.
        guard let key = try? JSONDecoder().decode(String.self, from: Data(bytes[start..<offset])) else { throw fail("a malformed string") }
        return key
    }

    /// Walks an object: `body` gets each key and must consume its value (with `value()` or
    /// another walk). Throws if the next value is not an object.
    public mutating func object(_ body: (String, inout JSONScanner) throws -> Void) throws {
        guard peek() == UInt8(ascii: "{") else { throw fail("expected an object") }
        offset += 1
        if peek() == UInt8(ascii: "}") {
            offset += 1
            return
        }
        while true {
            let key = try string()
            guard peek() == UInt8(ascii: ":") else { throw fail("expected ':'") }
            offset += 1
            try body(key, &self)
            switch peek() {
            case UInt8(ascii: ","): offset += 1
            case UInt8(ascii: "}"): offset += 1; return
            default: throw fail("expected ',' or '}'")
            }
        }
    }

    /// Walks an array: `body` gets each index and must consume the element.
    public mutating func array(_ body: (Int, inout JSONScanner) throws -> Void) throws {
        guard peek() == UInt8(ascii: "[") else { throw fail("expected an array") }
        offset += 1
        if peek() == UInt8(ascii: "]") {
            offset += 1
            return
        }
        var index = 0
        while true {
            try body(index, &self)
            index += 1
            switch peek() {
            case UInt8(ascii: ","): offset += 1
            case UInt8(ascii: "]"): offset += 1; return
            default: throw fail("expected ',' or ']'")
            }
        }
    }

    private mutating func skipString() throws(Failure) {
        offset += 1
        while offset < bytes.count {
            let c = bytes[offset]
            if c == UInt8(ascii: "\"") {
                offset += 1
                return
            }
            guard c >= 0x20 else { throw fail("a control character in a string") }
            offset += c == UInt8(ascii: "\\") ? 2 : 1
        }
        throw fail("an unterminated string")
    }

    /// Skips an array or object iteratively: brackets are counted, strings skipped whole.
    private mutating func skipContainer() throws(Failure) {
        var stack: [UInt8] = []
        repeat {
            guard offset < bytes.count else { throw fail("unexpected end of the document") }
            let c = bytes[offset]
            switch c {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                guard stack.count < Self.maxDepth else { throw fail("nested deeper than \(Self.maxDepth) levels") }
                stack.append(c == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]"))
                offset += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard stack.last == c else { throw fail("a bracket that does not match") }
                stack.removeLast()
                offset += 1
            case UInt8(ascii: "\""):
                try skipString()
            default:
                offset += 1
            }
        } while !stack.isEmpty
    }

    /// Checks that the bytes are exactly one JSON document (RFC 8259's grammar, nested at most
    /// `maxDepth` levels), strictly where `value()` only skips; no value is built.
    public static func validate(_ bytes: [UInt8]) throws(Failure) {
        var s = JSONScanner(bytes)
        try s.strictValue(depth: 0)
        try s.end()
    }

    private mutating func strictValue(depth: Int) throws(Failure) {
        guard let first = peek() else { throw fail("unexpected end of the document") }
        switch first {
        case UInt8(ascii: "\""):
            try strictString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard depth < Self.maxDepth else { throw fail("nested deeper than \(Self.maxDepth) levels") }
            let isObject = first == UInt8(ascii: "{")
            let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
            offset += 1
            if peek() == close {
                offset += 1
                return
            }
            while true {
                if isObject {
                    guard peek() == UInt8(ascii: "\"") else { throw fail("expected a member name") }
                    try strictString()
                    guard peek() == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    offset += 1
                }
                try strictValue(depth: depth + 1)
                switch peek() {
                case UInt8(ascii: ","): offset += 1
                case close: offset += 1; return
                default: throw fail(isObject ? "expected ',' or '}'" : "expected ',' or ']'")
                }
            }
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try strictNumber()
        default:
            try value()
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private mutating func strictNumber() throws(Failure) {
        func digit() -> Bool { offset < bytes.count && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[offset]) }
        func digits() throws(Failure) {
            guard digit() else { throw fail("a malformed number") }
            while digit() { offset += 1 }
        }
        func take(_ c: Character) -> Bool {
            guard offset < bytes.count, bytes[offset] == c.asciiValue! else { return false }
            offset += 1
            return true
        }
        _ = take("-")
        if !take("0") { try digits() }
        if take(".") { try digits() }
        if take("e") || take("E") {
            _ = take("+") || take("-")
            try digits()
        }
    }

    /// A string with only JSON's escapes and no raw control character.
    private mutating func strictString() throws(Failure) {
        offset += 1
        while offset < bytes.count {
            let c = bytes[offset]
            offset += 1
            switch c {
            case UInt8(ascii: "\""): return
            case UInt8(ascii: "\\"):
                guard offset < bytes.count else { break }
                let e = bytes[offset]
                offset += 1
                if e == UInt8(ascii: "u") {
                    guard offset + 4 <= bytes.count, bytes[offset..<offset + 4].allSatisfy({ $0.isHexDigit }) else {
                        throw fail("a malformed \\u escape")
                    }
                    offset += 4
                } else if !"\"\\/bfnrt".utf8.contains(e) {
                    throw fail("an unknown escape")
                }
            case ..<0x20: throw fail("a control character in a string")
            default: continue
            }
        }
        throw fail("an unterminated string")
    }
}

private extension UInt8 {
    var isHexDigit: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(self)
    }
}
