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
    public var retentionDays = 90
    /// Seconds a unit is told to wait (Retry-After) when the database cannot be reached.
    public var retryAfterSeconds = 5
    /// The longest a request waits for the database before it is answered 503.
    public var databaseTimeoutSeconds = 10.0
    public init() {}
}

/// The HTTP side of the store: the upload contract's routes (docs/upload-api.md), the reader's
/// queries, health and metrics. Owns the metrics registry; the data goes through `ReadStore`.
public struct StoreApp: Sendable {
    public let store: ReadStore
    public let settings: StoreSettings
    public let registry = PrometheusCollectorRegistry()
    let metrics: Metrics

    struct Metrics: Sendable {
        let stored: Counter
        let duplicate: Counter
        let batches: Counter
        let refused: Counter
        let unavailable: Counter
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
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.post("/v1/reads") { request, _ in await self.upload(request) }
        router.get("/v1/reads") { request, _ in await self.query(request) }
        router.get("/v1/reads/:id/crop") { request, context in await self.crop(request, id: context.parameters.get("id") ?? "") }
        router.get("/health") { _, _ in
            (try? await self.withDatabase { await self.store.healthy() }) == true ? Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
                : Self.problem(.serviceUnavailable, "the database cannot be reached", retryAfter: self.settings.retryAfterSeconds)
        }
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
        var data = Data(body.readableBytesView)
        switch request.headers[.contentEncoding]?.lowercased() {
        case nil, "identity":
            if data.count > WireLimits.maxBody { return Self.problem(.contentTooLarge, "body larger than \(WireLimits.maxBody) bytes") }
        case "gzip":
            do {
                data = try Gzip.decompress(data, limit: WireLimits.maxBody)
            } catch .tooLarge {
                metrics.refused.increment()
                return Self.problem(.contentTooLarge, "body inflates to more than \(WireLimits.maxBody) bytes")
            } catch {
                metrics.refused.increment()
                return Self.problem(.badRequest, "body is not valid gzip: \(error)")
            }
        case let other?:
            metrics.refused.increment()
            return Self.problem(.unsupportedMediaType, "Content-Encoding \(other.prefix(32)) is not supported; use gzip")
        }
        let batch: UploadBatch
        do {
            batch = try WireCoding.decode(UploadBatch.self, from: data)
            try batch.validateEnvelope()
        } catch {
            metrics.refused.increment()
            if case .invalid(field: "events", _) = error { return Self.problem(.contentTooLarge, error.description) }
            return Self.problem(.badRequest, error.description)
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
            let inserted = try await withDatabase { try await self.store.insert(batch.events, unit: unit, batch: batch.batch) }
            metrics.stored.increment(by: Int64(inserted))
            metrics.duplicate.increment(by: Int64(batch.events.count - inserted))
            metrics.batches.increment()
            metrics.latency.record(ContinuousClock.now - started)
            return Self.json(.ok, UploadReply(batch: batch.batch, accepted: batch.events.map(\.id)))
        } catch {
            metrics.unavailable.increment()
            store.logger.warning("storing a batch failed: \(String(reflecting: error))", metadata: ["unit": "\(unit)"])
            return Self.problem(.serviceUnavailable, "the database did not take the batch; try again", retryAfter: settings.retryAfterSeconds)
        }
    }

    /// GET /v1/reads: reader tokens only.
    func query(_ request: Request) async -> Response {
        switch await authenticate(request) {
        case .failure(let failure): return failure.response
        case .success(.unit): return Self.problem(.forbidden, "a unit's token cannot read")
        case .success(.reader): break
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
                guard ISO8601.parse(text) != nil else { return Self.problem(.badRequest, "\(key) must be an ISO 8601 time") }
                query[keyPath: keyPath] = text
            }
        }
        if let limit = q.get("limit") {
            guard let n = Int(limit), (1...1000).contains(n) else { return Self.problem(.badRequest, "limit must be 1 to 1000") }
            query.limit = n
        }
        do {
            struct Reads: Encodable { let reads: [WireReadEvent] }
            let q = query
            return Self.json(.ok, Reads(reads: try await withDatabase { try await self.store.reads(q) }))
        } catch {
            return Self.problem(.serviceUnavailable, "the database cannot be reached", retryAfter: settings.retryAfterSeconds)
        }
    }

    /// GET /v1/reads/{id}/crop: reader tokens only.
    func crop(_ request: Request, id: String) async -> Response {
        switch await authenticate(request) {
        case .failure(let failure): return failure.response
        case .success(.unit): return Self.problem(.forbidden, "a unit's token cannot read")
        case .success(.reader): break
        }
        guard let uuid = UUID(uuidString: id) else { return Self.problem(.badRequest, "not a read id") }
        do {
            guard let jpeg = try await withDatabase({ try await self.store.crop(uuid) }) else { return Self.problem(.notFound, "no such read, or it has no crop") }
            return Response(status: .ok, headers: [.contentType: "image/jpeg"], body: .init(byteBuffer: ByteBuffer(bytes: jpeg)))
        } catch {
            return Self.problem(.serviceUnavailable, "the database cannot be reached", retryAfter: settings.retryAfterSeconds)
        }
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

/// Drops expired partitions every hour, so that old reads leave by the partition.
public struct RetentionService: Service {
    let store: ReadStore

    public init(store: ReadStore) { self.store = store }

    public func run() async throws {
        while !Task.isShuttingDownGracefully {
            do {
                let dropped = try await StoreSchema.dropPartitions(
                    olderThan: Date().addingTimeInterval(-store.retentionSeconds), client: store.client, logger: store.logger)
                if !dropped.isEmpty { store.logger.notice("retention dropped partitions \(dropped.joined(separator: ", "))") }
            } catch {
                store.logger.warning("retention: \(error)")
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(3600)) }
        }
    }
}
