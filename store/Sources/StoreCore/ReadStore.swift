import Crypto
import Foundation
import Logging
import PlateKeeperCore
import PostgresNIO
import WireFormat

/// Who a bearer token belongs to.
public enum Principal: Sendable, Equatable {
    /// A unit: may add its own reads, nothing else.
    case unit(String)
    /// A reader: may query reads and crops, add nothing.
    case reader(String)
}

/// The store's data access: tokens, ingest and queries on PostgreSQL. Stateless apart from a cache
/// of the partitions known to exist, so any number of instances can serve one database.
public final class ReadStore: Sendable {
    public let client: PostgresClient
    let logger: Logger
    /// Reads first seen longer ago than this are refused (their partition is dropped or about to be),
    /// and so are reads from more than `futureSlackSeconds` ahead of the store's clock.
    public let retentionSeconds: Double
    public let futureSlackSeconds: Double = 2 * 86_400
    private let knownPartitions = Locked(Set<Date>())

    public init(client: PostgresClient, retentionDays: Int, logger: Logger) {
        self.client = client
        self.retentionSeconds = Double(retentionDays) * 86_400
        self.logger = logger
    }

    // MARK: Tokens

    /// Tokens are kept as SHA-256 hashes, never in plaintext: a leaked database cannot be used to upload.
    public static func hash(_ token: String) -> String {
        hexString(SHA256.hash(data: Data(token.utf8)))
    }

    /// A new random token (256 bits, URL-safe base64).
    public static func newToken() -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    public func principal(token: String) async throws -> Principal? {
        let hash = Self.hash(token)
        for try await id in try await client.query("SELECT id FROM unit WHERE token_sha256 = \(hash) AND NOT disabled", logger: logger)
            .decode(String.self) {
            return .unit(id)
        }
        for try await name in try await client.query("SELECT name FROM reader WHERE token_sha256 = \(hash)", logger: logger).decode(String.self) {
            return .reader(name)
        }
        return nil
    }

    /// Registers a unit (or gives it a new token); returns the token, which is shown once and not kept.
    public func addUnit(_ id: String) async throws -> String {
        let token = Self.newToken()
        let hash = Self.hash(token)
        try await client.query("""
            INSERT INTO unit (id, token_sha256) VALUES (\(id), \(hash))
            ON CONFLICT (id) DO UPDATE SET token_sha256 = excluded.token_sha256, disabled = false
            """, logger: logger)
        return token
    }

    public func addReader(_ name: String) async throws -> String {
        let token = Self.newToken()
        let hash = Self.hash(token)
        try await client.query("""
            INSERT INTO reader (name, token_sha256) VALUES (\(name), \(hash))
            ON CONFLICT (name) DO UPDATE SET token_sha256 = excluded.token_sha256
            """, logger: logger)
        return token
    }

    // MARK: Ingest

    /// Why an event cannot be stored here although it meets the contract's bounds.
    func storePolicyProblem(_ event: WireReadEvent, now: Date) -> String? {
        guard let ns = ISO8601.parse(event.firstSeen) else { return "first_seen: not an ISO 8601 time" }
        let seen = Double(ns) / 1e9
        if seen < now.timeIntervalSince1970 - retentionSeconds { return "first_seen: older than the store's retention" }
        if seen > now.timeIntervalSince1970 + futureSlackSeconds { return "first_seen: more than two days ahead of the store's clock" }
        return nil
    }

    /// Stores the events of a batch from `unit` (already validated) in one transaction. Events the
    /// store already holds are left as they are. Returns how many rows were new.
    public func insert(_ events: [WireReadEvent], unit: String, batch: UUID) async throws -> Int {
        guard !events.isEmpty else { return 0 }
        let days = Set(events.compactMap { ISO8601.parse($0.firstSeen) }.map {
            Calendar.utc.startOfDay(for: Date(timeIntervalSince1970: Double($0) / 1e9))
        })
        let missing = knownPartitions.withLock { days.subtracting($0) }
        if !missing.isEmpty {
            try await StoreSchema.ensurePartitions(missing, client: client, logger: logger)
            knownPartitions.withLock { $0.formUnion(missing) }
        }
        let columns = 26
        let perStatement = 60_000 / columns  // PostgreSQL allows 65,535 parameters per statement
        let logger = self.logger
        return try await client.withTransaction(logger: logger) { connection in
            var inserted = 0
            var start = 0
            while start < events.count {
                let chunk = events[start..<min(events.count, start + perStatement)]
                start += chunk.count
                var bindings = PostgresBindings(capacity: chunk.count * columns)
                var rows: [String] = []
                for e in chunk {
                    let base = bindings.count
                    let placeholders = (1...columns).map { "$\(base + $0)" }
                    var cells = placeholders
                    cells[1] += "::timestamptz"
                    cells[2] += "::timestamptz"
                    cells[9] += "::jsonb"
                    cells[19] += "::jsonb"
                    cells[22] += "::timestamptz"
                    cells[23] += "::jsonb"
                    cells[24] += "::jsonb"
                    cells[25] += "::jsonb"
                    rows.append("(" + cells.joined(separator: ",") + ")")
                    bindings.append(e.id)
                    bindings.append(e.firstSeen)
                    bindings.append(e.lastSeen)
                    bindings.append(unit)
                    bindings.append(e.camera)
                    bindings.append(e.kind)
                    bindings.append(e.plate)
                    bindings.append(e.confidence)
                    bindings.append(e.region)
                    bindings.append(String(decoding: try WireCoding.encode(e.candidates), as: UTF8.self))
                    bindings.append(e.box.x)
                    bindings.append(e.box.y)
                    bindings.append(e.box.width)
                    bindings.append(e.box.height)
                    bindings.append(e.clockQuality)
                    bindings.append(e.frames)
                    bindings.append(e.bestFrame)
                    bindings.append(e.position?.lat)
                    bindings.append(e.position?.lon)
                    bindings.append(try e.position.map { String(decoding: try WireCoding.encode($0), as: UTF8.self) })
                    bindings.append(e.cropJPEG.map { ByteBuffer(bytes: $0) })
                    bindings.append(batch)
                    bindings.append(e.bestSeen)
                    bindings.append(try e.positionStatus.map { String(decoding: try WireCoding.encode($0), as: UTF8.self) })
                    bindings.append(try e.clock.map { String(decoding: try WireCoding.encode($0), as: UTF8.self) })
                    bindings.append(try e.hit.map { String(decoding: try WireCoding.encode($0), as: UTF8.self) })
                }
                let sql = """
                    INSERT INTO read_event (id, first_seen, last_seen, unit, camera, kind, plate, confidence, region, candidates,
                        box_x, box_y, box_w, box_h, clock_quality, frames, best_frame, lat, lon, position, crop, batch, best_seen,
                        position_status, clock, hit)
                    VALUES \(rows.joined(separator: ",")) ON CONFLICT (id, first_seen) DO NOTHING RETURNING 1
                    """
                // RETURNING gives one row per read that was new; repeats give none.
                inserted += try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger).collect().count
            }
            return inserted
        }
    }

    // MARK: Queries

    public struct Query: Sendable {
        public var plate: String?
        public var unit: String?
        public var from: String?
        public var to: String?
        public var limit = 100
        public init() {}
    }

    /// Reads matching `query`, newest first, without crops.
    public func reads(_ query: Query) async throws -> [WireReadEvent] {
        var conditions: [String] = []
        var bindings = PostgresBindings()
        func bind(_ value: String, cast: String = "") -> String {
            bindings.append(value)
            return "$\(bindings.count)\(cast)"
        }
        if let plate = query.plate { conditions.append("plate = \(bind(plate))") }
        if let unit = query.unit { conditions.append("unit = \(bind(unit))") }
        if let from = query.from { conditions.append("first_seen >= \(bind(from, cast: "::timestamptz"))") }
        if let to = query.to { conditions.append("first_seen < \(bind(to, cast: "::timestamptz"))") }
        let timeFormat = #"'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'"#
        let sql = """
            SELECT id, kind, camera, plate, confidence, region, candidates::text, box_x, box_y, box_w, box_h,
                to_char(first_seen AT TIME ZONE 'UTC', \(timeFormat)), to_char(last_seen AT TIME ZONE 'UTC', \(timeFormat)),
                clock_quality, frames, best_frame, position::text, to_char(best_seen AT TIME ZONE 'UTC', \(timeFormat)),
                position_status::text, clock::text, hit::text
            FROM read_event \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY first_seen DESC LIMIT \(max(1, min(query.limit, 1000)))
            """
        let rows = try await client.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
        var out: [WireReadEvent] = []
        for try await row in rows {
            let c = try row.decode(
                (UUID, String, String, String, Double, String, String, Int, Int, Int, Int, String, String, String, Int, String, String?, String?, String?, String?, String?).self)
            out.append(WireReadEvent(
                id: c.0, kind: c.1, camera: c.2, plate: c.3, confidence: c.4, region: c.5,
                candidates: try WireCoding.decode([WireReadEvent.Candidate].self, from: Data(c.6.utf8)),
                box: .init(x: c.7, y: c.8, width: c.9, height: c.10), firstSeen: c.11, lastSeen: c.12, bestSeen: c.17, clockQuality: c.13,
                frames: c.14,
                bestFrame: c.15, position: try c.16.map { try WireCoding.decode(WireReadEvent.Position.self, from: Data($0.utf8)) },
                positionStatus: try c.18.map { try WireCoding.decode(WireReadEvent.PositionStatus.self, from: Data($0.utf8)) },
                clock: try c.19.map { try WireCoding.decode(WireReadEvent.Clock.self, from: Data($0.utf8)) },
                hit: try c.20.map { try WireCoding.decode(WireReadEvent.Hit.self, from: Data($0.utf8)) }))
        }
        return out
    }

    /// The crop of read `id`, or nil when there is no such read or it has no crop.
    public func crop(_ id: UUID) async throws -> Data? {
        for try await crop in try await client.query("SELECT crop FROM read_event WHERE id = \(id) LIMIT 1", logger: logger)
            .decode(ByteBuffer?.self) {
            return crop.map { Data($0.readableBytesView) }
        }
        return nil
    }

    public func healthy() async -> Bool {
        (try? await client.query("SELECT 1", logger: logger)) != nil
    }
}
