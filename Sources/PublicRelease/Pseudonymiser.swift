import Cryptography
import Foundation
public import PlateKeeperCore

/// How coarse a public release is.
public struct ReleaseSettings: Sendable, Equatable {
    /// Times are rounded down to a multiple of this (seconds; 60 s … 30 days).
    public var timeSeconds: Double = 3600
    /// Positions are moved to the centre of a grid cell this many degrees wide (0.001 … 10; 0.01°
    /// is about 1 km of latitude).
    public var gridDegrees: Double = 0.01
    /// A cell (time, place, camera, region) with fewer distinct vehicles than this is left out
    /// whole (2 … 1000).
    public var k = 5

    public static let timeRange = 60.0...(30 * 86_400.0)
    public static let gridRange = 0.001...10.0
    public static let kRange = 2...1000

    public init() {}

    /// The settings with every number inside its range (values from outside are bounded here).
    public var bounded: ReleaseSettings {
        var s = self
        s.timeSeconds = min(max(timeSeconds.isFinite ? timeSeconds : 3600, Self.timeRange.lowerBound), Self.timeRange.upperBound)
        s.gridDegrees = min(max(gridDegrees.isFinite ? gridDegrees : 0.01, Self.gridRange.lowerBound), Self.gridRange.upperBound)
        s.k = min(max(k, Self.kRange.lowerBound), Self.kRange.upperBound)
        return s
    }
}

/// One read as a public release shows it: a token instead of the plate, a coarse time and place,
/// no crop, no candidates, no confidence.
public struct ReleasedRead: Sendable, Codable, Equatable {
    /// Stands for the plate within this release only.
    public var token: String
    public var camera: String
    public var region: String
    /// The start of the time bucket, ISO 8601 UTC.
    public var time: String
    /// The centre of the grid cell; nil when the read had no position.
    public var lat: Double?
    public var lon: Double?
}

/// A release and what was left out of it.
public struct PublicReleaseResult: Sendable {
    public var reads: [ReleasedRead]
    /// Cells (time, place, camera and region together), and those left out for holding fewer than
    /// k distinct vehicles.
    public var cells: Int
    public var suppressedCells: Int
    public var suppressedReads: Int
    public var settings: ReleaseSettings
}

/// Writes the kind of release a court suggested for plate reads: each plate replaced by a token
/// that is the same for the same plate within one release and unlinkable across releases (an
/// HMAC-SHA256 under a fresh random key that exists only in this call), times rounded, positions
/// coarsened, crops dropped, and rare combinations suppressed (k-anonymity over everything a row
/// shows besides its token: time bucket, grid cell, camera and region together): a combination
/// held by fewer than k distinct vehicles is dropped whole, so no single vehicle can be singled
/// out by any attribute of its row (a lone car at a named side-street camera inside a busy grid
/// cell is left out). Vehicles are counted, and tokens made, by look-alike-folded plate
/// (`LookAlikes`): one car read as OCRVAR1 and OCRVARI is one vehicle with one token, not two.
/// Only whole-pass events (`vehicle`) are released; first-sight events repeat them.
public enum Pseudonymiser {
    public static func release(_ events: [ReadEvent], settings: ReleaseSettings) -> PublicReleaseResult {
        release(events.filter { $0.kind == .vehicle }.map(ReleaseInput.init), settings: settings)
    }

    public static func release(_ reads: [ReleaseInput], settings: ReleaseSettings) -> PublicReleaseResult {
        // A key made and dropped here: no release can be linked to another. Without a random
        // generator there is no safe release at all.
        let key: SecretKey
        do { key = try SecretKey.random() } catch { fatalError("no random key for the release's tokens: \(error)") }
        return release(reads, settings: settings, key: key)
    }

    /// The same with a given key: for tests that check tokens repeat within a release.
    static func release(_ events: [ReadEvent], settings: ReleaseSettings, key: SecretKey) -> PublicReleaseResult {
        release(events.filter { $0.kind == .vehicle }.map(ReleaseInput.init), settings: settings, key: key)
    }

    static func release(_ reads: [ReleaseInput], settings raw: ReleaseSettings, key: SecretKey) -> PublicReleaseResult {
        let settings = raw.bounded
        var tokens: [String: String] = [:]
        func token(_ plate: String) -> String {
            let vehicle = LookAlikes.fold(plate)
            if let t = tokens[vehicle] { return t }
            let t = hexString(Digest.hmacSHA256(Array(vehicle.utf8), key: key).prefix(8))
            tokens[vehicle] = t
            return t
        }
        /// Everything a released row shows except its token: what k applies to.
        struct Cell: Hashable {
            var time: Int64
            var place: String
            var camera: String
            var region: String
        }
        let bucketNs = Int64(settings.timeSeconds * 1e9)
        var rows: [(cell: Cell, read: ReleasedRead)] = []
        for e in reads {
            let t = e.firstSeenNanoseconds
            let bucket = (t >= 0 ? t / bucketNs : (t - bucketNs + 1) / bucketNs) * bucketNs
            var lat: Double?, lon: Double?
            var place = "camera:" + e.camera
            if let latitude = e.latitude, let longitude = e.longitude, latitude.isFinite, longitude.isFinite {
                let g = settings.gridDegrees
                let (cy, cx) = ((latitude / g).rounded(.down), (longitude / g).rounded(.down))
                lat = ((cy + 0.5) * g * 1e6).rounded() / 1e6
                lon = ((cx + 0.5) * g * 1e6).rounded() / 1e6
                place = "grid:\(Int64(cy)),\(Int64(cx))"
            }
            let read = ReleasedRead(
                token: token(e.plate), camera: e.camera, region: e.region, time: ISO8601.format(unixNanoseconds: bucket),
                lat: lat, lon: lon)
            rows.append((Cell(time: bucket, place: place, camera: e.camera, region: e.region), read))
        }
        var vehicles: [Cell: Set<String>] = [:]
        for row in rows { vehicles[row.cell, default: []].insert(row.read.token) }
        let rare = Set(vehicles.filter { $0.value.count < settings.k }.keys)
        // Sorted by bucket, camera and token, not in journal order: the order of passes within a
        // bucket would say more than the rounded time does.
        let kept = rows.filter { !rare.contains($0.cell) }.map(\.read).sorted {
            ($0.time, $0.camera, $0.token) < ($1.time, $1.camera, $1.token)
        }
        return PublicReleaseResult(
            reads: kept, cells: vehicles.count, suppressedCells: rare.count, suppressedReads: rows.count - kept.count, settings: settings)
    }
}

/// One whole-pass read as a release needs it: the plate (turned into a token), where and when.
/// The unit makes these from its journal's read events, the store from its rows.
public struct ReleaseInput: Sendable, Equatable {
    public var plate: String
    public var camera: String
    public var region: String
    public var firstSeenNanoseconds: Int64
    public var latitude: Double?
    public var longitude: Double?

    public init(plate: String, camera: String, region: String, firstSeenNanoseconds: Int64, latitude: Double?, longitude: Double?) {
        self.plate = plate
        self.camera = camera
        self.region = region
        self.firstSeenNanoseconds = firstSeenNanoseconds
        self.latitude = latitude
        self.longitude = longitude
    }

    public init(_ e: ReadEvent) {
        self.init(plate: e.plate, camera: e.camera.rawValue, region: e.region, firstSeenNanoseconds: e.firstSeen.unixNanoseconds,
                  latitude: e.position?.latitude, longitude: e.position?.longitude)
    }
}
