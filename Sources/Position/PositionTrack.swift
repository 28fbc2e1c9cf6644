import Foundation
public import PlateKeeperCore

/// One report of a position source: a fix, or the news that there is none at `time`.
public struct PositionFix: Sendable, Equatable {
    /// The receiver's time of the fix (GNSS time), Unix nanoseconds.
    public var time: Int64
    /// `none`, `2d` or `3d` from a receiver; `fixed` for a pole unit's configured position.
    public var mode: GeoPosition.FixMode
    public var latitude: Double?
    public var longitude: Double?
    public var altitudeMeters: Double?
    public var horizontalErrorMeters: Double?
    public var speedMetersPerSecond: Double?
    public var courseDegrees: Double?
    public var satellites: Int?
    /// The receiver's date was wrong (a week-number rollover) and the fix was dated from the
    /// synchronised system clock, its time of day kept.
    public var dateFromSystemClock = false

    public init(
        time: Int64, mode: GeoPosition.FixMode, latitude: Double?, longitude: Double?, altitudeMeters: Double? = nil,
        horizontalErrorMeters: Double? = nil, speedMetersPerSecond: Double? = nil, courseDegrees: Double? = nil, satellites: Int? = nil
    ) {
        self.time = time
        self.mode = mode
        self.latitude = latitude
        self.longitude = longitude
        self.altitudeMeters = altitudeMeters
        self.horizontalErrorMeters = horizontalErrorMeters
        self.speedMetersPerSecond = speedMetersPerSecond
        self.courseDegrees = courseDegrees
        self.satellites = satellites
    }

    /// A usable fix: 2D or 3D with coordinates.
    public var hasPosition: Bool { mode != .none && latitude != nil && longitude != nil }
}

/// What a read gets for its capture time.
public enum PositionLookup: Sendable, Equatable {
    public enum Method: Sendable, Equatable {
        case atFix, interpolated, carried
    }

    /// A position: the fix at that time, interpolated between the fixes around it, or carried
    /// forward from the last fix by at most the extrapolation limit; with the nearest fix's
    /// satellite count and whether its date came from the system clock.
    case position(GeoPosition, ageSeconds: Double, method: Method, satellites: Int?, dateFromSystemClock: Bool)
    /// The last fix is older than the limit: the position is not given, only how old it is.
    case stale(ageSeconds: Double)
    /// The receiver reported no fix at that time.
    case noFix
    /// Nothing known around that time (no reports yet, or none kept for so long ago).
    case unknown
}

/// A short history of a source's fixes, and the position at any capture time within it.
///
/// Between two fixes no more than `maxGapSeconds` apart the position is interpolated linearly
/// (at car speeds over a second the arc is a straight line to well under a metre); after the last
/// fix it is carried forward along its speed and course for at most `maxExtrapolationSeconds`,
/// and is stale beyond that. A fix-less report ends the track there: nothing is interpolated
/// across it. Times must only go forward; a report older than the newest is dropped.
public struct PositionTrack: Sendable {
    public var maxGapSeconds: Double
    public var maxExtrapolationSeconds: Double
    public let capacity: Int
    public let source: GeoPosition.Source
    private var fixes: [PositionFix] = []

    public init(source: GeoPosition.Source, maxGapSeconds: Double = 3, maxExtrapolationSeconds: Double = 1, capacity: Int = 600) {
        self.source = source
        self.maxGapSeconds = maxGapSeconds
        self.maxExtrapolationSeconds = maxExtrapolationSeconds
        self.capacity = max(2, capacity)
    }

    public var latest: PositionFix? { fixes.last }
    public var count: Int { fixes.count }

    /// Adds a report. One of the same time as the newest replaces it, keeping fields it lacks (RMC
    /// and GGA of one epoch); an older one is dropped and false returned. With `restart` (a source
    /// that reconnected, a step of the receiver's time) the reports at or after its time are
    /// removed first, so it is taken.
    @discardableResult
    public mutating func add(_ fix: PositionFix, restart: Bool = false) -> Bool {
        if restart, let last = fixes.last, fix.time < last.time {
            fixes.removeAll { $0.time >= fix.time }
        }
        if let last = fixes.last {
            if fix.time < last.time { return false }
            if fix.time == last.time {
                var merged = fix
                if fix.hasPosition == last.hasPosition {
                    merged.altitudeMeters = fix.altitudeMeters ?? last.altitudeMeters
                    merged.horizontalErrorMeters = fix.horizontalErrorMeters ?? last.horizontalErrorMeters
                    merged.speedMetersPerSecond = fix.speedMetersPerSecond ?? last.speedMetersPerSecond
                    merged.courseDegrees = fix.courseDegrees ?? last.courseDegrees
                    merged.satellites = fix.satellites ?? last.satellites
                    if last.mode == .threeD, fix.mode == .twoD, fix.altitudeMeters == nil { merged.mode = .threeD }
                }
                fixes[fixes.count - 1] = merged
                return true
            }
        }
        fixes.append(fix)
        if fixes.count > capacity { fixes.removeFirst(fixes.count - capacity) }
        return true
    }

    /// Gives the newest report the satellite count of its epoch, when it has none yet (gpsd sends
    /// SKY after the epoch's TPV).
    public mutating func noteSatellites(_ used: Int) {
        guard !fixes.isEmpty, fixes[fixes.count - 1].satellites == nil else { return }
        fixes[fixes.count - 1].satellites = used
    }

    /// The position at `time` (Unix ns, in the same time scale as the fixes).
    public func position(at time: Int64) -> PositionLookup {
        guard let first = fixes.first, time >= first.time else { return .unknown }
        // The last report at or before `time`.
        var lo = 0, hi = fixes.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if fixes[mid].time <= time { lo = mid } else { hi = mid - 1 }
        }
        let before = fixes[lo]
        guard before.hasPosition, let lat0 = before.latitude, let lon0 = before.longitude else { return .noFix }
        let age = Double(time - before.time) / 1e9
        if lo + 1 < fixes.count {
            let after = fixes[lo + 1]
            let gap = Double(after.time - before.time) / 1e9
            if after.hasPosition, let lat1 = after.latitude, let lon1 = after.longitude, gap <= maxGapSeconds {
                let f = gap > 0 ? age / gap : 0
                var dLon = lon1 - lon0
                if dLon > 180 { dLon -= 360 } else if dLon < -180 { dLon += 360 }
                var lon = lon0 + f * dLon
                if lon > 180 { lon -= 360 } else if lon < -180 { lon += 360 }
                let nearest = f < 0.5 ? before : after
                return .position(geo(
                    latitude: lat0 + f * (lat1 - lat0), longitude: lon, from: nearest, mode: Self.weaker(before.mode, after.mode),
                    speed: Self.mix(before.speedMetersPerSecond, after.speedMetersPerSecond, f),
                    course: Self.mixAngle(before.courseDegrees, after.courseDegrees, f), fixTime: nearest.time),
                    ageSeconds: min(age, gap - age), method: f > 0 ? .interpolated : .atFix, satellites: nearest.satellites,
                    dateFromSystemClock: nearest.dateFromSystemClock)
            }
        }
        guard age <= maxExtrapolationSeconds else { return .stale(ageSeconds: age) }
        // Carried forward along the last speed and course (dead reckoning over at most the limit).
        var lat = lat0, lon = lon0
        if age > 0, let v = before.speedMetersPerSecond, let c = before.courseDegrees {
            let d = v * age, r = 6_371_008.8
            let rad = c * .pi / 180
            lat += (d * cos(rad) / r) * 180 / .pi
            lon += (d * sin(rad) / (r * cos(lat0 * .pi / 180))) * 180 / .pi
        }
        return .position(geo(latitude: lat, longitude: lon, from: before, mode: before.mode, speed: before.speedMetersPerSecond,
                             course: before.courseDegrees, fixTime: before.time),
                         ageSeconds: age, method: age > 0 ? .carried : .atFix, satellites: before.satellites,
                         dateFromSystemClock: before.dateFromSystemClock)
    }

    private func geo(
        latitude: Double, longitude: Double, from fix: PositionFix, mode: GeoPosition.FixMode, speed: Double?, course: Double?, fixTime: Int64
    ) -> GeoPosition {
        GeoPosition(
            latitude: latitude, longitude: longitude, altitudeMeters: fix.altitudeMeters, horizontalErrorMeters: fix.horizontalErrorMeters,
            speedMetersPerSecond: speed, courseDegrees: course, fix: mode, source: source,
            fixTime: CaptureTime(unixNanoseconds: fixTime, quality: .synchronized))
    }

    /// The weaker of two fixes' modes: an interpolated position is no better than either end.
    static func weaker(_ a: GeoPosition.FixMode, _ b: GeoPosition.FixMode) -> GeoPosition.FixMode {
        func rank(_ m: GeoPosition.FixMode) -> Int {
            switch m {
            case .none: 0
            case .twoD: 1
            case .threeD: 2
            case .fixed: 3
            }
        }
        return rank(a) <= rank(b) ? a : b
    }

    static func mix(_ a: Double?, _ b: Double?, _ f: Double) -> Double? {
        guard let a, let b else { return a ?? b }
        return a + f * (b - a)
    }

    static func mixAngle(_ a: Double?, _ b: Double?, _ f: Double) -> Double? {
        guard let a, let b else { return a ?? b }
        var d = (b - a).truncatingRemainder(dividingBy: 360)
        if d > 180 { d -= 360 } else if d < -180 { d += 360 }
        let v = (a + f * d).truncatingRemainder(dividingBy: 360)
        return v < 0 ? v + 360 : v
    }
}
