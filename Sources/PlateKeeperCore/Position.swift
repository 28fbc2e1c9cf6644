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
