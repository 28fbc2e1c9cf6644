@testable import Daemon
import Foundation
import Journal
import PlateKeeperCore
import PlateKeeperTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Privacy claims proved on the real daemon and tools: what reaches the disk, the logs and the
/// status socket, and what the audit trail records.
@Suite("Privacy", .serialized)
struct PrivacyDaemonTests {
    /// Every byte of every file under `folder` (recursively), except the files in `except`.
    static func bytesOnDisk(_ folder: String, except: Set<String> = []) throws -> [(String, Data)] {
        var out: [(String, Data)] = []
        let enumerator = FileManager.default.enumerator(atPath: folder)
        while let name = enumerator?.nextObject() as? String {
            let path = (folder as NSString).appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue, !except.contains(path)
            else { continue }
            if let data = FileManager.default.contents(atPath: path) { out.append((name, data)) }
        }
        return out
    }

    static func filesHolding(_ text: String, in files: [(String, Data)]) -> [String] {
        files.filter { $0.1.range(of: Data(text.utf8)) != nil }.map(\.0)
    }

    @Test("hotlist-only mode, at every log level: after a replay, no file the unit owns holds the plate that matched nothing; the hit is journaled with its list, shown in status, and no log line carries a plate",
          arguments: ["info", "debug", "trace"])
    func hotlistOnly(_ level: String) throws {
        let dayPlate = try DaemonTests.expectedPlate("pass-day"), nightPlate = try DaemonTests.expectedPlate("pass-night")
        let dir0 = try TemporaryDirectory("pkh")
        // The entry differs from the read by look-alikes only (0/O, 1/I), which the match folds.
        let listed = dayPlate.replacingOccurrences(of: "0", with: "O").replacingOccurrences(of: "1", with: "I")
        #expect(listed != dayPlate)
        let hotlist = try dir0.write("hotlist.csv", "plate,list,reason\n\(listed),stolen,test vehicle\nZZZ999,amber,\n")
        let unit = try DaemonTests.unit(
            cameras: DaemonTests.replayCamera("day", "pass-day") + DaemonTests.replayCamera("night", "pass-night"),
            extra: "\n[hotlist]\nfiles = [\"\(hotlist)\"]\nonly = true\n[logging]\nlevel = \"\(level)\"\n")
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"))
        let done = waitUntil(timeout: 120) {
            guard let s = DaemonTests.status(unit) else { return false }
            // The journal's figures in status refresh every 2 s: wait for them too.
            return s.cameras.allSatisfy { $0.state == "finished" && $0.readEvents > 0 } && s.framesQueued == 0
                && s.journal.rows >= 1 && s.journal.notKept >= 1
        }
        #expect(done, "replay did not finish: \(daemon.log)")
        let status = try #require(DaemonTests.status(unit))
        let part = try #require(status.hotlist)
        #expect(part.only && part.lists.map(\.name) == ["stolen", "amber"])
        #expect(part.hitsSinceStart == 1 && part.lastHit?.list == "stolen" && part.lastHit?.camera == "day")
        #expect(part.notKeptSinceStart >= 1)
        #expect(status.journal.hits == 1 && status.journal.rows == 1 && status.journal.notKept >= 1)
        #expect(status.cameras.first { $0.id == "day" }?.lastRead?.hit == "stolen")
        let served = String(decoding: try StatusSocket.fetch(from: unit.socketPath, timeout: 2), as: UTF8.self)
        #expect(!served.contains(dayPlate) && !served.contains(nightPlate), "the status socket serves no plate")
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0)

        let events = try Journal(settings: JournalSettings(path: unit.journalPath), mode: .inspect).events().map(\.event)
        #expect(events.map(\.plate) == [dayPlate])
        #expect(events.first?.hit == HotlistHit(list: "stolen", plate: listed, reason: "test vehicle", distance: 0))
        // Every file of the unit: journal, WAL, lock, status folder, the daemon's log (the hotlist is elsewhere).
        let files = try Self.bytesOnDisk(unit.dir.path)
        #expect(Self.filesHolding(nightPlate, in: files).isEmpty, "the plate that matched nothing is on disk")
        #expect(Self.filesHolding(dayPlate, in: files).map { ($0 as NSString).lastPathComponent }.allSatisfy { $0.hasPrefix("journal.sqlite") },
                "the hit's plate is only in the journal")
        #expect(!daemon.log.contains(dayPlate) && !daemon.log.contains(nightPlate), "no plate in the log")
        #expect(daemon.log.contains("hotlist hit") && daemon.log.contains("hotlist.list=stolen"))
    }

    @Test("a hotlist file changed while the daemon runs is reloaded: a malformed line is a warning with its number, a new entry hits the next pass")
    func reloadOnChange() throws {
        let nightPlate = try DaemonTests.expectedPlate("pass-night")
        let dir0 = try TemporaryDirectory("pkh")
        let hotlist = try dir0.write("hotlist.csv", "AAA111,watch\nNOT A PLATE!,watch\n")
        let unit = try DaemonTests.unit(
            cameras: DaemonTests.replayCamera("night", "pass-night", loop: true, speed: 4),
            extra: "\n[hotlist]\nfiles = [\"\(hotlist)\"]\n")
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"))
        defer {
            daemon.signal(SIGTERM)
            _ = daemon.wait()
        }
        // Until the journal's first figures (every 2 s) and the camera are up, the daemon is
        // unhealthy whatever the hotlist says: wait for the state the hotlist leaves it in.
        #expect(waitUntil(timeout: 60) {
            let s = DaemonTests.status(unit)
            return s?.hotlist?.files.first?.skippedLines == 1 && s?.state == "degraded"
        })
        let first = try #require(DaemonTests.status(unit))
        #expect(first.warnings.contains { $0.contains("hotlist.csv") && $0.contains(":2: plate") }, "\(first.warnings)")
        #expect(first.state == "degraded")
        #expect(daemon.log.contains("hotlist line skipped"))
        // A read journaled before the new list, which does not hit: on a slow machine the first
        // pass may not be in yet, and every later one hits.
        #expect(waitUntil(timeout: 60) { (DaemonTests.status(unit)?.journal.rows ?? 0) >= 1 })
        // A new version of the file, put in place the way a download is: written aside, renamed over.
        let next = try dir0.write("hotlist.csv.new", "AAA111,watch\n\(nightPlate),night,new entry\n")
        #expect(rename(next, hotlist) == 0)
        #expect(waitUntil(timeout: 90) { (DaemonTests.status(unit)?.hotlist?.hitsSinceStart ?? 0) >= 1 }, "\(daemon.log)")
        let status = try #require(DaemonTests.status(unit))
        #expect(status.hotlist?.lastHit?.list == "night")
        #expect(status.hotlist?.files.first?.skippedLines == 0)
        #expect(!status.warnings.contains { $0.contains("hotlist") })
        // The journal's figures in status refresh every 2 s.
        #expect(waitUntil(timeout: 20) {
            guard let j = DaemonTests.status(unit)?.journal else { return false }
            return j.hits >= 1 && j.rows > j.hits
        }, "without hotlist-only mode every read is kept, the hits among them")
    }

    @Test("a hotlist file that cannot be read is a problem in status; the daemon runs and keeps every read")
    func unreadableHotlist() throws {
        let unit = try DaemonTests.unit(
            cameras: DaemonTests.replayCamera("day", "pass-day"), extra: "\n[hotlist]\nfiles = [\"/nonexistent/hotlist.csv\"]\n")
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"))
        #expect(waitUntil(timeout: 60) { DaemonTests.status(unit)?.cameras.first?.state == "finished" && (DaemonTests.status(unit)?.journal.rows ?? 0) > 0 })
        let status = try #require(DaemonTests.status(unit))
        #expect(status.problems.contains { $0.contains("/nonexistent/hotlist.csv is not loaded") }, "\(status.problems)")
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0)
    }

    @Test("journal export needs a purpose and records who, what, why and how many in the audit log; audit verify checks the chain and names a tampered entry")
    func auditedExport() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("journal.sqlite"), audit = dir.file("audit.log")
        let journal = try Journal(settings: JournalSettings(path: path))
        for (camera, plate) in [("a", "P1"), ("b", "P2"), ("a", "P3")] {
            let t = CaptureTime(unixNanoseconds: ISO8601.parse("2026-11-29T12:00:00Z")!, quality: .synchronized)
            _ = try journal.appendNow(ReadEvent(
                kind: .vehicle, camera: CameraID(camera), plate: plate, confidence: 90, candidates: [], region: "us",
                box: PixelBox(x: 0, y: 0, width: 1, height: 1), firstSeen: t, lastSeen: t, frameCount: 1, bestFrame: "f"))
        }
        try journal.close()
        let noPurpose = try runCommand(TestPaths.executable, ["journal", "export", "--journal", path, "--audit-log", audit])
        #expect(noPurpose.status == 64 && noPurpose.stderr.contains("--purpose is required"), "\(noPurpose.stderr)")
        #expect(noPurpose.stdout.isEmpty && !FileManager.default.fileExists(atPath: audit))
        for category in [[], ["--category", "curiosity"]] {
            let r = try runCommand(TestPaths.executable, ["journal", "export", "--journal", path, "--audit-log", audit, "--purpose", "case 3"] + category)
            #expect(r.status == 64 && r.stderr.contains("--category is required, one of: investigation, stolen-vehicle"), "\(r.stderr)")
            #expect(r.stdout.isEmpty && !FileManager.default.fileExists(atPath: audit))
        }

        let first = try runCommand(TestPaths.executable, ["journal", "export", "--journal", path, "--audit-log", audit, "--camera", "a",
                                                          "--purpose", "case 2026-114: hit-and-run", "--category", "investigation"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.split(separator: "\n").count == 2)
        let second = try runCommand(TestPaths.executable, ["journal", "export", "--journal", path, "--audit-log", audit, "--format", "csv",
                                                           "--purpose", "FOIA request 7", "--category", "records-request"])
        #expect(second.status == 0)
        let verify = try runCommand(TestPaths.executable, ["audit", "verify", "--log", audit, "--entries"])
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(verify.stdout.contains("2 entries, chain intact"))
        let entries = verify.stdout.split(separator: "\n").dropLast().compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(entries.count == 2)
        #expect(entries.first?["purpose"] as? String == "case 2026-114: hit-and-run")
        #expect(entries.first?["category"] as? String == "investigation" && entries.last?["category"] as? String == "records-request")
        #expect(entries.first?["records"] as? Int == 2 && entries.last?["records"] as? Int == 3)
        #expect((entries.first?["query"] as? String)?.contains("camera=a") == true)
        #expect((entries.first?["who"] as? String)?.contains("uid \(getuid())") == true)
        #expect(entries.first?["action"] as? String == "journal export")

        // An unwritable audit log: nothing is exported.
        let blocked = dir.file("no-such-folder/audit.log")
        let refused = try runCommand(TestPaths.executable, ["journal", "export", "--journal", path, "--audit-log", blocked, "--purpose", "case 1", "--category", "investigation"])
        #expect(refused.status == 1 && refused.stdout.isEmpty && refused.stderr.contains("nothing is written out"), "\(refused.stderr)")

        // Tampering: the first entry's record count lowered.
        var text = try String(contentsOfFile: audit, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"records\":2", with: "\"records\":0")
        try text.write(toFile: audit, atomically: false, encoding: .utf8)
        let broken = try runCommand(TestPaths.executable, ["audit", "verify", "--log", audit])
        #expect(broken.status == 1 && broken.stderr.contains("broken at entry 1"), "\(broken.stderr)")
    }

    @Test("journal release writes tokens, no plate, and is audited; journal report counts it and holds no plate; bad options are usage errors")
    func releaseAndReport() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("journal.sqlite"), audit = dir.file("audit.log")
        let journal = try Journal(settings: JournalSettings(path: path))
        let t0 = ISO8601.parse("2026-11-29T12:00:00Z")!
        for i in 0..<12 {
            let t = CaptureTime(unixNanoseconds: t0 + Int64(i) * 60_000_000_000, quality: .synchronized)
            _ = try journal.appendNow(ReadEvent(
                kind: .vehicle, camera: "a", plate: "PLT\(i % 6)X", confidence: 90, candidates: [], region: "us",
                box: PixelBox(x: 0, y: 0, width: 1, height: 1), firstSeen: t, lastSeen: t, frameCount: 1, bestFrame: "f",
                position: GeoPosition(latitude: 52.0907, longitude: 5.1214, fix: .fixed, source: .fixed)))
        }
        try journal.close()
        let base = ["--journal", path, "--audit-log", audit]
        let release = try runCommand(TestPaths.executable, ["journal", "release", "--purpose", "public records request 9", "--category", "records-request", "--format", "csv"] + base)
        #expect(release.status == 0, "\(release.stderr)")
        let lines = release.stdout.split(separator: "\n")
        #expect(lines.first == "token,camera,region,time,lat,lon" && lines.count == 13)
        #expect(!release.stdout.contains("PLT"), "no plate text in a release")
        #expect(lines.dropFirst().allSatisfy { $0.contains(",2026-11-29T12:00:00.000Z,52.095,5.125") })
        #expect(release.stderr.contains("released 12 reads"))
        let suppressed = try runCommand(TestPaths.executable, ["journal", "release", "--purpose", "public records request 9", "--category", "records-request", "--k", "7"] + base)
        #expect(suppressed.status == 0 && suppressed.stdout.isEmpty && suppressed.stderr.contains("left out 12 reads"), "\(suppressed.stderr)")
        for bad in [["--k", "1"], ["--grid", "0"], ["--time-precision", "0s"], ["--time-precision", "soon"]] {
            let r = try runCommand(TestPaths.executable, ["journal", "release", "--purpose", "x y z", "--category", "records-request"] + bad + base)
            #expect(r.status == 64, "\(bad): \(r.stderr)")
        }
        let report = try runCommand(TestPaths.executable, ["journal", "report"] + base.filter { $0 != "--audit-log" && $0 != audit } + ["--audit-log", audit])
        #expect(report.status == 0, "\(report.stderr)")
        #expect(report.stdout.contains("\"reads\" : 12") && report.stdout.contains("\"name\" : \"journal release\""), "\(report.stdout)")
        #expect(!report.stdout.contains("PLT"))
        // The public sees categories and roles, never a purpose's words.
        #expect(report.stdout.contains("\"name\" : \"records-request\"") && report.stdout.contains("\"name\" : \"unit operator\""), "\(report.stdout)")
        #expect(!report.stdout.contains("public records request 9") && !report.stdout.contains("uid "), "\(report.stdout)")
        let page = try runCommand(TestPaths.executable, ["journal", "report", "--format", "html", "--journal", path, "--audit-log", audit])
        #expect(page.status == 0 && page.stdout.contains("<svg") && !page.stdout.contains("PLT"))
        #expect(try runCommand(TestPaths.executable, ["audit", "verify", "--log", audit]).stdout.contains("2 entries, chain intact"))
        // No audit log: the report says it cannot vouch for the trail, not that it is intact.
        let missing = try runCommand(TestPaths.executable, ["journal", "report", "--journal", path, "--audit-log", dir.file("gone.log")])
        #expect(missing.status == 0 && missing.stdout.contains("\"audit_chain_intact\" : false") && missing.stdout.contains("no audit log was found"),
                "\(missing.stdout)")
    }

    @Test("encryption at rest: after a replay, no file the unit owns holds a plate in the clear; export opens the reads with the key, and without it says which key is needed")
    func sealedJournal() throws {
        let dayPlate = try DaemonTests.expectedPlate("pass-day")
        let keys = try TemporaryDirectory("pkk")
        let keyFile = try keys.write("journal.key", try JournalKeyring.newKeyLine(id: "unit-k1") + "\n")
        chmod(keyFile, 0o600)
        let unit = try DaemonTests.unit(cameras: DaemonTests.replayCamera("day", "pass-day"),
                                        extra: "\n[hotlist]\nfiles = [\"\(try keys.write("hot.csv", "\(dayPlate),stolen,sealed too\n"))\"]\n")
        var config = try String(contentsOfFile: unit.config, encoding: .utf8)
        config = config.replacingOccurrences(of: "quota = \"16MiB\"", with: "quota = \"16MiB\"\nencryption_key_file = \"\(keyFile)\"")
        try config.write(toFile: unit.config, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"))
        #expect(waitUntil(timeout: 90) {
            guard let s = DaemonTests.status(unit) else { return false }
            return s.cameras.allSatisfy { $0.state == "finished" } && s.journal.hits >= 1
        }, "\(daemon.log)")
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0)
        let files = try Self.bytesOnDisk(unit.dir.path)
        #expect(Self.filesHolding(dayPlate, in: files).isEmpty, "a plate in the clear on disk")
        #expect(Self.filesHolding("sealed too", in: files).isEmpty)

        let export = try runCommand(TestPaths.executable, ["journal", "export", "-c", unit.config, "--purpose", "test run", "--category", "maintenance",
                                                           "--audit-log", keys.file("audit.log")])
        #expect(export.status == 0 && export.stdout.contains("\"plate\":\"\(dayPlate)\""), "\(export.stderr)")
        #expect(export.stdout.contains("\"reason\":\"sealed too\""))
        let withoutKey = try runCommand(TestPaths.executable, ["journal", "export", "--journal", unit.journalPath, "--purpose", "test run", "--category", "maintenance",
                                                               "--audit-log", keys.file("audit.log")])
        #expect(withoutKey.status == 1 && withoutKey.stderr.contains("sealed with key unit-k1"), "\(withoutKey.stderr)")
        let stats = try runCommand(TestPaths.executable, ["journal", "stats", "--journal", unit.journalPath])
        #expect(stats.status == 0, "counts need no key")
        // The transparency report is counts: no key needed (a sealed hit's list counts as sealed), and with the key its list is named.
        let report = try runCommand(TestPaths.executable, ["journal", "report", "--journal", unit.journalPath, "--audit-log", keys.file("audit.log")])
        #expect(report.status == 0 && report.stdout.contains("\"name\" : \"(sealed)\""), "\(report.stderr)\(report.stdout)")
        let keyed = try runCommand(TestPaths.executable, ["journal", "report", "--journal", unit.journalPath, "--key-file", keyFile,
                                                          "--audit-log", keys.file("audit.log")])
        #expect(keyed.status == 0 && keyed.stdout.contains("\"name\" : \"stolen\""), "\(keyed.stderr)\(keyed.stdout)")
        let openKey = try keys.write("open.key", try JournalKeyring.newKeyLine(id: "x") + "\n")
        chmod(openKey, 0o644)
        let refused = try runCommand(TestPaths.executable, ["journal", "export", "--journal", unit.journalPath, "--key-file", openKey,
                                                            "--purpose", "test run", "--category", "maintenance", "--audit-log", keys.file("audit.log")])
        #expect(refused.status == 1 && refused.stderr.contains("lets other users read it"), "\(refused.stderr)")
    }

    @Test("a key file others may read, or a missing one: the daemon exits 78 (not restarted) and says why; nothing is journaled in the clear")
    func badKeyFile() throws {
        let keys = try TemporaryDirectory("pkk")
        let keyFile = try keys.write("journal.key", try JournalKeyring.newKeyLine(id: "k1") + "\n")
        chmod(keyFile, 0o644)
        for path in [keyFile, keys.file("missing.key")] {
            let unit = try DaemonTests.unit(cameras: DaemonTests.replayCamera("day", "pass-day"))
            var config = try String(contentsOfFile: unit.config, encoding: .utf8)
            config = config.replacingOccurrences(of: "quota = \"16MiB\"", with: "quota = \"16MiB\"\nencryption_key_file = \"\(path)\"")
            try config.write(toFile: unit.config, atomically: true, encoding: .utf8)
            let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"))
            #expect(daemon.wait(timeout: 60) == 78, "\(daemon.log)")
            #expect(daemon.log.contains(path == keyFile ? "lets other users read it" : "No such file"), "\(daemon.log)")
            #expect(!FileManager.default.fileExists(atPath: unit.journalPath))
        }
    }
}
