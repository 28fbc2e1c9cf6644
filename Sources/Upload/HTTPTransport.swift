public import Foundation

/// One HTTP POST and its answer, as the uploader needs it. The uploader speaks to this protocol,
/// so that its decisions are tested against scripted answers as well as the real transport.
public protocol HTTPTransport: Sendable {
    /// Makes the request (named for what the uploader does; `request.method` may also be GET).
    func post(_ request: HTTPRequest) async throws(TransportError) -> HTTPReply
}

public struct HTTPRequest: Sendable {
    /// POST (with `body`) or GET (without).
    public var method = "POST"
    public var url: String
    public var headers: [(String, String)]
    public var body: Data
    /// The whole exchange, connect to last byte.
    public var timeoutSeconds: Double

    public init(method: String = "POST", url: String, headers: [(String, String)], body: Data, timeoutSeconds: Double) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeoutSeconds = timeoutSeconds
    }
}

public struct HTTPReply: Sendable, Equatable {
    public var status: Int
    public var body: Data
    /// Retry-After, in seconds from now, when the server sent one (either form).
    public var retryAfterSeconds: Double?

    public init(status: Int, body: Data, retryAfterSeconds: Double? = nil) {
        self.status = status
        self.body = body
        self.retryAfterSeconds = retryAfterSeconds
    }
}

/// No HTTP answer: the exchange failed below HTTP (DNS, connect, TLS, timeout, reset, a reply too
/// large or not HTTP). Names the library call and its error.
public struct TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case timeout, connect, tls, resolve, protocolError, tooLarge, cancelled, setup, other
    }

    public var kind: Kind
    public var call: String
    public var code: Int
    public var message: String

    public init(kind: Kind, call: String, code: Int, message: String) {
        self.kind = kind
        self.call = call
        self.code = code
        self.message = message
    }

    public var description: String { "\(call) failed: \(message) (code \(code))" }
}
