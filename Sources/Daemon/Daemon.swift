public import Config
import Capture
import Foundation
import Grouping
import Journal
public import Logging
import PlateKeeperCore
import ServiceLifecycle
import UnixSignals

/// `platekeeper run`: loads the config, opens the journal and runs the pipeline
/// (cameras → recognition → grouping → journal) with the status socket and the systemd watchdog as
/// one service group. SIGTERM/SIGINT drain reads in flight into the journal and exit; SIGHUP
/// re-reads the config and, if it is valid, restarts the pipeline with it (the journal stays open
/// unless its settings changed); an invalid config on SIGHUP is logged and the old one kept.
public struct Daemon: Sendable {
    public static let version = "0.3.0"

    let configPath: String
    let logger: Logger
    let notifier = SystemdNotifier()

    public init(configPath: String, logger: Logger) {
        self.configPath = configPath
        self.logger = logger
    }

    /// Runs until SIGTERM or SIGINT. Throws if the first config or the journal cannot be used, or
    /// if the pipeline fails (a recognition worker cannot start, say): systemd then restarts it.
    public func run(config first: PlateKeeperConfig) async throws {
        var config = first
        var journal = try openJournal(config.journal)
        // One trap for the whole life of the process, relayed through a stream that each
        // configuration's run reads in turn, so no signal falls between two runs.
        let trapped = await UnixSignalsSequence(trapping: .sigterm, .sigint, .sighup)
        let (signals, relay) = AsyncStream<UnixSignal>.makeStream()
        let relayTask = Task {
            for await signal in trapped { relay.yield(signal) }
        }
        defer { relayTask.cancel() }
        while true {
            let running = config, currentJournal = journal, notifier = self.notifier, logger = self.logger, configPath = self.configPath
            let pipeline = try Pipeline(config: config, journal: journal, notifier: notifier, logger: logger)
            let group = ServiceGroup(configuration: .init(services: pipeline.services, logger: logger))
            let outcome: Outcome = try await withThrowingTaskGroup(of: Outcome.self) { tasks in
                tasks.addTask {
                    try await group.run()
                    return .groupEnded
                }
                tasks.addTask {
                    await pipeline.waitUntilStarted()
                    notifier.notify("READY=1\nSTATUS=running \(running.cameras.count) cameras")
                    logger.notice("ready", metadata: ["cameras": "\(running.cameras.count)", "journal": "\(currentJournal.settings.path)"])
                    return .started
                }
                tasks.addTask {
                    for await signal in signals {
                        guard signal == .sighup else {
                            notifier.notify("STOPPING=1")
                            logger.notice("stopping: draining reads in flight into the journal")
                            return .stop
                        }
                        logger.notice("SIGHUP: reloading configuration", metadata: ["config": "\(configPath)"])
                        do {
                            let next = try ConfigLoader.load(path: configPath)
                            notifier.notify("RELOADING=1\nMONOTONIC_USEC=\(Self.monotonicMicroseconds())")
                            return .reload(next)
                        } catch {
                            logger.error("new configuration rejected, keeping the running one", metadata: ["errors": "\(error)"])
                        }
                    }
                    return .stop
                }
                // The first of: a signal (stop or reload: shut the pipeline down gracefully), or
                // the pipeline ending by itself (an error propagates from here).
                while let event = try await tasks.next() {
                    switch event {
                    case .started:
                        continue
                    case .groupEnded:
                        tasks.cancelAll()
                        return .groupEnded
                    case .stop, .reload:
                        await group.triggerGracefulShutdown()
                        while let finished = try await tasks.next() {
                            if case .groupEnded = finished { break }
                        }
                        tasks.cancelAll()
                        return event
                    }
                }
                return .groupEnded
            }
            switch outcome {
            case let .reload(next):
                if next.journal != config.journal {
                    do {
                        journal = try openJournal(next.journal)
                    } catch {
                        // The running journal is still open: carry on with the running configuration.
                        logger.error("new configuration's journal cannot be opened; keeping the running configuration",
                                     metadata: ["error": "\(error)"])
                        continue
                    }
                }
                config = next
                logger.notice("configuration reloaded")
            case .stop, .started:
                logger.notice("stopped")
                return
            case .groupEnded:
                logger.critical("the pipeline ended by itself")
                throw PipelineEnded()
            }
        }
    }

    /// The pipeline stopped without being asked to.
    struct PipelineEnded: Error, CustomStringConvertible {
        var description: String { "the pipeline ended without a stop signal" }
    }

    private enum Outcome: Sendable {
        case groupEnded, started, stop
        case reload(PlateKeeperConfig)
    }

    private func openJournal(_ section: JournalSection) throws -> Journal {
        var settings = JournalSettings(path: section.path)
        settings.quotaBytes = section.quotaBytes
        settings.retentionSeconds = section.retentionSeconds
        settings.whenFull = section.whenFull == .dropOldest ? .dropOldest : .stopAccepting
        settings.keepCrops = section.keepCrops
        let journal = try Journal(settings: settings)
        if let moved = journal.quarantined {
            logger.critical(
                "journal file was unusable and has been moved aside; a new journal was started",
                metadata: ["journal.path": "\(section.path)", "moved.to": "\(moved.path)", "reason": "\(moved.reason)"])
        }
        return journal
    }

    static func monotonicMicroseconds() -> Int64 { Int64(SystemClock.monotonic() * 1e6) }
}

/// One configuration's worth of services, in start order; the group stops them in reverse, so
/// cameras stop first, recognition drains next, and the journal commits last.
struct Pipeline: Sendable {
    let services: [ServiceGroupConfiguration.ServiceConfiguration]
    let board: StatusBoard

    init(config: PlateKeeperConfig, journal: Journal, notifier: SystemdNotifier, logger: Logger) throws {
        let queue = FrameQueue(depth: config.recognition.queueDepth)
        let position: GeoPosition? = config.position.source == .fixed
            ? GeoPosition(latitude: config.position.latitude, longitude: config.position.longitude,
                          altitudeMeters: config.position.altitudeMeters, fix: .fixed, source: .fixed)
            : nil
        let board = StatusBoard(
            version: Daemon.version,
            position: .init(source: config.position.source.rawValue, latitude: position?.latitude, longitude: position?.longitude),
            diskPath: (config.journal.path as NSString).deletingLastPathComponent,
            queuedFrames: { queue.count })
        if let moved = journal.quarantined { board.quarantined(moved.path) }
        let (stream, continuation) = AsyncStream<PipelineEvent>.makeStream(bufferingPolicy: .unbounded)
        var grouping = GroupingSettings()
        grouping.windowSeconds = config.grouping.windowSeconds
        grouping.maxEditDistance = config.grouping.maxEditDistance
        grouping.firstSight = config.grouping.firstSight
        grouping.firstSightMinConfidence = config.grouping.firstSightMinConfidence
        grouping.maxPassSeconds = config.grouping.maxPassSeconds
        grouping.topN = config.recognition.topN

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        services.append(.init(
            service: JournalService(journal: journal, grouping: grouping, position: position, events: stream, ticks: continuation,
                                    status: board, logger: logger),
            successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .cancelGroup))
        services.append(.init(
            service: RecognitionService(
                workers: config.recognition.workers, queue: queue,
                cameras: Dictionary(config.cameras.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }),
                recognition: config.recognition, journal: config.journal, status: board, output: continuation, logger: logger),
            successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .cancelGroup))
        var boards: [CameraBoard] = []
        for camera in config.cameras {
            var cameraLogger = logger
            cameraLogger[metadataKey: "camera.id"] = "\(camera.id)"
            switch camera.source {
            case let .replay(path, loop, speed):
                let cameraBoard = CameraBoard(id: camera.id, source: "replay:\(path)", stallSeconds: max(camera.stallSeconds, speed == 0 ? 30 : 0))
                boards.append(cameraBoard)
                services.append(.init(
                    service: ReplayCameraService(
                        id: camera.id, path: path, loop: loop, speed: speed, board: cameraBoard, queue: queue,
                        logger: cameraLogger),
                    successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore))
            case let .device(path):
                let cameraBoard = CameraBoard(id: camera.id, source: path, stallSeconds: camera.stallSeconds)
                boards.append(cameraBoard)
                services.append(.init(
                    service: DeviceCameraService(camera: camera, path: path, board: cameraBoard, queue: queue, logger: cameraLogger),
                    successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore))
            }
        }
        board.setCameras(boards, workers: config.recognition.workers)
        services.append(.init(service: StatusService(path: config.status.socket, board: board, logger: logger),
                              successTerminationBehavior: .ignore, failureTerminationBehavior: .cancelGroup))
        services.append(.init(service: WatchdogService(notifier: notifier, board: board, logger: logger),
                              successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore))
        self.services = services
        self.board = board
    }

    /// Returns once every camera has left the `starting` state (or after 10 s).
    func waitUntilStarted() async {
        for _ in 0..<200 {
            if board.cameras.allSatisfy({ $0.currentState != "starting" }) { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}
