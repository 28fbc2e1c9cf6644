/// Text from outside (file names, camera names, receiver lines) made safe to print on one line of
/// a terminal or a log: control characters cannot forge a line or drive the terminal.
public enum Printable {
    /// `text` with C0 and C1 control characters and DEL written as escapes (`\n`, `\r`, `\t`,
    /// `\u{1B}`…); everything else, including non-ASCII letters, is kept. With `keepingNewlines`,
    /// line feeds stay (for journald's native fields, which hold several lines safely).
    public static func escaped(_ text: String, keepingNewlines: Bool = false) -> String {
        let isControl = { (s: Unicode.Scalar) in Self.isControl(s) && !(keepingNewlines && s == "\n") }
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            guard isControl(scalar) else {
                out.unicodeScalars.append(scalar)
                continue
            }
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            }
        }
        return out
    }

    static func isControl(_ s: Unicode.Scalar) -> Bool { s.value < 0x20 || (0x7F...0x9F).contains(s.value) }
}
