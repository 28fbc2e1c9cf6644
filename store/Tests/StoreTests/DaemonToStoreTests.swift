import Foundation
import PlateKeeperTesting
import StoreCore
import StoreTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The whole chain: `platekeeper run` with a replay camera → grouping → the journal → the uploader
/// → this store → PostgreSQL. Uses the unit's binary built by the root package (CI builds it first).
@Suite("Daemon to store", .serialized)
struct DaemonToStoreTests {
    static var daemonBuilt: Bool { FileManager.default.isExecutableFile(atPath: TestPaths.executable) }

    @Test("every read event a replaying daemon journals is stored exactly once, and the journal marks it uploaded",
          .enabled(if: daemonBuilt, "the platekeeper binary is not built (swift build in the repository root)"))
    func replayToStore() async throws {
        let s = try await StoreTests.setUp()
        defer { Task { await s.store.stop() } }
        let dir = try TemporaryDirectory("pke2e")
        let token = try dir.writeSecret("upload.token", s.unitToken + "\n")
        let frames = (TestPaths.testFrames as NSString).appendingPathComponent("pass-day")
        let config = try dir.write("platekeeper.toml", """
            [unit]
            id = "unit-1"
            [[cameras]]
            id = "day"
            replay = "\(frames)"
            speed = 0
            [grouping]
            window = "1s"
            first_sight = true
            [journal]
            path = "\(dir.file("journal.sqlite"))"
            quota = "16MiB"
            [status]
            socket = "\(dir.file("status.sock"))"
            [upload]
            enabled = true
            url = "\(s.store.url)/v1/reads"
            token_file = "\(token)"
            allow_insecure_http = true
            batch_age = "0s"
            backoff_max = "1s"
            """)
        let daemon = try DaemonProcess(config: config, logPath: dir.file("daemon.log"))
        // Read events are journaled as the pass goes (first sight) and when it ends; wait for the
        // store to hold some, then stop the daemon (which commits what is open) and start it
        // again briefly on an empty folder so that those last ones are uploaded too.
        #expect(await eventually(timeout: 120) { (try? s.postgres.count()) ?? 0 > 0 }, "\(daemon.log)")
        daemon.signal(SIGTERM)
        #expect(daemon.wait(timeout: 60) == 0, "\(daemon.log)")
        let empty = dir.file("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let text = try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: frames, with: empty)
        let again = try DaemonProcess(config: try dir.write("again.toml", text), logPath: dir.file("again.log"))
        let journaled = Set(try runCommand(TestPaths.executable, ["journal", "export", "--purpose", "test run", "--category", "maintenance", "--audit-log", dir.file("audit.log"), "--journal", dir.file("journal.sqlite")])
            .stdout.split(separator: "\n").compactMap { line -> String? in
                guard let range = line.range(of: #""id":""#) else { return nil }
                return String(line[range.upperBound...].prefix(36))
            })
        #expect(journaled.count >= 1)
        #expect(await eventually(timeout: 60) {
            (try? s.postgres.psql("SELECT count(*) FROM read_event")) == String(journaled.count)
        }, "\(again.log)")
        // The store commits a batch before the unit records its acknowledgement: wait for the
        // journal to say so too before stopping (a stop in between leaves the batch to be sent
        // again at the next start, which the store takes as a duplicate).
        let exportArguments = ["journal", "export", "--purpose", "test run", "--category", "maintenance", "--audit-log", dir.file("audit.log"), "--journal", dir.file("journal.sqlite")]
        #expect(await eventually(timeout: 60) {
            (try? runCommand(TestPaths.executable, exportArguments).stdout.contains(#""upload_state":"pending""#)) == false
        }, "\(again.log)")
        again.signal(SIGTERM)
        #expect(again.wait(timeout: 60) == 0)
        let stored = Set(try s.postgres.psql("SELECT id FROM read_event").split(separator: "\n").map(String.init))
        #expect(stored == journaled, "the store holds exactly the journal's reads")
        let states = try runCommand(TestPaths.executable, exportArguments).stdout
        #expect(!states.contains(#""upload_state":"pending""#), "every read marked uploaded")
    }
}
