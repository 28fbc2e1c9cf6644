@testable import Daemon
import Foundation
import Journal
import PlateKeeperCore
import PlateKeeperTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One daemon owns a journal; the journal tools only look.
@Suite("Journal ownership", .serialized)
struct JournalOwnershipTests {
    /// Every file in `folder` with its size, modification time and bytes.
    static func snapshot(_ folder: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) {
            let path = (folder as NSString).appendingPathComponent(name)
            var st = stat()
            guard stat(path, &st) == 0 else { continue }
            let bytes = (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for b in bytes { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
            out[name] = "\(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) \(String(hash, radix: 16)) \(String(st.st_mode & 0o7777, radix: 8))"
        }
        return out
    }

    @Test("a second daemon on the same journal fails at once with a clear message and exit 1; the first keeps running; the tools read the live journal")
    func secondDaemonRefused() throws {
        let unit = try DaemonTests.unit(cameras: DaemonTests.replayCamera("day", "pass-day", loop: true, speed: 1))
        let first = try DaemonProcess(config: unit.config, logPath: unit.dir.file("first.log"))
        #expect(waitUntil(timeout: 60) { (DaemonTests.status(unit)?.journal.rows ?? 0) > 0 }, "\(first.log)")
        let second = try DaemonProcess(config: unit.config, logPath: unit.dir.file("second.log"))
        #expect(second.wait(timeout: 30) == 1, "\(second.log)")
        #expect(second.log.contains("in use by another process (pid \(first.pid)"), "\(second.log)")
        #expect(!second.log.contains("retention") && !second.log.contains("ready"))
        #expect(DaemonTests.status(unit)?.pid == first.pid, "the first daemon's socket is its own")

        let stats = try runCommand(TestPaths.executable, ["journal", "stats", "--config", unit.config, "--json"])
        #expect(stats.status == 0, "\(stats.stderr)")
        #expect(stats.stdout.contains("\"quota_bytes\":16777216"), "the configured quota: \(stats.stdout)")
        first.signal(SIGTERM)
        #expect(first.wait() == 0, "\(first.log)")
    }

    @Test("journal stats and export after a clean stop change no byte, time or mode of any file; on a missing journal they create nothing")
    func toolsChangeNothing() throws {
        let unit = try DaemonTests.unit(cameras: DaemonTests.replayCamera("day", "pass-day"))
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"))
        #expect(waitUntil(timeout: 60) { DaemonTests.status(unit)?.cameras.allSatisfy { $0.state == "finished" } == true
            && (DaemonTests.status(unit)?.journal.rows ?? 0) > 0 })
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0)
        let folder = (unit.journalPath as NSString).deletingLastPathComponent
        let before = try Self.snapshot(folder)
        for arguments in [["journal", "stats"], ["journal", "stats", "--json"], ["journal", "export"], ["journal", "export", "--format", "csv"],
                          ["journal", "export", "--crops"]] {
            let audit = arguments[1] == "export" ? ["--purpose", "test run", "--category", "maintenance", "--audit-log", unit.dir.file("audit.log")] : []
            let result = try runCommand(TestPaths.executable, arguments + audit + ["--journal", unit.journalPath])
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            let after = try Self.snapshot(folder)
            let changed = Set(before.keys).union(after.keys).filter { before[$0] != after[$0] }.sorted()
                .map { "\($0): \(before[$0] ?? "-") → \(after[$0] ?? "-")" }
            #expect(changed.isEmpty, "\(arguments) changed the journal's folder: \(changed)")
        }
        let missing = unit.dir.file("nowhere/state/journal.sqlite")
        let stats = try runCommand(TestPaths.executable, ["journal", "stats", "--journal", missing])
        #expect(stats.status == 1 && stats.stderr.contains("no journal file"), "\(stats.stderr)")
        #expect(!FileManager.default.fileExists(atPath: unit.dir.file("nowhere")), "no folder created")
    }
}

@Suite("Journal export filters")
struct JournalExportTests {
    @Test("export --camera, --plate, --since/--until with dates, times and ages; --crops with CSV points to --crops-dir, not silently dropped")
    func filters() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("journal.sqlite")
        let journal = try Journal(settings: JournalSettings(path: path))
        for (camera, plate, day) in [("a", "P1", "2026-11-20"), ("b", "P2", "2026-11-25"), ("a", "P2", "2026-11-29")] {
            let t = CaptureTime(unixNanoseconds: ISO8601.parse("\(day)T12:00:00Z")!, quality: .synchronized)
            _ = try journal.appendNow(ReadEvent(
                kind: .vehicle, camera: CameraID(camera), plate: plate, confidence: 90, candidates: [], region: "us",
                box: PixelBox(x: 0, y: 0, width: 1, height: 1), firstSeen: t, lastSeen: t, frameCount: 1, bestFrame: "f"))
        }
        try journal.close()
        func plates(_ arguments: [String]) throws -> [String] {
            let result = try runCommand(TestPaths.executable, ["journal", "export", "--purpose", "test run", "--category", "maintenance", "--audit-log", dir.file("audit.log"), "--journal", path, "--format", "csv"] + arguments)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            return result.stdout.split(separator: "\n").dropFirst().map { String($0.split(separator: ",")[3]) + "@" + String($0.split(separator: ",")[2]) }
        }
        #expect(try plates([]) == ["P1@a", "P2@b", "P2@a"])
        #expect(try plates(["--camera", "a"]) == ["P1@a", "P2@a"])
        #expect(try plates(["--camera", "a", "--camera", "b", "--plate", "P2"]) == ["P2@b", "P2@a"])
        #expect(try plates(["--since", "2026-11-24", "--until", "2026-11-28"]) == ["P2@b"])
        #expect(try plates(["--until", "2026-11-25T12:00:00Z"]) == ["P1@a"])
        #expect(try plates(["--since", "1000w"]).count == 3)
        let crops = try runCommand(TestPaths.executable, ["journal", "export", "--purpose", "test run", "--category", "maintenance", "--audit-log", dir.file("audit.log"), "--journal", path, "--format", "csv", "--crops"])
        #expect(crops.status != 0 && crops.stderr.contains("use --crops-dir DIR"), "\(crops.stderr)")
        let bad = try runCommand(TestPaths.executable, ["journal", "export", "--purpose", "test run", "--category", "maintenance", "--audit-log", dir.file("audit.log"), "--journal", path, "--until", "next tuesday"])
        #expect(bad.status != 0 && bad.stderr.contains("--until must be a date"), "\(bad.stderr)")
    }

    @Test("export --crops-dir writes each crop as ID.jpg, named in the crop_file column; never over an existing file")
    func cropsAsFiles() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("journal.sqlite")
        let journal = try Journal(settings: JournalSettings(path: path))
        let t = CaptureTime(unixNanoseconds: ISO8601.parse("2026-11-29T12:00:00Z")!, quality: .synchronized)
        var crops: [String: [UInt8]] = [:]
        for (i, plate) in ["P1", "P2", "P3"].enumerated() {
            let crop: [UInt8]? = i == 1 ? nil : [0xFF, 0xD8, 0xFF, UInt8(i), 0xFF, 0xD9]
            let event = ReadEvent(
                kind: .vehicle, camera: CameraID("a"), plate: plate, confidence: 90, candidates: [], region: "us",
                box: PixelBox(x: 0, y: 0, width: 1, height: 1), firstSeen: t, lastSeen: t, frameCount: 1, bestFrame: "f", crop: crop)
            if let crop { crops[event.id.uuidString.lowercased()] = crop }
            _ = try journal.appendNow(event)
        }
        try journal.close()
        let out = dir.file("crops")
        let result = try runCommand(TestPaths.executable, ["journal", "export", "--purpose", "test run", "--category", "maintenance", "--audit-log", dir.file("audit.log"), "--journal", path, "--format", "csv", "--crops-dir", out])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        let header = lines[0].split(separator: ",", omittingEmptySubsequences: false)
        let column = try #require(header.firstIndex(of: "crop_file"))
        var named: [String] = []
        for line in lines.dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            let id = String(fields[0]), file = String(fields[column])
            if let crop = crops[id] {
                #expect(file == id + ".jpg")
                #expect(FileManager.default.contents(atPath: (out as NSString).appendingPathComponent(file)).map([UInt8].init) == crop)
                named.append(file)
            } else {
                #expect(file.isEmpty, "an event without a crop names no file")
            }
        }
        #expect(Set(named) == Set(try FileManager.default.contentsOfDirectory(atPath: out)))
        #expect(named.count == 2)
        let mode = try FileManager.default.attributesOfItem(atPath: out)[.posixPermissions] as? Int
        #expect(mode == 0o700)
        // Again into the same folder: refused, and the files written before are untouched.
        let again = try runCommand(TestPaths.executable, ["journal", "export", "--purpose", "test run", "--category", "maintenance", "--audit-log", dir.file("audit.log"), "--journal", path, "--format", "csv", "--crops-dir", out])
        #expect(again.status != 0 && again.stderr.contains("never overwritten"), "\(again.stderr)")
        for file in named {
            #expect(FileManager.default.contents(atPath: (out as NSString).appendingPathComponent(file)).map([UInt8].init) == crops[String(file.dropLast(4))])
        }
        let jsonl = try runCommand(TestPaths.executable, ["journal", "export", "--purpose", "test run", "--category", "maintenance", "--audit-log", dir.file("audit.log"), "--journal", path, "--crops-dir", dir.file("crops2")])
        #expect(jsonl.status == 0 && jsonl.stdout.components(separatedBy: "\"crop_file\":").count == 3, "\(jsonl.stdout)")
    }
}
