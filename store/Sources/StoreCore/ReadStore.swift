import Crypto
import Cryptography
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
    /// How long reads are kept, by class. Reads first seen longer ago than their class's
    /// retention are refused (they would be deleted at once), and so are reads from more than
    /// `futureSlackSeconds` ahead of the store's clock.
    public let retention: Retention
    public let futureSlackSeconds: Double = 2 * 86_400
    /// PostgreSQL's `to_char` pattern for the contract's times: ISO 8601 UTC with milliseconds.
    static let timeFormat = #"'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'"#
    let knownPartitions = Locked(Set<Date>())

    /// Seals plate data under per-day keys when the store has a key directory; nil stores it in the clear.
    let sealer: Sealer?

    public init(client: PostgresClient, retention: Retention, keys: DayKeys? = nil, logger: Logger) {
        self.client = client
        self.retention = retention
        self.sealer = keys.map(Sealer.init(keys:))
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
        let keep = retention.seconds(hit: event.hit != nil)
        if seen < now.timeIntervalSince1970 - keep { return "first_seen: older than the store's retention for its class (\(Int(keep / 86_400)) days)" }
        if seen > now.timeIntervalSince1970 + futureSlackSeconds { return "first_seen: more than two days ahead of the store's clock" }
        return nil
    }

    /// A validated contract time in UTC (`…Z`): what the database is given, whatever offset the
    /// unit wrote. Validation has parsed it; an unparsable one (never reached) passes unchanged.
    static func utc(_ text: String) -> String {
        ISO8601.parse(text).map { ISO8601.format(unixNanoseconds: $0) } ?? text
    }

    /// What became of a batch's reads.
    public struct Stored: Sendable, Equatable {
        /// Reads new to the store.
        public var inserted = 0
        /// Ids the store holds as another read (another unit's, or this unit's with another
        /// first_seen): refused, nothing of them stored or changed.
        public var conflicts: [UUID] = []
    }

    /// Stores the events of a batch from `unit` (already validated) in one transaction. A read the
    /// store already holds from this unit with the same first_seen is left as it is (a retry);
    /// an id it holds as another read is a conflict, and nothing of that read is stored.
    public func insert(_ events: [WireReadEvent], unit: String, batch: UUID) async throws -> Stored {
        guard !events.isEmpty else { return Stored() }
        let days = Set(events.compactMap { ISO8601.parse($0.firstSeen) }.map {
            Calendar.utc.startOfDay(for: Date(timeIntervalSince1970: Double($0) / 1e9))
        })
        let missing = knownPartitions.withLock { days.subtracting($0) }
        if !missing.isEmpty {
            try await StoreSchema.ensurePartitions(missing, client: client, logger: logger)
            knownPartitions.withLock { $0.formUnion(missing) }
        }
        let columns = 28
        let perStatement = 60_000 / columns  // PostgreSQL allows 65,535 parameters per statement
        let logger = self.logger
        // Sealed before the transaction: a key file is made at most once per class and day.
        let sealed: [UUID: Sealer.Sealed] = try sealer.map { sealer in
            // A batch that repeats an id stores the first (ON CONFLICT), so the first is sealed.
            try Dictionary(events.map { e in
                let seen = Date(timeIntervalSince1970: Double(ISO8601.parse(e.firstSeen) ?? 0) / 1e9)
                return (e.id, try sealer.seal(e, firstSeen: seen))
            }, uniquingKeysWith: { first, _ in first })
        } ?? [:]
        struct DayCamera: Hashable { var day: String, camera: String }
        return try await client.withTransaction(logger: logger) { connection in
            // Claim the ids first: an id new to the store is this read's from now on. A second
            // batch holding the same new id waits here for this one's commit, then finds it taken.
            var claimed = Set<UUID>()
            let ids = events.map(\.id), times = events.map { Self.utc($0.firstSeen) }
            for try await id in try await connection.query("""
                INSERT INTO read_id (id, first_seen, unit)
                SELECT id, first_seen, \(unit) FROM unnest(\(ids)::uuid[], \(times)::text[]::timestamptz[]) AS b(id, first_seen)
                ON CONFLICT (id) DO NOTHING RETURNING id
                """, logger: logger).decode(UUID.self) {
                claimed.insert(id)
            }
            var stored = Stored()
            let others = events.filter { !claimed.contains($0.id) }
            if !others.isEmpty {
                // Held before: the same read (this unit, the same first_seen) is a retry; anything else a conflict.
                var same = Set<UUID>()
                for try await id in try await connection.query("""
                    SELECT r.id FROM read_id r JOIN unnest(\(others.map(\.id))::uuid[], \(others.map { Self.utc($0.firstSeen) })::text[]::timestamptz[]) AS b(id, first_seen)
                    ON r.id = b.id WHERE r.unit = \(unit) AND r.first_seen = b.first_seen
                    """, logger: logger).decode(UUID.self) {
                    same.insert(id)
                }
                stored.conflicts = Array(Set(others.map(\.id)).subtracting(same)).sorted { $0.uuidString < $1.uuidString }
            }
            // Within one batch an id may repeat: its first occurrence is the read.
            var seenInBatch = Set<UUID>()
            let fresh = events.filter { claimed.contains($0.id) && seenInBatch.insert($0.id).inserted }
            var inserted = 0
            var counts: [DayCamera: (reads: Int, hits: Int)] = [:]
            var start = 0
            while start < fresh.count {
                let chunk = fresh[start..<min(fresh.count, start + perStatement)]
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
                    let box = sealed[e.id]
                    bindings.append(e.id)
                    bindings.append(Self.utc(e.firstSeen))
                    bindings.append(Self.utc(e.lastSeen))
                    bindings.append(unit)
                    bindings.append(e.camera)
                    bindings.append(e.kind)
                    bindings.append(box == nil ? e.plate : "")
                    bindings.append(e.confidence)
                    bindings.append(e.region)
                    bindings.append(box == nil ? String(decoding: try WireCoding.encode(e.candidates), as: UTF8.self) : "[]")
                    bindings.append(e.box.x)
                    bindings.append(e.box.y)
                    bindings.append(e.box.width)
                    bindings.append(e.box.height)
                    bindings.append(e.clockQuality)
                    bindings.append(e.frames)
                    bindings.append(e.bestFrame)
                    bindings.append(box == nil ? e.position?.lat : nil)
                    bindings.append(box == nil ? e.position?.lon : nil)
                    bindings.append(box == nil ? try e.position.map { String(decoding: try WireCoding.encode($0), as: UTF8.self) } : nil)
                    bindings.append(box.map { $0.crop.map { ByteBuffer(bytes: $0) } } ?? e.cropJPEG.map { ByteBuffer(bytes: $0) })
                    bindings.append(batch)
                    bindings.append(e.bestSeen.map(Self.utc))
                    bindings.append(try e.positionStatus.map { String(decoding: try WireCoding.encode($0), as: UTF8.self) })
                    bindings.append(try e.clock.map { String(decoding: try WireCoding.encode($0), as: UTF8.self) })
                    bindings.append(try e.hit.map { box == nil ? String(decoding: try WireCoding.encode($0), as: UTF8.self) : try Sealer.hitMarker(list: $0.list) })
                    bindings.append(box.map { ByteBuffer(bytes: $0.box) })
                    bindings.append(box?.plateIndex)
                }
                let sql = """
                    INSERT INTO read_event (id, first_seen, last_seen, unit, camera, kind, plate, confidence, region, candidates,
                        box_x, box_y, box_w, box_h, clock_quality, frames, best_frame, lat, lon, position, crop, batch, best_seen,
                        position_status, clock, hit, sealed, plate_index)
                    VALUES \(rows.joined(separator: ",")) ON CONFLICT (id, first_seen) DO NOTHING
                    RETURNING to_char(first_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD'), camera, hit IS NOT NULL
                    """
                // RETURNING gives one row per read that was new; repeats give none.
                for try await (day, camera, hit) in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
                    .decode((String, String, Bool).self) {
                    counts[DayCamera(day: day, camera: camera), default: (0, 0)].reads += 1
                    if hit { counts[DayCamera(day: day, camera: camera), default: (0, 0)].hits += 1 }
                    inserted += 1
                }
            }
            // In a fixed order, so two batches of one unit never wait on each other's rows in turn.
            for (key, count) in counts.sorted(by: { ($0.key.day, $0.key.camera) < ($1.key.day, $1.key.camera) }) {
                try await connection.query("""
                    INSERT INTO daily_count (day, unit, camera, reads, hits) VALUES (\(key.day)::date, \(unit), \(key.camera), \(count.reads), \(count.hits))
                    ON CONFLICT (day, unit, camera) DO UPDATE SET reads = daily_count.reads + EXCLUDED.reads, hits = daily_count.hits + EXCLUDED.hits
                    """, logger: logger)
            }
            stored.inserted = inserted
            return stored
        }
    }

    // MARK: Queries

    public struct Query: Sendable, CustomStringConvertible {
        public var plate: String?
        public var unit: String?
        public var from: String?
        public var to: String?
        public var limit = 100
        public init() {}

        /// The query as the audit trail records it: `key=value` pairs in a fixed order.
        public var description: String {
            [("plate", plate), ("unit", unit), ("from", from), ("to", to), ("limit", String(limit))]
                .compactMap { key, value in value.map { "\(key)=\($0)" } }.joined(separator: " ")
        }
    }

    /// Reads matching `query`, newest first, without crops.
    public func reads(_ query: Query) async throws -> [WireReadEvent] {
        var conditions: [String] = []
        var bindings = PostgresBindings()
        func bind(_ value: String, cast: String = "") -> String {
            bindings.append(value)
            return "$\(bindings.count)\(cast)"
        }
        if let plate = query.plate {
            if let sealer {
                // Sealed reads are found by the plate's keyed hash under each day key in range.
                let now = Date()
                let from = max(query.from.flatMap(ISO8601.parse).map { Date(timeIntervalSince1970: Double($0) / 1e9) } ?? .distantPast,
                               now.addingTimeInterval(-max(retention.seconds(hit: false), retention.seconds(hit: true)) - 86_400))
                let to = min(query.to.flatMap(ISO8601.parse).map { Date(timeIntervalSince1970: Double($0) / 1e9) } ?? .distantFuture,
                             now.addingTimeInterval(futureSlackSeconds + 86_400))
                let indexes = try sealer.plateIndexes(plate, from: from, to: to)
                bindings.append(indexes)
                let indexParameter = "$\(bindings.count)::text[]"
                conditions.append("(plate = \(bind(plate)) OR plate_index = ANY(\(indexParameter)))")
            } else {
                conditions.append("plate = \(bind(plate))")
            }
        }
        if let unit = query.unit { conditions.append("unit = \(bind(unit))") }
        if let from = query.from { conditions.append("first_seen >= \(bind(from, cast: "::timestamptz"))") }
        if let to = query.to { conditions.append("first_seen < \(bind(to, cast: "::timestamptz"))") }
        let timeFormat = Self.timeFormat
        let sql = """
            SELECT id, kind, camera, plate, confidence, region, candidates::text, box_x, box_y, box_w, box_h,
                to_char(first_seen AT TIME ZONE 'UTC', \(timeFormat)), to_char(last_seen AT TIME ZONE 'UTC', \(timeFormat)),
                clock_quality, frames, best_frame, position::text, to_char(best_seen AT TIME ZONE 'UTC', \(timeFormat)),
                position_status::text, clock::text, hit::text, sealed
            FROM read_event \(Self.registered) \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY first_seen DESC LIMIT \(max(1, min(query.limit, 1000)))
            """
        let rows = try await client.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
        var out: [WireReadEvent] = []
        for try await row in rows {
            let r = try row.decode(
                (UUID, String, String, String, Double, String, String, Int, Int, Int, Int, String, String, String, Int, String, String?, String?, String?, String?, String?, ByteBuffer?).self)
            var c = (r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.10, r.11, r.12, r.13, r.14, r.15, r.16, r.17, r.18, r.19, r.20)
            let sealedBox = r.21
            if let sealedBox {
                let personal: Sealer.Personal?
                do {
                    personal = try ISO8601.parse(c.11).flatMap { seen in
                        try sealer?.open(Array(sealedBox.readableBytesView), id: c.0, hit: c.20 != nil,
                                         firstSeen: Date(timeIntervalSince1970: Double(seen) / 1e9))
                    }
                } catch {
                    // Altered in the database, or a damaged key file: the other reads still go out.
                    logger.error("a sealed read does not open; left out: \(error)", metadata: ["read": "\(c.0)"])
                    continue
                }
                guard let personal else {
                    // Its day key is gone (retention) or this instance has no key directory.
                    logger.warning("a sealed read has no key here; left out", metadata: ["read": "\(c.0)"])
                    continue
                }
                c.3 = personal.plate
                c.6 = String(decoding: try WireCoding.encode(personal.candidates), as: UTF8.self)
                c.16 = try personal.position.map { String(decoding: try WireCoding.encode($0), as: UTF8.self) }
                c.20 = try personal.hit.map { String(decoding: try WireCoding.encode($0), as: UTF8.self) }
            }
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

    /// Joins each row to the id registry: exactly the row of the unit and first_seen that hold the
    /// id is a read; a row stored before the registry under a taken id is never served.
    static let registered = "JOIN read_id USING (id, first_seen, unit)"

    /// The crop of read `id`, or nil when there is no such read or it has no crop.
    public func crop(_ id: UUID) async throws -> Data? {
        let timeFormat = Self.timeFormat
        let sql: PostgresQuery = """
            SELECT crop, sealed IS NOT NULL, hit IS NOT NULL, to_char(first_seen AT TIME ZONE 'UTC', \(unescaped: timeFormat))
            FROM read_event \(unescaped: Self.registered) WHERE read_event.id = \(id)
            """
        for try await (crop, isSealed, hit, firstSeen) in try await client.query(sql, logger: logger).decode((ByteBuffer?, Bool, Bool, String).self) {
            guard let crop else { return nil }
            guard isSealed else { return Data(crop.readableBytesView) }
            guard let sealer, let seen = ISO8601.parse(firstSeen) else { return nil }
            return try sealer.openCrop(Array(crop.readableBytesView), id: id, hit: hit, firstSeen: Date(timeIntervalSince1970: Double(seen) / 1e9))
                .map { Data($0) }
        }
        return nil
    }
}
