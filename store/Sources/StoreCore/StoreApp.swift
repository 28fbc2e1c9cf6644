import Audit
import Foundation
import Hummingbird
import Logging
import PlateKeeperCore
import PostgresNIO
import Prometheus
import ServiceLifecycle
import WireFormat

/// How a store instance runs.
public struct StoreSettings: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Days reads are kept: those that matched no hotlist, and hits.
    public var retention = Retention(days: 90, hitDays: 90)
    /// Seconds between retention runs.
    public var retentionIntervalSeconds = 600.0
    /// The directory of per-day keys (`DayKeys`); nil keeps plate data in the clear.
    public var keyDirectory: String?
    /// Seconds a unit is told to wait (Retry-After) when the database cannot be reached.
    public var retryAfterSeconds = 5
    /// The longest a request waits for the database before it is answered 503.
    public var databaseTimeoutSeconds = 10.0
    /// Upload bodies inflated and decoded at once by one instance (each up to 64 MiB inflated):
    /// more are answered 503 with Retry-After at once, so memory stays bounded whatever a fleet,
    /// or an attacker with a unit's token, sends. Published in docs/upload-api.md.
    public var maxConcurrentUploads = 4
    public init() {}
}

/// Counts the upload bodies being inflated and decoded, and refuses one past the limit.
final class UploadGate: Sendable {
    let limit: Int
    private let inFlight = Locked(0)

    init(limit: Int) { self.limit = max(1, limit) }

    /// Takes a place; false when all are taken.
    func enter() -> Bool {
        inFlight.withLock { n in
            guard n < limit else { return false }
            n += 1
            return true
        }
    }

    func leave() { inFlight.withLock { $0 -= 1 } }
}

/// The HTTP side of the store: the upload contract's routes (docs/upload-api.md), the reader's
/// queries, health and metrics. Owns the metrics registry; the data goes through `ReadStore`.
public struct StoreApp: Sendable {
    public let store: ReadStore
    public let settings: StoreSettings
    public let registry = PrometheusCollectorRegistry()
    let metrics: Metrics
    let uploads: UploadGate

    struct Metrics: Sendable {
        let stored: Counter
        let duplicate: Counter
        let batches: Counter
        let refused: Counter
        let unavailable: Counter
        let conflicts: Counter
        let busy: Counter
        let latency: DurationHistogram

        init(_ r: PrometheusCollectorRegistry) {
            func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
                MetricNameDescriptor(namespace: "platekeeper", subsystem: "store", metricName: metric, unitName: unit, helpText: help)
            }
            stored = r.makeCounter(descriptor: name("reads_stored", "total", "Read events stored for the first time"))
            duplicate = r.makeCounter(descriptor: name("reads_duplicate", "total", "Read events received again (already stored)"))
            batches = r.makeCounter(descriptor: name("batches", "total", "Batches stored"))
            refused = r.makeCounter(descriptor: name("batches_refused", "total", "Batches refused with a 4xx"))
            unavailable = r.makeCounter(descriptor: name("batches_unavailable", "total", "Batches answered 503 (database unreachable)"))
            conflicts = r.makeCounter(descriptor: name("reads_conflicting", "total", "Reads refused: their id belongs to another read"))
            busy = r.makeCounter(descriptor: name("uploads_busy", "total", "Uploads answered 503 because the limit of uploads decoded at once was reached"))
            latency = r.makeDurationHistogram(
                descriptor: name("batch", "seconds", "Time to store a batch"),
                buckets: [.milliseconds(5), .milliseconds(20), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
                          .seconds(1), .seconds(2.5), .seconds(5)])
        }
    }

    public init(store: ReadStore, settings: StoreSettings) {
        self.store = store
        self.settings = settings
        metrics = Metrics(registry)
        uploads = UploadGate(limit: settings.maxConcurrentUploads)
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.post("/v1/reads") { request, _ in await self.upload(request) }
        router.get("/v1/reads") { request, _ in await self.query(request) }
        router.get("/v1/reads/:id/crop") { request, context in await self.crop(request, id: context.parameters.get("id") ?? "") }
        router.get("/health") { _, _ in await self.health() }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(bytes: self.registry.emitToBuffer())))
        }
        return router
    }

    // MARK: Routes

    /// POST /v1/reads: authenticate, bound, decode, validate every read, store them all or none.
    func upload(_ incoming: Request) async -> Response {
        let started = ContinuousClock.now
        var request = incoming
        let principal: Principal
        switch await authenticate(request) {
        case .success(let p): principal = p
        case .failure(let failure):
            metrics.refused.increment()
            return failure.response
        }
        guard case .unit(let unit) = principal else {
            metrics.refused.increment()
            return Self.problem(.forbidden, "a reader's token cannot upload")
        }
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: WireLimits.maxCompressedBody)
        } catch {
            metrics.refused.increment()
            return Self.problem(.contentTooLarge, "body larger than \(WireLimits.maxCompressedBody) bytes")
        }
        // Inflating and decoding is the heavy part: a bounded number at once per instance.
        guard uploads.enter() else {
            metrics.busy.increment()
            return Self.problem(.serviceUnavailable, "\(uploads.limit) uploads are being decoded; try again", retryAfter: 1)
        }
        defer { uploads.leave() }
        let batch: UploadBatch
        do {
            batch = try UploadRequest.decode(Data(body.readableBytesView), contentEncoding: request.headers[.contentEncoding])
        } catch {
            metrics.refused.increment()
            switch error {
            case .tooLarge(let reason): return Self.problem(.contentTooLarge, reason)
            case .unsupportedEncoding(let reason): return Self.problem(.unsupportedMediaType, reason)
            case .malformed(let reason): return Self.problem(.badRequest, reason)
            }
        }
        guard batch.unit == unit else {
            metrics.refused.increment()
            return Self.problem(.forbidden, "this token belongs to unit \(unit), not \(batch.unit.prefix(128))")
        }
        let now = Date()
        var rejected: [UploadReply.Rejection] = []
        for event in batch.events {
            do {
                try event.validate()
                if let problem = store.storePolicyProblem(event, now: now) { rejected.append(.init(id: event.id, reason: problem)) }
            } catch {
                rejected.append(.init(id: event.id, reason: error.description))
            }
        }
        if !rejected.isEmpty {
            metrics.refused.increment()
            return Self.json(.unprocessableContent, WireProblem(error: "\(rejected.count) of \(batch.events.count) reads break the contract; nothing was stored", rejected: rejected))
        }
        do {
            let stored = try await withDatabase { try await self.store.insert(batch.events, unit: unit, batch: batch.batch) }
            let conflicting = Set(stored.conflicts)
            metrics.stored.increment(by: Int64(stored.inserted))
            metrics.duplicate.increment(by: Int64(batch.events.count - stored.inserted - batch.events.filter { conflicting.contains($0.id) }.count))
            metrics.conflicts.increment(by: Int64(conflicting.count))
            metrics.batches.increment()
            metrics.latency.record(ContinuousClock.now - started)
            if !conflicting.isEmpty {
                store.logger.warning("reads refused: their ids belong to other reads", metadata: [
                    "unit": "\(unit)", "reads": "\(conflicting.count)", "first": "\(stored.conflicts[0])",
                ])
            }
            let reason = "the store holds this id as another read (another unit's, or another first_seen); a read keeps its id and first_seen"
            return Self.json(.ok, UploadReply(
                batch: batch.batch, accepted: batch.events.map(\.id).filter { !conflicting.contains($0) },
                rejected: stored.conflicts.map { .init(id: $0, reason: reason) }))
        } catch {
            metrics.unavailable.increment()
            store.logger.warning("storing a batch failed: \(String(reflecting: error))", metadata: ["unit": "\(unit)"])
            return Self.problem(.serviceUnavailable, "the database did not take the batch; try again", retryAfter: settings.retryAfterSeconds)
        }
    }

    /// GET /health: 200 with what an operator checks first (the oldest read held against the
    /// retention, the audit trail's length), 503 when the database cannot be reached.
    func health() async -> Response {
        struct Health: Encodable {
            var status = "ok"
            var oldestRead: String?
            var retentionDays: Int
            var retentionHitDays: Int
            var auditEntries: Int
            var sealed: Bool
            enum CodingKeys: String, CodingKey {
                case status, oldestRead = "oldest_read", retentionDays = "retention_days", retentionHitDays = "retention_hit_days"
                case auditEntries = "audit_entries", sealed
            }
        }
        do {
            let store = self.store
            let (oldest, entries) = try await withDatabase { (try await store.oldestRead(), try await store.auditEntryCount()) }
            return Self.json(.ok, Health(oldestRead: oldest, retentionDays: store.retention.days, retentionHitDays: store.retention.hitDays,
                                         auditEntries: entries, sealed: store.sealer != nil))
        } catch {
            return Self.problem(.serviceUnavailable, "the database cannot be reached", retryAfter: settings.retryAfterSeconds)
        }
    }

    /// The reader a request is from and the purpose it states, or the response refusing it.
    /// Every read-out of plate data needs a purpose (`purpose=`), which goes to the audit trail.
    func reader(_ request: Request) async -> Result<(name: String, purpose: String), AuthFailure> {
        switch await authenticate(request) {
        case .failure(let failure): return .failure(failure)
        case .success(.unit): return .failure(AuthFailure(response: Self.problem(.forbidden, "a unit's token cannot read")))
        case .success(.reader(let name)):
            let purpose = request.uri.queryParameters.get("purpose") ?? ""
            do {
                try AuditLog.checkPurpose(purpose)
            } catch {
                return .failure(AuthFailure(response: Self.problem(.badRequest, "purpose: \(error)")))
            }
            return .success((name, purpose))
        }
    }

    /// Writes the audit entry of a read-out; the data is sent only if this succeeds.
    func audited(_ reader: (name: String, purpose: String), action: String, query: String, records: Int) async -> Response? {
        do {
            let store = self.store
            _ = try await withDatabase {
                try await store.appendAudit(who: "reader:" + reader.name, action: action, query: query, purpose: reader.purpose, records: records)
            }
            return nil
        } catch {
            store.logger.error("audit: cannot append, so nothing is sent: \(error)")
            return Self.problem(.serviceUnavailable, "the audit trail cannot be written, so nothing is sent", retryAfter: settings.retryAfterSeconds)
        }
    }

    /// GET /v1/reads: reader tokens only, with a purpose; audited.
    func query(_ request: Request) async -> Response {
        let reader: (name: String, purpose: String)
        switch await self.reader(request) {
        case .failure(let failure): return failure.response
        case .success(let r): reader = r
        }
        let q = request.uri.queryParameters
        var query = ReadStore.Query()
        if let plate = q.get("plate") {
            guard (1...16).contains(plate.count), plate.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) || ("0"..."9").contains($0) }) else {
                return Self.problem(.badRequest, "plate must be 1 to 16 of A-Z and 0-9")
            }
            query.plate = plate
        }
        if let unit = q.get("unit") {
            guard !unit.isEmpty, unit.utf8.count <= WireLimits.maxNameBytes else { return Self.problem(.badRequest, "bad unit") }
            query.unit = unit
        }
        for (key, keyPath) in [("from", \ReadStore.Query.from), ("to", \ReadStore.Query.to)] {
            if let text = q.get(key) {
                guard let time = ISO8601.parse(text) else { return Self.problem(.badRequest, "\(key) must be an ISO 8601 time") }
                // Normalised to UTC here: the database sees only times it takes.
                query[keyPath: keyPath] = ISO8601.format(unixNanoseconds: time)
            }
        }
        if let limit = q.get("limit") {
            guard let n = Int(limit), (1...1000).contains(n) else { return Self.problem(.badRequest, "limit must be 1 to 1000") }
            query.limit = n
        }
        let reads: [WireReadEvent]
        do {
            let q = query
            reads = try await withDatabase { try await self.store.reads(q) }
        } catch {
            return Self.problem(.serviceUnavailable, "the database cannot be reached", retryAfter: settings.retryAfterSeconds)
        }
        var recorded = query
        if let plate = query.plate, let sealer = store.sealer {
            do {
                recorded.plate = try sealer.auditToken(plate, now: Date())
            } catch {
                store.logger.error("audit: no key for the plate's token, so nothing is sent: \(error)")
                return Self.problem(.serviceUnavailable, "the audit trail cannot be written, so nothing is sent", retryAfter: settings.retryAfterSeconds)
            }
        }
        if let refusal = await audited(reader, action: "query", query: recorded.description, records: reads.count) { return refusal }
        struct Reads: Encodable { let reads: [WireReadEvent] }
        return Self.json(.ok, Reads(reads: reads))
    }

    /// GET /v1/reads/{id}/crop: reader tokens only, with a purpose; audited.
    func crop(_ request: Request, id: String) async -> Response {
        let reader: (name: String, purpose: String)
        switch await self.reader(request) {
        case .failure(let failure): return failure.response
        case .success(let r): reader = r
        }
        guard let uuid = UUID(uuidString: id) else { return Self.problem(.badRequest, "not a read id") }
        let jpeg: Data?
        do {
            jpeg = try await withDatabase({ try await self.store.crop(uuid) })
        } catch {
            return Self.problem(.serviceUnavailable, "the database cannot be reached", retryAfter: settings.retryAfterSeconds)
        }
        if let refusal = await audited(reader, action: "crop", query: "id=\(uuid.uuidString.lowercased())", records: jpeg == nil ? 0 : 1) {
            return refusal
        }
        guard let jpeg else { return Self.problem(.notFound, "no such read, or it has no crop") }
        return Response(status: .ok, headers: [.contentType: "image/jpeg"], body: .init(byteBuffer: ByteBuffer(bytes: jpeg)))
    }

    // MARK: Helpers

    func authenticate(_ request: Request) async -> Result<Principal, AuthFailure> {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "), header.utf8.count < 1024 else {
            return .failure(AuthFailure(response: Self.problem(.unauthorized, "a bearer token is needed")))
        }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        do {
            guard let principal = try await withDatabase({ try await self.store.principal(token: token) }) else {
                return .failure(AuthFailure(response: Self.problem(.unauthorized, "unknown token")))
            }
            return .success(principal)
        } catch {
            return .failure(AuthFailure(response: Self.problem(
                .serviceUnavailable, "the database cannot be reached", retryAfter: settings.retryAfterSeconds)))
        }
    }

    struct AuthFailure: Error { let response: Response }

    struct DatabaseTimeout: Error {}

    /// Runs a database operation with a deadline: while PostgreSQL is away the pool waits for a
    /// connection indefinitely, and a unit is better told 503 and Retry-After than left hanging.
    func withDatabase<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        let seconds = settings.databaseTimeoutSeconds
        return try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                throw DatabaseTimeout()
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { throw DatabaseTimeout() }
            return first
        }
    }

    static func json<T: Encodable>(_ status: HTTPResponse.Status, _ value: T) -> Response {
        let data = (try? WireCoding.encode(value)) ?? Data(#"{"error":"cannot encode the reply"}"#.utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func problem(_ status: HTTPResponse.Status, _ message: String, retryAfter: Int? = nil) -> Response {
        var response = json(status, WireProblem(error: message))
        if let retryAfter { response.headers[.retryAfter] = String(retryAfter) }
        return response
    }
}

/// Applies the retention every few minutes (`ReadStore.applyRetention`): continuously, not only
/// at start-up, so no read outlives its class's retention by more than one interval.
public struct RetentionService: Service {
    let store: ReadStore
    let intervalSeconds: Double
    /// Ends (or yields) once the schema is migrated: retention must not query tables that a
    /// first start has not made yet. Nil: the schema is there already.
    let schemaReady: AsyncStream<Void>?

    public init(store: ReadStore, intervalSeconds: Double = 600, schemaReady: AsyncStream<Void>? = nil) {
        self.store = store
        self.intervalSeconds = min(max(intervalSeconds, 1), 86_400)
        self.schemaReady = schemaReady
    }

    public func run() async throws {
        if let schemaReady {
            for await _ in schemaReady.cancelOnGracefulShutdown() { break }
        }
        // Cancellation ends it too (a test's stop, or another service failing): the sleep below
        // then throws at once, and a loop that looked only at graceful shutdown spun at full CPU.
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                for deletion in try await store.applyRetention() {
                    store.logger.notice("retention: \(deletion.rule): \(deletion.rows) reads deleted")
                }
            } catch {
                // String(reflecting:) names PostgreSQL's own message, not a generic description.
                store.logger.warning("retention: \(String(reflecting: error))")
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(Int64(intervalSeconds * 1000))) }
        }
    }
}
