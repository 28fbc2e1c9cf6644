import ArgumentParser
import Capture
import Daemon
import Foundation
import Journal
import PlateKeeperCore
import Recognition

#if canImport(Glibc)
import Glibc
#endif

/// `platekeeper bench journal`: commit latency and rate of the journal, the daemon's durable
/// setting (synchronous=FULL) against synchronous=NORMAL as the baseline, in the same process and
/// on the same disk, interleaved in rounds so that disk noise hits both alike.
struct JournalBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal", abstract: "Journal commits per second: synchronous=FULL (used) against NORMAL (baseline).")

    @Option(help: "Folder to put the scratch journals in (the disk to measure). Default: a temporary folder.")
    var dir: String?

    @Option(help: "Commits per setting.")
    var commits = 400

    @Option(help: "Crop size per read, bytes.")
    var cropBytes = 6000

    func validate() throws {
        // Ten rounds alternate the settings: fewer than ten commits would measure none.
        try require(commits, in: 10...1_000_000, "--commits")
        try require(cropBytes, in: 0...(1 << 20), "--crop-bytes")
    }

    func run() throws {
        let base = dir ?? NSTemporaryDirectory()
        let folder = (base as NSString).appendingPathComponent("platekeeper-bench-\(getpid())")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var journals: [JournalSettings.Synchronous: Journal] = [:]
        for level in [JournalSettings.Synchronous.normal, .full] {
            var settings = JournalSettings(path: (folder as NSString).appendingPathComponent("\(level.rawValue).sqlite"))
            settings.synchronous = level
            settings.quotaBytes = 1 << 30
            journals[level] = try Journal(settings: settings)
        }
        var latencies: [JournalSettings.Synchronous: [Double]] = [.normal: [], .full: []]
        let rounds = 10
        let crop = [UInt8]((0..<cropBytes).map { UInt8(truncatingIfNeeded: $0 &* 131) })
        for round in 0..<rounds {
            for level in round % 2 == 0 ? [JournalSettings.Synchronous.normal, .full] : [.full, .normal] {
                for i in 0..<(commits / rounds) {
                    let t = CaptureTime(unixNanoseconds: Int64(i) * 1_000_000, quality: .synchronized)
                    let event = ReadEvent(
                        kind: .vehicle, camera: "bench", plate: "BEN\(i)", confidence: 90,
                        candidates: [PlateCandidate(text: "BEN\(i)", confidence: 90, matchesFormat: true)], region: "us",
                        box: PixelBox(x: 0, y: 0, width: 100, height: 30), firstSeen: t, lastSeen: t, frameCount: 5,
                        bestFrame: "bench#\(i)", crop: crop)
                    let start = DispatchTime.now().uptimeNanoseconds
                    _ = try journals[level]!.appendNow(event)
                    latencies[level]!.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
                }
            }
        }
        print("journal commits, \(commits) per setting, \(cropBytes)-byte crops, on \(base)")
        print("setting                 median ms   p90 ms   commits/s")
        var medians: [JournalSettings.Synchronous: Double] = [:]
        for level in [JournalSettings.Synchronous.normal, .full] {
            let l = latencies[level]!.sorted()
            let median = l[l.count / 2], p90 = l[Int(Double(l.count - 1) * 0.9)]
            medians[level] = median
            let rate = Double(l.count) / (l.reduce(0, +) / 1000)
            let name = level == .full ? "FULL (daemon, durable)" : "NORMAL (baseline)"
            print(name.padding(toLength: 22, withPad: " ", startingAt: 0)
                  + String(format: "  %9.2f  %7.2f  %10.0f", median, p90, rate))
        }
        print(String(format: "FULL / NORMAL median latency: %.2fx", medians[.full]! / medians[.normal]!))
    }
}

/// `platekeeper bench daemon`: frames per second of the whole daemon (capture → recognition →
/// grouping → journal) over a replay camera at full speed, against recognition alone on the same
/// frames in this process as the baseline.
struct DaemonBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon", abstract: "Daemon frames per second over a replay camera, against recognition alone.")

    @Argument(help: "A recording folder (default: TestFrames/pass-day, from the current folder or the install's share folder).")
    var recording: String?

    @Option(help: "Seconds to measure, after a warm-up.")
    var seconds = 20.0

    @Option(help: "Recognition workers in the daemon.")
    var workers = 1

    func validate() throws {
        try require(seconds, in: 1...86_400, "--seconds")
        try require(workers, in: 1...16, "--workers")
    }

    func run() throws {
        let path = try URL(fileURLWithPath: recording ?? TestFramesFolder.find("pass-day")).standardizedFileURL.path
        let scratch = (NSTemporaryDirectory() as NSString).appendingPathComponent("platekeeper-bench-daemon-\(getpid())")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let socket = (scratch as NSString).appendingPathComponent("status.sock")
        let config = """
            [[cameras]]
            id = "bench"
            replay = "\(path)"
            loop = true
            speed = 0
            [recognition]
            workers = \(workers)
            [journal]
            path = "\(scratch)/journal.sqlite"
            [status]
            socket = "\(socket)"
            [logging]
            level = "warning"
            """
        let configPath = (scratch as NSString).appendingPathComponent("platekeeper.toml")
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)

        // Baseline: recognition alone, one reader, the same frames, the same duration.
        let plan = ReplaySource.plan([path], defaultCamera: "bench")
        guard !plan.items.isEmpty else { throw ValidationError("no frames in \(path)") }
        let source = try ReplaySource()
        let frames = try plan.items.map { try source.frame(for: $0) }
        let reader = try PlateReader()
        var baselineFrames = 0
        let baselineStart = Date()
        while Date().timeIntervalSince(baselineStart) < seconds {
            _ = reader.read(frames[baselineFrames % frames.count].image)
            baselineFrames += 1
        }
        let baselineRate = Double(baselineFrames) / Date().timeIntervalSince(baselineStart)

        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        daemon.arguments = ["run", "--config", configPath]
        try daemon.run()
        defer {
            if daemon.isRunning {
                kill(daemon.processIdentifier, SIGTERM)
                daemon.waitUntilExit()
            }
        }
        /// Frames read and dropped by the camera, read events journaled: from the daemon's status.
        func processed() -> (Int, Int, Int)? {
            guard let data = try? StatusSocket.fetch(from: socket, timeout: 2), let status = try? StatusDocument.decode(data),
                  let camera = status.cameras.first else { return nil }
            return (camera.framesProcessed, camera.framesDropped, status.journal.rows)
        }
        var warm: (Int, Int, Int)?
        let deadline = Date(timeIntervalSinceNow: 60)
        while Date() < deadline {
            if let p = processed(), p.0 >= 3 { warm = p; break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        guard let first = warm else { throw ValidationError("the daemon did not start processing frames") }
        let start = Date()
        Thread.sleep(forTimeInterval: seconds)
        guard let last = processed() else { throw ValidationError("the daemon stopped answering") }
        let elapsed = Date().timeIntervalSince(start)
        let daemonRate = Double(last.0 - first.0) / elapsed
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        print("daemon over a replay camera (\(frames.count) frames of \(frames[0].image.width)x\(frames[0].image.height), looped, speed 0), \(workers) worker(s), \(Int(seconds)) s each")
        print(String(format: "recognition alone (baseline): %.2f frames/s", baselineRate))
        print(String(format: "daemon end to end:             %.2f frames/s, %d read events journaled, %d frames dropped", daemonRate, last.2, last.1))
        print(String(format: "daemon / baseline: %.2fx; exit status %d", daemonRate / baselineRate, daemon.terminationStatus))
    }
}
