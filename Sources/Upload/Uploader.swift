import Foundation
public import Journal
public import Logging
import PlateKeeperCore
import WireFormat

/// What `platekeeper status` shows of the upload stage (the backlog itself comes from the journal).
public struct UploadStatus: Sendable, Codable, Equatable {
    /// `idle` (nothing to send), `filling` (waiting for a fuller batch), `sending`, `backing-off`,
    /// `refused` (401/403, a redirect, a TLS failure: the token, URL or a certificate needs an
    /// operator), `stopped`.
    public var state = "idle"
    public var url = ""
    public var lastSuccess: String?
    public var lastError: String?
    public var lastErrorAt: String?
    public var nextAttempt: String?
    /// Since the daemon started: reads the store acknowledged, reads parked as dead letters, requests.
    public var uploaded = 0
    public var deadLettered = 0
    public var requests = 0
    /// Failures in a row since the last success.
    public var failuresInARow = 0
    /// Reads acknowledged per second over the last minute.
    public var readsPerSecond = 0.0
    public init() {}
}

/// The upload stage: sends the journal's pending reads to the central store in batches and marks
/// each read uploaded only when the store acknowledges its id. Owns the retry policy (backoff with
/// jitter, Retry-After), the search for poison reads (splitting a refused batch) and the upload
/// status. The journal is the queue: nothing is held in memory that a crash could lose, and a
/// read sent twice (acknowledgement lost) is stored once because the store is idempotent by id.
public final class Uploader: Sendable {
    public let settings: UploadSettings
    private let journal: Journal
    private let transport: any HTTPTransport
    private let logger: Logger
    private let tokenSource: @Sendable () throws -> String
    private let board = Locked(Board())

    private struct Board {
        var status = UploadStatus()
        var acknowledged: [(at: Double, count: Int)] = []
        var token: String?
    }

    /// `token` is called at start and again after the store refuses the token (it may have been
    /// rotated); it reads the token file, never the config.
    public init(
        settings: UploadSettings, journal: Journal, transport: any HTTPTransport, logger: Logger,
        token: @escaping @Sendable () throws -> String
    ) {
        self.settings = settings
        self.journal = journal
        self.transport = transport
        self.logger = logger
        self.tokenSource = token
        board.withLock { $0.status.url = settings.url }
    }

    public var status: UploadStatus {
        board.withLock { b in
            var s = b.status
            let now = Date().timeIntervalSince1970
            let recent = b.acknowledged.filter { now - $0.at <= 60 }.reduce(0) { $0 + $1.count }
            s.readsPerSecond = (Double(recent) / 60 * 10).rounded() / 10
            return s
        }
    }

    /// Uploads until the task is cancelled.
    public func run() async {
        var backoff = Backoff(minimum: settings.backoffMinSeconds, maximum: settings.backoffMaxSeconds)
        var rng = SystemRandomNumberGenerator()
        while !Task.isCancelled {
            let pending: [StoredEvent]
            do {
                pending = try await journal.pendingBatch(limit: settings.batchMaxCount)
            } catch {
                await wait(backoff.next(using: &rng), state: "backing-off", reason: "journal: \(error)")
                continue
            }
            if pending.isEmpty {
                setState("idle")
                await sleep(1)
                continue
            }
            if pending.count < settings.batchMaxCount, settings.batchMaxAgeSeconds > 0 {
                let oldest = pending.map(\.journaledAt).min() ?? 0
                let age = Date().timeIntervalSince1970 - Double(oldest) / 1e9
                if age < settings.batchMaxAgeSeconds {
                    setState("filling")
                    await sleep(min(1, settings.batchMaxAgeSeconds - age))
                    continue
                }
            }
            switch await send(fit(pending), backoff: &backoff, rng: &rng) {
            case .progress:
                backoff.reset()
            case .wait(let seconds, let state, let reason):
                await wait(seconds, state: state, reason: reason)
            }
        }
        setState("stopped")
    }

    // MARK: Sending

    private enum Step {
        case progress
        case wait(seconds: Double, state: String, reason: String)
    }

    /// The longest prefix of `events` whose JSON stays under the batch's byte limit (at least one).
    private func fit(_ events: [StoredEvent]) -> [StoredEvent] {
        var total = 256
        var count = 0
        for stored in events {
            let bytes = 600 + stored.event.plate.utf8.count + (stored.event.crop?.count ?? 0) * 4 / 3
            if count > 0, total + bytes > settings.batchMaxBytes { break }
            total += bytes
            count += 1
        }
        return Array(events.prefix(count))
    }

    private func send(_ events: [StoredEvent], backoff: inout Backoff, rng: inout SystemRandomNumberGenerator) async -> Step {
        let ids = events.map(\.event.id)
        let batch = UploadBatch(
            unit: settings.unit, sent: ISO8601.format(unixNanoseconds: Int64(Date().timeIntervalSince1970 * 1e9)),
            events: events.map { WireReadEvent($0.event) })
        let body: Data
        do {
            body = try Gzip.compress(try WireCoding.encode(batch))
        } catch {
            return .wait(seconds: backoff.next(using: &rng), state: "backing-off", reason: "cannot encode a batch: \(error)")
        }
        let token: String
        do {
            token = try currentToken()
        } catch {
            return .wait(seconds: settings.backoffMaxSeconds, state: "refused", reason: "upload token: \(error)")
        }
        setState("sending")
        let request = HTTPRequest(
            url: settings.url,
            headers: [
                ("Authorization", "Bearer \(token)"), ("Content-Type", "application/json"), ("Content-Encoding", "gzip"),
                ("Accept", "application/json"), ("User-Agent", "platekeeper"),
            ],
            body: body, timeoutSeconds: settings.timeoutSeconds)
        board.withLock { $0.status.requests += 1 }
        let outcome: UploadOutcome
        do {
            outcome = UploadOutcome.classify(try await transport.post(request), sent: Set(ids))
        } catch {
            if error.kind == .cancelled { return .wait(seconds: 0, state: "stopped", reason: "cancelled") }
            // A certificate or CA mistake needs an operator as much as a refused token does.
            outcome = error.kind == .tls ? .refused(status: 0, reason: "TLS: \(error.description)") : .retry(reason: error.description, after: nil)
        }
        do {
            switch outcome {
            case .stored(let accepted, let rejected):
                let changed = try await journal.markUploaded(accepted)
                for r in rejected { if let id = r.id { try await journal.markDead(id, reason: r.reason) } }
                recordSuccess(acknowledged: changed, dead: rejected.count)
                if accepted.isEmpty && rejected.isEmpty {
                    return .wait(seconds: backoff.next(using: &rng), state: "backing-off", reason: "the store acknowledged none of \(ids.count) reads")
                }
                return .progress
            case .poison(_, let reason, let rejected):
                if !rejected.isEmpty {
                    for r in rejected { if let id = r.id { try await journal.markDead(id, reason: r.reason) } }
                    recordDead(rejected.count, reason: reason)
                    return .progress
                }
                if events.count == 1 {
                    try await journal.markDead(ids[0], reason: reason)
                    recordDead(1, reason: reason)
                    return .progress
                }
                // Find the bad read: each half on its own; a half that passes is stored.
                logger.notice("upload: the store refused a batch of \(events.count) reads (\(reason)); splitting it to find the bad one")
                let middle = events.count / 2
                for half in [Array(events[..<middle]), Array(events[middle...])] {
                    if case .wait(let s, let st, let r) = await send(half, backoff: &backoff, rng: &rng) {
                        return .wait(seconds: s, state: st, reason: r)
                    }
                }
                return .progress
            case .refused(_, let reason):
                board.withLock { $0.token = nil }  // read it again: it may have been rotated
                try await journal.recordUploadFailure(ids, reason: reason)
                return .wait(seconds: settings.backoffMaxSeconds, state: "refused", reason: reason)
            case .retry(let reason, let after):
                try await journal.recordUploadFailure(ids, reason: reason)
                let delay = backoff.next(using: &rng)
                let seconds = after.map { min(max($0, 0), settings.retryAfterMaxSeconds) } ?? delay
                return .wait(seconds: seconds, state: "backing-off", reason: reason)
            }
        } catch {
            return .wait(seconds: backoff.next(using: &rng), state: "backing-off", reason: "journal: \(error)")
        }
    }

    private func currentToken() throws -> String {
        if let token = board.withLock({ $0.token }) { return token }
        let token = try tokenSource()
        board.withLock { $0.token = token }
        return token
    }

    // MARK: Status

    private func now() -> String { ISO8601.format(unixNanoseconds: Int64(Date().timeIntervalSince1970 * 1e9)) }

    private func setState(_ state: String) {
        board.withLock {
            $0.status.state = state
            if state != "backing-off" && state != "refused" { $0.status.nextAttempt = nil }
        }
    }

    private func recordSuccess(acknowledged: Int, dead: Int) {
        let t = Date().timeIntervalSince1970, stamp = now()
        board.withLock {
            $0.status.lastSuccess = stamp
            $0.status.uploaded += acknowledged
            $0.status.deadLettered += dead
            $0.status.failuresInARow = 0
            $0.acknowledged.append((t, acknowledged))
            $0.acknowledged.removeAll { t - $0.at > 60 }
        }
    }

    private func recordDead(_ count: Int, reason: String) {
        logger.warning("upload: \(count) read(s) refused by the store for good, kept as dead letters: \(reason)")
        board.withLock { $0.status.deadLettered += count }
    }

    private func wait(_ seconds: Double, state: String, reason: String) async {
        if state == "stopped" { return }
        let stamp = now()
        let next = ISO8601.format(unixNanoseconds: Int64((Date().timeIntervalSince1970 + seconds) * 1e9))
        let failures = board.withLock {
            $0.status.state = state
            $0.status.lastError = reason
            $0.status.lastErrorAt = stamp
            $0.status.nextAttempt = next
            $0.status.failuresInARow += 1
            return $0.status.failuresInARow
        }
        // The first failure, then every tenth, so a long outage does not flood the journal.
        if failures == 1 || failures % 10 == 0 {
            logger.warning("upload: \(reason); next attempt in \(Int(seconds.rounded())) s (failure \(failures) in a row)")
        }
        await sleep(seconds)
    }

    private func sleep(_ seconds: Double) async {
        try? await Task.sleep(for: .milliseconds(Int64(max(0, seconds) * 1000)))
    }
}

/// Reads the bearer token: from a file the operator made, or from a systemd credential
/// (`LoadCredential=`, under `$CREDENTIALS_DIRECTORY`). Never from the config file.
public enum UploadToken {
    public static let maxBytes = 4096

    public static func read(path: String) throws -> String {
        if let problem = SecretFile.problem(at: path) { throw TokenError("token file \(problem)") }
        let bytes: [UInt8]
        do {
            bytes = try BoundedFile.read(path, limit: maxBytes)
        } catch {
            throw TokenError("\(path): \(error)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw TokenError("\(path): not UTF-8 text") }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw TokenError("\(path): empty") }
        guard token.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw TokenError("\(path): a token is one line of visible ASCII characters")
        }
        return token
    }

    public struct TokenError: Error, CustomStringConvertible {
        public var description: String
        init(_ d: String) { description = d }

        /// `token_credential` is set but systemd passed no credentials (no LoadCredential= in the unit).
        public static func noCredentials(_ name: String) -> TokenError {
            TokenError("credential \(name): $CREDENTIALS_DIRECTORY is not set; add LoadCredential=\(name):PATH to the service")
        }
    }
}
