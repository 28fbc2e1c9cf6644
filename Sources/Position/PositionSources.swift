import Foundation
public import Logging
public import PlateKeeperCore

/// Something that delivers fixes to a feed: gpsd over TCP, or a serial NMEA receiver.
///
/// `run` blocks (on a thread of its own) until `stop` is set. It never gives up: a lost
/// connection, an unplugged device or a malformed line is logged, shown on the feed, and the
/// source reconnects with backoff; the daemon keeps running and reads keep being journaled, with
/// their position marked missing meanwhile.
public protocol PositionSource: Sendable, CustomStringConvertible {
    func run(feed: PositionFeed, stop: StopFlag)
}

/// A source running on a thread of its own until `stop()`, for tools (`record`) and tests; the
/// daemon runs sources as services instead.
public final class PositionSourceThread: Sendable {
    private let flag = StopFlag()
    private let done = StopFlag()

    public init(_ source: any PositionSource, feed: PositionFeed) {
        let (flag, done) = (flag, done)
        let thread = Thread {
            source.run(feed: feed, stop: flag)
            done.set()
        }
        thread.name = "position"
        thread.start()
    }

    /// Asks the source to stop and waits up to `timeout` seconds for it; false if it did not.
    @discardableResult
    public func stop(timeout: Double = 5) -> Bool {
        flag.set()
        return !done.sleep(timeout)
    }
}

/// Receives every line a source reads, with the system time it arrived (Unix ns): `record` saves
/// them beside the frames, so that a replay can reproduce the positions.
public typealias PositionLineTap = @Sendable (_ receivedAt: Int64, _ line: String) -> Void

/// Splits a byte stream into lines, holding at most `maxLine` bytes of an unfinished line; a longer
/// line is skipped up to its end and reported once.
struct LineSplitter {
    enum Piece: Equatable {
        case line([UInt8])
        case tooLong(Int)
    }

    let maxLine: Int
    private var buffer: [UInt8] = []
    private var skipped = 0

    init(maxLine: Int) {
        self.maxLine = maxLine
    }

    mutating func feed(_ bytes: some Collection<UInt8>) -> [Piece] {
        var out: [Piece] = []
        for byte in bytes {
            if byte == 0x0A {
                if skipped > 0 {
                    out.append(.tooLong(skipped))
                    skipped = 0
                } else {
                    if buffer.last == 0x0D { buffer.removeLast() }
                    if !buffer.isEmpty { out.append(.line(buffer)) }
                }
                buffer.removeAll(keepingCapacity: true)
            } else if skipped > 0 {
                skipped += 1
            } else if buffer.count >= maxLine {
                skipped = buffer.count + 1
                buffer.removeAll(keepingCapacity: true)
            } else {
                buffer.append(byte)
            }
        }
        return out
    }

    /// Forgets a partial line (after a reconnect, the rest of it will not come).
    mutating func reset() {
        buffer.removeAll()
        skipped = 0
    }
}

/// Reconnect delays: 0.5 s doubling to 30 s, back to the start after a good connection.
struct Backoff {
    private(set) var next = 0.5
    mutating func delay() -> Double {
        defer { next = min(next * 2, 30) }
        return next
    }

    mutating func reset() { next = 0.5 }
}

func errnoText(_ code: Int32) -> String { String(cString: strerror(code)) }

/// Logs bad input at a bounded rate and keeps the last one on the feed.
struct BadInputLog {
    var throttle = LogThrottle(interval: 5, burst: 5)
    let logger: Logger
    let source: String

    mutating func report(_ what: String, feed: PositionFeed) {
        feed.badInput(what)
        let (log, held) = throttle.allow(now: Clocks.monotonicSeconds())
        guard log else { return }
        var meta: Logger.Metadata = ["position.source": "\(source)", "error": "\(what)"]
        if held > 0 { meta["held"] = "\(held)" }
        logger.warning("position input skipped", metadata: meta)
    }

    /// Gives `fix` to the feed and says what became of it: a fix older than the newest is bad
    /// input; an implausible time is logged at the same bounded rate, counted by the feed apart
    /// from malformed lines; a step of the receiver's time is logged once.
    mutating func deliver(_ fix: PositionFix, receivedAt: Int64, feed: PositionFeed) {
        switch feed.report(fix, receivedAt: receivedAt) {
        case .older:
            report("fix older than the last one, dropped", feed: feed)
        case let .implausible(why):
            let (log, held) = throttle.allow(now: Clocks.monotonicSeconds())
            guard log else { return }
            var meta: Logger.Metadata = ["position.source": "\(source)", "reason": "\(why)"]
            if held > 0 { meta["held"] = "\(held)" }
            logger.warning("position fix with an implausible time refused", metadata: meta)
        case let .stepped(seconds):
            logger.notice("receiver time stepped; the track restarts", metadata: [
                "position.source": "\(source)", "step_s": "\(seconds)",
            ])
        case .accepted, .redated, .held, .ignored:
            break
        }
    }
}

/// The loop both receivers share: a session until it fails (it returns why), then the failure on
/// the feed, one log line per new reason (not one per retry), and a backoff pause; until `stop`.
func runReconnecting(
    feed: PositionFeed, logger: Logger, source: String, lost: Logger.Message, stop: StopFlag,
    session: (inout BadInputLog, inout Backoff) -> String
) {
    var backoff = Backoff()
    var bad = BadInputLog(logger: logger, source: source)
    var lastError: String?
    while !stop.isSet {
        feed.connecting()
        let error = session(&bad, &backoff)
        if stop.isSet { break }
        feed.disconnected(error)
        if error != lastError {
            logger.error(lost, metadata: ["position.source": "\(source)", "error": "\(error)"])
            lastError = error
        }
        _ = stop.sleep(backoff.delay())
    }
}

/// Watches for a silent source: logs once when reports stop for the feed's limit and once when
/// they resume.
struct SilenceWatch {
    private var silent = false

    mutating func check(feed: PositionFeed, logger: Logger, source: String) {
        let now = feed.isSilent
        if now, !silent {
            logger.warning("position source silent: no reports", metadata: [
                "position.source": "\(source)", "after_s": "\(feed.settings.silentAfterSeconds)",
            ])
        } else if !now, silent {
            logger.notice("position source reporting again", metadata: ["position.source": "\(source)"])
        }
        silent = now
    }
}

/// gpsd's JSON protocol over TCP (https://gpsd.io/gpsd_json.html): connects, checks the VERSION
/// greeting (protocol 3), sends `?WATCH={"enable":true,"json":true}`, and feeds TPV and SKY
/// reports. Reconnects with backoff when gpsd restarts or goes away.
public struct GpsdSource: PositionSource {
    public let host: String
    public let port: UInt16
    let logger: Logger
    let tap: PositionLineTap?

    public init(host: String, port: UInt16, logger: Logger, tap: PositionLineTap? = nil) {
        self.host = host
        self.port = port
        self.logger = logger
        self.tap = tap
    }

    public var description: String { "gpsd \(host):\(port)" }

    /// gpsd greets a client at once; a server that says nothing for this long is not gpsd.
    static let greetingSeconds = 5.0

    public func run(feed: PositionFeed, stop: StopFlag) {
        runReconnecting(feed: feed, logger: logger, source: description, lost: "gpsd connection lost; reconnecting", stop: stop) {
            session(feed: feed, bad: &$0, backoff: &$1, stop: stop)
        }
    }

    /// One connection, until it fails (returns why) or `stop`.
    private func session(feed: PositionFeed, bad: inout BadInputLog, backoff: inout Backoff, stop: StopFlag) -> String {
        let fd: Int32
        switch TCPConnection.open(host: host, port: port, timeoutSeconds: 5) {
        case let .success(socket): fd = socket
        case let .failure(why): return why.description
        }
        defer { close(fd) }
        let watch = Array(#"?WATCH={"enable":true,"json":true};"#.utf8) + [0x0A]
        guard watch.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == watch.count else {
            return "send(?WATCH): \(errnoText(errno))"
        }
        var lines = LineSplitter(maxLine: GpsdReport.maxLineBytes)
        var greeted = false
        let connectedAt = Clocks.monotonicSeconds()
        var silence = SilenceWatch()
        var buffer = [UInt8](repeating: 0, count: 8192)
        while !stop.isSet {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, 250)
            if ready < 0 {
                if errno == EINTR { continue }
                return "poll: \(errnoText(errno))"
            }
            if ready == 0 {
                if greeted {
                    silence.check(feed: feed, logger: logger, source: description)
                } else if Clocks.monotonicSeconds() - connectedAt > Self.greetingSeconds {
                    return "no VERSION greeting within \(Int(Self.greetingSeconds)) s: is gpsd listening at \(host):\(port)?"
                }
                continue
            }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return "gpsd closed the connection" }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return "recv: \(errnoText(errno))"
            }
            let received = Clocks.wallNanoseconds()
            for piece in lines.feed(buffer[0..<n]) {
                switch piece {
                case let .tooLong(count):
                    bad.report(GpsdReport.Failure.tooLong(count).description, feed: feed)
                case let .line(bytes):
                    tap?(received, String(decoding: bytes, as: UTF8.self))
                    let report: GpsdReport
                    do {
                        report = try GpsdReport(line: bytes)
                    } catch {
                        bad.report(error.description, feed: feed)
                        continue
                    }
                    switch report {
                    case let .version(release, major, minor):
                        guard major == 3 else {
                            return "gpsd \(release) speaks protocol \(major).\(minor); this client speaks 3.x"
                        }
                        if !greeted {
                            logger.notice("gpsd connected", metadata: [
                                "position.source": "\(description)", "gpsd.release": "\(release)", "gpsd.protocol": "\(major).\(minor)",
                            ])
                        }
                        greeted = true
                        backoff.reset()
                        feed.connected()
                    case let .tpv(fix):
                        bad.deliver(fix, receivedAt: received, feed: feed)
                    case let .sky(used, seen):
                        feed.satellites(used: used, seen: seen)
                    case .noFixWithoutTime:
                        feed.noFixWithoutTime()
                    case .untimedFix:
                        break
                    case let .device(path, active):
                        logger.notice(active ? "gpsd device active" : "gpsd device gone", metadata: [
                            "position.source": "\(description)", "gpsd.device": "\(path)",
                        ])
                        feed.device(active: active)
                    case .other:
                        break
                    }
                }
            }
            if !greeted { continue }
            silence.check(feed: feed, logger: logger, source: description)
        }
        return "stopped"
    }
}

/// A TCP connection with a connect timeout (gpsd on this host or the next).
enum TCPConnection {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func open(host: String, port: UInt16, timeoutSeconds: Double) -> Result<Int32, Failure> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            return .failure(Failure(description: "getaddrinfo(\(host)): \(String(cString: gai_strerror(rc)))"))
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address for \(host)"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let a = entry {
            entry = a.pointee.ai_next
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
                            a.pointee.ai_protocol)
            guard fd >= 0 else {
                lastError = "socket: \(errnoText(errno))"
                continue
            }
            if connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) != 0 {
                guard errno == EINPROGRESS else {
                    lastError = "connect(\(host):\(port)): \(errnoText(errno))"
                    close(fd)
                    continue
                }
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                guard poll(&p, 1, Int32(timeoutSeconds * 1000)) == 1 else {
                    lastError = "connect(\(host):\(port)): timed out after \(timeoutSeconds) s"
                    close(fd)
                    continue
                }
                var soError: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
                guard soError == 0 else {
                    lastError = "connect(\(host):\(port)): \(errnoText(soError))"
                    close(fd)
                    continue
                }
            }
            return .success(fd)
        }
        return .failure(Failure(description: lastError))
    }
}

/// A serial NMEA 0183 receiver opened directly (`/dev/ttyUSB0`, `/dev/ttyACM0`, `/dev/serial0`):
/// raw mode, 8N1, the configured baud rate. GGA, RMC, GSA and VTG of GNSS talkers are used;
/// checksums are required; other sentences, other talkers and proprietary sentences are skipped. When the device goes away (EIO, hang-up) it is reopened with backoff.
public struct SerialNMEASource: PositionSource {
    /// Baud rates a GNSS receiver uses.
    public static let baudRates = [4800, 9600, 19200, 38400, 57600, 115200, 230400]

    public let path: String
    public let baud: Int
    let logger: Logger
    let tap: PositionLineTap?

    public init(path: String, baud: Int, logger: Logger, tap: PositionLineTap? = nil) {
        self.path = path
        self.baud = baud
        self.logger = logger
        self.tap = tap
    }

    public var description: String { "nmea \(path)" }

    public func run(feed: PositionFeed, stop: StopFlag) {
        var receiver = NMEAReceiver()
        runReconnecting(feed: feed, logger: logger, source: description, lost: "serial GNSS receiver unavailable; reopening", stop: stop) {
            session(feed: feed, receiver: &receiver, bad: &$0, backoff: &$1, stop: stop)
        }
    }

    private static func speed(_ baud: Int) -> speed_t {
        switch baud {
        case 4800: speed_t(B4800)
        case 19200: speed_t(B19200)
        case 38400: speed_t(B38400)
        case 57600: speed_t(B57600)
        case 115200: speed_t(B115200)
        case 230400: speed_t(B230400)
        default: speed_t(B9600)
        }
    }

    private func session(
        feed: PositionFeed, receiver: inout NMEAReceiver, bad: inout BadInputLog, backoff: inout Backoff, stop: StopFlag
    ) -> String {
        let fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return "open(\(path)): \(errnoText(errno))" }
        defer { close(fd) }
        var tio = termios()
        guard tcgetattr(fd, &tio) == 0 else { return "tcgetattr(\(path)): \(errnoText(errno)) (not a serial device?)" }
        cfmakeraw(&tio)
        tio.c_cflag |= tcflag_t(CLOCAL | CREAD)
        tio.c_cflag &= ~tcflag_t(CSTOPB | PARENB)
        withUnsafeMutableBytes(of: &tio.c_cc) { cc in
            cc[Int(VMIN)] = 0
            cc[Int(VTIME)] = 0
        }
        cfsetispeed(&tio, Self.speed(baud))
        cfsetospeed(&tio, Self.speed(baud))
        guard tcsetattr(fd, TCSANOW, &tio) == 0 else { return "tcsetattr(\(path)): \(errnoText(errno))" }
        logger.notice("serial GNSS receiver opened", metadata: ["position.source": "\(description)", "baud": "\(baud)"])
        feed.connected()
        backoff.reset()
        receiver = NMEAReceiver()
        // NMEA allows 82 bytes; some receivers send longer proprietary lines, which are skipped.
        var lines = LineSplitter(maxLine: 256)
        var silence = SilenceWatch()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !stop.isSet {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, 250)
            if ready < 0 {
                if errno == EINTR { continue }
                return "poll(\(path)): \(errnoText(errno))"
            }
            if ready == 0 {
                silence.check(feed: feed, logger: logger, source: description)
                continue
            }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return "read(\(path)): \(errnoText(errno))"
            }
            if n == 0 {
                // Readable with nothing to read: the other end hung up.
                if p.revents & Int16(POLLHUP) != 0 { return "\(path): hang-up" }
                continue
            }
            let received = Clocks.wallNanoseconds()
            for piece in lines.feed(buffer[0..<n]) {
                switch piece {
                case let .tooLong(count):
                    bad.report(NMEAError.tooLong(count).description, feed: feed)
                case let .line(bytes):
                    let text = String(decoding: bytes, as: UTF8.self)
                    tap?(received, text)
                    do {
                        let sentence = try NMEASentence(text[...])
                        if let fix = try receiver.take(sentence) { bad.deliver(fix, receivedAt: received, feed: feed) }
                    } catch {
                        bad.report(error.description, feed: feed)
                    }
                }
            }
            silence.check(feed: feed, logger: logger, source: description)
        }
        return "stopped"
    }
}

/// Feeds a recorded position log (`record` saves `position.log` beside the frames: one line per
/// line received, `<unix-ns> <line>`) into a feed at once, so a replay of the recording gets the
/// positions the unit saw at the frames' recorded capture times.
public enum PositionRecording {
    /// The file name beside the frames.
    public static let fileName = "position.log"
    /// A day at 10 Hz with a few sentences per epoch.
    public static let maxBytes = 256 << 20
    /// Fixes a feed keeps when loaded from a log: a day at 10 Hz.
    public static let maxFixes = 864_000

    /// A line of a log: gpsd's lines are the longest (16 KiB); a longer one is counted as bad.
    static let maxLineBytes = GpsdReport.maxLineBytes + 32

    /// The kind of source a log was recorded from: gpsd when its first line is JSON, else NMEA.
    /// Reads only up to the end of the first line.
    static func source(ofLogAt path: String) throws -> GeoPosition.Source {
        var kind: GeoPosition.Source?
        var lines = LineSplitter(maxLine: maxLineBytes)
        struct Done: Error {}
        do {
            try BoundedFile.forEachChunk(path, limit: maxBytes, chunk: 4096) { chunk in
                for piece in lines.feed(chunk) {
                    if case let .line(raw) = piece, let space = raw.firstIndex(of: 0x20), space + 1 < raw.count {
                        kind = raw[space + 1] == UInt8(ascii: "{") ? .gpsd : .nmea
                    } else {
                        kind = .nmea
                    }
                    throw Done()
                }
            }
        } catch is Done {}
        return kind ?? .nmea
    }

    /// A feed of every fix in the logs at `paths` (each read once, streaming), keeping up to
    /// `maxFixes` and marked recorded; its source kind is the first log's. With what each log held.
    public static func feed(loading paths: [String], settings: PositionFeed.Settings) throws -> (PositionFeed, [Summary]) {
        var settings = settings
        settings.capacity = maxFixes
        var feed: PositionFeed?
        var summaries: [Summary] = []
        for path in paths {
            let into = try feed ?? PositionFeed(source: source(ofLogAt: path), settings: settings)
            feed = into
            summaries.append(try load(path: path, into: into))
        }
        let loaded = feed ?? PositionFeed(source: .nmea, settings: settings)
        loaded.recorded()
        return (loaded, summaries)
    }

    public struct Summary: Sendable, Equatable {
        public var lines = 0
        public var fixes = 0
        public var bad = 0
    }

    /// Appends the lines a source reads to a position log (the `tap` of a source), one per line,
    /// `<receive time, Unix ns> <line>`.
    public final class Writer: Sendable {
        private let file: Locked<FileHandle?>
        private let count = Locked(0)

        /// Creates `path` (mode 0600: positions are personal data), refusing to replace a file.
        public init(path: String) throws {
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            file = Locked(FileHandle(fileDescriptor: fd, closeOnDealloc: true))
        }

        public var lines: Int { count.withLock { $0 } }

        public var tap: PositionLineTap {
            { [file, count] received, line in
                // A line with a newline or NUL in it cannot be kept as one line.
                guard !line.contains(where: { $0.isNewline || $0 == "\0" }) else { return }
                file.withLock { try? $0?.write(contentsOf: Data("\(received) \(line)\n".utf8)) }
                count.withLock { $0 += 1 }
            }
        }

        /// Flushes to disk and closes; lines after this are dropped.
        public func close() {
            file.withLock {
                try? $0?.synchronize()
                try? $0?.close()
                $0 = nil
            }
        }
    }

    /// Loads a position log into `feed`, streaming: memory stays at one chunk and one line
    /// whatever the file's size. Each line's source is told by its first character: NMEA lines
    /// start with `$`, gpsd's JSON with `{`.
    public static func load(path: String, into feed: PositionFeed) throws -> Summary {
        var loader = Loader(feed: feed)
        var lines = LineSplitter(maxLine: maxLineBytes)
        try BoundedFile.forEachChunk(path, limit: maxBytes) { chunk in
            for piece in lines.feed(chunk) { loader.take(piece) }
        }
        // A last line without its newline.
        for piece in lines.feed([0x0A]) { loader.take(piece) }
        return loader.summary
    }

    static func load(_ data: [UInt8], into feed: PositionFeed) -> Summary {
        var loader = Loader(feed: feed)
        var lines = LineSplitter(maxLine: maxLineBytes)
        for piece in lines.feed(data + [0x0A]) { loader.take(piece) }
        return loader.summary
    }

    /// Turns a log's lines into reports to a feed, counting what it saw.
    struct Loader {
        let feed: PositionFeed
        var summary = Summary()
        var receiver = NMEAReceiver()

        init(feed: PositionFeed) { self.feed = feed }

        mutating func take(_ piece: LineSplitter.Piece) {
            summary.lines += 1
            guard case let .line(raw) = piece else {
                summary.bad += 1
                return
            }
            guard let space = raw.firstIndex(of: 0x20), space <= 20,
                  let received = Int64(String(decoding: raw[raw.startIndex..<space], as: UTF8.self)) else {
                summary.bad += 1
                return
            }
            let line = raw[raw.index(after: space)...]
            var fix: PositionFix?
            if line.first == UInt8(ascii: "{") {
                switch try? GpsdReport(line: line) {
                case let .tpv(f): fix = f
                case let .sky(used, seen): feed.satellites(used: used, seen: seen)
                case nil: summary.bad += 1
                default: break
                }
            } else if let sentence = try? NMEASentence(String(decoding: line, as: UTF8.self)[...]) {
                do {
                    fix = try receiver.take(sentence)
                } catch {
                    summary.bad += 1
                }
            } else {
                summary.bad += 1
            }
            if let fix, feed.report(fix, receivedAt: received).taken { summary.fixes += 1 }
        }
    }
}
