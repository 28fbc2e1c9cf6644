import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on 127.0.0.1 that stands between an uploader and a store and breaks things on
/// purpose, one connection at a time: passes bytes through, refuses, drops the store's answer after
/// the store has acted on the request (a lost acknowledgement), cuts the answer short, or holds it.
public final class FaultProxy: @unchecked Sendable {
    public enum Fault: Sendable {
        /// Forward both ways.
        case pass
        /// Close the client's connection at once.
        case refuse
        /// Forward the request, swallow the answer, close the client's connection.
        case dropResponse
        /// Forward the request, pass this many bytes of the answer, then reset.
        case cutResponse(after: Int)
        /// Forward the request, hold the answer this long, then pass it on.
        case delayResponse(seconds: Double)
    }

    public let port: UInt16
    private let upstreamPort: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var script: [Fault]
    private var stopped = false
    public private(set) var connections = 0

    /// Proxies 127.0.0.1:`port` (0: any free port) to 127.0.0.1:`upstream`; connection n gets
    /// `script[n]`, connections past the script pass.
    public init(upstream: UInt16, script: [Fault] = []) throws {
        upstreamPort = upstream
        self.script = script
        (listener, port) = try Loopback.listen(port: 0)
        Thread { [self] in acceptLoop() }.start()
    }

    deinit { stop() }

    /// Replaces what the next connections get.
    public func script(_ faults: [Fault]) {
        lock.lock()
        script = faults
        lock.unlock()
    }

    public func stop() {
        lock.lock()
        let first = !stopped
        stopped = true
        lock.unlock()
        if first {
            shutdown(listener, Int32(SHUT_RDWR))
            close(listener)
        }
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            lock.lock()
            let fault = script.isEmpty ? Fault.pass : script.removeFirst()
            connections += 1
            lock.unlock()
            Thread { [self] in handle(client, fault) }.start()
        }
    }

    private func handle(_ client: Int32, _ fault: Fault) {
        defer { close(client) }
        if case .refuse = fault { return }
        guard let upstream = Loopback.connect(port: upstreamPort) else { return }
        defer { close(upstream) }
        // Client → store on its own thread; store → client here, with the fault applied.
        let forward = Thread {
            Self.pump(from: client, to: upstream)
            shutdown(upstream, Int32(SHUT_WR))
        }
        forward.start()
        var buffer = [UInt8](repeating: 0, count: 65536)
        var passed = 0
        while true {
            let n = recv(upstream, &buffer, buffer.count, 0)
            if n <= 0 { break }
            switch fault {
            case .pass, .refuse:
                if !Self.send(client, buffer, n) { return }
            case .dropResponse:
                shutdown(client, Int32(SHUT_RDWR))
                return
            case .cutResponse(let after):
                let take = min(n, max(0, after - passed))
                if take > 0 { _ = Self.send(client, buffer, take) }
                passed += take
                if passed >= after {
                    var l = linger(l_onoff: 1, l_linger: 0)
                    setsockopt(client, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
                    shutdown(upstream, Int32(SHUT_RDWR))
                    return
                }
            case .delayResponse(let seconds):
                if passed == 0 { Thread.sleep(forTimeInterval: seconds) }
                passed += n
                if !Self.send(client, buffer, n) { return }
            }
        }
        shutdown(client, Int32(SHUT_RDWR))
    }

    private static func pump(from: Int32, to: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(from, &buffer, buffer.count, 0)
            if n <= 0 || !send(to, buffer, n) { return }
        }
    }

    private static func send(_ fd: Int32, _ buffer: [UInt8], _ count: Int) -> Bool {
        buffer.withUnsafeBytes { Loopback.sendAll(fd, UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }
}
