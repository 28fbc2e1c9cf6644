public import Grouping
public import Logging
public import PlateKeeperCore

/// What the chain is fed, in order: frames read by recognition, the drain message, and a tick.
public enum ChainInput: Sendable {
    /// A frame was read (its reads may be none: the camera's time still moves on).
    case frame(camera: CameraID, time: CaptureTime, observations: [Observation])
    /// Recognition holds no more frames of `camera`: none queued, none being read. It comes after
    /// the `.frame` of the last such frame; the camera's open passes close once its window has
    /// passed on the clock with no new frame (a camera that stopped, stalled or finished a replay).
    case drained(camera: CameraID)
    /// Once a second: close the passes of drained cameras, retry events that failed to commit.
    case tick
}

/// A stage that adds to an event what was true when its best frame was captured: the position
/// now; the hotlist match and the retention class next. Enrichers run once per event, in order,
/// before its first commit; an enricher that knows nothing leaves the event as it is, saying so in
/// the event's own fields (a position marked missing), never failing it.
public protocol ReadEventEnricher: Sendable {
    func enrich(_ event: inout ReadEvent) async
}

/// The chain's end: commits one event durably. Throwing means "not committed, try again"; an
/// event the sink refuses for good by its own policy (a full journal set to refuse) is not an error.
public protocol ReadEventSink: Sendable {
    func commit(_ event: ReadEvent) async throws
}

/// Monotonic seconds. Injected, so the chain's timing is tested without waiting.
public protocol MonotonicClock: Sendable {
    func now() -> Double
}

/// How the chain holds events it could not commit.
public struct ChainSettings: Sendable {
    public var grouping: GroupingSettings
    /// Events that failed to commit are retried on the first tick this long after the last try.
    public var retrySeconds: Double = 1
    /// Held events beyond this are dropped, oldest first, and logged as lost: memory is bounded
    /// even when the disk is gone for good.
    public var maxHeld: Int = 10_000

    public init(grouping: GroupingSettings) {
        self.grouping = grouping
    }
}

/// The read-event chain: grouping → enrichers → sink.
///
/// Owns the grouper (the open passes), which cameras recognition has drained, and the events that
/// failed to commit, kept in order and retried on ticks while new ones queue behind them (the
/// journal keeps the order of events). One owner: the daemon's journal stage runs it on one task.
public struct EventChain: Sendable {
    public let settings: ChainSettings
    private let enrichers: [any ReadEventEnricher]
    private let sink: any ReadEventSink
    private let clock: any MonotonicClock
    private let logger: Logger
    private var grouper: ReadGrouper
    /// When each camera's last frame reached the chain (clock seconds).
    private var lastFrame: [CameraID: Double] = [:]
    private var drained: Set<CameraID> = []
    private var held: [ReadEvent] = []
    private var lastTry = -Double.infinity
    private var failureLog = LogThrottle(interval: 60, burst: 1)

    public init(
        settings: ChainSettings, enrichers: [any ReadEventEnricher], sink: any ReadEventSink, clock: any MonotonicClock,
        logger: Logger
    ) {
        self.settings = settings
        self.enrichers = enrichers
        self.sink = sink
        self.clock = clock
        self.logger = logger
        grouper = ReadGrouper(settings: settings.grouping)
    }

    /// Passes still open, over all cameras.
    public var openPasses: Int { grouper.openPasses }
    /// Events made but not yet committed (waiting for a retry).
    public var waiting: Int { held.count }

    public mutating func handle(_ input: ChainInput) async {
        var made: [ReadEvent] = []
        switch input {
        case let .frame(camera, time, observations):
            lastFrame[camera] = clock.now()
            drained.remove(camera)
            made += grouper.addFrame(camera: camera, time: time, observations: observations)
        case let .drained(camera):
            drained.insert(camera)
        case .tick:
            let now = clock.now()
            for camera in drained where now - (lastFrame[camera] ?? now) > settings.grouping.windowSeconds {
                made += grouper.closeAll(camera: camera)
                drained.remove(camera)
            }
        }
        await take(made, retry: input.isTick)
    }

    /// Closes every open pass and commits all it can (at shutdown, after the last frame: one more
    /// try of held events, whenever the last one was); returns the events still not committed.
    public mutating func finish() async -> [ReadEvent] {
        lastTry = -Double.infinity
        await take(grouper.closeAll(), retry: true)
        return held
    }

    private mutating func take(_ made: [ReadEvent], retry: Bool) async {
        for var event in made {
            for enricher in enrichers { await enricher.enrich(&event) }
            held.append(event)
        }
        // A failing sink is tried again only on a tick, once per retry interval, not with every frame.
        if held.count > made.count {
            guard retry, clock.now() - lastTry >= settings.retrySeconds else { return trim() }
        }
        guard !held.isEmpty else { return }
        lastTry = clock.now()
        var committed = 0
        for event in held {
            do {
                try await sink.commit(event)
                committed += 1
            } catch {
                let (log, heldBack) = failureLog.allow(now: clock.now())
                if log {
                    logger.error("read event commit failed; will retry every second", metadata: [
                        "read.id": "\(event.id.uuidString.lowercased())", "camera.id": "\(event.camera)",
                        "error": "\(error)", "reads.waiting": "\(held.count - committed)", "held.back": "\(heldBack)",
                    ])
                }
                break
            }
        }
        held.removeFirst(committed)
        trim()
    }

    private mutating func trim() {
        guard held.count > settings.maxHeld else { return }
        let dropped = held.count - settings.maxHeld
        logger.critical("read events could not be committed and are dropped from memory", metadata: ["dropped": "\(dropped)"])
        held.removeFirst(dropped)
    }
}

extension ChainInput {
    var isTick: Bool {
        if case .tick = self { return true }
        return false
    }
}
