import PlateKeeperCore
#if canImport(Glibc)
import Glibc
#endif

/// Writing to stderr, and a progress bar that shows only when stderr is a terminal.
enum Terminal {
    /// One line on stderr; names from outside in it (a frame's file name) cannot forge another.
    static func error(_ message: String) {
        write2("platekeeper: \(Printable.escaped(message))\n")
    }

    static func stderrLine(_ message: String) {
        write2(Printable.escaped(message) + "\n")
    }

    /// Unbuffered write to file descriptor 2.
    static func write2(_ text: String) {
        var text = text
        text.withUTF8 { buf in
            var off = 0
            while off < buf.count {
                let n = write(2, buf.baseAddress! + off, buf.count - off)
                if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
                off += n
            }
        }
    }

    static let stderrIsTTY = isatty(2) == 1

    /// Redraws a one-line bar on stderr: `[#####     ] 12/40 frames`.
    static func progress(_ done: Int, of total: Int, label: String) {
        guard stderrIsTTY, total > 0 else { return }
        let width = 30
        let filled = done * width / total
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        write2("\r[\(bar)] \(done)/\(total) \(label)\u{1B}[K")
        if done == total { write2("\r\u{1B}[K") }
    }
}
