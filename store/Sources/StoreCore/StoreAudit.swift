import Audit
import Foundation
import Logging
import PostgresNIO

/// The store's audit trail: every read-out of plate data through the query API appends an entry
/// (time, the reader's name, the query, the stated purpose, how many records) to `audit_log`,
/// hash-chained exactly as the unit's audit file is (`AuditEntry`), so one verifier checks both.
/// Appends from any number of store instances are serialised by a transaction-scoped advisory
/// lock, so the chain never forks.
extension ReadStore {
    static let auditLockKey: Int64 = 0x504B_4155  // "PKAU"

    /// Appends one entry and returns it (its hash is the trail's new head).
    @discardableResult
    public func appendAudit(who: String, action: String, query: String, purpose: String, records: Int, now: Date = Date()) async throws -> AuditEntry {
        try AuditLog.checkPurpose(purpose)
        let logger = self.logger
        return try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.auditLockKey))", logger: logger)
            var last: AuditEntry?
            let rows = try await connection.query(
                "SELECT seq, at, who, action, query, purpose, records, prev, hash FROM audit_log ORDER BY seq DESC LIMIT 1", logger: logger)
            for try await row in rows.decode((Int, String, String, String, String, String, Int, String, String).self) {
                last = AuditEntry(seq: row.0, time: row.1, who: row.2, action: row.3, query: row.4, purpose: row.5, records: row.6, prev: row.7, hash: row.8)
            }
            let entry = try AuditEntry.next(after: last, who: who, action: action, query: query, purpose: purpose, records: records, now: now)
            try await connection.query("""
                INSERT INTO audit_log (seq, at, who, action, query, purpose, records, prev, hash)
                VALUES (\(entry.seq), \(entry.time), \(entry.who), \(entry.action), \(entry.query), \(entry.purpose), \(entry.records), \(entry.prev), \(entry.hash))
                """, logger: logger)
            return entry
        }
    }

    /// Reads the whole trail in order and checks the chain as it goes (memory stays flat however
    /// long the trail). Returns the number of entries and the head's hash; throws `AuditError.broken`
    /// naming the first entry (by sequence) that does not hold.
    public func verifyAudit() async throws -> (entries: Int, head: String) {
        var chain = AuditChain()
        let rows = try await client.query(
            "SELECT seq, at, who, action, query, purpose, records, prev, hash FROM audit_log ORDER BY seq", logger: logger)
        for try await row in rows.decode((Int, String, String, String, String, String, Int, String, String).self) {
            try chain.append(AuditEntry(seq: row.0, time: row.1, who: row.2, action: row.3, query: row.4, purpose: row.5, records: row.6, prev: row.7, hash: row.8))
        }
        return (chain.count, chain.head)
    }

    /// How many entries the trail holds.
    public func auditEntryCount() async throws -> Int {
        for try await n in try await client.query("SELECT count(*)::bigint FROM audit_log", logger: logger).decode(Int.self) { return n }
        return 0
    }
}
