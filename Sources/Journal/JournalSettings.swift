/// What the journal may keep and for how long.
public struct JournalSettings: Sendable, Equatable {
    /// What to do when the quota is reached and every row left is still waiting for upload.
    public enum FullPolicy: String, Sendable, Equatable, CaseIterable {
        /// Delete the oldest un-uploaded read to make room (the newest reads matter most).
        case dropOldest = "drop-oldest"
        /// Keep what is there and refuse new reads until uploads make room.
        case stopAccepting = "stop-accepting"
    }

    /// The SQLite file. Its `-wal` and `-shm` companions live beside it.
    public var path: String
    /// Upper bound for the database file plus its WAL and shared-memory files, in bytes.
    public var quotaBytes: Int64 = 512 * 1024 * 1024
    /// Rows journaled longer ago than this are deleted, uploaded or not. nil keeps rows until the quota needs room.
    public var retentionSeconds: Double? = 30 * 86_400
    /// The same for reads that matched a hotlist (hits); nil keeps them until the quota needs room.
    public var hitRetentionSeconds: Double? = 30 * 86_400
    public var whenFull: FullPolicy = .dropOldest
    /// Keep the plate crop (JPEG) of each event.
    public var keepCrops = true
    /// SQLite's `synchronous` level. `full` is the only durable choice against power loss and the
    /// daemon always uses it; `normal` exists as the baseline of `platekeeper bench journal`.
    public var synchronous: Synchronous = .full
    /// Seals plate text, candidates, position, crop and hit at rest (nil: stored in the clear).
    public var keyring: JournalKeyring?

    public enum Synchronous: String, Sendable, Equatable {
        case full = "FULL", normal = "NORMAL"
    }

    /// The smallest quota accepted: room for the WAL allowance and a few hundred reads.
    public static let minimumQuotaBytes: Int64 = 1024 * 1024

    public init(path: String) {
        self.path = path
    }

    /// Bytes set aside for the write-ahead log and the shared-memory index out of the quota.
    var walAllowanceBytes: Int64 { min(max(quotaBytes / 8, 128 * 1024), 4 * 1024 * 1024) }
    static let shmBytes: Int64 = 32 * 1024
    /// Pages the database file itself may use.
    func budgetPages(pageSize: Int64) -> Int64 {
        (quotaBytes - walAllowanceBytes - Self.shmBytes) / pageSize
    }
}
