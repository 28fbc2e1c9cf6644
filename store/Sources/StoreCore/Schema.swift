import Foundation
import Logging
import PostgresNIO
import PlateKeeperCore

/// The store's tables, created and migrated at start-up, and the daily partitions of `read_event`.
///
/// Several store instances may start at once against one database: migrations run under a
/// transaction-scoped advisory lock, so exactly one applies them and the others find them done.
public enum StoreSchema {
    static let lockKey: Int64 = 0x504B_5354  // "PKST"
    static let retentionLockKey: Int64 = 0x504B_5254  // "PKRT"

    /// Each entry is one version, applied once, in order, in one transaction. Never edit one that
    /// has shipped: add the next.
    static let migrations: [(version: Int, sql: [String])] = [
        (1, [
            """
            CREATE TABLE unit (
                id text PRIMARY KEY,
                token_sha256 text NOT NULL UNIQUE,
                created timestamptz NOT NULL DEFAULT now(),
                disabled boolean NOT NULL DEFAULT false
            )
            """,
            """
            CREATE TABLE reader (
                name text PRIMARY KEY,
                token_sha256 text NOT NULL UNIQUE,
                created timestamptz NOT NULL DEFAULT now()
            )
            """,
            // One row per read. PostgreSQL can only enforce uniqueness on a partitioned table with
            // the partition key in it, so the key is (id, first_seen): a read's first_seen never
            // changes on the unit, so every retry of a read carries the same pair and is a no-op.
            """
            CREATE TABLE read_event (
                id uuid NOT NULL,
                first_seen timestamptz NOT NULL,
                last_seen timestamptz NOT NULL,
                unit text NOT NULL,
                camera text NOT NULL,
                kind text NOT NULL,
                plate text NOT NULL,
                confidence double precision NOT NULL,
                region text NOT NULL,
                candidates jsonb NOT NULL,
                box_x integer NOT NULL, box_y integer NOT NULL, box_w integer NOT NULL, box_h integer NOT NULL,
                clock_quality text NOT NULL,
                frames integer NOT NULL,
                best_frame text NOT NULL,
                lat double precision, lon double precision,
                position jsonb,
                crop bytea,
                batch uuid NOT NULL,
                received timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (id, first_seen)
            ) PARTITION BY RANGE (first_seen)
            """,
            "CREATE INDEX read_event_plate ON read_event (plate, first_seen DESC)",
            "CREATE INDEX read_event_unit ON read_event (unit, first_seen DESC)",
        ]),
        // The capture time of the best frame (wire `best_seen`); NULL for reads from older units.
        (2, ["ALTER TABLE read_event ADD COLUMN best_seen timestamptz"]),
        // How the position was obtained or why there is none, and the unit's clock quality (wire
        // `position_status`, `clock`); NULL for reads from older units.
        (3, ["ALTER TABLE read_event ADD COLUMN position_status jsonb", "ALTER TABLE read_event ADD COLUMN clock jsonb"]),
        // The hotlist entry the read matched on the unit (wire `hit`); NULL for reads that matched
        // none and for reads from older units.
        (4, ["ALTER TABLE read_event ADD COLUMN hit jsonb"]),
        // Privacy: a log of every retention deletion (when, which rule, how many rows, the time
        // range covered; never plates), the hash-chained audit trail of every read-out, and an
        // index for deleting reads that matched no hotlist by age.
        (5, [
            """
            CREATE TABLE deletion_log (
                id bigserial PRIMARY KEY,
                at timestamptz NOT NULL DEFAULT now(),
                rule text NOT NULL,
                rows bigint NOT NULL,
                oldest timestamptz,
                newest timestamptz
            )
            """,
            """
            CREATE TABLE audit_log (
                seq bigint PRIMARY KEY,
                at text NOT NULL,
                who text NOT NULL,
                action text NOT NULL,
                query text NOT NULL,
                purpose text NOT NULL,
                records integer NOT NULL,
                prev text NOT NULL,
                hash text NOT NULL
            )
            """,
            "CREATE INDEX read_event_no_hit ON read_event (first_seen) WHERE hit IS NULL",
            // With a key directory, a read's plate, candidates, position and hit are one sealed box
            // (`Sealer`), its crop sealed in `crop`, and plate queries go by a keyed hash of the plate.
            "ALTER TABLE read_event ADD COLUMN sealed bytea",
            "ALTER TABLE read_event ADD COLUMN plate_index text",
            "CREATE INDEX read_event_plate_index ON read_event (plate_index, first_seen DESC) WHERE plate_index IS NOT NULL",
            // Reads and hits stored per day, unit and camera, counted as they arrive, so the
            // transparency report's numbers outlive the rows retention deletes.
            """
            CREATE TABLE daily_count (
                day date NOT NULL,
                unit text NOT NULL,
                camera text NOT NULL,
                reads bigint NOT NULL,
                hits bigint NOT NULL,
                PRIMARY KEY (day, unit, camera)
            )
            """,
        ]),
        // A read id is the store's identity across partitions: one row per id, naming the unit
        // that stored it and its first_seen (which never changes on a unit). An upload of that id
        // from another unit, or with another first_seen, is a conflict, never a second row.
        // Reads stored before it: the first received row of each id is the read; any later row
        // of the same id (another unit's, another first_seen) is left in place but never served.
        (6, [
            "CREATE TABLE read_id (id uuid PRIMARY KEY, first_seen timestamptz NOT NULL, unit text NOT NULL)",
            """
            INSERT INTO read_id (id, first_seen, unit)
            SELECT DISTINCT ON (id) id, first_seen, unit FROM read_event ORDER BY id, received, first_seen
            """,
            "CREATE INDEX read_id_first_seen ON read_id (first_seen)",
        ]),
    ]

    public static var currentVersion: Int { migrations.last?.version ?? 0 }

    /// Applies the migrations this database lacks. Returns the versions applied.
    @discardableResult
    public static func migrate(_ client: PostgresClient, logger: Logger) async throws -> [Int] {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS store_schema (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())",
                logger: logger)
            var applied = Set<Int>()
            for try await version in try await connection.query("SELECT version FROM store_schema", logger: logger).decode(Int.self) {
                applied.insert(version)
            }
            if let newest = applied.max(), newest > currentVersion {
                throw StoreError.schemaTooNew(found: newest, known: currentVersion)
            }
            var done: [Int] = []
            for migration in migrations where !applied.contains(migration.version) {
                for statement in migration.sql {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO store_schema (version) VALUES (\(migration.version))", logger: logger)
                done.append(migration.version)
            }
            return done
        }
    }

    /// The partition that holds reads first seen on `day` (UTC midnight), e.g. `read_event_p20261130`.
    static func partitionName(_ day: Date) -> String {
        let c = Calendar.utc.dateComponents([.year, .month, .day], from: day)
        return String(format: "read_event_p%04d%02d%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
    }

    /// The day (UTC midnight) of a partition named by `partitionName`, or nil for another name.
    static func partitionDay(_ name: String) -> Date? {
        guard name.hasPrefix("read_event_p"), name.count == 20 else { return nil }
        let digits = name.dropFirst(12)
        guard digits.allSatisfy(\.isNumber), let y = Int(digits.prefix(4)), let m = Int(digits.dropFirst(4).prefix(2)),
              let d = Int(digits.suffix(2)) else { return nil }
        return Calendar.utc.date(from: DateComponents(year: y, month: m, day: d))
    }

    /// Creates the daily partitions for `days` (UTC midnights) that do not exist yet.
    static func ensurePartitions(_ days: Set<Date>, client: PostgresClient, logger: Logger) async throws {
        for day in days.sorted() {
            let name = partitionName(day)
            let from = day.iso8601, to = day.addingTimeInterval(86_400).iso8601
            do {
                try await client.query(PostgresQuery(unsafeSQL:
                    "CREATE TABLE IF NOT EXISTS \(name) PARTITION OF read_event FOR VALUES FROM ('\(from)') TO ('\(to)')"),
                    logger: logger)
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42P07" {
                // Another instance created it between our check and our create: fine.
            }
        }
    }

    /// Drops the daily partitions whose whole day is older than `cutoff`: old reads go by the
    /// partition, in a moment, not by a slow DELETE. Each drop is logged in `deletion_log` (rows,
    /// time range) in the same transaction. Returns the partitions dropped.
    public static func dropPartitions(olderThan cutoff: Date, client: PostgresClient, logger: Logger) async throws -> [String] {
        var names: [String] = []
        let rows = try await client.query("""
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'read_event'
            """, logger: logger)
        for try await name in rows.decode(String.self) { names.append(name) }
        let limit = partitionName(Calendar.utc.startOfDay(for: cutoff))
        var dropped: [String] = []
        // Names sort by date; a partition for day D holds reads of D only, so D < cutoff's day is expired.
        for name in names.sorted() where name.hasPrefix("read_event_p") && name.count == 20 && name < limit
            && name.dropFirst(12).allSatisfy(\.isNumber) {
            // Every store instance runs retention: the lock lets one drop (and log) a partition,
            // and the others find it gone.
            let done = try await client.withTransaction(logger: logger) { connection -> Bool in
                try await connection.query("SELECT pg_advisory_xact_lock(\(retentionLockKey))", logger: logger)
                for try await exists in try await connection.query("SELECT to_regclass(\(name)) IS NOT NULL", logger: logger).decode(Bool.self)
                where !exists {
                    return false
                }
                try await connection.query(PostgresQuery(unsafeSQL: """
                    INSERT INTO deletion_log (rule, rows, oldest, newest)
                    SELECT 'partition \(name): the whole day is past the retention of every class', count(*), min(first_seen), max(first_seen)
                    FROM \(name)
                    """), logger: logger)
                try await connection.query(PostgresQuery(unsafeSQL: "DROP TABLE \(name)"), logger: logger)
                return true
            }
            if done { dropped.append(name) }
        }
        return dropped
    }
}

public enum StoreError: Error, CustomStringConvertible {
    case schemaTooNew(found: Int, known: Int)

    public var description: String {
        switch self {
        case .schemaTooNew(let found, let known):
            "the database has store schema version \(found), newer than this build's \(known): run a newer platekeeper-store"
        }
    }
}

extension Calendar {
    static let utc: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }()
}

extension Date {
    /// ISO 8601 UTC with milliseconds.
    var iso8601: String { ISO8601.format(unixNanoseconds: Int64((timeIntervalSince1970 * 1000).rounded()) * 1_000_000) }
}
