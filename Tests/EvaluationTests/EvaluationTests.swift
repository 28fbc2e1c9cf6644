import Evaluation
import Grouping
import Foundation
import PlateKeeperCore
import PlateKeeperTesting
import Testing

func read(_ text: String, _ box: PixelBox, candidates: [String] = [], confidence: Double = 90) -> PlateRead {
    PlateRead(text: text, confidence: confidence,
              candidates: ([text] + candidates).map { PlateCandidate(text: $0, confidence: confidence, matchesFormat: true) },
              box: box, region: "us")
}

@Suite struct GroundTruthTests {
    @Test func readsBenchmarkTextFilesAndReportsBadLines() throws {
        let dir = try TemporaryDirectory()
        try dir.write("car1.txt", "car1.jpg\t10\t20\t100\t50\tabc-123\n")
        try dir.write("car2.txt", "car2.jpg\t1\t2\t3\t4\tXYZ9\ncar2.jpg 5 6 7 8 QRS1\n")
        try dir.write("broken.txt", "broken.jpg\tten\t20\t100\t50\tABC\n")
        let gt = GroundTruth.load(folder: dir.path)
        #expect(gt.images.count == 2)
        #expect(gt.images[0].plates.first?.text == "ABC123")
        #expect(gt.images[0].plates.first?.box == PixelBox(x: 10, y: 20, width: 100, height: 50))
        #expect(gt.images[1].plates.map(\.text) == ["XYZ9", "QRS1"])
        #expect(gt.errors.count == 1)
        #expect(gt.errors.first?.description.contains("broken.txt:1") == true)
    }

    @Test func readsPlateCropCSVAndList() throws {
        let dir = try TemporaryDirectory()
        try dir.write("groundtruth.csv", "a.png,ca,7ABC123\nb.png,tx,ABC1234\nbad line\n")
        let all = GroundTruth.load(folder: dir.path)
        #expect(all.images.count == 2)
        #expect(all.images[1].plates.first?.box == nil)
        #expect(all.errors.count == 1)
        #expect(GroundTruth.load(folder: dir.path, list: ["b.png"]).images.map(\.plates.first?.text) == ["ABC1234"])
    }

    @Test func missingFolderIsAnError() {
        #expect(!GroundTruth.load(folder: "/nonexistent/platekeeper").errors.isEmpty)
    }
}

@Suite struct AccuracyReportTests {
    let plate = PixelBox(x: 100, y: 100, width: 80, height: 40)

    @Test func scoresTopOneTopNDetectionAndFalseReads() {
        var report = AccuracyReport()
        let image = LabelledImage(imagePath: "x.jpg", plates: [("ABC123", plate)])
        report.add(image, reads: [read("ABC123", plate), read("SIGN", PixelBox(x: 0, y: 0, width: 30, height: 10))], milliseconds: 10)
        report.add(image, reads: [read("A8C123", plate.expanded(dx: 5, dy: 5), candidates: ["ABC123"])], milliseconds: 30)
        report.add(image, reads: [], milliseconds: 20)
        #expect(report.top1Rate == 1.0 / 3.0)
        #expect(report.topNRate == 2.0 / 3.0)
        #expect(report.detectionRate == 2.0 / 3.0)
        // SIGN where there is no plate is a phantom; A8C123 on the plate is a misread.
        #expect(report.phantomsPerImage == 1.0 / 3.0)
        #expect(report.misreadsPerImage == 1.0 / 3.0)
        #expect(report.falseReadsPerImage == 2.0 / 3.0)
        #expect(report.millisecondsQuantile(0.5) == 20)
        #expect(report.millisecondsQuantile(0.9) == 30)
    }

    @Test func aReadElsewhereIsNotADetection() {
        var report = AccuracyReport()
        let image = LabelledImage(imagePath: "x.jpg", plates: [("ABC123", plate)])
        report.add(image, reads: [read("ABC123", PixelBox(x: 400, y: 400, width: 80, height: 40))], milliseconds: 1)
        #expect(report.top1Rate == 0)
        #expect(report.detectionRate == 0)
        // Its text is the plate's: not a false read, though not a detection either.
        #expect(report.falseReadsPerImage == 0)
    }

    @Test func twoPlatesAMisreadOfOneAndAPhantom() {
        var report = AccuracyReport()
        let other = PixelBox(x: 600, y: 300, width: 80, height: 40)
        let image = LabelledImage(imagePath: "x.jpg", plates: [("ABC123", plate), ("XYZ789", other)])
        report.add(image, reads: [
            read("ABC123", plate), read("XYZ780", other), read("SPEED30", PixelBox(x: 10, y: 10, width: 60, height: 30)),
        ], milliseconds: 1)
        #expect(report.top1Rate == 0.5)
        #expect(report.detectionRate == 1)
        #expect(report.misreadsPerImage == 1)
        #expect(report.phantomsPerImage == 1)
        #expect(report.falseReadsPerImage == 2)
    }

    @Test func cropsWithoutBoxesUseTheBestRead() {
        var report = AccuracyReport()
        let crop = LabelledImage(imagePath: "c.png", plates: [("ABC123", nil)])
        report.add(crop, reads: [read("ABC123", plate, confidence: 60), read("TEXAS", plate, confidence: 95)], milliseconds: 1)
        #expect(report.top1Rate == 1)
        // A crop is all plate: the wrong read is a misread.
        #expect(report.misreadsPerImage == 1 && report.phantomsPerImage == 0)
    }
}

@Suite struct CalibrationTests {
    let plate = PixelBox(x: 100, y: 100, width: 80, height: 40)

    @Test("reads are banded by confidence with their share right; the expected calibration error weighs each band's gap")
    func bandsAndError() {
        var report = AccuracyReport()
        let image = LabelledImage(imagePath: "x.jpg", plates: [("ABC123", plate)])
        // Four reads at 100: three right, one wrong (75 % right: a gap of 25 points).
        for text in ["ABC123", "ABC123", "ABC123", "A8C123"] { report.add(image, reads: [read(text, plate, confidence: 100)], milliseconds: 1) }
        // Four reads at 55: two right (50 %: a gap of 5 points).
        for text in ["ABC123", "XYZ", "ABC123", "QRS"] { report.add(image, reads: [read(text, plate, confidence: 55)], milliseconds: 1) }
        let bands = report.calibration()
        #expect(bands.map(\.lower) == [50, 90])
        #expect(bands.map(\.reads) == [4, 4])
        #expect(bands.map(\.accuracy) == [50, 75])
        #expect(bands.map(\.meanConfidence) == [55, 100])
        #expect(abs(report.expectedCalibrationError() - 15) < 1e-9)
    }
}

@Suite struct VehicleReportTests {
    static func frames(_ count: Int, camera: CameraID = "sim") -> [Frame] {
        (0..<count).map { k in
            Frame(camera: camera, sequence: UInt64(k), captureTime: CaptureTime(unixNanoseconds: Int64(k) * 100_000_000, quality: .unknown),
                  name: "f#\(k)", image: LumaImage(width: 8, height: 8, fill: UInt8(k)))
        }
    }

    @Test("reads of one pass vote into one event; a pass with a stray sign read counts a wrong event; an unread pass is missed")
    func scoresPasses() {
        var report = VehicleReport(grouping: GroupingSettings())
        let box = PixelBox(x: 10, y: 10, width: 80, height: 20)
        // Frame k's image is filled with k: the fake reader reads by frame.
        let right = report.add(name: "a", expected: "ABC123", frames: Self.frames(6)) { image in
            image.pixels[0] == 2 ? [read("A8C123", box)] : [read("ABC123", box)]
        }
        #expect(right.right && right.events.count == 1 && right.framesRight == 5 && right.wrongEvents == 0)
        let sign = report.add(name: "b", expected: "XYZ789", frames: Self.frames(4)) { image in
            [read("XYZ789", box)] + (image.pixels[0] == 0 ? [read("SPEED30", PixelBox(x: 200, y: 0, width: 40, height: 40))] : [])
        }
        #expect(sign.right && sign.wrongEvents == 1)
        report.add(name: "c", expected: "QQQ111", frames: Self.frames(3)) { _ in [] }
        #expect(report.vehiclesRight == 2 && report.missed == 1)
        #expect(report.wrongEventsPerPass == 1.0 / 3.0)
        #expect(report.frames == 13 && report.framesRight == 9)
    }

    @Test("simulated passes are the same for the same seed, differ for another, and approach the camera")
    func simulatorIsSeeded() {
        var photo = LumaImage(width: 64, height: 48, fill: 200)
        for y in 20..<28 { for x in 16..<48 { photo[x, y] = 20 } }
        let a = PassSimulator.frames(from: photo, count: 5, seed: 7, name: "p")
        let b = PassSimulator.frames(from: photo, count: 5, seed: 7, name: "p")
        let c = PassSimulator.frames(from: photo, count: 5, seed: 8, name: "p")
        #expect(a.count == 5 && a.map(\.image.pixels) == b.map(\.image.pixels))
        #expect(a.map(\.image.pixels) != c.map(\.image.pixels))
        #expect(a.map(\.captureTime.unixNanoseconds) == [0, 100_000_000, 200_000_000, 300_000_000, 400_000_000])
        // The dark bar grows as the vehicle comes closer (scale 0.7 → 1.0).
        func dark(_ image: LumaImage) -> Int { image.pixels.filter { $0 < 100 }.count }
        #expect(dark(a[0].image) < dark(a[4].image))
        #expect(PassSimulator.frames(from: photo, count: 1, seed: 7, name: "p").isEmpty)
    }
}
