import Foundation
public import PlateKeeperCore
import GRDB
import WireFormat

/// Counts and sizes of a journal, for `journal stats` and the status document.
public struct JournalStats: Sendable, Codable, Equatable {
    public var path: String
    public var rows: Int
    /// Rows not yet uploaded.
    public var pending: Int
    /// Database + WAL + shared-memory files, bytes.
    public var bytesOnDisk: Int64
    public var quotaBytes: Int64
    /// First-seen time (Unix ns) of the oldest row still waiting for upload.
    public var oldestPending: Int64?
    public var oldest: Int64?
    public var newest: Int64?
    /// Reads lost because the journal was full of un-uploaded rows (dropped oldest or refused).
    public var droppedFull: Int
    /// Uploaded rows deleted to make room.
    public var evictedUploaded: Int
    /// Rows deleted by retention.
    public var expired: Int
    public var schemaVersion: Int
    /// Reads the store refused for good, parked with their reason (never retried on their own).
    public var deadLetters: Int = 0
    /// When the oldest row still waiting for upload was journaled (Unix ns): the upload backlog's age.
    public var oldestPendingJournaled: Int64?
    /// Rows that matched a hotlist.
    public var hits: Int = 0
    /// Reads seen but never written (hotlist-only mode: they matched no hotlist); a count only.
    public var notKept: Int = 0
    /// When the oldest row held was journaled (Unix ns): retention measures age from this.
    public var oldestJournaled: Int64?
    /// How long the WAL has held pages of rows retention deleted, because a reader kept the
    /// checkpoint from completing (nil: it holds none), and the longest such stay this run, seconds.
    public var expiredInWalSeconds: Double?
    public var expiredInWalLongestSeconds: Double = 0

    /// Share of the quota in use, 0...1.
    public var quotaUsed: Double { quotaBytes > 0 ? Double(bytesOnDisk) / Double(quotaBytes) : 0 }
}

/// Reads of one camera on one UTC day: how many were journaled (vehicle events), how many of
/// them were hotlist hits, and how many were seen but not kept (hotlist-only mode).
public struct DailyCount: Sendable, Codable, Equatable {
    /// `YYYY-MM-DD`, UTC, of the read's first sight.
    public var day: String
    public var camera: String
    public var reads: Int
    public var hits: Int
    public var notKept: Int

    public init(day: String, camera: String, reads: Int, hits: Int, notKept: Int) {
        self.day = day
        self.camera = camera
        self.reads = reads
        self.hits = hits
        self.notKept = notKept
    }
}

/// One retention run's deletions under one rule: never the plates, only how many and when.
public struct DeletionRecord: Sendable, Codable, Equatable {
    /// When the run deleted them (Unix ns).
    public var at: Int64
    /// `reads` (matched no hotlist) or `hits`.
    public var rule: String
    /// The rule's maximum age at the time.
    public var maxAgeSeconds: Double
    public var rows: Int
    /// The earliest first-seen and latest last-seen time among the deleted rows (Unix ns).
    public var firstSeenFrom: Int64?
    public var lastSeenTo: Int64?
}

/// A read event as the journal holds it: the event plus its journal bookkeeping.
public struct StoredEvent: Sendable, Equatable {
    public var sequence: Int64
    public var event: ReadEvent
    public var journaledAt: Int64
    public var uploadState: String
    public var uploadedAt: Int64?
    /// Why the last upload of this read failed, or, for a dead letter, why the store refused it.
    public var uploadError: String?
    /// Size of the stored crop, bytes (the crop itself only when asked for).
    public var cropBytes: Int

    /// Decodes a row with GRDB's throwing accessors: a journal file on disk is input from outside,
    /// and a NULL or a wrong type in any column (a damaged or forged file) must be an error, not the
    /// fatal error that the subscript accessors raise.
    init(row: Row, includeCrop: Bool, keyring: JournalKeyring?) throws {
        func column<T: DatabaseValueConvertible>(_ name: String) throws -> T { try row.decode(forColumn: name) }
        sequence = try column("seq")
        let idText: String = try column("id")
        guard let id = UUID(uuidString: idText) else { throw DatabaseError(message: "bad id \(idText)") }
        let candidatesJSON: String = try column("candidates")
        var wireCandidates = try WireCoding.decode([WireReadEvent.Candidate].self, from: Data(candidatesJSON.utf8))
        let positionJSON: String? = try column("position")
        var wirePosition = try positionJSON.map { try WireCoding.decode(WireReadEvent.Position.self, from: Data($0.utf8)) }
        var plate: String = try column("plate")
        var crop: Data? = try column("crop")
        var hitJSON: String? = try column("hotlist")
        cropBytes = crop?.count ?? 0
        // A sealed row (encryption at rest): its personal fields open only with its key.
        if let keyID = try column("key_id") as String? {
            guard let keyring else {
                throw DatabaseError(message: "read \(idText) is sealed with key \(keyID): the journal's key file is needed ([journal] encryption_key_file)")
            }
            let sealed: Data = try column("sealed")
            let fields = try WireCoding.decode(SealedFields.self, from: Data(try keyring.open(Array(sealed), id: keyID, context: idText + "/fields")))
            (plate, wireCandidates, wirePosition) = (fields.plate, fields.candidates, fields.position)
            crop = includeCrop ? try crop.map { Data(try keyring.open(Array($0), id: keyID, context: idText + "/crop")) } : nil
            if let text = hitJSON, text.hasPrefix("sealed:") {
                guard let box = Data(base64Encoded: String(text.dropFirst(7))) else { throw DatabaseError(message: "read \(idText): bad sealed hit") }
                hitJSON = String(decoding: try keyring.open(Array(box), id: keyID, context: idText + "/hit"), as: UTF8.self)
            }
        }
        let candidates = wireCandidates.map { PlateCandidate(text: $0.plate, confidence: $0.confidence, matchesFormat: $0.matchesFormat) }
        let position = wirePosition?.geoPosition
        let statusJSON: String? = try column("position_status")
        let positionStatus = try statusJSON.map { try WireCoding.decode(WireReadEvent.PositionStatus.self, from: Data($0.utf8)).domain }
        let clockJSON: String? = try column("clock")
        let clock = try clockJSON.map { try WireCoding.decode(WireReadEvent.Clock.self, from: Data($0.utf8)).domain }
        let hit = try hitJSON.map { try WireCoding.decode(WireReadEvent.Hit.self, from: Data($0.utf8)).domain }
        let quality = ClockQuality(rawValue: try column("clock_quality")) ?? .unknown
        let kindText: String = try column("kind")
        event = ReadEvent(
            id: id, kind: ReadEvent.Kind(rawValue: kindText) ?? .vehicle, camera: CameraID(try column("camera") as String),
            plate: plate, confidence: try column("confidence"), candidates: candidates, region: try column("region"),
            box: PixelBox(x: try column("box_x"), y: try column("box_y"), width: try column("box_w"), height: try column("box_h")),
            firstSeen: CaptureTime(unixNanoseconds: try column("first_seen_ns"), quality: quality),
            lastSeen: CaptureTime(unixNanoseconds: try column("last_seen_ns"), quality: quality),
            // NULL in rows journaled before schema 3, which did not keep it: the first frame's time.
            bestSeen: (try column("best_seen_ns") as Int64?).map { CaptureTime(unixNanoseconds: $0, quality: quality) },
            frameCount: try column("frame_count"), bestFrame: try column("best_frame"), position: position,
            positionStatus: positionStatus, clock: clock,
            crop: includeCrop ? crop.map { [UInt8]($0) } : nil, hit: hit
        )
        journaledAt = try column("journaled_ns")
        uploadState = try column("upload_state")
        uploadedAt = try column("uploaded_ns")
        uploadError = try column("upload_error")
    }
}

/// The fields of a read sealed together at rest (wire spellings).
struct SealedFields: Codable {
    var plate: String
    var candidates: [WireReadEvent.Candidate]
    var position: WireReadEvent.Position?
}
