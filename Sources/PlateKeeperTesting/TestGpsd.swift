import Foundation
import CLinux
import PlateKeeperCore

#if canImport(Glibc)
import Glibc
#endif

/// A real gpsd (Debian's, started in the foreground on 127.0.0.1) fed NMEA over UDP by the test,
/// like a receiver: `fix` 3, 2, 0 (no fix) or nil (silent) per epoch, one epoch per `period`.
/// The GNSS time of epoch i is `track.t0` + i seconds; with `realTime` the feeder sends epoch i at
/// t0 + i on the system clock, so fix times match capture times.
///
/// The harness owns its processes: it stops gpsd (and waits for it) when stopped or released.
/// See ../shared/notes/gpsd-test-harness.md for why UDP and why "eventually" checks.
public final class TestGpsd: @unchecked Sendable {
    public let port: UInt16
    public let feedPort: UInt16
    public let dir: TemporaryDirectory
    public let track: StraightTrack
    public var control: String { dir.file("ctl.sock") }
    public var device: String { "udp://127.0.0.1:\(feedPort)" }

    private struct State {
        var process: Process?
        var fix: Int? = 3
        var stopped = false
        var extra: [String] = []
    }

    private let state = Locked(State())

    /// Whether gpsd is installed here (the tests that need it are skipped when not).
    public static var available: Bool {
        ["/usr/sbin/gpsd", "/usr/bin/gpsd"].contains { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// `gnssAheadSeconds`: with `realTime`, how far the receiver's time runs ahead of this
    /// machine's clock (a unit whose clock is wrong).
    /// `fix`: what the feeder sends per epoch from the start (nil: nothing but what is injected).
    public init(
        track: StraightTrack = StraightTrack(), period: Double = 0.2, realTime: Bool = false, gnssAheadSeconds: Double = 0, fix: Int? = 3
    ) throws {
        dir = try TemporaryDirectory()
        self.track = track
        state.withLock { $0.fix = fix }
        port = try Self.freePort(SOCK_STREAM)
        feedPort = try Self.freePort(SOCK_DGRAM)
        try startGpsd()
        // The feeder holds what it needs, not the harness, so releasing the harness stops it.
        let (state, track, feedPort) = (self.state, track, feedPort)
        let ahead = Int64(gnssAheadSeconds * 1e9)
        let thread = Thread { Self.feed(state: state, track: track, feedPort: feedPort, period: period, realTime: realTime, ahead: ahead) }
        thread.name = "test-gpsd-feeder"
        thread.start()
    }

    deinit {
        state.withLock { $0.stopped = true }
        stopGpsd()
    }

    /// 3, 2, 0 (no fix) or nil (the receiver says nothing).
    public var fix: Int? {
        get { state.withLock { $0.fix } }
        set { state.withLock { $0.fix = newValue } }
    }

    /// Sends `lines` once, as they are (any NMEA, good or bad), before the next epoch.
    public func inject(_ lines: [String]) { state.withLock { $0.extra += lines } }

    public func startGpsd() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: FileManager.default.isExecutableFile(atPath: "/usr/sbin/gpsd") ? "/usr/sbin/gpsd" : "/usr/bin/gpsd")
        process.arguments = ["-N", "-n", "-b", "-S", String(port), "-F", control, device]
        let log = FileHandle(forWritingAtPath: try dir.write("gpsd.log", "")) ?? FileHandle.nullDevice
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        state.withLock { $0.process = process }
        // Ready when it answers with its VERSION greeting.
        let ready = waitUntil(timeout: 10) {
            guard let fd = Loopback.connect(port: port) else { return false }
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 512)
            var tv = timeval(tv_sec: 1, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            let n = recv(fd, &buffer, buffer.count, 0)
            return n > 0 && String(decoding: buffer[0..<n], as: UTF8.self).contains("\"VERSION\"")
        }
        guard ready else { throw TestGpsdError.notReady((try? String(contentsOfFile: dir.file("gpsd.log"), encoding: .utf8)) ?? "") }
    }

    /// SIGTERM and wait: every client sees the connection close.
    public func stopGpsd() {
        guard let process = state.withLock({ s -> Process? in defer { s.process = nil }; return s.process }) else { return }
        // Polled, not waitUntilExit (which can wait forever on a thread without a run loop).
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        if !waitUntil(timeout: 5, { !process.isRunning }) {
            kill(process.processIdentifier, SIGKILL)
            _ = waitUntil(timeout: 5) { !process.isRunning }
        }
    }

    public func restartGpsd() throws {
        stopGpsd()
        try startGpsd()
    }

    /// gpsd's control socket: `-device` (gpsd reports the device gone) or `+device`.
    @discardableResult
    public func controlCommand(_ command: String) -> String {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(control.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { return "connect: \(errno)" }
        let line = Array((command + "\n").utf8)
        _ = send(fd, line, line.count, 0)
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
    }

    public func unplug() { controlCommand("-" + device) }
    public func replug() { controlCommand("+" + device) }

    private static func feed(state: Locked<State>, track: StraightTrack, feedPort: UInt16, period: Double, realTime: Bool, ahead: Int64) {
        let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(udp) }
        func send(_ lines: [String]) {
            let data = Array(lines.map { $0 + "\r\n" }.joined().utf8)
            var address = Loopback.address(feedPort)
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(udp, data, data.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        var i = 0
        if realTime {
            // Start at the current second.
            i = max(0, Int((Double(Clocks.wallNanoseconds() + ahead - track.t0) / 1e9).rounded(.down)))
        }
        while true {
            let (stopped, fix, extra) = state.withLock { s -> (Bool, Int?, [String]) in
                defer { s.extra = [] }
                return (s.stopped, s.fix, s.extra)
            }
            if stopped { return }
            if !extra.isEmpty { send(extra) }
            if let fix { send(track.epoch(i, fix: fix, satellites: true)) }
            i += 1
            if realTime {
                let next = track.t0 + Int64(i) * 1_000_000_000 - ahead
                let wait = Double(next - Clocks.wallNanoseconds()) / 1e9
                if wait > 0 { Thread.sleep(forTimeInterval: min(wait, 1)) }
            } else {
                Thread.sleep(forTimeInterval: period)
            }
        }
    }

    static func freePort(_ kind: __socket_type) throws -> UInt16 {
        let fd = socket(AF_INET, Int32(kind.rawValue), 0)
        defer { close(fd) }
        var address = Loopback.address(0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { throw TestGpsdError.noPort }
        return UInt16(bigEndian: address.sin_port)
    }
}

public enum TestGpsdError: Error, CustomStringConvertible {
    case notReady(String)
    case noPort

    public var description: String {
        switch self {
        case let .notReady(log): "gpsd did not answer within 10 s; its log:\n\(log.suffix(2000))"
        case .noPort: "no free port on 127.0.0.1"
        }
    }
}

/// A pseudo-terminal pair standing in for a serial GNSS receiver: the source under test opens
/// `link` (a symlink to the slave side, like /dev/ttyUSB0); the test writes NMEA to the master.
/// `unplug` closes the master (the reader gets EIO); `replug` opens a new pair behind the same link.
public final class TestSerialPort: @unchecked Sendable {
    public let link: String
    private let master = Locked<Int32>(-1)

    public init(link: String) throws {
        self.link = link
        try replug()
    }

    deinit { unplug() }

    public func replug() throws {
        var name = [CChar](repeating: 0, count: 64)
        let fd = clinux_open_pty(&name, name.count)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: -fd) ?? .EIO) }
        let slave = String(nulTerminated: name)
        // The master never blocks the test: a reader that is not reading loses lines, as a UART would.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        chmod(slave, 0o666)
        unlink(link)
        guard symlink(slave, link) == 0 else { throw POSIXError(.EIO) }
        master.withLock {
            if $0 >= 0 { close($0) }
            $0 = fd
        }
    }

    public func unplug() {
        master.withLock {
            if $0 >= 0 { close($0) }
            $0 = -1
        }
    }

    /// Writes bytes as the receiver would; false when nothing is plugged in.
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        master.withLock { fd in
            guard fd >= 0 else { return false }
            // Drain whatever the slave side echoed or wrote, so the master's buffer never fills.
            var sink = [UInt8](repeating: 0, count: 4096)
            while read(fd, &sink, sink.count) > 0 {}
            return Glibc.write(fd, bytes, bytes.count) == bytes.count
        }
    }

    public func write(lines: [String]) -> Bool { write(Array(lines.map { $0 + "\r\n" }.joined().utf8)) }
}
