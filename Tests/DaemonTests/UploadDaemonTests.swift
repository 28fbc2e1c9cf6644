@testable import Daemon
import Foundation
import Journal
import PlateKeeperCore
import PlateKeeperTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `platekeeper run` with upload on, against a store on a real HTTP server: what the journal
/// commits reaches the store, exactly once in effect, through kill -9 and lost acknowledgements.
@Suite("Daemon upload", .serialized)
struct UploadDaemonTests {
    /// A unit whose replay cameras upload to `store`. `maxPass` cuts a looping camera's endless
    /// pass into a read event every so often, so that a test sees many events.
    static func unit(_ store: ScriptedStore, cameras: String, batch: Int = 20, maxPass: String = "60s", firstSight: Bool = false) throws -> DaemonTests.Unit {
        let dir = try TemporaryDirectory("pku")
        let token = try dir.writeSecret("upload.token", "unit-secret\n")
        let text = cameras + """

            [unit]
            id = "unit-test-7"
            [grouping]
            window = "1s"
            max_pass = "\(maxPass)"
            first_sight = \(firstSight)
            [journal]
            path = "\(dir.file("state/journal.sqlite"))"
            quota = "16MiB"
            [position]
            latitude = 52.0907
            longitude = 5.1214
            [status]
            socket = "\(dir.file("run/status.sock"))"
            [upload]
            enabled = true
            url = "\(store.url)"
            token_file = "\(token)"
            allow_insecure_http = true
            batch_size = \(batch)
            batch_age = "0s"
            timeout = "2s"
            backoff_max = "1s"
            """
        return DaemonTests.Unit(dir: dir, config: try dir.write("platekeeper.toml", text))
    }

    static func journalIDs(_ unit: DaemonTests.Unit) throws -> (all: Set<UUID>, pending: Int) {
        var settings = JournalSettings(path: unit.journalPath)
        settings.retentionSeconds = nil
        let journal = try Journal(settings: settings, mode: .inspect)
        let events = try journal.events()
        return (Set(events.map(\.event.id)), events.filter { $0.uploadState == "pending" }.count)
    }

    @Test("every read event the daemon journals reaches the store once; status shows the upload")
    func uploadsWhatItJournals() throws {
        let store = try ScriptedStore()
        let unit = try Self.unit(store, cameras: DaemonTests.replayCamera("day", "pass-day") + DaemonTests.replayCamera("night", "pass-night"))
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"))
        // Every frame read, the passes closed (a window after the last frame), the journal drained.
        // Status figures of the journal refresh every 2 s; the journal file itself is the truth.
        let read = waitUntil(timeout: 120) {
            guard let s = DaemonTests.status(unit) else { return false }
            return s.cameras.allSatisfy { $0.state == "finished" && $0.framesProcessed == $0.framesReceived } && s.framesQueued == 0
        }
        #expect(read, "\(daemon.log)")
        Thread.sleep(forTimeInterval: 3)
        let drained = waitUntil(timeout: 30) {
            guard let journal = try? Self.journalIDs(unit) else { return false }
            return journal.all.count >= 2 && journal.pending == 0
        }
        _ = waitUntil(timeout: 10) { DaemonTests.status(unit)?.upload?.backlog == 0 }
        #expect(drained, "\(daemon.log)")
        let status = try #require(DaemonTests.status(unit))
        let upload = try #require(status.upload)
        #expect(upload.url == store.url)
        #expect(upload.uploadedSinceStart >= 2)
        #expect(upload.lastSuccess != nil && upload.lastError == nil && upload.deadLetters == 0)
        #expect(status.problems.isEmpty, "\(status.problems)")
        let text = try runCommand(TestPaths.executable, ["status", "--socket", unit.socketPath])
        #expect(text.stdout.contains("upload: idle, to \(store.url)"))
        #expect(text.stdout.contains("backlog: 0 read(s)"))
        daemon.signal(SIGTERM)
        #expect(daemon.wait(timeout: 30) == 0)
        let journal = try Self.journalIDs(unit)
        #expect(journal.pending == 0)
        #expect(store.storedIDs == journal.all)
        #expect(store.state.withLock { $0.tokens.allSatisfy { $0 == "Bearer unit-secret" } })
    }

    @Test("kill -9 during uploads, 20 times, with lost acknowledgements: the store ends with exactly the journal's reads")
    func killNine() throws {
        let store = try ScriptedStore()
        // Every few batches the store commits and the answer is lost (a reset or a 500).
        store.script([], afterCommit: (0..<12).map { $0 % 2 == 0 ? .reply(status: 500) : .close })
        let cycles = Int(ProcessInfo.processInfo.environment["PLATEKEEPER_KILL_CYCLES"] ?? "") ?? 20
        // A looping camera that keeps producing reads, small batches so that many are in flight.
        let unit = try Self.unit(store, cameras: DaemonTests.replayCamera("loop", "pass-day", loop: true, speed: 0), batch: 3, maxPass: "1s", firstSight: true)
        var rng = SeededRandom(seed: 99)
        for cycle in 0..<cycles {
            let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon-\(cycle).log"))
            // Wait until it journals and uploads, then kill it at a random moment of that work.
            let requests = store.state.withLock { $0.requests }
            _ = waitUntil(timeout: 30) { store.state.withLock { $0.requests } > requests }
            Thread.sleep(forTimeInterval: Double.random(in: 0...1.2, using: &rng))
            daemon.signal(SIGKILL)
            #expect(daemon.wait(timeout: 10) != nil)
        }
        #expect(store.state.withLock { $0.requests } > cycles, "uploads ran during the cycles")
        // Last run: the same journal and store with a camera that has nothing to replay, so that no
        // new read arrives (passes still open at a kill or a stop are committed as it ends, and
        // wait for the next run): drain, stop cleanly, compare.
        let empty = unit.dir.file("no-frames")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let text = try String(contentsOfFile: unit.config, encoding: .utf8)
            .replacingOccurrences(of: (TestPaths.testFrames as NSString).appendingPathComponent("pass-day"), with: empty)
        let finalConfig = try unit.dir.write("final.toml", text)
        let daemon = try DaemonProcess(config: finalConfig, logPath: unit.dir.file("daemon-final.log"))
        _ = waitUntil(timeout: 30) { DaemonTests.status(unit) != nil }
        let drained = waitUntil(timeout: 90) { (try? Self.journalIDs(unit).pending) == 0 }
        #expect(drained, "\(daemon.log)")
        daemon.signal(SIGTERM)
        #expect(daemon.wait(timeout: 30) == 0)
        let journal = try Self.journalIDs(unit)
        let stored = store.storedIDs
        #expect(journal.all.count >= cycles / 2, "the cycles journaled reads")
        #expect(journal.pending == 0)
        #expect(stored.subtracting(journal.all).isEmpty, "reads in the store the journal never committed")
        #expect(journal.all.subtracting(stored).isEmpty, "reads the journal committed missing from the store")
        #expect(store.state.withLock { $0.stored.values.contains { $0 > 1 } }, "some reads arrived twice (lost acknowledgements) and were stored once")
    }
}
