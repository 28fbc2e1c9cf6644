/// Where the unit was when a frame was captured.
///
/// Pole units use a fixed position from the config; mobile units get fixes from gpsd or a serial
/// NMEA receiver. A read carries the fix it was tagged with and how good that fix was.
public struct GeoPosition: Sendable, Hashable, Codable {
    public enum Source: String, Sendable, Codable {
        case fixed, gpsd, nmea
    }

    /// GNSS fix mode, as gpsd reports it.
    public enum FixMode: String, Sendable, Codable {
        case none, twoD = "2d", threeD = "3d", fixed
    }

    public var latitude: Double
    public var longitude: Double
    public var altitudeMeters: Double?
    /// Estimated horizontal error (95 %), metres, when the receiver gives one.
    public var horizontalErrorMeters: Double?
    public var speedMetersPerSecond: Double?
    public var courseDegrees: Double?
    public var fix: FixMode
    public var source: Source
    /// When the fix was taken (the receiver's time), which may differ from the capture time.
    public var fixTime: CaptureTime?

    public init(
        latitude: Double, longitude: Double, altitudeMeters: Double? = nil, horizontalErrorMeters: Double? = nil,
        speedMetersPerSecond: Double? = nil, courseDegrees: Double? = nil, fix: FixMode, source: Source,
        fixTime: CaptureTime? = nil
    ) {
        self.latitude = latitude
        self.longitude = longitude
        self.altitudeMeters = altitudeMeters
        self.horizontalErrorMeters = horizontalErrorMeters
        self.speedMetersPerSecond = speedMetersPerSecond
        self.courseDegrees = courseDegrees
        self.fix = fix
        self.source = source
        self.fixTime = fixTime
    }
}

/// How a read's position was obtained, or why it has none: a read never carries a silent old
/// position or 0,0, it says what the unit knew.
public struct PositionStatus: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Codable, CaseIterable {
        /// The configured position of a pole unit.
        case fixed
        /// A fix taken at the capture time itself.
        case fix
        /// Interpolated between the fixes before and after the capture time.
        case interpolated
        /// Carried forward from the last fix along its speed and course, within the configured limit.
        case carried
        /// The last fix was older than the limit: no position given.
        case stale
        /// The receiver reported that it had no fix.
        case noFix = "no-fix"
        /// No position source is configured, or it has reported nothing yet.
        case noSource = "no-source"
        /// The source gave nothing around the capture time (it was down, or the time is outside
        /// the history it keeps).
        case unknown

        /// Whether a position comes with this state.
        public var hasPosition: Bool { [.fixed, .fix, .interpolated, .carried].contains(self) }
    }

    public var state: State
    /// Seconds between the capture time and the nearest fix used (for `stale`, the last fix).
    public var fixAgeSeconds: Double?
    /// Satellites used in that fix, when the receiver says.
    public var satellites: Int?
    /// The receiver's date was wrong (a week-number rollover: 1999, 2002, 2034…) and the fix was
    /// dated from the synchronised system clock, the receiver's time of day kept.
    public var dateFromSystemClock: Bool

    public init(state: State, fixAgeSeconds: Double? = nil, satellites: Int? = nil, dateFromSystemClock: Bool = false) {
        self.state = state
        self.fixAgeSeconds = fixAgeSeconds
        self.satellites = satellites
        self.dateFromSystemClock = dateFromSystemClock
    }

    enum CodingKeys: String, CodingKey {
        case state, fixAgeSeconds, satellites, dateFromSystemClock
    }

    /// `dateFromSystemClock` is absent from what older builds wrote: false.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        state = try c.decode(State.self, forKey: .state)
        fixAgeSeconds = try c.decodeIfPresent(Double.self, forKey: .fixAgeSeconds)
        satellites = try c.decodeIfPresent(Int.self, forKey: .satellites)
        dateFromSystemClock = try c.decodeIfPresent(Bool.self, forKey: .dateFromSystemClock) ?? false
    }

    /// Whether a position comes with this state.
    public var hasPosition: Bool { state.hasPosition }
}

/// How good the system clock was when a read event was made: the kernel's view (`adjtimex`) and,
/// when a GNSS fix was present, how far GNSS time was from the system clock.
public struct ClockState: Sendable, Hashable, Codable {
    /// Whether the kernel considers the clock synchronised (STA_UNSYNC clear); nil when it could
    /// not be read.
    public var synchronized: Bool?
    /// The kernel's estimated and maximum error, seconds (what the NTP daemon last told it).
    public var estimatedErrorSeconds: Double?
    public var maximumErrorSeconds: Double?
    /// GNSS time minus the system clock, seconds, from the latest fixes (includes the receiver's
    /// reporting delay, typically 0.05–0.5 s); nil without a GNSS fix.
    public var gpsOffsetSeconds: Double?

    public init(synchronized: Bool?, estimatedErrorSeconds: Double? = nil, maximumErrorSeconds: Double? = nil, gpsOffsetSeconds: Double? = nil) {
        self.synchronized = synchronized
        self.estimatedErrorSeconds = estimatedErrorSeconds
        self.maximumErrorSeconds = maximumErrorSeconds
        self.gpsOffsetSeconds = gpsOffsetSeconds
    }
}
