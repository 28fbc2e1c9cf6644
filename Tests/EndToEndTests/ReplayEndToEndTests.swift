import Foundation
import Imaging
import PlateKeeperCore
import PlateKeeperTesting
import Testing

/// One JSON Lines read from `platekeeper replay`.
struct ReadLine: Decodable {
    struct Box: Decodable { var x, y, width, height: Int }
    struct Candidate: Decodable { var plate: String; var confidence: Double; var matchesFormat: Bool }
    var frame: String
    var camera: String
    var sequence: UInt64
    var captureTime: String
    var clockQuality: String
    var plate: String
    var confidence: Double
    var region: String
    var candidates: [Candidate]
    var box: Box
    var processingMs: Double
}

func parseReads(_ stdout: String) throws -> [ReadLine] {
    try stdout.split(separator: "\n").map { try JSONDecoder().decode(ReadLine.self, from: Data($0.utf8)) }
}

func frames(_ sub: String) -> String { (TestPaths.testFrames as NSString).appendingPathComponent(sub) }

@Suite(.serialized) struct ReplayEndToEndTests {
    @Test func replayReadsEveryStillOfTestFrames() throws {
        let result = try runCommand(TestPaths.executable, ["replay", frames("stills")])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let reads = try parseReads(result.stdout)
        let truthFiles = try FileManager.default.contentsOfDirectory(atPath: frames("stills")).filter { $0.hasSuffix(".txt") }
        var missed: [String] = []
        for name in truthFiles {
            let f = try String(contentsOfFile: (frames("stills") as NSString).appendingPathComponent(name), encoding: .utf8)
                .split(separator: "\t").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            // EU plates are read with US rules here; the read must still be exact.
            if !reads.contains(where: { $0.frame == f[0] && $0.plate == f[5] }) { missed.append("\(f[0]) \(f[5])") }
        }
        #expect(missed.count <= 1, "not read: \(missed)")
        #expect(result.stderr.contains("replay: 10 frames"))
        for r in reads {
            #expect(ISO8601.parse(r.captureTime) != nil)
            #expect(r.clockQuality == "file-time")
            #expect(r.candidates.first?.plate == r.plate)
            #expect(r.box.width > 0 && r.box.height > 0)
            #expect(r.processingMs > 0)
        }
    }

    @Test(arguments: ["pass-day", "pass-night", "pass-yuyv"])
    func recordingsReadTheirPlateWithRecordedTimes(_ recording: String) throws {
        let expected = try String(contentsOfFile: (frames(recording) as NSString).appendingPathComponent("expected.txt"), encoding: .utf8)
            .split(separator: "\t")[0]
        let result = try runCommand(TestPaths.executable, ["replay", frames(recording)])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let reads = try parseReads(result.stdout)
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: (frames(recording) as NSString).appendingPathComponent("manifest.json")))) as! [String: Any]
        let entries = manifest["frames"] as! [[String: Any]]
        let hits = Set(reads.filter { $0.plate == expected }.map(\.frame))
        // A vehicle pass: the plate must be read in most of its frames.
        #expect(hits.count * 2 >= entries.count, "\(recording): \(expected) read in \(hits.count) of \(entries.count) frames")
        for r in reads {
            let entry = try #require(entries.first { $0["file"] as? String == r.frame })
            #expect(r.captureTime == entry["captureTime"] as? String)
            #expect(r.camera == recording)
            #expect(r.clockQuality == "synchronized")
        }
    }

    @Test func tableFormat() throws {
        let result = try runCommand(TestPaths.executable, ["replay", "--format", "table", (frames("stills") as NSString).appendingPathComponent("day-clear.jpg")])
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("FRAME") == true)
        #expect(lines.dropFirst().contains { $0.contains("day-clear.jpg") })
    }

    @Test func badInputsAreReportedAndTheReplayGoesOn() throws {
        let dir = try TemporaryDirectory()
        let good = try Data(contentsOf: URL(fileURLWithPath: (frames("stills") as NSString).appendingPathComponent("day-clear.jpg")))
        try dir.write("mixed/1-good.jpg", [UInt8](good))
        try dir.write("mixed/2-torn.jpg", [UInt8](good.prefix(good.count / 2)))
        try dir.write("mixed/3-empty.jpg", [])
        try dir.write("mixed/4-text.png", "not a png")
        try dir.write("mixed/5-good-again.jpg", [UInt8](good))
        try dir.write("rec/manifest.json", "{\"version\": 1, \"frames\": [")
        try dir.write("raw/manifest.json", """
            {"version": 1, "frames": [{"file": "f.grey", "captureTime": "2026-11-27T13:05:01Z", "pixelFormat": "GREY", "width": 640, "height": 480}]}
            """)
        try dir.write("raw/f.grey", [UInt8](repeating: 0, count: 1000))
        let result = try runCommand(TestPaths.executable, ["replay", dir.file("mixed"), dir.file("rec"), dir.file("raw"), dir.file("nothing-here")])
        #expect(result.status == 1)
        for name in ["2-torn.jpg", "3-empty.jpg", "4-text.png", "rec/manifest.json", "f.grey", "nothing-here"] {
            #expect(result.stderr.contains(name), "stderr does not name \(name): \(result.stderr)")
        }
        #expect(result.stderr.contains("needs 307200 bytes, got 1000"))
        let reads = try parseReads(result.stdout)
        #expect(Set(reads.map(\.frame)).isSuperset(of: ["1-good.jpg", "5-good-again.jpg"]))
        #expect(result.stderr.contains("replay: 6 frames"))
        #expect(result.stderr.contains("6 failed"))
    }

    @Test(arguments: [
        (["replay", "--region", "mars", "x.jpg"], "--region must be us, eu or br"),
        (["replay", "--top-n", "0", "x.jpg"], "--top-n must be between 1 and 50"),
        (["replay"], "Missing expected argument"),
        (["bench", "accuracy", "/nonexistent"], "no labelled images found"),
    ])
    func badArgumentsAreClearErrors(arguments: [String], message: String) throws {
        let result = try runCommand(TestPaths.executable, arguments)
        #expect(result.status != 0)
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)")
    }
}

@Suite(.serialized) struct BenchEndToEndTests {
    func figure(_ name: String, in output: String) -> Double? {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix(name) }) else { return nil }
        return Double(line.split(separator: ":")[1].replacingOccurrences(of: "%", with: "").trimmingCharacters(in: .whitespaces))
    }

    @Test func benchAccuracyOverTestFramesStills() throws {
        let result = try runCommand(TestPaths.executable, ["bench", "accuracy", frames("stills")])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(try #require(figure("top-1 exact", in: result.stdout)) >= 90)
        #expect(try #require(figure("detection recall", in: result.stdout)) >= 90)
        #expect(result.stdout.contains("ms / image:"))
        #expect(result.stdout.contains("decode ms / image:"))
    }

    @Test func lineSamplesWritesLabelledLinesIntoAFolderOfItsOwn() throws {
        let dir = try TemporaryDirectory()
        let out = dir.file("lines")
        let result = try runCommand(TestPaths.executable, ["line-samples", frames("stills"), out])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let labels = try FileManager.default.contentsOfDirectory(atPath: frames("stills")).filter { $0.hasSuffix(".txt") }.map {
            try String(contentsOfFile: frames("stills") + "/" + $0, encoding: .utf8).split(separator: "\t").last!
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        let images = files.filter { $0.hasSuffix(".pgm") }
        // Every still's plate gives a line: three cleaned renderings and the raw one.
        #expect(images.count >= 4 * (labels.count - 1), "\(images)")
        #expect(files.count == 2 * images.count)
        for image in images {
            let base = String(image.dropLast(4))
            let text = try String(contentsOfFile: out + "/" + base + ".gt.txt", encoding: .utf8).trimmingCharacters(in: .newlines)
            #expect(labels.contains(text), "\(base): \(text)")
            let bytes = try Data(contentsOf: URL(fileURLWithPath: out + "/" + image))
            #expect(bytes.starts(with: Data("P5\n".utf8)))
        }
        // A second run into the same folder is refused and leaves it as it was.
        let again = try runCommand(TestPaths.executable, ["line-samples", frames("stills"), out])
        #expect(again.status != 0)
        #expect(again.stderr.contains("cannot create the output folder"), "\(again.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == files)
    }

    @Test func benchStagesSplitsTheTimePerFrameSize() throws {
        let result = try runCommand(TestPaths.executable, ["bench", "stages", frames("stills"), frames("pass-yuyv")])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let rows = result.stdout.split(separator: "\n").map { $0.split(separator: " ") }
        #expect(rows.first?.map(String.init) == ["size", "frames", "decode", "detector", "search", "lines", "ocr", "classifier", "rules", "total", "total/decode"])
        // The stills are 1280x720 JPEGs (10, in one group); the YUYV recording is 640x360 raw.
        let hd = try #require(rows.first { $0.first == "1280x720" })
        #expect(hd[1] == "10")
        #expect(rows.contains { $0.first == "640x360" })
        // decode, detector, search, lines, ocr, classifier, rules, total: the total exceeds the
        // decode, and the detector (a network over every frame) takes time of its own.
        let ms = hd[2...9].compactMap { Double($0) }
        #expect(ms.count == 8 && ms.allSatisfy { $0 >= 0 } && ms[7] > ms[0] && ms[1] > 0, "\(hd)")
    }

    @Test func benchVehiclesOverRecordingsAndSimulatedPasses() throws {
        let recorded = try runCommand(TestPaths.executable, ["bench", "vehicles", frames("pass-yuyv")])
        #expect(recorded.status == 0, "stderr: \(recorded.stderr)")
        #expect(recorded.stdout.contains("passes: 1, frames: 6"))
        #expect(recorded.stdout.contains("per vehicle, an event with the plate: "))
        // Each still made into two frames of a pass, made pass by pass.
        let simulated = try runCommand(TestPaths.executable, ["bench", "vehicles", frames("stills"), "--simulate", "2"])
        #expect(simulated.status == 0, "stderr: \(simulated.stderr)")
        #expect(simulated.stdout.contains("passes: 10, frames: 20 (2 simulated per photo)"))
    }

    /// Real photos: the first US plate crops of the development set, when it is present.
    @Test(.enabled(if: TestPaths.openALPRBenchmarks != nil, "../shared/datasets/openalpr-benchmarks is not here"))
    func benchAccuracyOverRealPlateCrops() throws {
        let datasets = try #require(TestPaths.openALPRBenchmarks)
        let dir = try TemporaryDirectory()
        let csv = try String(contentsOfFile: "\(datasets)/plate-crops/groundtruth.csv", encoding: .utf8)
        let names = csv.split(separator: "\n").prefix(40).map { String($0.split(separator: ",")[0]) }
        let list = try dir.write("list.txt", names.joined(separator: "\n"))
        let result = try runCommand(TestPaths.executable, ["bench", "accuracy", "\(datasets)/plate-crops", "--list", list])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout.contains("(40 images, 40 plates"))
        // A regression floor well under what the recogniser reaches on these crops (the glyph
        // classifier learnt from them, so this is no measurement of accuracy).
        #expect(try #require(figure("top-1 exact", in: result.stdout)) >= 25)
    }
}

@Suite struct ReplayPositionTests {
    struct PositionedRead: Decodable {
        var plate: String
        var captureTime: String
        var positionStatus: String
        var latitude: Double?
        var longitude: Double?
    }

    @Test("a recording with a position log: each read gets the position the unit had at the frame's capture time")
    func recordedPositions() throws {
        let dir = try TemporaryDirectory()
        let copy = dir.file("pass-night")
        try FileManager.default.copyItem(atPath: frames("pass-night"), toPath: copy)
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: copy + "/manifest.json"))) as! [String: Any]
        let times = (manifest["frames"] as! [[String: Any]]).compactMap { ($0["captureTime"] as? String).flatMap(ISO8601.parse) }
        let first = try #require(times.min()), last = try #require(times.max())
        // A receiver driving the test track around the recording, as `record --nmea` saves it.
        let track = StraightTrack(t0: first / 1_000_000_000 * 1_000_000_000 - 3_000_000_000)
        _ = try dir.write("pass-night/position.log", track.positionLog(through: last))
        let result = try runCommand(TestPaths.executable, ["replay", copy])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stderr.contains("fixes from"))
        let reads = try result.stdout.split(separator: "\n").map { try JSONDecoder().decode(PositionedRead.self, from: Data($0.utf8)) }
        #expect(!reads.isEmpty)
        for r in reads {
            let at = try #require(ISO8601.parse(r.captureTime))
            #expect(["interpolated", "fix"].contains(r.positionStatus))
            let error = StraightTrack.meters(track.truth(at: at), (r.latitude ?? 0, r.longitude ?? 0))
            #expect(error < 1.0, "\(r.plate) at \(r.captureTime): \(error) m")
        }
    }
}
