public import Foundation

/// One vehicle seen by one camera: the reads of its passing frames merged into a single record.
///
/// This is what the journal stores and what the upload sends. Its `id` is fixed when the event is
/// made and never changes, so a batch sent twice is recognised by the central store.
public struct ReadEvent: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable {
        /// The merged read of a whole pass (the record of evidence).
        case vehicle
        /// An immediate event from the first confident read of a pass, before the pass is over.
        case firstSight = "first-sight"
    }

    public var id: UUID
    public var kind: Kind
    public var camera: CameraID
    /// The plate text the reads voted for.
    public var plate: String
    /// 0...100: the winning share of the per-character vote times the reads' mean confidence.
    public var confidence: Double
    /// Alternatives, best first (the first is `plate`).
    public var candidates: [PlateCandidate]
    /// The plate-format rule set that ranked the candidates (`us`, `eu`).
    public var region: String
    /// The plate box in the frame the crop was taken from.
    public var box: PixelBox
    /// Capture times of the first and last frames read.
    public var firstSeen: CaptureTime
    public var lastSeen: CaptureTime
    /// Capture time of the best frame (the one the crop and box come from): the moment the
    /// position and the other enrichments describe.
    public var bestSeen: CaptureTime
    /// How many frames contributed a read.
    public var frameCount: Int
    /// The name of the frame the crop came from (file name, or `camera#sequence`).
    public var bestFrame: String
    /// Where the unit was at `bestSeen`, when it knows.
    public var position: GeoPosition?
    /// How `position` was obtained, or why there is none; nil only in events from before units
    /// recorded it.
    public var positionStatus: PositionStatus?
    /// The system clock's quality when the event was made; nil in events from before units recorded it.
    public var clock: ClockState?
    /// The plate crop, JPEG-encoded luma; nil when crops are not kept.
    public var crop: [UInt8]?
    /// The hotlist entry this read matched, set by the hotlist enricher; nil for a read that
    /// matched none (or when no hotlist is loaded). Hits are uploaded first and kept for their
    /// own retention age.
    public var hit: HotlistHit?

    public init(
        id: UUID = UUID(), kind: Kind, camera: CameraID, plate: String, confidence: Double, candidates: [PlateCandidate],
        region: String, box: PixelBox, firstSeen: CaptureTime, lastSeen: CaptureTime, bestSeen: CaptureTime? = nil, frameCount: Int,
        bestFrame: String, position: GeoPosition? = nil, positionStatus: PositionStatus? = nil, clock: ClockState? = nil,
        crop: [UInt8]? = nil, hit: HotlistHit? = nil
    ) {
        self.id = id
        self.kind = kind
        self.camera = camera
        self.plate = plate
        self.confidence = confidence
        self.candidates = candidates
        self.region = region
        self.box = box
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.bestSeen = bestSeen ?? firstSeen
        self.frameCount = frameCount
        self.bestFrame = bestFrame
        self.position = position
        self.positionStatus = positionStatus
        self.clock = clock
        self.crop = crop
        self.hit = hit
    }
}

/// A read's match on a hotlist: which entry, on which list, why it is listed, and how far the
/// read was from the entry's plate (0 = the same text; look-alikes such as 0/O cost nothing).
public struct HotlistHit: Sendable, Hashable, Codable {
    /// The list's name (the CSV's second column, e.g. `stolen`).
    public var list: String
    /// The plate as the hotlist spells it (normalised: upper case, no spaces or dashes).
    public var plate: String
    /// Why the plate is listed (free text from the hotlist, at most 200 characters).
    public var reason: String
    /// Edits between the read (or one of its candidates) and `plate`, look-alikes counting 0.
    public var distance: Int

    public init(list: String, plate: String, reason: String, distance: Int) {
        self.list = list
        self.plate = plate
        self.reason = reason
        self.distance = distance
    }
}
