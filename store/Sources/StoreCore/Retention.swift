import Foundation
import Logging
import PlateKeeperCore
import PostgresNIO

/// How long the store keeps reads, by class: reads that matched no hotlist entry, and hits (a
/// read the unit matched against a hotlist, wire `hit`). Laws bound the first class tightly (New
/// Hampshire: minutes; Maine: 21 days) and allow hits longer.
public struct Retention: Sendable, Equatable {
    public static let maxDays = 36_500
    public var days: Int
    public var hitDays: Int

    public init(days: Int, hitDays: Int) {
        self.days = min(max(days, 1), Self.maxDays)
        self.hitDays = min(max(hitDays, 1), Self.maxDays)
    }

    public func seconds(hit: Bool) -> Double { Double(hit ? hitDays : days) * 86_400 }
}

/// One retention deletion, as `deletion_log` keeps it: never a plate.
public struct Deletion: Sendable, Equatable, Codable {
    public var at: String
    public var rule: String
    public var rows: Int
    public var oldest: String?
    public var newest: String?
}

extension ReadStore {
    /// Deletes what retention no longer allows, as of `now`: whole daily partitions once every
    /// class's retention has passed them (a DROP, which leaves no dead rows), then, row by row,
    /// the reads of each class older than that class's retention. Each deletion is logged in
    /// `deletion_log` in its own transaction. Returns the deletions made.
    @discardableResult
    public func applyRetention(now: Date = Date()) async throws -> [Deletion] {
        let before = try await lastDeletionID()
        let oldestKept = now.addingTimeInterval(-max(retention.seconds(hit: false), retention.seconds(hit: true)))
        let dropped = try await StoreSchema.dropPartitions(olderThan: oldestKept, client: client, logger: logger)
        if !dropped.isEmpty {
            let days = Set(dropped.compactMap(StoreSchema.partitionDay))
            knownPartitions.withLock { $0.subtract(days) }
        }
        for (hit, label) in [(false, "reads that matched no hotlist"), (true, "hotlist hits")] {
            let days = hit ? retention.hitDays : retention.days
            let cutoff = now.addingTimeInterval(-retention.seconds(hit: hit))
            let rule = "\(label) older than \(days) days"
            try await client.query("""
                WITH gone AS (DELETE FROM read_event WHERE hit IS \(unescaped: hit ? "NOT NULL" : "NULL") AND first_seen < \(cutoff.iso8601)::timestamptz
                    RETURNING first_seen)
                INSERT INTO deletion_log (rule, rows, oldest, newest)
                SELECT \(rule), count(*), min(first_seen), max(first_seen) FROM gone HAVING count(*) > 0
                """, logger: logger)
        }
        // An id is held as long as any read of its age may be: then a retry of it is refused as
        // past retention anyway (`storePolicyProblem`), and the registry does not grow for ever.
        let idCutoff = now.addingTimeInterval(-max(retention.seconds(hit: false), retention.seconds(hit: true)))
        try await client.query("DELETE FROM read_id WHERE first_seen < \(idCutoff.iso8601)::timestamptz", logger: logger)
        // Crypto-shredding: a day's key goes once its whole day is past its class's retention,
        // and with it every copy of those reads (WAL, backups, replicas) becomes unreadable.
        if let keys = sealer?.keys {
            for (hit, label) in [(false, "reads that matched no hotlist"), (true, "hotlist hits")] {
                let destroyed = try keys.destroy(hit: hit, before: now.addingTimeInterval(-retention.seconds(hit: hit)))
                guard let first = destroyed.first, let last = destroyed.last else { continue }
                let rule = "keys of \(label) destroyed for \(destroyed.count) day(s) (crypto-shredding)"
                try await client.query("""
                    INSERT INTO deletion_log (rule, rows, oldest, newest)
                    VALUES (\(rule), 0, \(first.iso8601)::timestamptz, \(last.addingTimeInterval(86_400 - 0.001).iso8601)::timestamptz)
                    """, logger: logger)
            }
        }
        return try await deletions(after: before)
    }

    /// The deletion log after entry `id` (0: all), oldest first, at most `limit` entries.
    public func deletions(after id: Int64 = 0, limit: Int = 10_000) async throws -> [Deletion] {
        let timeFormat = Self.timeFormat
        let rows = try await client.query(PostgresQuery(unsafeSQL: """
            SELECT to_char(at AT TIME ZONE 'UTC', \(timeFormat)), rule, rows, to_char(oldest AT TIME ZONE 'UTC', \(timeFormat)),
                to_char(newest AT TIME ZONE 'UTC', \(timeFormat))
            FROM deletion_log WHERE id > \(id) ORDER BY id LIMIT \(min(max(limit, 1), 100_000))
            """), logger: logger)
        var out: [Deletion] = []
        for try await (at, rule, count, oldest, newest) in rows.decode((String, String, Int, String?, String?).self) {
            out.append(Deletion(at: at, rule: rule, rows: count, oldest: oldest, newest: newest))
        }
        return out
    }

    private func lastDeletionID() async throws -> Int64 {
        for try await id in try await client.query("SELECT coalesce(max(id), 0)::bigint FROM deletion_log", logger: logger).decode(Int64.self) {
            return id
        }
        return 0
    }

    /// The first-seen time of the oldest read held, or nil when there is none.
    public func oldestRead() async throws -> String? {
        let timeFormat = Self.timeFormat
        let sql = "SELECT to_char(min(first_seen) AT TIME ZONE 'UTC', \(timeFormat)) FROM read_event"
        for try await oldest in try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(String?.self) {
            return oldest
        }
        return nil
    }
}
