import Foundation
public import PlateKeeperCore

/// The unit's live position knowledge: one source's fixes (a short track), what the source is
/// doing, and the GNSS − system clock offset. The source's thread writes it; the event chain's
/// enricher and the status board read it.
///
/// It owns the answer to "where was the unit at this capture time, and how sure are we": a fixed
/// position for a pole unit, a position from the track, or an explicit reason there is none.
public final class PositionFeed: Sendable {
    /// Limits from the config.
    public struct Settings: Sendable, Equatable {
        /// Fixes further apart than this are not interpolated between.
        public var maxGapSeconds = 3.0
        /// A position is carried forward from the last fix for at most this long, then stale.
        public var maxExtrapolationSeconds = 1.0
        /// A connected source that reports nothing for this long is "silent".
        public var silentAfterSeconds = 3.0
        /// Fixes kept (at 1–10 Hz: a minute or more, far longer than a pass lasts).
        public var capacity = 600
        public init() {}
    }

    /// What the source is doing, for status and logs.
    public enum SourceState: String, Sendable, Codable {
        /// No source configured.
        case none
        /// A pole unit's configured position.
        case fixed
        /// Opening the device or connecting to gpsd.
        case connecting
        /// Connected; reports are arriving.
        case receiving
        /// Connected, but nothing has arrived for `silentAfterSeconds` (a receiver that stopped talking).
        case silent
        /// gpsd says its device went away.
        case deviceGone = "device-gone"
        /// Not connected (gpsd down, the serial device unplugged); retrying with backoff.
        case disconnected
        /// Fixes loaded from a recording's position log.
        case recorded
        /// A recording's position log that cannot be read, or holds no fix: reads get no position.
        case unusable
    }

    /// The feed's figures for status.
    public struct Snapshot: Sendable, Equatable {
        public var source: GeoPosition.Source?
        public var state: SourceState
        public var error: String?
        public var fixMode: GeoPosition.FixMode?
        public var satellitesUsed: Int?
        public var satellitesSeen: Int?
        /// Seconds since the last report with a position arrived (receive time, monotonic).
        public var lastFixAgeSeconds: Double?
        public var lastFix: GeoPosition?
        public var gpsOffsetSeconds: Double?
        public var badInputs: Int
        public var lastBadInput: String?
    }

    private struct State {
        var track: PositionTrack?
        var state: SourceState
        var error: String?
        var lastReportAt: Double?
        var lastFixAt: Double?
        var satellitesUsed: Int?
        var satellitesSeen: Int?
        /// GNSS time − receive time of recent fixes, seconds (newest last).
        var offsets: [Double] = []
        var badInputs = 0
        var lastBadInput: String?
        /// The newest report said "no fix" without a time (it cannot go into the track).
        var noFixWithoutTime = false
    }

    public let source: GeoPosition.Source?
    public let settings: Settings
    private let fixed: GeoPosition?
    private let state: Locked<State>

    /// A feed for a receiver (`gpsd` or `nmea`).
    public init(source: GeoPosition.Source, settings: Settings = Settings()) {
        self.source = source
        self.settings = settings
        fixed = nil
        state = Locked(State(
            track: PositionTrack(
                source: source, maxGapSeconds: settings.maxGapSeconds, maxExtrapolationSeconds: settings.maxExtrapolationSeconds,
                capacity: settings.capacity),
            state: .connecting))
    }

    /// A pole unit's feed: always `position`.
    public init(fixed position: GeoPosition) {
        source = .fixed
        settings = Settings()
        fixed = position
        state = Locked(State(track: nil, state: .fixed))
    }

    /// No position source: every read says so.
    public init() {
        source = nil
        settings = Settings()
        fixed = nil
        state = Locked(State(track: nil, state: .none))
    }

    // MARK: Written by the source

    public func connecting() { state.withLock { $0.state = .connecting } }

    /// The source connected (or reconnected); its errors are over.
    public func connected() {
        state.withLock {
            $0.state = .receiving
            $0.error = nil
            $0.lastReportAt = Clocks.monotonicSeconds()
        }
    }

    /// The fixes came from a recording: no live source to be silent or disconnected.
    public func recorded() { state.withLock { $0.state = .recorded } }

    /// A recording's log that cannot be read or has no fix in it (not a live source going away).
    public func unusable(_ error: String) {
        state.withLock {
            $0.state = .unusable
            $0.error = error
        }
    }

    public func disconnected(_ error: String) {
        state.withLock {
            $0.state = .disconnected
            $0.error = error
        }
    }

    /// gpsd's DEVICE report: the receiver went away or came back.
    public func device(active: Bool) {
        state.withLock {
            $0.state = active ? .receiving : .deviceGone
            $0.error = active ? nil : "gpsd reports the receiver gone"
        }
    }

    /// A fix (or the news of no fix) as it arrived; `receivedAt` is the system clock then, Unix ns.
    /// Returns false when the track refused it (older than the newest).
    @discardableResult
    public func report(_ fix: PositionFix, receivedAt: Int64) -> Bool {
        let now = Clocks.monotonicSeconds()
        return state.withLock { s in
            s.lastReportAt = now
            if s.state != .deviceGone { s.state = .receiving }
            s.noFixWithoutTime = false
            var fix = fix
            if fix.satellites == nil { fix.satellites = s.satellitesUsed }
            guard s.track?.add(fix) == true else { return false }
            if fix.hasPosition {
                s.lastFixAt = now
                s.offsets.append(Double(fix.time - receivedAt) / 1e9)
                if s.offsets.count > 16 { s.offsets.removeFirst() }
            }
            return true
        }
    }

    /// A report of no fix that carries no time (a receiver that has neither yet): shown in status;
    /// reads after the last fix become stale by themselves.
    public func noFixWithoutTime() {
        let now = Clocks.monotonicSeconds()
        state.withLock {
            $0.noFixWithoutTime = true
            $0.lastReportAt = now
            if $0.state != .deviceGone { $0.state = .receiving }
        }
    }

    /// gpsd's SKY report.
    public func satellites(used: Int, seen: Int) {
        let now = Clocks.monotonicSeconds()
        state.withLock {
            $0.satellitesUsed = used
            $0.satellitesSeen = seen
            $0.lastReportAt = now
            $0.track?.noteSatellites(used)
        }
    }

    /// A line that could not be used (bad checksum, malformed JSON…): counted and kept for status.
    public func badInput(_ description: String) {
        let now = Clocks.monotonicSeconds()
        state.withLock {
            $0.badInputs += 1
            $0.lastBadInput = String(description.prefix(200))
            $0.lastReportAt = now
        }
    }

    // MARK: Read by the chain and status

    /// GNSS time minus the system clock, seconds: the largest of the recent samples, since each
    /// sample is the true offset less that report's delay, and the largest has the least delay.
    /// To the millisecond, as reads and status report it.
    public var gpsOffsetSeconds: Double? {
        state.withLock { $0.offsets.max() }.map(Self.rounded)
    }

    /// The GNSS time of the newest report, with or without a position.
    public var newestReportTime: Int64? { state.withLock { $0.track?.latest?.time } }

    /// The position at `captureNs` (system clock, Unix ns), and how it was obtained.
    ///
    /// Fixes are in GNSS time. When the system clock is not synchronised and differs from GNSS
    /// time by more than a second, the capture time is moved onto GNSS time by the measured offset
    /// first; a synchronised clock is trusted as it is.
    public func lookup(at captureNs: Int64, clockSynchronized: Bool?) -> (GeoPosition?, PositionStatus) {
        if let fixed { return (fixed, PositionStatus(state: .fixed)) }
        return state.withLock { s in
            guard let track = s.track, track.count > 0 else { return (nil, PositionStatus(state: .noSource)) }
            var time = captureNs
            if clockSynchronized != true, let offset = s.offsets.max(), abs(offset) > 1,
               let shift = ISO8601.nanoseconds(seconds: offset), case (let t, false) = captureNs.addingReportingOverflow(shift) {
                time = t
            }
            switch track.position(at: time) {
            case let .position(geo, age, method, satellites):
                let state: PositionStatus.State = switch method {
                case .atFix: .fix
                case .interpolated: .interpolated
                case .carried: .carried
                }
                return (geo, PositionStatus(state: state, fixAgeSeconds: Self.rounded(age), satellites: satellites))
            case let .stale(age):
                return (nil, PositionStatus(state: .stale, fixAgeSeconds: Self.rounded(age), satellites: track.latest?.satellites))
            case .noFix:
                return (nil, PositionStatus(state: .noFix, satellites: track.latest?.satellites))
            case .unknown:
                return (nil, PositionStatus(state: .unknown))
            }
        }
    }

    public func snapshot() -> Snapshot {
        let now = Clocks.monotonicSeconds()
        return state.withLock { s in
            var current = s.state
            if current == .receiving, let last = s.lastReportAt, now - last > settings.silentAfterSeconds { current = .silent }
            let latestFix = s.track?.latest
            let lastFix: GeoPosition? = fixed ?? {
                guard let track = s.track, let latest = latestFix, latest.hasPosition,
                      case let .position(geo, _, _, _) = track.position(at: latest.time) else { return nil }
                return geo
            }()
            return Snapshot(
                source: source, state: current, error: s.error, fixMode: fixed?.fix ?? (s.noFixWithoutTime ? GeoPosition.FixMode.none : latestFix?.mode),
                satellitesUsed: s.satellitesUsed ?? latestFix?.satellites, satellitesSeen: s.satellitesSeen,
                lastFixAgeSeconds: s.lastFixAt.map { Self.rounded(now - $0) }, lastFix: lastFix, gpsOffsetSeconds: s.offsets.max().map(Self.rounded),
                badInputs: s.badInputs, lastBadInput: s.lastBadInput)
        }
    }

    /// Whether the source has been silent for longer than the limit (for the source's own log line).
    public var isSilent: Bool { snapshot().state == .silent }

    static func rounded(_ seconds: Double) -> Double { (seconds * 1000).rounded() / 1000 }
}
