public import Foundation
public import PlateKeeperCore

/// A read event as it travels: the one JSON spelling of a read shared by `journal export`, the
/// uploader and the central store (`store/`), version 1 of the upload contract
/// (docs/upload-api.md, docs/upload-api.yaml).
///
/// Keys are snake_case and fixed by `CodingKeys`; golden files in `Tests/WireFormatTests/Golden`
/// fail when a change alters them. Decoders ignore keys they do not know, so a newer store reads an
/// older unit's events and fields may be added without a version change; renaming or removing a
/// field, or changing its meaning, needs a new contract version.
public struct WireReadEvent: Sendable, Codable, Equatable {
    public var id: UUID
    public var kind: String
    public var camera: String
    public var plate: String
    public var confidence: Double
    public var region: String
    public var candidates: [Candidate]
    public var box: Box
    /// ISO 8601 UTC with milliseconds.
    public var firstSeen: String
    public var lastSeen: String
    /// When the best frame was captured: an addition to version 1, absent from older units (read as `first_seen`).
    public var bestSeen: String?
    public var clockQuality: String
    public var frames: Int
    public var bestFrame: String
    public var position: Position?
    /// How `position` was obtained or why there is none (an addition to version 1; absent from older units).
    public var positionStatus: PositionStatus?
    /// The system clock's quality when the event was made (an addition to version 1; absent from older units).
    public var clock: Clock?
    /// The plate crop, JPEG; base64 in JSON. Absent when crops are not kept or not asked for.
    public var cropJPEG: Data?
    /// The hotlist entry the read matched on the unit (an addition to version 1; absent for reads
    /// that matched none and from older units).
    public var hit: Hit?

    public struct Hit: Sendable, Codable, Equatable {
        public var list: String
        public var plate: String
        public var reason: String
        public var distance: Int

        public init(_ h: HotlistHit) {
            list = h.list
            plate = h.plate
            reason = h.reason
            distance = h.distance
        }

        public var domain: HotlistHit { HotlistHit(list: list, plate: plate, reason: reason, distance: distance) }
    }

    public struct Candidate: Sendable, Codable, Equatable {
        public var plate: String
        public var confidence: Double
        public var matchesFormat: Bool

        public init(plate: String, confidence: Double, matchesFormat: Bool) {
            self.plate = plate
            self.confidence = confidence
            self.matchesFormat = matchesFormat
        }

        enum CodingKeys: String, CodingKey {
            case plate, confidence
            case matchesFormat = "matches_format"
        }
    }

    public struct Box: Sendable, Codable, Equatable {
        public var x: Int, y: Int, width: Int, height: Int
        public init(x: Int, y: Int, width: Int, height: Int) {
            self.x = x
            self.y = y
            self.width = width
            self.height = height
        }
    }

    public struct Position: Sendable, Codable, Equatable {
        public var lat: Double
        public var lon: Double
        public var altitudeM: Double?
        public var errorM: Double?
        public var speedMPS: Double?
        public var courseDeg: Double?
        public var fix: String
        public var source: String
        public var fixTime: String?
        public var fixTimeQuality: String?

        enum CodingKeys: String, CodingKey {
            case lat, lon, fix, source
            case altitudeM = "altitude_m", errorM = "error_m", speedMPS = "speed_mps", courseDeg = "course_deg"
            case fixTime = "fix_time", fixTimeQuality = "fix_time_quality"
        }
    }

    public struct PositionStatus: Sendable, Codable, Equatable {
        public var state: String
        public var fixAgeS: Double?
        public var satellites: Int?
        /// Present (true) only when the fix was dated from the unit's synchronised clock.
        public var dateFromSystemClock: Bool?

        enum CodingKeys: String, CodingKey {
            case state, satellites
            case fixAgeS = "fix_age_s"
            case dateFromSystemClock = "date_from_system_clock"
        }
    }

    public struct Clock: Sendable, Codable, Equatable {
        public var synchronized: Bool?
        public var estErrorS: Double?
        public var maxErrorS: Double?
        public var gpsOffsetS: Double?

        enum CodingKeys: String, CodingKey {
            case synchronized
            case estErrorS = "est_error_s", maxErrorS = "max_error_s", gpsOffsetS = "gps_offset_s"
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, kind, camera, plate, confidence, region, candidates, box, frames, position, clock
        case positionStatus = "position_status"
        case firstSeen = "first_seen", lastSeen = "last_seen", clockQuality = "clock_quality", bestFrame = "best_frame"
        case bestSeen = "best_seen"
        case cropJPEG = "crop_jpeg"
        case hit
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id.wire, forKey: .id)
        try c.encode(kind, forKey: .kind)
        try c.encode(camera, forKey: .camera)
        try c.encode(plate, forKey: .plate)
        try c.encode(confidence, forKey: .confidence)
        try c.encode(region, forKey: .region)
        try c.encode(candidates, forKey: .candidates)
        try c.encode(box, forKey: .box)
        try c.encode(firstSeen, forKey: .firstSeen)
        try c.encode(lastSeen, forKey: .lastSeen)
        try c.encodeIfPresent(bestSeen, forKey: .bestSeen)
        try c.encode(clockQuality, forKey: .clockQuality)
        try c.encode(frames, forKey: .frames)
        try c.encode(bestFrame, forKey: .bestFrame)
        try c.encodeIfPresent(position, forKey: .position)
        try c.encodeIfPresent(positionStatus, forKey: .positionStatus)
        try c.encodeIfPresent(clock, forKey: .clock)
        try c.encodeIfPresent(cropJPEG, forKey: .cropJPEG)
        try c.encodeIfPresent(hit, forKey: .hit)
    }

    public init(
        id: UUID, kind: String, camera: String, plate: String, confidence: Double, region: String, candidates: [Candidate], box: Box,
        firstSeen: String, lastSeen: String, bestSeen: String? = nil, clockQuality: String, frames: Int, bestFrame: String,
        position: Position? = nil, positionStatus: PositionStatus? = nil, clock: Clock? = nil, cropJPEG: Data? = nil, hit: Hit? = nil
    ) {
        self.id = id
        self.kind = kind
        self.camera = camera
        self.plate = plate
        self.confidence = confidence
        self.region = region
        self.candidates = candidates
        self.box = box
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.bestSeen = bestSeen
        self.clockQuality = clockQuality
        self.frames = frames
        self.bestFrame = bestFrame
        self.position = position
        self.positionStatus = positionStatus
        self.clock = clock
        self.cropJPEG = cropJPEG
        self.hit = hit
    }

    /// The wire form of `event`; its crop travels only when `includeCrop`.
    public init(_ event: ReadEvent, includeCrop: Bool = true) {
        id = event.id
        kind = event.kind.rawValue
        camera = event.camera.rawValue
        plate = event.plate
        confidence = event.confidence
        region = event.region
        candidates = event.candidates.map { Candidate(plate: $0.text, confidence: $0.confidence, matchesFormat: $0.matchesFormat) }
        box = Box(x: event.box.x, y: event.box.y, width: event.box.width, height: event.box.height)
        firstSeen = event.firstSeen.iso8601
        lastSeen = event.lastSeen.iso8601
        bestSeen = event.bestSeen.iso8601
        clockQuality = event.firstSeen.quality.rawValue
        frames = event.frameCount
        bestFrame = event.bestFrame
        position = event.position.map(Position.init)
        positionStatus = event.positionStatus.map(PositionStatus.init)
        clock = event.clock.map(Clock.init)
        cropJPEG = includeCrop ? event.crop.map { Data($0) } : nil
        hit = event.hit.map(Hit.init)
    }

    /// The domain event this describes. Throws `WireError.invalid` for anything `validate()` refuses.
    public func readEvent() throws(WireError) -> ReadEvent {
        try validate()
        let quality = ClockQuality(rawValue: clockQuality) ?? .unknown
        // validate() checked that the times parse.
        let first = ISO8601.parse(firstSeen) ?? 0, last = ISO8601.parse(lastSeen) ?? 0
        let best = bestSeen.flatMap(ISO8601.parse) ?? first
        return ReadEvent(
            id: id, kind: ReadEvent.Kind(rawValue: kind) ?? .vehicle, camera: CameraID(camera), plate: plate,
            confidence: confidence,
            candidates: candidates.map { PlateCandidate(text: $0.plate, confidence: $0.confidence, matchesFormat: $0.matchesFormat) },
            region: region, box: PixelBox(x: box.x, y: box.y, width: box.width, height: box.height),
            firstSeen: CaptureTime(unixNanoseconds: first, quality: quality),
            lastSeen: CaptureTime(unixNanoseconds: last, quality: quality),
            bestSeen: CaptureTime(unixNanoseconds: best, quality: quality),
            frameCount: frames, bestFrame: bestFrame, position: position?.geoPosition,
            positionStatus: positionStatus?.domain, clock: clock?.domain, crop: cropJPEG.map { [UInt8]($0) }, hit: hit?.domain)
    }
}

extension WireReadEvent.Position {
    public init(_ p: GeoPosition) {
        lat = p.latitude
        lon = p.longitude
        altitudeM = p.altitudeMeters
        errorM = p.horizontalErrorMeters
        speedMPS = p.speedMetersPerSecond
        courseDeg = p.courseDegrees
        fix = p.fix.rawValue
        source = p.source.rawValue
        fixTime = p.fixTime?.iso8601
        fixTimeQuality = p.fixTime?.quality.rawValue
    }

    public var geoPosition: GeoPosition {
        GeoPosition(
            latitude: lat, longitude: lon, altitudeMeters: altitudeM, horizontalErrorMeters: errorM, speedMetersPerSecond: speedMPS,
            courseDegrees: courseDeg, fix: GeoPosition.FixMode(rawValue: fix) ?? .none,
            source: GeoPosition.Source(rawValue: source) ?? .fixed,
            fixTime: fixTime.flatMap(ISO8601.parse).map {
                CaptureTime(unixNanoseconds: $0, quality: fixTimeQuality.flatMap(ClockQuality.init(rawValue:)) ?? .unknown)
            })
    }
}

extension WireReadEvent.PositionStatus {
    public init(_ s: PlateKeeperCore.PositionStatus) {
        state = s.state.rawValue
        fixAgeS = s.fixAgeSeconds
        satellites = s.satellites
        dateFromSystemClock = s.dateFromSystemClock ? true : nil
    }

    /// An unknown state (from a newer unit) reads as `unknown`.
    public var domain: PlateKeeperCore.PositionStatus {
        .init(state: .init(rawValue: state) ?? .unknown, fixAgeSeconds: fixAgeS, satellites: satellites,
              dateFromSystemClock: dateFromSystemClock == true)
    }
}

extension WireReadEvent.Clock {
    public init(_ c: ClockState) {
        synchronized = c.synchronized
        estErrorS = c.estimatedErrorSeconds
        maxErrorS = c.maximumErrorSeconds
        gpsOffsetS = c.gpsOffsetSeconds
    }

    public var domain: ClockState {
        .init(synchronized: synchronized, estimatedErrorSeconds: estErrorS, maximumErrorSeconds: maxErrorS, gpsOffsetSeconds: gpsOffsetS)
    }
}
