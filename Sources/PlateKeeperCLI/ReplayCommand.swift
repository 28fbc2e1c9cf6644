import ArgumentParser
import Capture
import PlateKeeperCore
import Position
import Recognition
import Foundation

/// `platekeeper replay`: runs recognition over recorded frames and prints the reads.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Read plates from recorded frames: image files, folders of images, or recording folders.",
        discussion: """
            Each PATH is an image file (JPEG, PNG or binary PGM: .jpg, .jpeg, .png, .pgm, recognised \
            by content), a folder of such images, or a recording folder: a manifest.json and its \
            frames as `platekeeper record` writes them (GREY, YUYV or MJPG). Reads are printed as JSON Lines on stdout (or a table with --format table); \
            errors and the summary go to stderr. The exit status is 1 if any frame or input failed. \
            A recording made with `record --gpsd` or `--nmea` has a position.log beside its frames: \
            each read then gets the position the unit had at the frame's capture time.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case jsonl, table }

    @Argument(help: "Image files, image folders or recording folders.")
    var paths: [String]

    @Option(help: "Output format: jsonl or table.")
    var format: Format = .jsonl

    @Option(help: "Camera id for frames without one in a manifest.")
    var camera: String = "replay"

    @OptionGroup var recognition: RecognitionOptions

    func run() throws {
        let reader = try recognition.makeReader()
        let source = try ReplaySource()
        let plan = ReplaySource.plan(paths, defaultCamera: CameraID(camera))
        var failures = plan.errors.count
        for error in plan.errors { Terminal.error(error.description) }

        if format == .table {
            print(TableRow.header)
        }
        let positions = try Self.recordedPositions(paths)
        var reads = 0
        let clock = ContinuousClock()
        let started = clock.now
        for (i, item) in plan.items.enumerated() {
            Terminal.progress(i, of: plan.items.count, label: "frames")
            let t0 = clock.now
            let frame: Frame
            do {
                frame = try source.frame(for: item)
            } catch {
                failures += 1
                Terminal.error(error.description)
                continue
            }
            let plates = reader.read(frame.image)
            let ms = (clock.now - t0).milliseconds
            for plate in plates {
                reads += 1
                switch format {
                case .jsonl:
                    var line = Self.jsonLine(frame: frame, read: plate, milliseconds: ms)
                    if let positions { line = Self.withPosition(line, positions.lookup(at: frame.captureTime.unixNanoseconds, clockSynchronized: true)) }
                    print(line)
                case .table: print(Printable.escaped(TableRow.format(frame: frame, read: plate, milliseconds: ms)))
                }
            }
        }
        Terminal.progress(plan.items.count, of: plan.items.count, label: "frames")
        let seconds = (clock.now - started).milliseconds / 1000
        let frames = plan.items.count
        let fps = seconds > 0 ? Double(frames) / seconds : 0
        Terminal.stderrLine("replay: \(frames) frames, \(reads) reads, \(failures) failed, \(JSONLine.number(fps, decimals: 1)) frames/s")
        if failures > 0 { throw ExitCode(1) }
    }

    /// The positions recorded beside the recordings given (their position.log files), or nil when none has one.
    static func recordedPositions(_ paths: [String]) throws -> PositionFeed? {
        let logs = paths.map { ($0 as NSString).appendingPathComponent(PositionRecording.fileName) }
            .filter { FileManager.default.fileExists(atPath: $0) }
        guard !logs.isEmpty else { return nil }
        do {
            let (feed, summaries) = try PositionRecording.feed(loading: logs, settings: PositionFeed.Settings())
            for (log, summary) in zip(logs, summaries) {
                Terminal.stderrLine("replay: \(log): \(summary.fixes) fixes from \(summary.lines) lines\(summary.bad > 0 ? ", \(summary.bad) unusable" : "")")
            }
            return feed
        } catch {
            Terminal.error("\(error)")
            throw ExitCode(1)
        }
    }

    /// Adds the recorded position (and how it was obtained) to a read's JSON line.
    static func withPosition(_ line: String, _ found: (GeoPosition?, PositionStatus)) -> String {
        var o = JSONLine()
        o.add("positionStatus", found.1.state.rawValue)
        if let age = found.1.fixAgeSeconds { o.add("fixAgeSeconds", age, decimals: 3) }
        if let p = found.0 {
            o.add("latitude", p.latitude, decimals: 7)
            o.add("longitude", p.longitude, decimals: 7)
            o.add("fix", p.fix.rawValue)
        }
        // Both are `{…}` objects: splice the fields in before the closing brace.
        return String(line.dropLast()) + "," + o.text.dropFirst()
    }

    static func jsonLine(frame: Frame, read: PlateRead, milliseconds: Double) -> String {
        var o = JSONLine()
        o.add("frame", frame.name)
        o.add("camera", frame.camera.rawValue)
        o.add("sequence", frame.sequence)
        o.add("captureTime", frame.captureTime.iso8601)
        o.add("clockQuality", frame.captureTime.quality.rawValue)
        o.add("plate", read.text)
        o.add("confidence", read.confidence)
        o.add("region", read.region)
        let candidates = read.candidates.map { c -> String in
            var co = JSONLine()
            co.add("plate", c.text)
            co.add("confidence", c.confidence)
            co.add("matchesFormat", c.matchesFormat)
            return co.text
        }
        o.add("candidates", raw: "[" + candidates.joined(separator: ",") + "]")
        var box = JSONLine()
        box.add("x", read.box.x)
        box.add("y", read.box.y)
        box.add("width", read.box.width)
        box.add("height", read.box.height)
        o.add("box", raw: box.text)
        o.add("processingMs", milliseconds)
        return o.text
    }
}

/// The readable `--format table` output.
enum TableRow {
    static let header = pad("FRAME", 28) + pad("CAMERA", 10) + pad("CAPTURED (UTC)", 25) + pad("PLATE", 10) + pad("CONF", 6)
        + pad("BOX", 20) + "MS"

    static func format(frame: Frame, read: PlateRead, milliseconds: Double) -> String {
        let b = read.box
        return pad(frame.name, 28) + pad(frame.camera.rawValue, 10) + pad(frame.captureTime.iso8601, 25) + pad(read.text, 10)
            + pad(JSONLine.number(read.confidence, decimals: 0), 6) + pad("\(b.x),\(b.y) \(b.width)x\(b.height)", 20)
            + JSONLine.number(milliseconds, decimals: 0)
    }

    static func pad(_ s: String, _ n: Int) -> String {
        let t = s.count >= n ? String(s.prefix(n - 1)) : s
        return t + String(repeating: " ", count: n - t.count)
    }
}

extension Duration {
    var milliseconds: Double {
        let (s, atto) = components
        return Double(s) * 1000 + Double(atto) / 1e15
    }
}
