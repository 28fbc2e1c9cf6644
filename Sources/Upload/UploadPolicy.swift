public import Foundation
public import WireFormat

/// What an answer of the store means for the reads of the batch, following the contract
/// (docs/upload-api.md). Pure: no I/O, tested on its own.
public enum UploadOutcome: Sendable, Equatable {
    /// 200 with a well-formed reply: these ids are stored (now or before); these were refused for
    /// good. Ids of the batch in neither list stay pending.
    case stored(accepted: [UUID], rejected: [UploadReply.Rejection])
    /// 400, 413 or 422: something in the batch is bad. `rejected` names the bad reads when the store
    /// could tell; otherwise the uploader splits the batch to find them.
    case poison(status: Int, reason: String, rejected: [UploadReply.Rejection])
    /// 401 or 403 (the token or the certificate is not accepted), a redirect (the URL is wrong),
    /// or a TLS failure (a certificate or CA mistake): nothing will pass until an operator acts,
    /// so status says so at once and the uploader backs off long.
    case refused(status: Int, reason: String)
    /// 408, 429, 503 and other 5xx, a reply that is not the contract's, or no reply at all:
    /// try again later (after Retry-After when the store gave one).
    case retry(reason: String, after: Double?)

    /// Classifies `reply` to a batch whose event ids are `sent`.
    public static func classify(_ reply: HTTPReply, sent: Set<UUID>) -> UploadOutcome {
        let problem = try? WireCoding.decode(WireProblem.self, from: reply.body)
        let detail = problem.map { ": \($0.error.prefix(200))" } ?? ""
        switch reply.status {
        case 200:
            // A 200 that is not a reply of the contract proves nothing was stored: retry, never assume success.
            guard let decoded = try? WireCoding.decode(UploadReply.self, from: reply.body) else {
                return .retry(reason: "HTTP 200 with a body that is not an upload reply (\(reply.body.count) bytes)", after: nil)
            }
            return .stored(
                accepted: decoded.accepted.filter(sent.contains),
                rejected: decoded.rejected.filter { $0.id.map(sent.contains) ?? false })
        case 400, 413, 422:
            let rejected = (problem?.rejected ?? []).filter { $0.id.map(sent.contains) ?? false }
            return .poison(status: reply.status, reason: "HTTP \(reply.status)\(detail)", rejected: rejected)
        case 401, 403:
            return .refused(status: reply.status, reason: "HTTP \(reply.status)\(detail)")
        case 300...399:
            // Redirects are not followed (the token would go wherever they point): the URL needs an operator.
            return .refused(status: reply.status, reason: "HTTP \(reply.status): the store's URL redirects; set [upload] url to where it points")
        case 408, 429, 503:
            return .retry(reason: "HTTP \(reply.status)\(detail)", after: reply.retryAfterSeconds)
        default:
            return .retry(reason: "HTTP \(reply.status)\(detail)", after: reply.status >= 500 ? reply.retryAfterSeconds : nil)
        }
    }
}

/// Exponential backoff with jitter: each failure doubles the ceiling from `minimum` up to
/// `maximum`, and the wait is drawn uniformly from the upper half of it, so that a fleet that lost
/// its store at the same moment does not come back in step. A success resets it.
public struct Backoff: Sendable {
    public let minimum: Double
    public let maximum: Double
    public private(set) var failures = 0

    public init(minimum: Double, maximum: Double) {
        self.minimum = max(0.001, minimum)
        self.maximum = max(self.minimum, maximum)
    }

    /// The ceiling for the current number of failures.
    public var ceiling: Double { min(maximum, minimum * pow(2, Double(min(failures, 60)))) }

    /// Records a failure and returns how long to wait.
    public mutating func next<R: RandomNumberGenerator>(using rng: inout R) -> Double {
        let c = ceiling
        failures += 1
        return Double.random(in: (c / 2)...c, using: &rng)
    }

    public mutating func reset() { failures = 0 }
}
