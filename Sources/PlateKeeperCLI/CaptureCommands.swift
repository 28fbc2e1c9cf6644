import ArgumentParser
import Capture
import Foundation
import Position
import Config
import Logging
import PlateKeeperCore

#if canImport(Glibc)
import Glibc
#endif

/// `platekeeper cameras`: the V4L2 devices of this unit and what they offer.
struct CamerasCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cameras", abstract: "List V4L2 devices with their formats, sizes, frame rates and controls.")

    @Flag(help: "Print JSON.") var json = false

    @Argument(help: "Devices to describe (default: every /dev/video*).")
    var devices: [String] = []

    func run() throws {
        let paths = devices.isEmpty ? V4L2Probe.devicePaths() : devices
        var infos: [V4L2DeviceInfo] = []
        var failed = false
        for path in paths {
            do {
                infos.append(try V4L2Probe.describe(path))
            } catch {
                Terminal.error(error.description)
                failed = true
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try encoder.encode(infos), as: UTF8.self))
        } else if infos.isEmpty, !failed {
            print("no V4L2 devices (/dev/video*)")
        } else {
            for info in infos { print(Printable.escaped(Self.render(info), keepingNewlines: true)) }
        }
        if failed { throw ExitCode.failure }
    }

    static func render(_ d: V4L2DeviceInfo) -> String {
        var out = ["\(d.path): \(d.card) (driver \(d.driver), \(d.busInfo))" + (d.canCapture ? "" : " [not a capture device]")]
        for name in d.stableNames { out.append("  also: \(name)") }
        for f in d.formats {
            out.append("  \(f.fourcc) (\(f.description))")
            for s in f.sizes {
                if let mw = s.maxWidth, let mh = s.maxHeight {
                    out.append("    \(s.width)x\(s.height) to \(mw)x\(mh), steps \(s.stepWidth ?? 1)x\(s.stepHeight ?? 1)")
                } else {
                    let rates = s.framesPerSecond.map { JSONLine.number($0, decimals: 2) }.joined(separator: ", ")
                    out.append("    \(s.width)x\(s.height)" + (rates.isEmpty ? "" : " @ \(rates) fps"))
                }
            }
        }
        if !d.controls.isEmpty {
            out.append("  controls:")
            for c in d.controls {
                out.append("    \(c.name) = \(c.value.map(String.init) ?? "?") (\(c.minimum)..\(c.maximum), step \(c.step), default \(c.defaultValue))")
            }
        }
        return out.joined(separator: "\n")
    }
}

/// `platekeeper record`: capture raw frames from a device into a recording folder that `replay`
/// and a replay camera play back bit-exactly (field units collect test material this way).
struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record", abstract: "Record frames from a V4L2 device into a recording folder (frames + manifest.json).")

    @Option(help: "The device: /dev/videoN or a /dev/v4l/by-id/… name.") var camera: String
    @Option(help: "Frames to record.") var frames: Int?
    @Option(help: "Seconds to record.") var seconds: Double?
    @Option(help: "Pixel formats in order of preference (GREY, YUYV, MJPG).") var format: [String] = ["GREY", "YUYV", "MJPG"]
    @Option var width = 1280
    @Option var height = 720
    @Option var fps = 15.0
    @Option(help: "The camera id written into the manifest (default: the device's file name).") var id: String?
    @Option(help: "Also save gpsd's reports (host:port) beside the frames, as position.log.") var gpsd: String?
    @Option(help: "Also save a serial NMEA receiver's sentences (device path) beside the frames, as position.log.") var nmea: String?
    @Option(help: "The serial receiver's baud rate (with --nmea).") var baud = 9600
    @Argument(help: "The recording folder to create (must not exist or be empty).") var output: String

    func validate() throws {
        guard (frames != nil) != (seconds != nil) else { throw ValidationError("give exactly one of --frames N or --seconds S") }
        if let frames { try require(frames, in: 1...10_000_000, "--frames") }
        if let seconds { try require(seconds, in: 0.001...(7 * 86_400), "--seconds") }
        try require(width, in: 16...8192, "--width")
        try require(height, in: 16...8192, "--height")
        try require(fps, in: 0.1...240, "--fps")
        for f in format where V4L2Negotiation.pixelFormat(f.uppercased() == "MJPEG" ? "MJPG" : f.uppercased()) == nil {
            throw ValidationError("--format \(f): use GREY, YUYV or MJPG")
        }
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: output)) ?? []
        guard existing.isEmpty else { throw ValidationError("\(output) exists and is not empty") }
        if gpsd != nil, nmea != nil { throw ValidationError("give at most one of --gpsd and --nmea") }
        if let gpsd, ConfigLoader.hostPort(gpsd) == nil { throw ValidationError("--gpsd \(gpsd): use host:port, such as 127.0.0.1:2947") }
        guard SerialNMEASource.baudRates.contains(baud) else {
            throw ValidationError("--baud \(baud): use one of \(SerialNMEASource.baudRates.map(String.init).joined(separator: ", "))")
        }
    }

    func run() throws {
        let formats = format.compactMap { V4L2Negotiation.pixelFormat($0.uppercased() == "MJPEG" ? "MJPG" : $0.uppercased()) }
        let device: V4L2Camera
        do {
            device = try V4L2Camera(path: camera, request: CaptureRequest(formats: formats, width: width, height: height, framesPerSecond: fps))
        } catch {
            Terminal.error(error.description)
            throw ExitCode.failure
        }
        let n = device.negotiated
        let writer: RecordingWriter
        do {
            writer = try RecordingWriter(folder: output, camera: CameraID(id ?? (camera as NSString).lastPathComponent), format: n)
        } catch {
            Terminal.error(error.description)
            throw ExitCode.failure
        }
        let positions = try positionRecorder()
        defer { positions?.stop() }
        let deadline = seconds.map { Date(timeIntervalSinceNow: $0) }
        var timeouts = 0
        while frames.map({ writer.entries.count < $0 }) ?? (Date() < deadline!) {
            let result = Result { () throws(CaptureError) in try device.nextFrame(timeout: 2, keepRaw: true) }
            switch result {
            case let .failure(error):
                Terminal.error(error.description)
                if error.code == .badFrame { continue }
            case .success(nil):
                timeouts += 1
                if timeouts < 5 { continue }
                Terminal.error("\(camera): no frame for 10 s")
            case let .success(frame?):
                do {
                    try writer.append(frame)
                    continue
                } catch {
                    Terminal.error(error.description)
                }
            }
            break
        }
        try writer.finish(clockQuality: SystemClock.quality())
        let entries = writer.entries
        Terminal.stderrLine("record: \(entries.count) frames, \(n.format.rawValue) \(n.width)x\(n.height)\(n.framesPerSecond.map { " at \($0) fps" } ?? ""), into \(output)")
        if let positions {
            positions.stop()
            Terminal.stderrLine("record: \(positions.lines) position lines into \((output as NSString).appendingPathComponent(PositionRecording.fileName))")
        }
        if entries.isEmpty { throw ExitCode.failure }
    }

    private func positionRecorder() throws -> PositionLogRecorder? {
        var logger = Logger(label: "platekeeper.record")
        logger.logLevel = .warning
        let path = (output as NSString).appendingPathComponent(PositionRecording.fileName)
        if let gpsd, let (host, port) = ConfigLoader.hostPort(gpsd) {
            return try PositionLogRecorder(path: path) { GpsdSource(host: host, port: port, logger: logger, tap: $0) }
        }
        if let nmea {
            return try PositionLogRecorder(path: path) { SerialNMEASource(path: nmea, baud: baud, logger: logger, tap: $0) }
        }
        return nil
    }
}

/// Runs a position source while frames are recorded, saving every line it reads into the
/// recording's position.log.
final class PositionLogRecorder: Sendable {
    private let writer: PositionRecording.Writer
    private let thread: PositionSourceThread

    init(path: String, source make: (@escaping PositionLineTap) -> any PositionSource) throws {
        writer = try PositionRecording.Writer(path: path)
        thread = PositionSourceThread(make(writer.tap), feed: PositionFeed(source: .gpsd))
    }

    var lines: Int { writer.lines }

    func stop() {
        thread.stop(timeout: 30)
        writer.close()
    }
}
