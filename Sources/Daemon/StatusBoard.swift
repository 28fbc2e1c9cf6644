import Capture
public import Foundation
import Journal
import PlateKeeperCore
import Position
import Upload

/// What `platekeeper status` shows: the JSON document served on the status socket.
public struct StatusDocument: Sendable, Codable {
    public struct Camera: Sendable, Codable {
        public var id: String
        public var source: String
        /// `starting`, `streaming`, `stalled`, `retrying`, `finished` (a replay without loop), `stopped`.
        public var state: String
        public var error: String?
        /// Faults since the start (device lost, refused, stalled) and the last one, kept after recovery.
        public var faults: Int
        public var lastFault: String?
        public var framesReceived: Int
        public var framesProcessed: Int
        public var framesDropped: Int
        /// Frames that could not be decoded or read (torn, empty, too large) and were skipped.
        public var framesBad: Int
        public var lastBadFrame: String?
        public var receivedPerSecond: Double
        public var processedPerSecond: Double
        public var lastFrameAgeSeconds: Double?
        public var lastRead: LastRead?
        public var readEvents: Int
        public var healthy: Bool
    }

    /// The camera's last journaled read: when and how sure, and the hotlist it hit, if any. Never
    /// the plate: status is polled and logged by monitoring, which keeps it beyond retention.
    public struct LastRead: Sendable, Codable {
        public var confidence: Double
        public var at: String
        public var hit: String?
    }

    /// The last hotlist hit: the list, camera and time, and the read's id (for an audited export).
    public struct LastHit: Sendable, Codable, Equatable {
        public var list: String
        public var camera: String
        public var at: String
        public var read: String
    }

    /// The hotlists: what is loaded, what was skipped, hits since the start.
    public struct HotlistPart: Sendable, Codable {
        public struct List: Sendable, Codable {
            public var name: String
            public var entries: Int
        }
        public struct File: Sendable, Codable {
            public var path: String
            public var loaded: Bool
            public var entries: Int
            public var skippedLines: Int
            /// The first problem (the whole file, or the first skipped line).
            public var problem: String?
        }
        /// Hotlist-only mode: reads that match nothing are not written.
        public var only: Bool
        public var maxEditDistance: Int
        public var lists: [List]
        public var files: [File]
        public var loadedAt: String?
        public var hitsSinceStart: Int
        public var lastHit: LastHit?
        /// Reads dropped unwritten since the start (hotlist-only mode).
        public var notKeptSinceStart: Int
    }

    public struct JournalPart: Sendable, Codable {
        public var path: String
        public var healthy: Bool
        public var error: String?
        public var rows: Int
        public var pending: Int
        public var bytes: Int64
        public var quotaBytes: Int64
        public var quotaUsed: Double
        public var oldestPending: String?
        public var droppedFull: Int
        public var expired: Int
        public var rejectedSinceStart: Int
        public var quarantined: String?
        /// Reads the store refused for good (kept, not retried).
        public var deadLetters: Int
        /// The oldest record held (its first-seen time) and when it was journaled: retention
        /// counts from the latter.
        public var oldest: String?
        public var oldestJournaled: String?
        /// Rows that matched a hotlist; reads never written (hotlist-only mode), all time.
        public var hits: Int
        public var notKept: Int
        /// Seconds the WAL has held pages of reads retention deleted (a reader held the checkpoint
        /// off; nil: none), and the longest such stay since start.
        public var expiredInWalSeconds: Double?
        public var expiredInWalLongestSeconds: Double
    }

    /// The upload stage; nil when upload is off.
    public struct UploadPart: Sendable, Codable {
        public var url: String
        public var state: String
        /// Reads waiting for upload and the age of the oldest (journal time), seconds.
        public var backlog: Int
        public var oldestWaitingSeconds: Double?
        public var deadLetters: Int
        public var lastSuccess: String?
        public var lastError: String?
        public var lastErrorAt: String?
        public var nextAttempt: String?
        public var uploadedSinceStart: Int
        public var readsPerSecond: Double
        public var failuresInARow: Int
    }

    public struct Position: Sendable, Codable {
        /// `none`, `fixed`, `gpsd` or `nmea` (a recording's log is one of the last two).
        public var source: String
        /// What the source is doing: `none`, `fixed`, `connecting`, `receiving`, `silent`,
        /// `device-gone`, `disconnected`, `recorded`, `unusable` (a recording's log that cannot be
        /// read or holds no fix).
        public var state: String?
        public var error: String?
        /// The mode of the fix now (`none`, `2d`, `3d`, `fixed`) and its satellites; absent when
        /// the source is not receiving (silent, disconnected, gone), whose last mode is `lastFixMode`.
        public var fixMode: String?
        public var lastFixMode: String?
        public var satellitesUsed: Int?
        public var satellitesSeen: Int?
        /// Seconds since the last fix with a position arrived.
        public var lastFixAgeSeconds: Double?
        public var latitude: Double?
        public var longitude: Double?
        public var badInputs: Int?
        public var lastBadInput: String?
        /// Fixes refused for an implausible time (far from the synchronised clock or the track),
        /// the last one's reason, and steps of the receiver's time taken.
        public var implausibleTimes: Int?
        public var lastImplausibleTime: String?
        public var timeSteps: Int?
        /// The newest fix's date came from the system clock (the receiver's was wrong).
        public var dateFromSystemClock: Bool?
    }

    /// The system clock: the kernel's view and, with a GNSS fix, how far GNSS time is from it.
    public struct Clock: Sendable, Codable {
        public var synchronized: Bool?
        public var estimatedErrorSeconds: Double?
        public var maximumErrorSeconds: Double?
        public var gpsOffsetSeconds: Double?
        public var offsetWarningSeconds: Double?
    }

    public var version: String
    public var pid: Int32
    public var startedAt: String
    public var uptimeSeconds: Double
    public var now: String
    public var clockSynchronized: Bool
    public var clockQuality: String
    public var diskFreeBytes: Int64?
    /// `healthy`; `degraded`: everything runs but what it records is worth less (the clock is
    /// not synchronised, so read times may be off), see `warnings`; `unhealthy`: something is
    /// broken, see `problems`. `platekeeper status` exits 0, 1 or 2 for them (as monitoring
    /// checks do: OK, WARNING, CRITICAL).
    public var state: String
    /// True only when `state` is `healthy`.
    public var healthy: Bool
    public var problems: [String]
    public var warnings: [String]
    public var cameras: [Camera]
    public var journal: JournalPart
    public var upload: UploadPart?
    /// nil when no hotlist is configured.
    public var hotlist: HotlistPart?
    public var position: Position
    public var clock: Clock?
    public var workers: Int
    public var framesQueued: Int

    /// The document's one JSON spelling (snake_case keys, sorted), as the socket serves it.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self)
    }

    /// A document as the socket served it.
    public static func decode(_ data: Data) throws -> StatusDocument {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(StatusDocument.self, from: data)
    }
}

/// Live counters of one camera, written by its capture thread and the workers, read by status.
final class CameraBoard: Sendable {
    struct State {
        var state = "starting"
        var error: String?
        var faults = 0
        var lastFault: String?
        var received = 0
        var processed = 0
        var dropped = 0
        var bad = 0
        var lastBad: String?
        var readEvents = 0
        var lastFrame: Double?
        var receivedTimes: [Double] = []
        var processedTimes: [Double] = []
        var lastRead: StatusDocument.LastRead?
        var detectorFailures = 0
        var lastDetectorFailure: String?
    }

    let id: CameraID
    let source: String
    let stallSeconds: Double
    private let state = Locked(State())
    /// The same counts for Prometheus (no-ops when metrics are off).
    let metrics: CameraMetrics

    init(id: CameraID, source: String, stallSeconds: Double, metrics: DaemonMetrics = .off) {
        self.id = id
        self.source = source
        self.stallSeconds = stallSeconds
        self.metrics = CameraMetrics(camera: id, metrics: metrics)
    }

    func set(state newState: String, error: String? = nil) {
        state.withLock {
            $0.state = newState
            $0.error = error
            if let error, newState != "streaming" {
                $0.faults += 1
                $0.lastFault = error
            }
        }
    }

    func received(dropped: Bool) {
        let now = SystemClock.monotonic()
        metrics.received.increment()
        if dropped { metrics.dropped.increment() }
        state.withLock {
            $0.received += 1
            if dropped { $0.dropped += 1 }
            $0.lastFrame = now
            Self.note(now, in: &$0.receivedTimes)
        }
    }

    /// A frame that could not be read or decoded and was skipped.
    func badFrame(_ error: String) {
        metrics.bad.increment()
        state.withLock {
            $0.bad += 1
            $0.lastBad = error
        }
    }

    /// Frames the driver dropped before we saw them (sequence gaps).
    func driverDropped(_ n: Int) {
        metrics.received.increment(by: Int64(n))
        metrics.dropped.increment(by: Int64(n))
        state.withLock {
            $0.dropped += n
            $0.received += n
        }
    }

    /// Frames on which the plate detector failed (OpenCV threw, or the model answered a shape it
    /// should not): they were searched by the row finder alone, slower and with more false reads.
    func detectorFailed(frames: Int, error: String) {
        metrics.detectorFailures.increment(by: Int64(frames))
        state.withLock {
            $0.detectorFailures += frames
            $0.lastDetectorFailure = error
        }
    }

    /// The detector failures since start and the last one's error (status warnings).
    var detectorFailures: (count: Int, last: String?) { state.withLock { ($0.detectorFailures, $0.lastDetectorFailure) } }

    /// A frame recognition is done with: how many plates it read and how long that took.
    func processed(plates: Int, seconds: Double) {
        let now = SystemClock.monotonic()
        metrics.processed.increment()
        metrics.plates.increment(by: Int64(plates))
        metrics.recognition.recordNanoseconds(Int64(max(seconds, 0) * 1e9))
        state.withLock {
            $0.processed += 1
            Self.note(now, in: &$0.processedTimes)
        }
    }

    func journaled(_ event: ReadEvent) {
        metrics.events.increment()
        state.withLock {
            $0.readEvents += 1
            $0.lastRead = .init(confidence: event.confidence, at: event.lastSeen.iso8601, hit: event.hit?.list)
        }
    }

    /// A read event not written (hotlist-only mode): counted with the camera's events, no last read.
    func seen() {
        metrics.events.increment()
        state.withLock { $0.readEvents += 1 }
    }

    var currentState: String { state.withLock { $0.state } }

    func snapshot(now: Double) -> StatusDocument.Camera {
        state.withLock { s in
            let age = s.lastFrame.map { now - $0 }
            var current = s.state
            if current == "streaming", let age, age > stallSeconds { current = "stalled" }
            let healthy = current == "streaming" || current == "finished"
            return .init(
                id: id.rawValue, source: source, state: current, error: s.error, faults: s.faults, lastFault: s.lastFault,
                framesReceived: s.received,
                framesProcessed: s.processed, framesDropped: s.dropped, framesBad: s.bad, lastBadFrame: s.lastBad,
                receivedPerSecond: Self.rate(s.receivedTimes, now: now), processedPerSecond: Self.rate(s.processedTimes, now: now),
                lastFrameAgeSeconds: age, lastRead: s.lastRead, readEvents: s.readEvents, healthy: healthy)
        }
    }

    private static func note(_ t: Double, in times: inout [Double]) {
        times.append(t)
        if times.count > 256 { times.removeFirst(times.count - 256) }
    }

    /// Frames per second over the last 10 seconds.
    private static func rate(_ times: [Double], now: Double) -> Double {
        let recent = times.filter { now - $0 <= 10 }
        guard recent.count >= 2, let first = recent.first else { return 0 }
        let span = max(now - first, 1e-3)
        return (Double(recent.count - 1) / span * 100).rounded() / 100
    }
}

/// The daemon's shared state for status and the watchdog: camera boards, journal figures,
/// heartbeats of the pipeline's loops.
public final class StatusBoard: Sendable {
    struct Shared {
        var cameras: [CameraBoard] = []
        var journal: JournalStats?
        /// The journal's figures could not be read (upkeep), or the last commit failed (the chain's
        /// sink; cleared by the next commit that succeeds). Kept apart so neither clears the other.
        var statsError: String?
        var commitError: String?
        var journalError: String? { commitError ?? statsError }
        var rejected = 0
        var lastRejected: Double?
        var quarantined: String?
        var heartbeats: [String: Double] = [:]
        var workers = 0
        /// Every recognition worker has its readers (models loaded): the pipeline can run.
        var recognitionReady = false
        var upload: (@Sendable () -> UploadStatus)?
        var hotlist: (@Sendable () -> StatusDocument.HotlistPart)?
    }

    let startedAt = Date()
    let startedMonotonic = SystemClock.monotonic()
    let version: String
    let position: PositionFeed
    let clockOffsetWarningSeconds: Double
    let diskPath: String
    private let shared = Locked(Shared())
    /// Frames waiting in the queue right now.
    let queuedFrames: @Sendable () -> Int

    init(
        version: String, position: PositionFeed, clockOffsetWarningSeconds: Double = 0.5, diskPath: String,
        queuedFrames: @escaping @Sendable () -> Int
    ) {
        self.version = version
        self.position = position
        self.clockOffsetWarningSeconds = clockOffsetWarningSeconds
        self.diskPath = diskPath
        self.queuedFrames = queuedFrames
    }

    /// Recognition says its workers are set up; READY=1 waits for this.
    func recognitionIsReady() { shared.withLock { $0.recognitionReady = true } }
    var isRecognitionReady: Bool { shared.withLock { $0.recognitionReady } }

    func setCameras(_ boards: [CameraBoard], workers: Int) {
        shared.withLock {
            $0.cameras = boards
            $0.workers = workers
            $0.heartbeats = [:]
        }
    }

    /// Where status finds the uploader's state.
    func setUpload(_ source: @escaping @Sendable () -> UploadStatus) { shared.withLock { $0.upload = source } }
    /// Where status finds the hotlists' state.
    func setHotlist(_ source: @escaping @Sendable () -> StatusDocument.HotlistPart) { shared.withLock { $0.hotlist = source } }

    /// Status reports upload as a problem when the oldest read waiting is older than this and the
    /// last attempt failed.
    static let uploadBacklogProblemSeconds = 3600.0

    func camera(_ id: CameraID) -> CameraBoard? { shared.withLock { s in s.cameras.first { $0.id == id } } }
    var cameras: [CameraBoard] { shared.withLock { $0.cameras } }

    func journal(_ stats: JournalStats?, error: String?) {
        shared.withLock {
            if let stats { $0.journal = stats }
            $0.statsError = error
        }
    }

    /// The outcome of the last commit to the journal: nil when it succeeded.
    func commit(error: String?) {
        shared.withLock { $0.commitError = error }
    }

    func rejected() {
        let now = SystemClock.monotonic()
        shared.withLock {
            $0.rejected += 1
            $0.lastRejected = now
        }
    }

    /// How long after the last refused read status still reports the journal as refusing reads.
    static let rejectionMemorySeconds = 60.0
    func quarantined(_ path: String) { shared.withLock { $0.quarantined = path } }

    func beat(_ name: String) {
        let now = SystemClock.monotonic()
        shared.withLock { $0.heartbeats[name] = now }
    }

    /// True when every loop of the pipeline has beaten within `seconds` (and true before the
    /// first beat, while the pipeline starts).
    func pipelineAlive(within seconds: Double) -> Bool {
        let now = SystemClock.monotonic()
        return shared.withLock { s in s.heartbeats.values.allSatisfy { now - $0 <= seconds } }
    }

    func document() -> StatusDocument {
        let now = SystemClock.monotonic()
        let s = shared.withLock { $0 }
        let cameras = s.cameras.map { $0.snapshot(now: now) }
        let quality = SystemClock.quality()
        var problems: [String] = []
        for c in cameras where !c.healthy {
            problems.append("camera \(c.id) is \(c.state)" + (c.error.map { ": \($0)" } ?? ""))
        }
        let stats = s.journal
        if let error = s.journalError { problems.append("journal: \(error)") }
        if stats == nil, s.journalError == nil { problems.append("journal: no figures yet") }
        if let last = s.lastRejected, now - last < Self.rejectionMemorySeconds {
            problems.append("journal is full and refuses new reads (when_full = stop-accepting): \(s.rejected) refused since start")
        } else if let stats, stats.quotaUsed > 0.98, stats.pending == stats.rows, stats.rows > 0 {
            problems.append("journal is full of reads waiting for upload")
        }
        let journal = StatusDocument.JournalPart(
            path: stats?.path ?? "", healthy: s.journalError == nil && stats != nil && s.lastRejected.map { now - $0 >= Self.rejectionMemorySeconds } != false,
            error: s.journalError,
            rows: stats?.rows ?? 0, pending: stats?.pending ?? 0, bytes: stats?.bytesOnDisk ?? 0,
            quotaBytes: stats?.quotaBytes ?? 0, quotaUsed: ((stats?.quotaUsed ?? 0) * 1000).rounded() / 1000,
            oldestPending: stats?.oldestPending.map { ISO8601.format(unixNanoseconds: $0) },
            droppedFull: stats?.droppedFull ?? 0, expired: stats?.expired ?? 0, rejectedSinceStart: s.rejected,
            quarantined: s.quarantined, deadLetters: stats?.deadLetters ?? 0,
            oldest: stats?.oldest.map { ISO8601.format(unixNanoseconds: $0) },
            oldestJournaled: stats?.oldestJournaled.map { ISO8601.format(unixNanoseconds: $0) },
            hits: stats?.hits ?? 0, notKept: stats?.notKept ?? 0,
            expiredInWalSeconds: stats?.expiredInWalSeconds.map { ($0 * 10).rounded() / 10 },
            expiredInWalLongestSeconds: ((stats?.expiredInWalLongestSeconds ?? 0) * 10).rounded() / 10)
        let hotlist = s.hotlist?()
        var warnings: [String] = []
        for camera in s.cameras {
            let failures = camera.detectorFailures
            if failures.count > 0 {
                warnings.append("camera \(camera.id.rawValue): the plate detector failed on \(failures.count) frames since start, "
                    + "which were searched by the row finder alone (last: \(failures.last ?? ""))")
            }
        }
        for file in hotlist?.files ?? [] {
            if !file.loaded {
                problems.append("hotlist \(file.path) is not loaded: \(file.problem ?? "")")
            } else if file.skippedLines > 0 {
                warnings.append("hotlist \(file.path): \(file.skippedLines) malformed lines skipped (first: \(file.problem ?? ""))")
            }
        }
        var upload: StatusDocument.UploadPart?
        if let source = s.upload {
            let u = source()
            let wall = Date().timeIntervalSince1970
            let oldest = stats?.oldestPendingJournaled.map { max(0, (wall - Double($0) / 1e9) * 10).rounded() / 10 }
            upload = .init(
                url: u.url, state: u.state, backlog: stats?.pending ?? 0, oldestWaitingSeconds: oldest, deadLetters: stats?.deadLetters ?? 0,
                lastSuccess: u.lastSuccess, lastError: u.lastError, lastErrorAt: u.lastErrorAt, nextAttempt: u.nextAttempt,
                uploadedSinceStart: u.uploaded, readsPerSecond: u.readsPerSecond, failuresInARow: u.failuresInARow)
            if u.state == "refused" {
                problems.append("upload refused by the store: \(u.lastError ?? "")")
            } else if u.failuresInARow > 0, let oldest, oldest > Self.uploadBacklogProblemSeconds {
                problems.append("upload failing for over \(Int(Self.uploadBacklogProblemSeconds / 60)) minutes: \(u.lastError ?? "")")
            }
        }
        let p = position.snapshot()
        let positionPart = StatusDocument.Position(
            source: p.source?.rawValue ?? "none", state: p.state.rawValue, error: p.error, fixMode: p.fixMode?.rawValue,
            lastFixMode: p.lastFixMode?.rawValue, satellitesUsed: p.satellitesUsed, satellitesSeen: p.satellitesSeen,
            lastFixAgeSeconds: p.lastFixAgeSeconds, latitude: p.lastFix?.latitude, longitude: p.lastFix?.longitude, badInputs: p.badInputs,
            lastBadInput: p.lastBadInput, implausibleTimes: p.implausibleTimes, lastImplausibleTime: p.lastImplausibleTime,
            timeSteps: p.timeSteps, dateFromSystemClock: p.dateFromSystemClock ? true : nil)
        switch p.state {
        case .disconnected, .silent, .deviceGone, .unusable:
            problems.append("position source \(p.source?.rawValue ?? "") is \(p.state.rawValue)" + (p.error.map { ": \($0)" } ?? ""))
        case .none, .fixed, .connecting, .receiving, .recorded:
            break
        }
        if p.implausibleTimes > 0 {
            warnings.append("position source \(p.source?.rawValue ?? ""): \(p.implausibleTimes) fix(es) with an implausible time refused "
                + "(last: \(p.lastImplausibleTime ?? "?"))")
        }
        let kernel = SystemClock.state()
        let offset = p.gpsOffsetSeconds
        if let offset, abs(offset) > clockOffsetWarningSeconds {
            problems.append("system clock differs from GNSS time by \(offset) s (limit \(clockOffsetWarningSeconds) s)")
        }
        if quality != .synchronized {
            warnings.append(
                (quality == .unsynchronized ? "system clock is not synchronised" : "system clock synchronisation is \(quality.rawValue)")
                    + ": read times may be off; check NTP or the GNSS time source"
                    + (offset.map { " (GNSS − system \($0) s)" } ?? ""))
        }
        let state = !problems.isEmpty ? "unhealthy" : !warnings.isEmpty ? "degraded" : "healthy"
        let clock = StatusDocument.Clock(
            synchronized: kernel.synchronized, estimatedErrorSeconds: kernel.estimatedErrorSeconds,
            maximumErrorSeconds: kernel.maximumErrorSeconds, gpsOffsetSeconds: offset, offsetWarningSeconds: clockOffsetWarningSeconds)
        return StatusDocument(
            version: version, pid: getpid(), startedAt: ISO8601.format(unixNanoseconds: Int64(startedAt.timeIntervalSince1970 * 1e9)),
            uptimeSeconds: ((now - startedMonotonic) * 10).rounded() / 10, now: SystemClock.now().iso8601,
            clockSynchronized: quality == .synchronized, clockQuality: quality.rawValue, diskFreeBytes: Self.diskFree(diskPath),
            state: state, healthy: state == "healthy", problems: problems, warnings: warnings, cameras: cameras, journal: journal, upload: upload, hotlist: hotlist, position: positionPart,
            clock: clock, workers: s.workers, framesQueued: queuedFrames())
    }

    static func diskFree(_ path: String) -> Int64? {
        var st = statvfs()
        guard statvfs(path, &st) == 0 else { return nil }
        return Int64(st.f_bavail) * Int64(st.f_frsize)
    }
}
