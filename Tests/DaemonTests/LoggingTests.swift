@testable import Daemon
import Foundation
import Logging
import PlateKeeperTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Logs in journald's own format under systemd, one line per event elsewhere.
@Suite("Logging", .serialized)
struct LoggingTests {
    /// Parses one native journald datagram into its fields (binary-safe values included).
    static func fields(_ datagram: [UInt8]) throws -> [String: String] {
        var fields: [String: String] = [:]
        var i = 0
        while i < datagram.count {
            guard let end = datagram[i...].firstIndex(where: { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "=") }) else {
                throw POSIXError(.EBADMSG)
            }
            let name = String(decoding: datagram[i..<end], as: UTF8.self)
            if datagram[end] == UInt8(ascii: "=") {
                let newline = try #require(datagram[(end + 1)...].firstIndex(of: UInt8(ascii: "\n")))
                fields[name] = String(decoding: datagram[(end + 1)..<newline], as: UTF8.self)
                i = newline + 1
            } else {
                let lengthStart = end + 1
                try #require(lengthStart + 8 <= datagram.count)
                var length: UInt64 = 0
                for k in 0..<8 { length |= UInt64(datagram[lengthStart + k]) << (8 * UInt64(k)) }
                let valueStart = lengthStart + 8, valueEnd = valueStart + Int(length)
                try #require(valueEnd < datagram.count && datagram[valueEnd] == UInt8(ascii: "\n"))
                fields[name] = String(decoding: datagram[valueStart..<valueEnd], as: UTF8.self)
                i = valueEnd + 1
            }
        }
        return fields
    }

    @Test("a record holds the message, priority, identifier and each metadata key as a field, newlines kept in one record")
    func nativeRecord() throws {
        let record = JournaldLogHandler.record(
            message: "two\nlines", level: .warning, label: "platekeeper",
            metadata: ["camera.id": "lane-1", "error": "a\nb", "message": "shadow", "_PID": "1", "9lives": "x"],
            file: "Daemon/X.swift", function: "f()", line: 42)
        let fields = try Self.fields(record)
        #expect(fields["MESSAGE"] == "two\nlines")
        #expect(fields["PRIORITY"] == "4")
        #expect(fields["SYSLOG_IDENTIFIER"] == "platekeeper")
        #expect(fields["CAMERA_ID"] == "lane-1")
        #expect(fields["ERROR"] == "a\nb")
        #expect(fields["META_MESSAGE"] == "shadow", "metadata cannot replace the message")
        #expect(fields["PID"] == "1", "no trusted (underscore) field can be forged")
        #expect(fields["F_9LIVES"] == "x")
        #expect(fields["CODE_LINE"] == "42")
    }

    @Test("a stderr line is one line whatever the newlines in message and metadata")
    func stderrLine() {
        let line = JournaldLogHandler.line(
            message: "new configuration rejected", level: .error,
            metadata: ["errors": "a.toml:3: x\na.toml:4: y"], timestamps: false)
        #expect(line == "<3>new configuration rejected errors=\"a.toml:3: x\\na.toml:4: y\"\n")
    }

    @Test("control characters from outside (ESC in a camera's name or a device's error) reach neither stderr nor journald raw")
    func controlCharactersEscaped() throws {
        let line = JournaldLogHandler.line(
            message: "camera \u{1B}[2J gone", level: .error, metadata: ["camera.id": "lane\u{1B}]0;pwned\u{07}", "error": "a\rb"], timestamps: false)
        #expect(!line.dropLast().contains { $0.isNewline || $0 == "\u{1B}" || $0 == "\u{07}" }, "\(line.debugDescription)")
        #expect(line.contains("lane\\u{1B}]0;pwned\\u{7}"), "\(line)")
        let record = JournaldLogHandler.record(
            message: "x\u{1B}[31m", level: .error, label: "platekeeper", metadata: ["camera.id": "a\u{9B}b"], file: "f", function: "g", line: 1)
        let fields = try Self.fields(record)
        #expect(fields["MESSAGE"] == "x\\u{1B}[31m" && fields["CAMERA_ID"] == "a\\u{9B}b", "\(fields)")
    }

    @Test("JOURNAL_STREAM counts only while it names this process's stderr")
    func journalStreamDetection() throws {
        var info = stat()
        #expect(fstat(2, &info) == 0)
        #expect(JournaldLogHandler.stderrIsJournal("\(info.st_dev):\(info.st_ino)"))
        #expect(!JournaldLogHandler.stderrIsJournal("\(info.st_dev):\(info.st_ino &+ 1)"))
        #expect(!JournaldLogHandler.stderrIsJournal("garbage"))
        #expect(!JournaldLogHandler.stderrIsJournal(nil))
    }

    @Test("under systemd the daemon sends native records: a SIGHUP with two configuration errors is one record, CAMERA_ID is a field")
    func daemonUnderSystemd() throws {
        // A camera whose device is missing logs its retries, with its id.
        let unit = try DaemonTests.unit(
            cameras: DaemonTests.replayCamera("lane-0", "stills", loop: true, speed: 1) + "\n[[cameras]]\nid = \"lane-1\"\ndevice = \"/dev/video-none\"\n")
        let journal = try NotifySocket(path: unit.dir.file("journal.sock"))
        defer { journal.stop() }
        let logPath = unit.dir.file("daemon.log")
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        var info = stat()
        #expect(stat(logPath, &info) == 0)
        // stderr is the log file, and JOURNAL_STREAM names it: as systemd does with the journal's stream.
        let daemon = try DaemonProcess(
            config: unit.config, logPath: logPath,
            environment: ["JOURNAL_STREAM": "\(info.st_dev):\(info.st_ino)", "PLATEKEEPER_JOURNAL_SOCKET": journal.path])
        #expect(waitUntil(timeout: 60) { DaemonTests.status(unit)?.cameras.count == 2 })
        let original = try String(contentsOfFile: unit.config, encoding: .utf8)
        let twoErrors = original.replacingOccurrences(of: "speed = 1", with: "speed = -1").replacingOccurrences(of: "loop = true", with: "loop = \"yes\"")
        try twoErrors.write(toFile: unit.config, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        var records: [[String: String]] = []
        let rejected = waitUntil(timeout: 20) {
            records = journal.datagrams().compactMap { try? Self.fields($0) }
            return records.contains { $0["MESSAGE"]?.hasPrefix("new configuration rejected") == true }
                && records.contains { $0["CAMERA_ID"] == "lane-1" }
        }
        #expect(rejected, "\(records)")
        let record = try #require(records.first { $0["MESSAGE"]?.hasPrefix("new configuration rejected") == true })
        #expect(record["PRIORITY"] == "3")
        let errors = try #require(record["ERRORS"])
        #expect(errors.contains("speed") && errors.contains("loop") && errors.contains("\n"), "both problems in one record: \(errors)")
        #expect(records.contains { $0["CAMERA_ID"] == "lane-1" }, "camera logs carry CAMERA_ID")
        #expect(records.allSatisfy { $0["PRIORITY"] != nil && $0["MESSAGE"] != nil })
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0)
        #expect(!daemon.log.contains("new configuration rejected"), "records went to the journal, not stderr")
    }
}
