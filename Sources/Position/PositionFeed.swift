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
        /// A fix whose GNSS − system offset differs from the recent track's by more than this is
        /// not taken into the track at once: it is one bad time (held back) or the start of a step
        /// of the receiver's time (taken once `stepConfirmations` fixes agree on it). Transmission
        /// delays and an unsynchronised clock's drift are far below it.
        public var stepSeconds = 10.0
        /// Fixes agreeing on a new offset, spanning at least `stepConfirmationSeconds` of the
        /// receiver's time, that make it the receiver's time: a receiver reset or a real rollover is recovered from within seconds.
        public var stepConfirmations = 3
        public var stepConfirmationSeconds = 1.5
        /// With the system clock synchronised, a fix further than this from it has a wrong date
        /// (its time of day agreeing: re-dated from the system clock) or a wrong time (refused).
        /// Above the 18 s a receiver without its leap-second table is off.
        public var clockDisagreementSeconds = 30.0
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
        /// The mode of the newest report, when the source is no longer receiving (silent,
        /// disconnected, gone): `fixMode` is then nil, since the unit has no fix now.
        public var lastFixMode: GeoPosition.FixMode?
        /// Fixes refused for an implausible time (far from the synchronised system clock, or
        /// from the recent track without others agreeing), and the last one's reason.
        public var implausibleTimes: Int = 0
        public var lastImplausibleTime: String?
        /// Steps of the receiver's time taken (a reset, a rollover, a new receiver).
        public var timeSteps: Int = 0
        /// The newest fix was dated from the synchronised system clock (the receiver's date was
        /// wrong, its time of day right).
        public var dateFromSystemClock = false
    }

    /// What became of one report.
    public enum Outcome: Sendable, Equatable {
        /// Taken into the track.
        case accepted
        /// Taken, dated from the synchronised system clock (the receiver's date was wrong).
        case redated
        /// Older than the newest report: dropped.
        case older
        /// Its time is implausible (the reason): not taken, counted, shown in status.
        case implausible(String)
        /// Its time disagrees with the recent track: held until others confirm a step.
        case held
        /// It confirmed a step of the receiver's time: the track restarts from the new time.
        case stepped(seconds: Double)
        /// A report without a position whose time is implausible: dropped, with nothing lost.
        case ignored

        public var taken: Bool {
            switch self {
            case .accepted, .redated, .stepped: true
            case .older, .implausible, .held, .ignored: false
            }
        }
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
        var implausibleTimes = 0
        var lastImplausibleTime: String?
        var timeSteps = 0
        /// Fixes whose offset disagrees with the track's, oldest first: (fix, offset s, received).
        var candidates: [(fix: PositionFix, offset: Double, receivedAt: Int64)] = []
        /// The source (re)connected: its next report may go back in time.
        var restart = false
    }

    public let source: GeoPosition.Source?
    public let settings: Settings
    private let fixed: GeoPosition?
    private let state: Locked<State>
    /// Whether the system clock is synchronised now (nil: not known, as for a recording).
    private let clockSynchronized: @Sendable () -> Bool?

    /// The earliest plausible GNSS time: before this software was written. A receiver dating
    /// its fixes earlier has rolled over (1999, 2002…), whatever the system clock says.
    public static let earliestPlausibleTime: Int64 = 1_767_225_600_000_000_000  // 2026-01-01T00:00:00Z

    /// A feed for a receiver (`gpsd` or `nmea`). `clockSynchronized` says whether the system
    /// clock can be believed over a receiver's date (the daemon asks the kernel).
    public init(source: GeoPosition.Source, settings: Settings = Settings(), clockSynchronized: @escaping @Sendable () -> Bool? = { nil }) {
        self.source = source
        self.settings = settings
        self.clockSynchronized = clockSynchronized
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
        clockSynchronized = { nil }
        fixed = position
        state = Locked(State(track: nil, state: .fixed))
    }

    /// No position source: every read says so.
    public init() {
        source = nil
        settings = Settings()
        clockSynchronized = { nil }
        fixed = nil
        state = Locked(State(track: nil, state: .none))
    }

    // MARK: Written by the source

    public func connecting() { state.withLock { $0.state = .connecting } }

    /// The source connected (or reconnected); its errors are over, and what it left behind is
    /// forgotten: the offset it established, fixes held back, and the order of its times (the
    /// first report may go back, for a receiver that was reset or replaced).
    public func connected() {
        state.withLock {
            $0.state = .receiving
            $0.error = nil
            $0.lastReportAt = Clocks.monotonicSeconds()
            $0.offsets = []
            $0.candidates = []
            $0.restart = true
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
    ///
    /// Its time is judged before it enters the track. With the system clock synchronised, a fix
    /// further than `clockDisagreementSeconds` from it is re-dated from the clock when its time of
    /// day agrees (a week-number rollover), else refused; so is a fix dated before this software
    /// existed, when the system clock is past that date. Against the recent track, a fix whose
    /// offset jumps by more than `stepSeconds` is held back: one bad time never poisons the track,
    /// and `stepConfirmations` fixes agreeing on the new offset are a step of the receiver's time,
    /// from which the track restarts. A report without a position never establishes an offset,
    /// and one with an implausible time is dropped quietly (it has nothing to lose).
    @discardableResult
    public func report(_ fix: PositionFix, receivedAt: Int64) -> Outcome {
        let now = Clocks.monotonicSeconds()
        let synchronized = clockSynchronized() == true
        return state.withLock { s in
            s.lastReportAt = now
            if s.state != .deviceGone { s.state = .receiving }
            s.noFixWithoutTime = false
            var fix = fix
            if fix.satellites == nil, fix.hasPosition { fix.satellites = s.satellitesUsed }
            var offset = Double(fix.time) / 1e9 - Double(receivedAt) / 1e9
            var redated = false
            let wrongDate = fix.time < Self.earliestPlausibleTime && receivedAt >= Self.earliestPlausibleTime
            if abs(offset) > settings.clockDisagreementSeconds, synchronized || wrongDate {
                let days = (offset / 86_400).rounded()
                let residual = offset - days * 86_400
                guard days != 0, abs(residual) <= settings.clockDisagreementSeconds, abs(days) < 100_000 else {
                    guard fix.hasPosition else { return .ignored }
                    let why = "GNSS time \(ISO8601.format(unixNanoseconds: fix.time)) is \(Self.rounded(offset)) s from the "
                        + (synchronized ? "synchronised system clock" : "system clock, and before this software existed")
                    s.implausibleTimes += 1
                    s.lastImplausibleTime = why
                    return .implausible(why)
                }
                fix.time -= Int64(days) * 86_400_000_000_000
                fix.dateFromSystemClock = true
                offset = residual
                redated = true
            }
            // The track's offset: the median of the newest few (one late report cannot move it).
            let recent = s.offsets.suffix(5).sorted()
            let established: Double? = recent.isEmpty ? nil : recent[recent.count / 2]
            if let established, abs(offset - established) > settings.stepSeconds {
                guard fix.hasPosition else { return .ignored }
                s.candidates.removeAll { abs($0.offset - offset) > settings.stepSeconds }
                s.candidates.append((fix, offset, receivedAt))
                guard let first = s.candidates.first, s.candidates.count >= settings.stepConfirmations,
                      Double(fix.time - first.fix.time) / 1e9 >= settings.stepConfirmationSeconds else {
                    if s.candidates.count == 1 {
                        s.implausibleTimes += 1
                        s.lastImplausibleTime = "GNSS time \(ISO8601.format(unixNanoseconds: fix.time)) jumps \(Self.rounded(offset - established)) s from the track's"
                    }
                    return .held
                }
                // A step of the receiver's time: the track restarts at the first fix that showed it.
                let step = offset - established
                let taken = s.candidates
                s.candidates = []
                s.offsets = []
                s.timeSteps += 1
                for c in taken {
                    s.track?.add(c.fix, restart: true)
                    s.offsets.append(Double(c.fix.time - c.receivedAt) / 1e9)
                }
                s.lastFixAt = now
                return .stepped(seconds: Self.rounded(step))
            }
            s.candidates = []
            let restart = s.restart
            guard s.track?.add(fix, restart: restart) == true else { return .older }
            s.restart = false
            if fix.hasPosition {
                s.lastFixAt = now
                s.offsets.append(offset)
                if s.offsets.count > 16 { s.offsets.removeFirst() }
            }
            return redated ? .redated : .accepted
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
            case let .position(geo, age, method, satellites, redated):
                let state: PositionStatus.State = switch method {
                case .atFix: .fix
                case .interpolated: .interpolated
                case .carried: .carried
                }
                return (geo, PositionStatus(state: state, fixAgeSeconds: Self.rounded(age), satellites: satellites, dateFromSystemClock: redated))
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
                      case let .position(geo, _, _, _, _) = track.position(at: latest.time) else { return nil }
                return geo
            }()
            let mode = fixed?.fix ?? (s.noFixWithoutTime ? GeoPosition.FixMode.none : latestFix?.mode)
            // A source that is not receiving has no fix now: its last one is shown as past.
            let live = [.receiving, .fixed, .recorded].contains(current)
            return Snapshot(
                source: source, state: current, error: s.error, fixMode: live ? mode : nil,
                satellitesUsed: live ? s.satellitesUsed ?? latestFix?.satellites : nil, satellitesSeen: live ? s.satellitesSeen : nil,
                lastFixAgeSeconds: s.lastFixAt.map { Self.rounded(now - $0) }, lastFix: lastFix, gpsOffsetSeconds: s.offsets.max().map(Self.rounded),
                badInputs: s.badInputs, lastBadInput: s.lastBadInput, lastFixMode: live ? nil : mode,
                implausibleTimes: s.implausibleTimes, lastImplausibleTime: s.lastImplausibleTime, timeSteps: s.timeSteps,
                dateFromSystemClock: latestFix?.dateFromSystemClock ?? false)
        }
    }

    /// Whether the source has been silent for longer than the limit (for the source's own log line).
    public var isSilent: Bool { snapshot().state == .silent }

    static func rounded(_ seconds: Double) -> Double { (seconds * 1000).rounded() / 1000 }
}
