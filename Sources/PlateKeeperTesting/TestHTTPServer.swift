public import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real HTTP/1.1 server on 127.0.0.1 for tests, whose every answer a test scripts: a reply, or a
/// fault (hang, reset mid-body, garbage, close without a word). Keep-alive connections, one thread
/// per connection. Plain TCP only; TLS tests put stunnel in front of it.
public final class TestHTTPServer: @unchecked Sendable {
    public struct Request: Sendable {
        public var method: String
        public var path: String
        /// Header names lowercased.
        public var headers: [String: String]
        public var body: Data
    }

    public enum Action: Sendable {
        case reply(status: Int, headers: [(String, String)] = [], body: Data = Data())
        /// Reads the request, then says nothing for this long (past the client's timeout), then closes.
        case hang(seconds: Double)
        /// Sends the status line, headers announcing `body`, half of `body`, then resets the connection.
        case resetMidBody(status: Int, body: Data)
        /// Sends these bytes, then closes.
        case raw(Data)
        /// Closes the connection without a word.
        case close
    }

    public let port: UInt16
    public var url: String { "http://127.0.0.1:\(port)" }
    private let listener: Int32
    private let handler: @Sendable (Request) -> Action
    private let lock = NSLock()
    private var stopped = false
    private var connections: [Int32] = []

    /// Listens on a free port of 127.0.0.1 (or on `port`) and serves until `stop()`.
    public init(port: UInt16 = 0, handler: @escaping @Sendable (Request) -> Action) throws {
        self.handler = handler
        let (fd, boundPort) = try Loopback.listen(port: port)
        listener = fd
        self.port = boundPort
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    deinit { stop() }

    /// Stops listening and closes every open connection.
    public func stop() {
        lock.lock()
        let open = stopped ? [] : connections
        let first = !stopped
        stopped = true
        lock.unlock()
        if first {
            shutdown(listener, Int32(SHUT_RDWR))
            close(listener)
        }
        for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return
            }
            lock.lock()
            if stopped {
                lock.unlock()
                close(fd)
                return
            }
            connections.append(fd)
            lock.unlock()
            let thread = Thread { [self] in
                serve(fd)
                lock.lock()
                connections.removeAll { $0 == fd }
                lock.unlock()
                close(fd)
            }
            thread.start()
        }
    }

    private func serve(_ fd: Int32) {
        var buffer = Data()
        while let request = readRequest(fd, &buffer) {
            switch handler(request) {
            case .reply(let status, let headers, let body):
                var head = "HTTP/1.1 \(status) \(Self.reason(status))\r\nContent-Length: \(body.count)\r\n"
                for (name, value) in headers { head += "\(name): \(value)\r\n" }
                guard send(fd, Data((head + "\r\n").utf8) + body) else { return }
            case .hang(let seconds):
                Thread.sleep(forTimeInterval: seconds)
                return
            case .resetMidBody(let status, let body):
                let head = "HTTP/1.1 \(status) \(Self.reason(status))\r\nContent-Length: \(body.count)\r\nContent-Type: application/json\r\n\r\n"
                _ = send(fd, Data(head.utf8) + body.prefix(body.count / 2))
                var linger = linger(l_onoff: 1, l_linger: 0)  // close sends RST
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
                return
            case .raw(let bytes):
                _ = send(fd, bytes)
                return
            case .close:
                return
            }
        }
    }

    private func send(_ fd: Int32, _ data: Data) -> Bool {
        data.withUnsafeBytes { Loopback.sendAll(fd, $0) }
    }

    /// One request from the connection, or nil at its end. Bodies only by Content-Length (what libcurl sends).
    private func readRequest(_ fd: Int32, _ buffer: inout Data) -> Request? {
        let separator = Data("\r\n\r\n".utf8)
        while buffer.range(of: separator) == nil {
            guard fill(fd, &buffer), buffer.count < 1 << 20 else { return nil }
        }
        let end = buffer.range(of: separator)!
        let head = String(decoding: buffer[buffer.startIndex..<end.lowerBound], as: UTF8.self)
        buffer = Data(buffer[end.upperBound...])
        var lines = head.components(separatedBy: "\r\n")
        let parts = lines.removeFirst().split(separator: " ")
        guard parts.count >= 2 else { return nil }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        while buffer.count < length {
            guard fill(fd, &buffer) else { return nil }
        }
        let body = Data(buffer.prefix(length))
        buffer = Data(buffer.dropFirst(length))
        return Request(method: String(parts[0]), path: String(parts[1]), headers: headers, body: body)
    }

    private func fill(_ fd: Int32, _ buffer: inout Data) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &chunk, chunk.count, 0)
        guard n > 0 else { return false }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    static func reason(_ status: Int) -> String {
        [200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 408: "Request Timeout", 413: "Content Too Large",
         422: "Unprocessable Content", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"][status] ?? "Status"
    }
}
