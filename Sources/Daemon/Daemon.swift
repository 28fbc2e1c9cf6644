public import Config
import EventChain
import Capture
import Foundation
import Grouping
public import Journal
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
    public static let version = PlateKeeperVersion.current

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
        // One trap for the whole life of the process, relayed to a fresh stream for each
        // configuration's run, so no signal falls between two runs.
        let trapped = await UnixSignalsSequence(trapping: .sigterm, .sigint, .sighup)
        let relay = SignalRelay()
        let relayTask = Task {
            for await signal in trapped { relay.deliver(signal) }
        }
        defer { relayTask.cancel() }
        // The configuration (and its journal) that ran before the last reload: if the reloaded
        // one's pipeline fails, the daemon goes back to it instead of exiting.
        var previous: (config: PlateKeeperConfig, journal: Journal)?
        // At exit, whatever the way out, the journal is closed cleanly (its WAL folded into the file).
        defer {
            let open = [journal] + (previous.map { $0.journal === journal ? [] : [$0.journal] } ?? [])
            for j in open {
                do {
                    try j.close()
                } catch {
                    logger.warning("journal not closed cleanly; its WAL stays beside it (nothing is lost)", metadata: ["error": "\(error)"])
                }
            }
        }
        while true {
            let running = config, currentJournal = journal, configPath = self.configPath
            let outcome: Outcome
            do {
                outcome = try await runPipeline(running, currentJournal, signals: relay.stream(), configPath: configPath)
            } catch {
                guard let fallback = previous else { throw error }
                logger.error("the reloaded configuration failed; going back to the one that ran before",
                             metadata: ["error": "\(error)"])
                (config, journal) = fallback
                previous = nil
                continue
            }
            switch outcome {
            case let .reload(next):
                let nextJournal: Journal
                if next.journal != config.journal {
                    do {
                        nextJournal = try openJournal(next.journal)
                    } catch {
                        // The running journal is still open: carry on with the running configuration.
                        logger.error("new configuration's journal cannot be opened; keeping the running configuration",
                                     metadata: ["error": "\(error)"])
                        continue
                    }
                } else {
                    nextJournal = journal
                }
                previous = (config, journal)
                (config, journal) = (next, nextJournal)
                logger.notice("configuration reloaded")
            case .stop, .started:
                logger.notice("stopped")
                return
            case .groupEnded:
                guard let fallback = previous else {
                    logger.critical("the pipeline ended by itself")
                    throw PipelineEnded()
                }
                logger.error("the reloaded configuration's pipeline ended by itself; going back to the one that ran before")
                (config, journal) = fallback
                previous = nil
            }
        }
    }

    /// Runs one configuration's pipeline until a stop or reload signal, or until it ends by itself
    /// (an error propagates from here).
    private func runPipeline(
        _ running: PlateKeeperConfig, _ currentJournal: Journal, signals: AsyncStream<UnixSignal>, configPath: String
    ) async throws -> Outcome {
        let notifier = self.notifier, logger = self.logger
        let pipeline = try Pipeline(config: running, journal: currentJournal, notifier: notifier, logger: logger)
        let group = ServiceGroup(configuration: .init(services: pipeline.services, logger: logger))
        return try await withThrowingTaskGroup(of: Outcome.self) { tasks in
            tasks.addTask {
                try await group.run()
                return .groupEnded
            }
            tasks.addTask {
                guard await pipeline.waitUntilStarted() else { return .started }
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
    }

    /// Hands trapped signals to the current run's stream. Each run gets a stream of its own,
    /// because cancelling a task that iterates an AsyncStream finishes that stream for good (a
    /// pipeline that fails cancels its signal task); a signal that arrives while no stream is
    /// open, or after one finished, waits for the next.
    private final class SignalRelay: Sendable {
        private let state = Locked<(continuation: AsyncStream<UnixSignal>.Continuation?, pending: [UnixSignal])>((nil, []))

        func deliver(_ signal: UnixSignal) {
            state.withLock { s in
                if let continuation = s.continuation, case .enqueued = continuation.yield(signal) { return }
                s.continuation = nil
                s.pending.append(signal)
            }
        }

        func stream() -> AsyncStream<UnixSignal> {
            let (stream, continuation) = AsyncStream<UnixSignal>.makeStream()
            state.withLock { s in
                s.continuation?.finish()
                for signal in s.pending { continuation.yield(signal) }
                s.pending = []
                s.continuation = continuation
            }
            return stream
        }
    }

    /// A start-up failure that a restart cannot fix (a model or tessdata missing): `platekeeper
    /// run` exits 78 for it, as for a bad configuration, so `Restart=on-failure` does not loop.
    public struct StartupFailure: Error, CustomStringConvertible {
        public var stage: String
        public var reason: String
        public var description: String { "\(stage) cannot start: \(reason)" }
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
        let settings: JournalSettings
        do {
            settings = try JournalSettings.configured(section)
        } catch {
            // A key file that is missing, readable by others or malformed: a restart cannot fix it.
            throw StartupFailure(stage: "journal", reason: error.description)
        }
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
        let position = PositionSetup(config: config.position, logger: logger)
        let board = StatusBoard(
            version: Daemon.version, position: position.feed, clockOffsetWarningSeconds: position.clockOffsetWarningSeconds,
            diskPath: Paths.folder(of: config.journal.path),
            queuedFrames: { queue.count })
        if let moved = journal.quarantined { board.quarantined(moved.path) }
        let metrics = config.metrics.textfile.isEmpty ? DaemonMetrics.off : DaemonMetrics.prometheus()
        let (stream, continuation) = AsyncStream<ChainInput>.makeStream(bufferingPolicy: .unbounded)
        var grouping = GroupingSettings()
        grouping.windowSeconds = config.grouping.windowSeconds
        grouping.maxEditDistance = config.grouping.maxEditDistance
        grouping.firstSight = config.grouping.firstSight
        grouping.firstSightMinConfidence = config.grouping.firstSightMinConfidence
        grouping.maxPassSeconds = config.grouping.maxPassSeconds
        grouping.topN = config.recognition.topN
        var enrichers: [any ReadEventEnricher] = [PositionEnricher(feed: position.feed)]
        var hotlists: HotlistBook?
        if !config.hotlist.files.isEmpty {
            let book = HotlistBook(section: config.hotlist, logger: logger)
            enrichers.append(HotlistEnricher(book: book, logger: logger))
            board.setHotlist { book.status() }
            hotlists = book
        }

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        services.append(.init(
            service: EventChainService(
                settings: ChainSettings(grouping: grouping), enrichers: enrichers,
                sink: JournalSink(journal: journal, status: board, logger: logger, hotlistOnly: config.hotlist.only ? hotlists : nil),
                inputs: stream, ticks: continuation,
                status: board, logger: logger),
            successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .cancelGroup))
        // Before the chain in stop order (services stop in reverse): it keeps feeding fixes while
        // the last passes close.
        services.insert(.init(service: PositionService(setup: position, logger: logger),
                              successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore), at: 0)
        services.append(.init(service: JournalUpkeepService(journal: journal, status: board, logger: logger),
                              successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore))
        if let hotlists {
            services.append(.init(service: HotlistService(book: hotlists), successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore))
        }
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
                let cameraBoard = CameraBoard(
                    id: camera.id, source: "replay:\(path)", stallSeconds: max(camera.stallSeconds, speed == 0 ? 30 : 0), metrics: metrics)
                boards.append(cameraBoard)
                services.append(.init(
                    service: ReplayCameraService(
                        id: camera.id, path: path, loop: loop, speed: speed, recordedTimes: camera.recordedTimes,
                        passGapSeconds: config.grouping.windowSeconds + 1, board: cameraBoard, queue: queue, logger: cameraLogger),
                    successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore))
            case let .device(path):
                let cameraBoard = CameraBoard(id: camera.id, source: path, stallSeconds: camera.stallSeconds, metrics: metrics)
                boards.append(cameraBoard)
                services.append(.init(
                    service: DeviceCameraService(camera: camera, path: path, board: cameraBoard, queue: queue, logger: cameraLogger),
                    successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore))
            }
        }
        board.setCameras(boards, workers: config.recognition.workers)
        if !config.metrics.textfile.isEmpty {
            // First to start, last to stop: its last write holds every count of this run.
            services.insert(.init(
                service: MetricsService(
                    path: config.metrics.textfile, interval: config.metrics.intervalSeconds, metrics: metrics, board: board, logger: logger),
                successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore), at: 0)
        }
        // After the cameras in start order, so it stops before the journal closes.
        if let upload = try UploadService.make(config: config, journal: journal, logger: logger) {
            board.setUpload { upload.uploader.status }
            services.append(.init(service: upload, successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore))
        }
        services.append(.init(service: StatusService(path: config.status.socket, board: board, logger: logger),
                              successTerminationBehavior: .ignore, failureTerminationBehavior: .cancelGroup))
        services.append(.init(service: WatchdogService(notifier: notifier, board: board, logger: logger),
                              successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore))
        self.services = services
        self.board = board
    }

    /// Returns once recognition has its models loaded (READY=1 means the pipeline can run; a
    /// failure ends the group first) and every camera has left the `starting` state (or 10 s passed).
    /// Returns false if cancelled first (the pipeline failed to start): then nothing is ready.
    func waitUntilStarted() async -> Bool {
        while !board.isRecognitionReady {
            if Task.isCancelled { return false }
            try? await Task.sleep(for: .milliseconds(50))
        }
        for _ in 0..<200 {
            if board.cameras.allSatisfy({ $0.currentState != "starting" }) { break }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return !Task.isCancelled
    }
}

extension JournalSettings {
    /// `init(_:)` with the encryption key file loaded (a file, or a systemd credential under
    /// `$CREDENTIALS_DIRECTORY`), for the daemon and the journal tools alike.
    public static func configured(_ section: JournalSection, keyFile: String? = nil) throws(JournalKeyring.Failure) -> JournalSettings {
        var settings = JournalSettings(section)
        if let path = keyFile ?? section.encryptionKeyPath(credentials: ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"]) {
            settings.keyring = try JournalKeyring.load(path: path)
        }
        return settings
    }

    /// The journal settings `[journal]` gives, for the daemon and the journal tools alike.
    public init(_ section: JournalSection) {
        self.init(path: section.path)
        quotaBytes = section.quotaBytes
        retentionSeconds = section.retentionSeconds
        hitRetentionSeconds = section.hitRetentionSeconds
        whenFull = section.whenFull == .dropOldest ? .dropOldest : .stopAccepting
        keepCrops = section.keepCrops
    }
}
