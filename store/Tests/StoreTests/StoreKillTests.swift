import Foundation
import StoreTesting
import PlateKeeperTesting
import Testing
import Upload

#if canImport(Glibc)
import Glibc
#endif

/// The store as its own process (`platekeeper-store serve`), killed with SIGKILL while a unit uploads.
@Suite("Store killed", .serialized)
struct StoreKillTests {
    static var storeExecutable: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("platekeeper-store").path
    }

    final class StoreProcess: @unchecked Sendable {
        let process = Process()
        init(_ postgres: PrivatePostgres, port: UInt16, log: String) throws {
            process.executableURL = URL(fileURLWithPath: StoreKillTests.storeExecutable)
            process.arguments = ["serve", "--db-socket", postgres.folder, "--db-user", postgres.user, "--db-name", postgres.database,
                                 "--host", "127.0.0.1", "--port", String(port)]
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.standardOutput = FileHandle.nullDevice
            try process.run()
        }
        func kill9() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        deinit { if process.isRunning { kill9() } }
    }

    @Test("the first start on an empty database is quiet and correct: the schema is made before retention runs, nothing is logged as an error",
          .enabled(if: FileManager.default.isExecutableFile(atPath: storeExecutable)))
    func firstStart() async throws {
        let postgres = try PrivatePostgres()
        let dir = try TemporaryDirectory()
        let port = try TLSFront.freePort()
        let store = try StoreProcess(postgres, port: port, log: dir.file("store.log"))
        #expect(await eventually(timeout: 30) { TLSFront.canConnect(port) })
        // Retention runs at once at start: give it a moment, then read the log.
        try await Task.sleep(for: .seconds(2))
        store.kill9()
        let log = try String(contentsOfFile: dir.file("store.log"), encoding: .utf8)
        #expect(!log.contains("retention:") && !log.contains("PSQLError") && !log.contains("error"), "\(log)")
        #expect(try postgres.psql("SELECT max(version) FROM store_schema") != "")
    }

    @Test("kill -9 of the store during uploads, 8 times: every read stored exactly once",
          .enabled(if: FileManager.default.isExecutableFile(atPath: storeExecutable)))
    func killStore() async throws {
        let postgres = try PrivatePostgres()
        let dir = try TemporaryDirectory()
        let port = try TLSFront.freePort()
        var store = try StoreProcess(postgres, port: port, log: dir.file("store-0.log"))
        #expect(await eventually(timeout: 30) { TLSFront.canConnect(port) })
        let token = try runCommand(Self.storeExecutable, ["add-unit", "--db-socket", postgres.folder, "--db-user", postgres.user, "unit-1"])
        #expect(token.status == 0, "\(token.stderr)")
        let (journal, ids) = try await Fixture.journal(dir, reads: 1000)
        let uploader = try Fixture.uploader(url: "http://127.0.0.1:\(port)", unit: "unit-1",
                                            token: token.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
                                            journal: journal, dir: dir, batch: 2, timeout: 2)
        let task = ThreadTaskExecutor.task { await uploader.run() }
        defer { task.cancel() }
        var rng = SystemRandomNumberGenerator()
        for cycle in 1...8 {
            try await Task.sleep(for: .milliseconds(Int.random(in: 150...600, using: &rng)))
            store.kill9()
            store = try StoreProcess(postgres, port: port, log: dir.file("store-\(cycle).log"))
        }
        #expect(await eventually(timeout: 90) { (try? journal.stats().pending) == 0 })
        task.cancel()
        #expect(try postgres.storedIDs() == ids)
        #expect(try postgres.count() == 1000, "no read stored twice")
        #expect(uploader.status.failuresInARow == 0)
    }
}

