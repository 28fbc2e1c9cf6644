import Foundation
public import PlateKeeperCore
import GRDB

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

    /// Share of the quota in use, 0...1.
    public var quotaUsed: Double { quotaBytes > 0 ? Double(bytesOnDisk) / Double(quotaBytes) : 0 }
}

/// A read event as the journal holds it: the event plus its journal bookkeeping.
public struct StoredEvent: Sendable, Equatable {
    public var sequence: Int64
    public var event: ReadEvent
    public var journaledAt: Int64
    public var uploadState: String
    public var uploadedAt: Int64?
    /// Size of the stored crop, bytes (the crop itself only when asked for).
    public var cropBytes: Int

    init(row: Row, includeCrop: Bool) throws {
        sequence = row["seq"]
        let idText: String = row["id"]
        guard let id = UUID(uuidString: idText) else { throw DatabaseError(message: "bad id \(idText)") }
        let candidatesJSON: String = row["candidates"]
        let candidates = try JSONDecoder().decode([PlateCandidate].self, from: Data(candidatesJSON.utf8))
        let positionJSON: String? = row["position"]
        let position = try positionJSON.map { try JSONDecoder().decode(GeoPosition.self, from: Data($0.utf8)) }
        let quality = ClockQuality(rawValue: row["clock_quality"]) ?? .unknown
        let kindText: String = row["kind"]
        let crop: Data? = row["crop"]
        cropBytes = crop?.count ?? 0
        event = ReadEvent(
            id: id, kind: ReadEvent.Kind(rawValue: kindText) ?? .vehicle, camera: CameraID(row["camera"] as String),
            plate: row["plate"], confidence: row["confidence"], candidates: candidates, region: row["region"],
            box: PixelBox(x: row["box_x"], y: row["box_y"], width: row["box_w"], height: row["box_h"]),
            firstSeen: CaptureTime(unixNanoseconds: row["first_seen_ns"], quality: quality),
            lastSeen: CaptureTime(unixNanoseconds: row["last_seen_ns"], quality: quality),
            frameCount: row["frame_count"], bestFrame: row["best_frame"], position: position,
            crop: includeCrop ? crop.map { [UInt8]($0) } : nil
        )
        journaledAt = row["journaled_ns"]
        uploadState = row["upload_state"]
        uploadedAt = row["uploaded_ns"]
    }
}
