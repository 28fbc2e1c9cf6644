import ArgumentParser
import Capture
import Evaluation
import PlateKeeperCore
import Recognition
import Foundation

/// `platekeeper bench stages PATH…`: where a frame's time goes, per frame size.
///
/// Each frame is decoded (the floor: the time any pipeline spends just to have the pixels), then
/// read; the reader's own stage clocks split its time into candidate search, line images,
/// Tesseract, the glyph classifier and the format rules and vote. Medians per frame, grouped by
/// frame size, so 720p and 1080p are reported side by side from the same run.
struct StageBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stages",
        abstract: "Milliseconds per frame in each recognition stage, per frame size, against decoding alone.",
        discussion: "PATH: image files, folders of images or recordings, as for replay. One thread."
    )

    @Argument(help: "Frames to measure.")
    var paths: [String]

    @Option(help: "Read every frame this many times (after one warm-up pass).")
    var repeats = 1

    @OptionGroup var recognition: RecognitionOptions

    func validate() throws {
        try require(repeats, in: 1...10_000, "--repeats")
    }

    func run() throws {
        let plan = ReplaySource.plan(paths)
        for e in plan.errors { Terminal.error("\(e)") }
        guard !plan.items.isEmpty else { throw ValidationError("no frames to measure") }
        let reader = try recognition.makeReader()
        let source = try ReplaySource()
        let clock = ContinuousClock()
        let stages = ["decode", "detector", "search", "lines", "ocr", "classifier", "rules", "total"]
        var samples: [String: [String: [Double]]] = [:] // size → stage → ms per frame
        var order: [String] = []
        for pass in 0...repeats {
            for (i, item) in plan.items.enumerated() {
                Terminal.progress(pass * plan.items.count + i, of: (repeats + 1) * plan.items.count, label: "frames")
                let t0 = clock.now
                guard let frame = try? source.frame(for: item) else { continue }
                let decoded = clock.now
                reader.resetStageTimes()
                _ = reader.read(frame.image)
                let done = clock.now
                guard pass > 0 else { continue } // warm-up: caches, Tesseract's first-use setup
                let size = "\(frame.image.width)x\(frame.image.height)"
                if samples[size] == nil { order.append(size) }
                let t = reader.stageTimes
                let values: [Duration] = [decoded - t0, t.detect, t.search, t.lines, t.ocr, t.classifier, t.rules, done - t0]
                for (stage, value) in zip(stages, values) { samples[size, default: [:]][stage, default: []].append(value.milliseconds) }
            }
        }
        Terminal.progress(1, of: 1, label: "frames")
        print(TableRow.pad("size", 11) + TableRow.pad("frames", 8) + stages.map { TableRow.pad($0, 11) }.joined() + "total/decode")
        for size in order {
            let s = samples[size]!
            let medians = stages.map { nearestRankQuantile(s[$0]!, 0.5) }
            let line = TableRow.pad(size, 11) + TableRow.pad("\(s["total"]!.count)", 8)
                + medians.map { TableRow.pad(JSONLine.number($0, decimals: 1), 11) }.joined()
                + JSONLine.number(medians[0] > 0 ? medians.last! / medians[0] : 0, decimals: 1) + "x"
            print(line)
        }
        print("medians in ms per frame; stages of one frame need not add up to the median total")
    }
}
