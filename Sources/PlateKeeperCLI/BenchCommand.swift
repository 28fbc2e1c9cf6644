import ArgumentParser
import Capture
import Evaluation
import PlateKeeperCore
import Recognition
import Foundation

/// `platekeeper bench`: measurements of the pipeline.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure recognition accuracy and speed, journal commits and daemon throughput.",
        subcommands: [AccuracyCommand.self, StageBenchCommand.self, VehicleBenchCommand.self, JournalBenchCommand.self, HotlistBenchCommand.self, DaemonBenchCommand.self, CaptureBenchCommand.self]
    )
}

/// The image names of a `--list` file: one per line, blank lines ignored.
func imageNames(inListFile path: String) throws -> [String] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        throw ValidationError("cannot read --list file \(path)")
    }
    return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}

/// `platekeeper bench accuracy DIR`: accuracy and speed over a labelled photo set.
struct AccuracyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accuracy",
        abstract: "Run recognition over labelled photos and print accuracy and speed.",
        discussion: """
            DIR holds photos with NAME.txt ground truth beside each (NAME.jpg x y w h PLATE, tab-separated, \
            as in the openalpr benchmarks) or plate crops with a groundtruth.csv (FILE,state,PLATE). \
            Times are per image, decode plus recognition, on one thread.
            """
    )

    @Argument(help: "Folder of labelled photos.")
    var dir: String

    @Option(help: "Only the images named in this file (one name per line).")
    var list: String?

    @Flag(help: "Print one line per image.")
    var verbose = false

    @Option(help: "Write per-image results as JSON Lines to this file.")
    var details: String?

    @OptionGroup var recognition: RecognitionOptions

    func run() throws {
        let truth = GroundTruth.load(folder: dir, list: try list.map(imageNames(inListFile:)))
        for e in truth.errors { Terminal.error(e.description) }
        guard !truth.images.isEmpty else {
            Terminal.error("\(dir): no labelled images found")
            throw ExitCode(1)
        }
        let reader = try recognition.makeReader()
        let source = try ReplaySource()
        var report = AccuracyReport()
        var detailLines: [String] = []
        var decodeMilliseconds: [Double] = []
        // The reader alone: each labelled plate's own box (the whole image for a plate crop) read
        // as if the detector had found exactly it, outside the timed pipeline.
        var alone = (plates: 0, right: 0, read: 0)
        let clock = ContinuousClock()
        for (i, image) in truth.images.enumerated() {
            Terminal.progress(i, of: truth.images.count, label: "images")
            let item = ReplayItem(path: image.imagePath, camera: "bench", sequence: UInt64(i), kind: .still, clockQuality: .fileTime)
            let t0 = clock.now
            let readings: [PlateReader.Reading]
            var failed = false
            var pixels: LumaImage?
            do {
                let frame = try source.frame(for: item)
                decodeMilliseconds.append((clock.now - t0).milliseconds)
                readings = reader.readings(frame.image)
                pixels = frame.image
            } catch {
                Terminal.error("\(error)")
                readings = []
                failed = true
            }
            let ms = (clock.now - t0).milliseconds
            var readAlone: [String] = []
            if let pixels {
                for plate in image.plates {
                    let box = plate.box ?? PixelBox(x: 0, y: 0, width: pixels.width, height: pixels.height)
                    let text = reader.readPlate(at: box, in: pixels)?.read.text ?? ""
                    readAlone.append(text)
                    alone.plates += 1
                    if !text.isEmpty { alone.read += 1 }
                    if text == plate.text { alone.right += 1 }
                }
            }
            let reads = readings.map(\.read)
            let score = report.add(image, reads: reads, milliseconds: ms, failed: failed)
            if verbose {
                let mark = score.top1 == score.labelled ? "ok  " : (score.detected > 0 ? "MISS" : "NONE")
                Terminal.stderrLine("\(mark) \((image.imagePath as NSString).lastPathComponent) expected \(score.expected.joined(separator: ",")) read \(score.read.joined(separator: ",")) \(Int(ms)) ms")
            }
            if details != nil {
                var o = JSONLine()
                o.add("image", (image.imagePath as NSString).lastPathComponent)
                o.add("expected", raw: "[" + score.expected.map(JSONLine.quote).joined(separator: ",") + "]")
                o.add("reads", raw: "[" + readings.map { reading in
                    let r = reading.read, e = reading.evidence
                    var ro = JSONLine()
                    ro.add("plate", r.text)
                    ro.add("confidence", r.confidence)
                    ro.add("box", raw: "[\(r.box.x),\(r.box.y),\(r.box.width),\(r.box.height)]")
                    ro.add("candidates", raw: "[" + r.candidates.map { JSONLine.quote($0.text) }.joined(separator: ",") + "]")
                    ro.add("evidence", raw: String(decoding: (try? JSONEncoder().encode(e)) ?? Data("{}".utf8), as: UTF8.self))
                    return ro.text
                }.joined(separator: ",") + "]")
                o.add("reader_alone", raw: "[" + readAlone.map(JSONLine.quote).joined(separator: ",") + "]")
                o.add("top1", score.top1)
                o.add("detected", score.detected)
                o.add("misreads", score.misreads)
                o.add("phantoms", score.phantoms)
                o.add("ms", ms)
                detailLines.append(o.text)
            }
        }
        Terminal.progress(truth.images.count, of: truth.images.count, label: "images")
        if let details {
            try (detailLines.joined(separator: "\n") + "\n").write(toFile: details, atomically: true, encoding: .utf8)
        }
        func pct(_ v: Double) -> String { JSONLine.number(v * 100, decimals: 1) + " %" }
        print("set:                 \(dir) (\(truth.images.count) images, \(report.labelled) plates, region \(recognition.region))")
        print("top-1 exact:         \(pct(report.top1Rate))")
        print(TableRow.pad("top-\(recognition.topN):", 21) + pct(report.topNRate))
        print("detection recall:    \(pct(report.detectionRate))")
        // Reading apart from finding (as OpenALPR's seg_and_ocr benchmark): each plate's own box.
        print("reader alone:        \(pct(alone.plates > 0 ? Double(alone.right) / Double(alone.plates) : 0)) right, "
            + "\(pct(alone.plates > 0 ? Double(alone.read) / Double(alone.plates) : 0)) read at all (each labelled plate's own box read alone)")
        print("false reads / image: \(JSONLine.number(report.falseReadsPerImage, decimals: 2)) "
            + "(misreads \(JSONLine.number(report.misreadsPerImage, decimals: 2)), phantoms \(JSONLine.number(report.phantomsPerImage, decimals: 2)))")
        let median = report.millisecondsQuantile(0.5)
        let decode = nearestRankQuantile(decodeMilliseconds, 0.5)
        print("ms / image:          median \(JSONLine.number(median, decimals: 1)), p90 \(JSONLine.number(report.millisecondsQuantile(0.9), decimals: 1))")
        // Decoding alone, timed in the same loop: the floor the pipeline is measured against.
        print("decode ms / image:   median \(JSONLine.number(decode, decimals: 1)) (pipeline = \(JSONLine.number(decode > 0 ? median / decode : 0, decimals: 1))x decode)")
        // Whether confidence can be thresholded on: per band of 10 points, the reads and how many were right.
        print("confidence calibration (reads; per cent right), expected calibration error \(JSONLine.number(report.expectedCalibrationError(), decimals: 1)) points:")
        for band in report.calibration() {
            let range = band.upper == 100 ? "\(Int(band.lower))-100" : "\(Int(band.lower))-\(Int(band.upper) - 1)"
            print("  " + TableRow.pad(range, 8) + TableRow.pad("\(band.reads) reads", 11)
                + "\(JSONLine.number(band.accuracy, decimals: 1)) % right (mean confidence \(JSONLine.number(band.meanConfidence, decimals: 1)))")
        }
        if report.failedImages > 0 {
            print("failed images:       \(report.failedImages)")
            throw ExitCode(1)
        }
    }
}
