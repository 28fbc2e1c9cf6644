public import Logging
import Foundation

/// swift-log output for journald: one line per record on stderr, with a `<N>` syslog priority
/// prefix (systemd turns it into the record's priority) and metadata as `key=value` fields.
public struct JournaldLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String
    /// Print a timestamp too (for a terminal; journald has its own).
    let timestamps: Bool

    public init(label: String, level: Logger.Level, timestamps: Bool) {
        self.label = label
        self.logLevel = level
        self.timestamps = timestamps
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let level = event.level, message = event.message, metadata = event.metadata
        let priority: Int
        switch level {
        case .trace, .debug: priority = 7
        case .info: priority = 6
        case .notice: priority = 5
        case .warning: priority = 4
        case .error: priority = 3
        case .critical: priority = 2
        }
        let merged = self.metadata.merging(metadata ?? [:]) { $1 }
        let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.quote("\($0.value)"))" }.joined(separator: " ")
        var line = timestamps ? "\(Date().ISO8601Format()) \(level) " : "<\(priority)>"
        line += "\(message)"
        if !fields.isEmpty { line += " " + fields }
        line += "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    private static func quote(_ s: String) -> String {
        s.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) || s.isEmpty
            ? "\"" + s.replacingOccurrences(of: "\"", with: "\\\"") + "\"" : s
    }
}
