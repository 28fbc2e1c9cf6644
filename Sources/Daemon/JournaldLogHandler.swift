public import Logging
import Foundation
import PlateKeeperCore

#if canImport(Glibc)
import Glibc
#endif

/// swift-log output for the daemon. Under systemd (stderr is the journal's stream, as
/// `$JOURNAL_STREAM` says) each log event is one native journald record sent to the journal's
/// socket: `MESSAGE`, `PRIORITY`, `SYSLOG_IDENTIFIER`, `CODE_*` and every metadata key as a
/// field of its own (`camera.id` → `CAMERA_ID`, so `journalctl CAMERA_ID=lane-1` works),
/// whatever newlines the message holds. Elsewhere, one plain stderr line per event, newlines
/// escaped, with a timestamp (a terminal) or a `<N>` priority prefix (another supervisor).
public struct JournaldLogHandler: LogHandler {
    /// Where records go, chosen once per process.
    public enum Output: Sendable {
        case journal(JournaldSocket)
        case stderr(timestamps: Bool)
    }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String
    let output: Output

    public init(label: String, level: Logger.Level, output: Output) {
        self.label = label
        self.logLevel = level
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// The output for this process: the journal's socket when stderr is connected to the journal
    /// (`$JOURNAL_STREAM` names stderr's device and inode, as systemd sets it) and the socket
    /// opens; stderr lines otherwise. `$PLATEKEEPER_JOURNAL_SOCKET` names another socket (tests,
    /// containers with the journal's socket mounted elsewhere).
    public static func output(timestamps: Bool, environment: [String: String]? = nil) -> Output {
        let environment = environment ?? ProcessInfo.processInfo.environment
        if !timestamps, stderrIsJournal(environment["JOURNAL_STREAM"]),
            let socket = JournaldSocket(path: environment["PLATEKEEPER_JOURNAL_SOCKET"] ?? JournaldSocket.defaultPath)
        {
            return .journal(socket)
        }
        return .stderr(timestamps: timestamps)
    }

    /// `$JOURNAL_STREAM` is `device:inode` of the stream systemd connected; it is the journal
    /// only while stderr is still that stream (a child whose stderr was redirected inherits it).
    static func stderrIsJournal(_ value: String?) -> Bool {
        guard let value else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(2, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }

    public func log(event: LogEvent) {
        let merged = self.metadata.merging(event.metadata ?? [:]) { $1 }
        switch output {
        case .journal(let socket):
            let record = Self.record(
                message: "\(event.message)", level: event.level, label: label, metadata: merged,
                file: event.file, function: event.function, line: event.line)
            if socket.send(record) { return }
            // The journal went away (stopped, restarting): keep the event on stderr.
            Self.writeStderr(Self.line(message: "\(event.message)", level: event.level, metadata: merged, timestamps: false))
        case .stderr(let timestamps):
            Self.writeStderr(Self.line(message: "\(event.message)", level: event.level, metadata: merged, timestamps: timestamps))
        }
    }

    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    // MARK: - Native records

    /// Fields this handler sets itself; a metadata key that maps onto one gets a `META_` prefix.
    static let ownFields: Set<String> = [
        "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "LOGGER", "MESSAGE_ID",
        "SYSLOG_FACILITY", "SYSLOG_PID", "SYSLOG_TIMESTAMP", "ERRNO",
    ]
    /// A field value is cut to this many bytes, so that a record fits one datagram.
    static let maxValueBytes = 16 * 1024

    /// One record in journald's native format: `KEY=value\n`, or for a value holding a newline,
    /// `KEY\n`, its length as 64-bit little endian, the value and `\n`.
    static func record(
        message: String, level: Logger.Level, label: String, metadata: Logger.Metadata,
        file: String, function: String, line: UInt
    ) -> [UInt8] {
        var fields: [(String, String)] = [
            ("MESSAGE", Printable.escaped(message, keepingNewlines: true)),
            ("PRIORITY", "\(priority(level))"),
            ("SYSLOG_IDENTIFIER", "platekeeper"),
            ("LOGGER", label),
            ("CODE_FILE", file),
            ("CODE_LINE", "\(line)"),
            ("CODE_FUNC", function),
        ]
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            guard var name = fieldName(key) else { continue }
            if ownFields.contains(name) { name = "META_" + name }
            // A value from outside (a camera name) cannot drive the terminal journalctl prints to.
            fields.append((name, Printable.escaped("\(value)", keepingNewlines: true)))
        }
        var bytes: [UInt8] = []
        for (name, value) in fields {
            var data = Array(value.utf8)
            if data.count > maxValueBytes { data = Array(data.prefix(maxValueBytes)) + Array(" …(cut)".utf8) }
            bytes += Array(name.utf8)
            if data.contains(UInt8(ascii: "\n")) {
                bytes.append(UInt8(ascii: "\n"))
                withUnsafeBytes(of: UInt64(data.count).littleEndian) { bytes += $0 }
                bytes += data
            } else {
                bytes.append(UInt8(ascii: "="))
                bytes += data
            }
            bytes.append(UInt8(ascii: "\n"))
        }
        return bytes
    }

    /// A journal field name for a metadata key: upper case letters, digits and `_`, not starting
    /// with `_` (those are the journal's trusted fields) or a digit, at most 64 characters.
    static func fieldName(_ key: String) -> String? {
        var name = String(key.uppercased().unicodeScalars.map { scalar -> Character in
            let c = Character(scalar)
            return (c.isASCII && (c.isLetter || c.isNumber)) ? c : "_"
        })
        while name.first == "_" { name.removeFirst() }
        if let first = name.first, first.isNumber { name = "F_" + name }
        guard !name.isEmpty else { return nil }
        return String(name.prefix(64))
    }

    // MARK: - Stderr lines

    /// One stderr line: the message and `key=value` fields, newlines and quotes escaped so that
    /// one event stays one line.
    static func line(message: String, level: Logger.Level, metadata: Logger.Metadata, timestamps: Bool) -> String {
        let fields = metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\(quote("\($0.value)"))" }.joined(separator: " ")
        var line = timestamps ? "\(Date().ISO8601Format()) \(level) " : "<\(priority(level))>"
        line += escapeNewlines(message)
        if !fields.isEmpty { line += " " + fields }
        return line + "\n"
    }

    /// Newlines and every other control character (an ESC in a camera name) as escapes.
    private static func escapeNewlines(_ s: String) -> String {
        Printable.escaped(s.replacingOccurrences(of: "\r\n", with: "\n"))
    }

    private static func quote(_ s: String) -> String {
        let escaped = escapeNewlines(s)
        return escaped.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) || escaped.isEmpty
            ? "\"" + escaped.replacingOccurrences(of: "\"", with: "\\\"") + "\"" : escaped
    }

    private static func writeStderr(_ line: String) {
        FileHandle.standardError.write(Data(line.utf8))
    }
}

/// The datagram socket to journald (`/run/systemd/journal/socket`): one per process, closed in
/// `deinit`.
public final class JournaldSocket: Sendable {
    public static let defaultPath = "/run/systemd/journal/socket"
    private let fd: Int32
    private let address: UnixDatagramAddress

    /// Nil when the path is too long or no datagram socket can be made.
    public init?(path: String) {
        guard let address = UnixDatagramAddress(path: path), let fd = UnixDatagramAddress.socket() else { return nil }
        self.fd = fd
        self.address = address
    }

    deinit { Glibc.close(fd) }

    /// Sends one record; false when the journal did not take it.
    public func send(_ record: [UInt8]) -> Bool { address.send(record, from: fd) }
}
