@testable import Daemon
import EventChain
import Foundation
import Grouping
import Journal
import Logging
import PlateKeeperCore
import Position
import PlateKeeperTesting
import ServiceLifecycle
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Starting and stopping, again and again, as systemd and operators do.
@Suite("Start and stop", .serialized)
struct StartStopTests {
    /// 200 cycles take 5 to 20 minutes on a 2-core machine, so the regular suite runs 30 and
    /// `.ci/soak-stop` (PLATEKEEPER_STOP_CYCLES=200) the full 200.
    static let cycles = ProcessInfo.processInfo.environment["PLATEKEEPER_STOP_CYCLES"].flatMap { Int($0) }.map { min(max($0, 1), 10_000) } ?? 30

    @Test("started and stopped at random moments (30 times, 200 in the soak): every exit is 0 and every committed read is in the journal")
    func startsAndStops() throws {
        // A looping replay, a replay that finishes, and a device that is not there (retrying).
        let cameras = DaemonTests.replayCamera("loop", "stills", loop: true, speed: 0)
            + DaemonTests.replayCamera("once", "pass-day", loop: false, speed: 0)
            + "\n[[cameras]]\nid = \"missing\"\ndevice = \"/dev/video-platekeeper-missing\"\n"
        let unit = try DaemonTests.unit(cameras: cameras)
        // A quota no soak fills (200 cycles of a release build journal some thousands of reads with
        // crops): reads the quota drops are not what this test is about.
        let config = try String(contentsOfFile: unit.config, encoding: .utf8)
            .replacingOccurrences(of: "window = \"1s\"", with: "window = \"100ms\"")
            .replacingOccurrences(of: "quota = \"16MiB\"", with: "quota = \"1GiB\"")
        try config.write(toFile: unit.config, atomically: true, encoding: .utf8)
        var random = SeededRandom(seed: 17_200)
        var committed: Set<String> = []
        var failures: [String] = []
        for cycle in 0..<Self.cycles {
            let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"))
            guard waitUntil(timeout: 60, { daemon.log.contains("ready") }) else {
                failures.append("cycle \(cycle): never ready:\n\(daemon.log)")
                break
            }
            Thread.sleep(forTimeInterval: Double(random.next() % 800) / 1000)
            daemon.signal(SIGTERM)
            let status = daemon.wait(timeout: 60)
            if status != 0 { failures.append("cycle \(cycle): exit \(String(describing: status)):\n\(daemon.log.suffix(3000))") }
            for line in daemon.log.split(separator: "\n") where line.contains("journaled") {
                if let range = line.range(of: "read.id=") { committed.insert(String(line[range.upperBound...].prefix(36))) }
            }
            if failures.count >= 3 { break }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n---\n"))")
        let journal = try Journal(settings: JournalSettings(path: unit.journalPath), mode: .inspect)
        #expect(try journal.stats().droppedFull == 0, "the quota dropped reads")
        let stored = Set(try journal.events().map { $0.event.id.uuidString.lowercased() })
        #expect(committed.count >= Self.cycles / 4, "reads were committed during the cycles (\(committed.count))")
        #expect(committed.subtracting(stored).isEmpty, "every read whose commit was logged is in the journal")
    }

    /// Stands in for recognition: on its turn to stop it finishes the stream the journal reads, and
    /// then takes its time to return, as a busy unit may.
    struct SlowToReturn: Service {
        let output: AsyncStream<ChainInput>.Continuation
        func run() async throws {
            try? await gracefulShutdown()
            output.finish()
            try await Task.sleep(for: .milliseconds(300))
        }
    }

    @Test("the event chain service returns only on its turn, even when the stream it reads ends before recognition returns")
    func journalWaitsForItsTurn() async throws {
        let dir = try TemporaryDirectory()
        let journal = try Journal(settings: JournalSettings(path: dir.file("journal.sqlite")))
        let (events, continuation) = AsyncStream<ChainInput>.makeStream()
        let logger = Logger(label: "test")
        let board = StatusBoard(version: "test", position: PositionFeed(), diskPath: dir.path, queuedFrames: { 0 })
        let journalService = EventChainService(
            settings: ChainSettings(grouping: GroupingSettings()), enrichers: [],
            sink: JournalSink(journal: journal, status: board, logger: logger), inputs: events, ticks: continuation,
            status: board, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [
            .init(service: journalService, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .cancelGroup),
            .init(service: SlowToReturn(output: continuation), successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .cancelGroup),
        ], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await Task.sleep(for: .milliseconds(300))
            await group.triggerGracefulShutdown()
            // Without the journal waiting for its turn: ServiceGroupError "Service failed(journal …)".
            try await tasks.next()
        }
    }
}
