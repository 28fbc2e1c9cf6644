import Foundation
import CCurl
import PlateKeeperCore

/// `HTTPTransport` over libcurl: HTTP/1.1 and HTTP/2 with TLS 1.2 or later from the system's
/// OpenSSL, the system trust store or a configured CA bundle instead of it, and an optional client
/// certificate (mTLS).
///
/// Why libcurl and not async-http-client or URLSession: FoundationNetworking's URLSession cannot
/// present a client certificate on Linux, and async-http-client adds BoringSSL and SwiftNIO to the
/// unit's build (2.5 to 8 minutes of debug build here, ../shared/notes/swift-stack.md) for one
/// POST at a time. libcurl is the most used HTTP client there is, ships with Debian, is already
/// in memory on most units, and does everything the uploader needs: timeouts, Retry-After parsing
/// (both forms), keep-alive, proxies from the environment.
///
/// Owns one curl easy handle (reused, so the connection stays open between batches), used on one
/// thread at a time: requests are serialised on `queue`, the only place the handle is touched.
public final class CurlTransport: HTTPTransport, @unchecked Sendable {
    public struct TLS: Sendable, Equatable {
        /// PEM bundle of the CAs to trust instead of the system's.
        public var caFile: String?
        /// PEM client certificate and its key, for stores that require mTLS.
        public var clientCertificate: String?
        public var clientKey: String?
        public init(caFile: String? = nil, clientCertificate: String? = nil, clientKey: String? = nil) {
            self.caFile = caFile
            self.clientCertificate = clientCertificate
            self.clientKey = clientKey
        }
    }

    /// Replies larger than this are cut off and the exchange fails: a store's reply is a list of ids.
    public static let maxReplyBytes = 4 << 20

    private let tls: TLS
    private let queue = DispatchQueue(label: "platekeeper.upload.http")
    // Touched only on `queue`.
    private let handle: UnsafeMutableRawPointer
    private let cancelled = Locked(false)

    private static let globalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

    public init(tls: TLS = TLS()) throws(TransportError) {
        let code = Self.globalInit
        guard code == CURLE_OK else { throw TransportError(kind: .setup, call: "curl_global_init", code: Int(code.rawValue), message: "failed") }
        guard let h = curl_easy_init() else {
            throw TransportError(kind: .setup, call: "curl_easy_init", code: 0, message: "returned NULL")
        }
        handle = h
        self.tls = tls
    }

    deinit { curl_easy_cleanup(handle) }

    /// Makes the request in progress, and any later one, end at once with `.cancelled` (shutdown).
    public func cancel() { cancelled.withLock { $0 = true } }

    public func post(_ request: HTTPRequest) async throws(TransportError) -> HTTPReply {
        let result: Result<HTTPReply, TransportError> = await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: self.perform(request)) }
        }
        return try result.get()
    }

    /// Collects the reply body (bounded) and watches for cancellation; passed to curl's callbacks.
    private final class Exchange {
        var body = Data()
        var overflow = false
        let cancelled: @Sendable () -> Bool
        init(cancelled: @escaping @Sendable () -> Bool) { self.cancelled = cancelled }
    }

    private func perform(_ request: HTTPRequest) -> Result<HTTPReply, TransportError> {
        if cancelled.withLock({ $0 }) {
            return .failure(TransportError(kind: .cancelled, call: "curl_easy_perform", code: 42, message: "cancelled"))
        }
        let h = handle
        curl_easy_reset(h)
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        var headers: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headers) }
        for (name, value) in request.headers { headers = curl_slist_append(headers, "\(name): \(value)") }
        headers = curl_slist_append(headers, "Expect:")  // no 100-continue round trip
        let flag = cancelled
        let exchange = Exchange(cancelled: { flag.withLock { $0 } })
        let context = Unmanaged.passRetained(exchange)
        defer { context.release() }
        let timeoutMs = Int(max(1, request.timeoutSeconds) * 1000)

        let setup: [(String, CURLcode)] = {
            var results: [(String, CURLcode)] = [
                ("CURLOPT_URL", ccurl_setopt_string(h, CURLOPT_URL, request.url)),
                ("CURLOPT_PROTOCOLS_STR", ccurl_setopt_string(h, CURLOPT_PROTOCOLS_STR, "http,https")),
                ("CURLOPT_NOSIGNAL", ccurl_setopt_long(h, CURLOPT_NOSIGNAL, 1)),
                ("CURLOPT_TIMEOUT_MS", ccurl_setopt_long(h, CURLOPT_TIMEOUT_MS, timeoutMs)),
                ("CURLOPT_CONNECTTIMEOUT_MS", ccurl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, min(timeoutMs, 10_000))),
                ("CURLOPT_HTTPHEADER", ccurl_setopt_slist(h, CURLOPT_HTTPHEADER, headers)),
                request.method == "GET" ? ("CURLOPT_HTTPGET", ccurl_setopt_long(h, CURLOPT_HTTPGET, 1))
                    : ("CURLOPT_POST", ccurl_setopt_long(h, CURLOPT_POST, 1)),
                ("CURLOPT_WRITEFUNCTION", ccurl_setopt_write(h, CURLOPT_WRITEFUNCTION, Self.write)),
                ("CURLOPT_WRITEDATA", ccurl_setopt_pointer(h, CURLOPT_WRITEDATA, context.toOpaque())),
                ("CURLOPT_XFERINFOFUNCTION", ccurl_setopt_xferinfo(h, Self.progress)),
                ("CURLOPT_XFERINFODATA", ccurl_setopt_pointer(h, CURLOPT_XFERINFODATA, context.toOpaque())),
                ("CURLOPT_NOPROGRESS", ccurl_setopt_long(h, CURLOPT_NOPROGRESS, 0)),
                ("CURLOPT_SSL_VERIFYPEER", ccurl_setopt_long(h, CURLOPT_SSL_VERIFYPEER, 1)),
                ("CURLOPT_SSL_VERIFYHOST", ccurl_setopt_long(h, CURLOPT_SSL_VERIFYHOST, 2)),
                // TLS 1.2 at least, whatever the system's OpenSSL policy allows.
                ("CURLOPT_SSLVERSION", ccurl_setopt_long(h, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2)),
            ]
            if request.method != "GET" {
                results.append(("CURLOPT_POSTFIELDSIZE_LARGE", ccurl_setopt_offset(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count))))
            }
            if let ca = tls.caFile {
                // The fleet's CA instead of the system's trust: Debian's libcurl also trusts its CA
                // path (/etc/ssl/certs) unless told not to, and any CA there would be believed.
                results.append(("CURLOPT_CAINFO", ccurl_setopt_string(h, CURLOPT_CAINFO, ca)))
                results.append(("CURLOPT_CAPATH", ccurl_setopt_pointer(h, CURLOPT_CAPATH, nil)))
            }
            if let cert = tls.clientCertificate {
                results.append(("CURLOPT_SSLCERT", ccurl_setopt_string(h, CURLOPT_SSLCERT, cert)))
                results.append(("CURLOPT_SSLKEY", ccurl_setopt_string(h, CURLOPT_SSLKEY, tls.clientKey ?? cert)))
            }
            return results
        }()
        if let failed = setup.first(where: { $0.1 != CURLE_OK }) {
            return .failure(TransportError(kind: .setup, call: "curl_easy_setopt(\(failed.0))", code: Int(failed.1.rawValue),
                                           message: String(cString: curl_easy_strerror(failed.1))))
        }
        let code: CURLcode = request.body.withUnsafeBytes { body in
            // COPYPOSTFIELDS would copy the body; the pointer stays valid for the whole perform.
            if request.method != "GET" { _ = ccurl_setopt_pointer(h, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: body.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!)) }
            return errorBuffer.withUnsafeMutableBufferPointer { errors in
                _ = ccurl_setopt_pointer(h, CURLOPT_ERRORBUFFER, errors.baseAddress)
                return curl_easy_perform(h)
            }
        }
        _ = ccurl_setopt_pointer(h, CURLOPT_ERRORBUFFER, nil)
        guard code == CURLE_OK else {
            let detail = String(nulTerminated: errorBuffer)
            var message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            let kind: TransportError.Kind
            switch code {
            case CURLE_OPERATION_TIMEDOUT: kind = .timeout
            case CURLE_COULDNT_CONNECT: kind = .connect
            case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: kind = .resolve
            case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE,
                 CURLE_SSL_CIPHER, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_CRL_BADFILE:
                kind = .tls
            case CURLE_RECV_ERROR where Self.isTLSAlert(message), CURLE_SEND_ERROR where Self.isTLSAlert(message):
                // TLS 1.3 sends the server's refusal of a client certificate after the handshake.
                kind = .tls
            case CURLE_WRITE_ERROR where exchange.overflow:
                kind = .tooLarge
                message = "reply larger than \(Self.maxReplyBytes) bytes"
            case CURLE_ABORTED_BY_CALLBACK: kind = .cancelled
            case CURLE_WEIRD_SERVER_REPLY, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE,
                 CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_BAD_CONTENT_ENCODING:
                kind = .protocolError
            default: kind = .other
            }
            return .failure(TransportError(kind: kind, call: "curl_easy_perform", code: Int(code.rawValue), message: message))
        }
        var status = 0
        _ = ccurl_getinfo_long(h, CURLINFO_RESPONSE_CODE, &status)
        var retryAfter: curl_off_t = 0
        let retryCode = ccurl_getinfo_offset(h, CURLINFO_RETRY_AFTER, &retryAfter)
        return .success(HTTPReply(
            status: status, body: exchange.body,
            retryAfterSeconds: retryCode == CURLE_OK && retryAfter > 0 ? Double(min(retryAfter, 86_400)) : nil))
    }

    /// A TLS alert about certificates in an OpenSSL error ("tlsv13 alert certificate required",
    /// "sslv3 alert bad certificate", "tlsv1 alert unknown ca").
    public static func isTLSAlert(_ message: String) -> Bool {
        let m = message.lowercased()
        return m.contains("alert") && (m.contains("certificate") || m.contains("unknown ca") || m.contains("handshake failure")
            || m.contains("protocol version"))
    }

    private static let write: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = { data, size, count, context in
        guard let context, let data else { return 0 }
        let exchange = Unmanaged<Exchange>.fromOpaque(context).takeUnretainedValue()
        let n = size * count
        if exchange.body.count + n > CurlTransport.maxReplyBytes {
            exchange.overflow = true
            return 0  // makes curl fail with CURLE_WRITE_ERROR
        }
        data.withMemoryRebound(to: UInt8.self, capacity: n) { exchange.body.append($0, count: n) }
        return n
    }

    private static let progress: @convention(c) (UnsafeMutableRawPointer?, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> Int32 = { context, _, _, _, _ in
        guard let context else { return 0 }
        return Unmanaged<Exchange>.fromOpaque(context).takeUnretainedValue().cancelled() ? 1 : 0
    }
}
