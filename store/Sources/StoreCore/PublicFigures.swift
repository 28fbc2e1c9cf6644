import Audit
import Foundation
import Journal
import PlateKeeperCore
import PostgresNIO
import PublicRelease

/// What the store gives the public: a pseudonymised release of its reads (the unit's
/// `Pseudonymiser`, so a release from a unit and one from the store are made the same way) and a
/// transparency report of numbers only.
extension ReadStore {
    /// The most reads one release may take: they are held in memory to count vehicles per cell.
    public static let maxReleaseReads = 5_000_000

    public struct ReleaseTooLarge: Error, CustomStringConvertible {
        public var count: Int
        public var description: String { "the period holds \(count) whole-pass reads, more than \(ReadStore.maxReleaseReads); release a shorter period" }
    }

    /// The whole-pass reads first seen in [from, to), opened when sealed, as a release takes them.
    /// A sealed read whose day key is gone (retention) cannot be released and is counted in `unopened`.
    public func releaseInputs(from: Date, to: Date) async throws -> (reads: [ReleaseInput], unopened: Int) {
        let range: PostgresQuery = """
            SELECT count(*)::bigint FROM read_event WHERE kind = 'vehicle' AND first_seen >= \(from.iso8601)::timestamptz AND first_seen < \(to.iso8601)::timestamptz
            """
        for try await count in try await client.query(range, logger: logger).decode(Int.self) where count > Self.maxReleaseReads {
            throw ReleaseTooLarge(count: count)
        }
        let sql: PostgresQuery = """
            SELECT id, unit || '/' || camera, plate, region, (extract(epoch FROM first_seen) * 1000)::bigint, lat, lon, hit IS NOT NULL, sealed
            FROM read_event WHERE kind = 'vehicle' AND first_seen >= \(from.iso8601)::timestamptz AND first_seen < \(to.iso8601)::timestamptz
            """
        var reads: [ReleaseInput] = []
        var unopened = 0
        for try await (id, camera, plate, region, ms, lat, lon, hit, sealed) in try await client.query(sql, logger: logger)
            .decode((UUID, String, String, String, Int64, Double?, Double?, Bool, ByteBuffer?).self) {
            var input = ReleaseInput(plate: plate, camera: camera, region: region, firstSeenNanoseconds: ms * 1_000_000, latitude: lat, longitude: lon)
            if let sealed {
                let personal = try? sealer?.open(Array(sealed.readableBytesView), id: id, hit: hit, firstSeen: Date(timeIntervalSince1970: Double(ms) / 1000))
                guard let personal else {
                    unopened += 1
                    continue
                }
                input.plate = personal.plate
                input.latitude = personal.position?.lat
                input.longitude = personal.position?.lon
            }
            reads.append(input)
        }
        return (reads, unopened)
    }

    /// The transparency report: reads and hits stored per day, unit and camera (counted on arrival,
    /// so they outlive retention), hits held per list, retention deletions per day and rule, audit
    /// entries per category, role and action, and whether the audit chain holds.
    public func transparencyReport(now: Date = Date()) async throws -> TransparencyReport {
        var daily: [DailyCount] = []
        for try await (day, unit, camera, reads, hits) in try await client.query(
            "SELECT to_char(day, 'YYYY-MM-DD'), unit, camera, reads, hits FROM daily_count ORDER BY day, unit, camera", logger: logger)
            .decode((String, String, String, Int, Int).self) {
            daily.append(DailyCount(day: day, camera: unit + "/" + camera, reads: reads, hits: hits, notKept: 0))
        }
        func counts(_ sql: PostgresQuery) async throws -> [TransparencyReport.Count] {
            var out: [TransparencyReport.Count] = []
            for try await (name, count) in try await client.query(sql, logger: logger).decode((String, Int).self) {
                out.append(.init(name: name, count: count))
            }
            return out
        }
        let perList = try await counts(
            "SELECT coalesce(hit->>'list', '?'), count(*)::bigint FROM read_event WHERE hit IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1")
        // Never a purpose's words or a reader's name: the store's read-outs carry no category yet,
        // so they count as uncategorised, and readers by role.
        let perCategory = try await counts("SELECT 'uncategorised', count(*)::bigint FROM audit_log HAVING count(*) > 0")
        let perRole = try await counts("""
            SELECT CASE WHEN who LIKE 'reader:%' THEN 'store reader' WHEN who LIKE 'admin:%' THEN 'store administrator' ELSE 'unit operator' END,
                count(*)::bigint FROM audit_log GROUP BY 1 ORDER BY 2 DESC, 1
            """)
        let perAction = try await counts("SELECT action, count(*)::bigint FROM audit_log GROUP BY 1 ORDER BY 2 DESC, 1")
        var deletions: [TransparencyReport.Deletions] = []
        for try await (day, rule, runs, rows) in try await client.query("""
            SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), rule, count(*)::bigint, sum(rows)::bigint FROM deletion_log GROUP BY 1, 2 ORDER BY 1, 2
            """, logger: logger).decode((String, String, Int, Int).self) {
            deletions.append(.init(day: day, rule: rule, runs: runs, rows: rows))
        }
        var problem: String?
        do { _ = try await verifyAudit() } catch let error as AuditError { problem = error.description }
        return TransparencyReport(
            unit: "store", retentionSeconds: retention.seconds(hit: false), hitRetentionSeconds: retention.seconds(hit: true), scansPerDay: daily,
            hitsHeldPerList: perList, retentionDeletions: deletions, auditEntriesPerCategory: perCategory, auditEntriesPerRole: perRole,
            auditEntriesPerAction: perAction,
            auditProblem: problem, now: now)
    }
}
