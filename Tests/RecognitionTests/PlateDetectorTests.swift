import Foundation
import PlateKeeperCore
import PlateKeeperTesting
@testable import Recognition
import Testing

/// The learned plate detector through OpenCV's DNN module: the shipped model loads in Debian's
/// OpenCV 4.6 (which refuses newer ONNX operator forms), finds the TestFrames plates (synthetic
/// scenes it never saw), and every bad model file is a clear error.
@Suite struct PlateDetectorTests {
    static var shippedModel: String { TestPaths.repository + "/Models/plates.onnx" }

    @Test func theShippedModelFindsThePlateOfEveryStill() throws {
        let detector = try PlateDetector(path: Self.shippedModel)
        for still in try testFrameStills() {
            let found = try detector.detect(still.frame.image)
            let best = found.map { $0.box.iou(still.box) }.max() ?? 0
            #expect(best >= 0.3, "\(still.frame.name): best overlap \(best) with the plate; found \(found)")
            #expect(found.count <= detector.settings.limit)
            for detection in found {
                #expect((0...1).contains(detection.score))
                #expect(detection.box == detection.box.clipped(toWidth: still.frame.image.width, height: still.frame.image.height))
            }
        }
    }

    @Test func blankAndTinyFramesGiveNoPlates() throws {
        let detector = try PlateDetector(path: Self.shippedModel)
        #expect(try detector.detect(LumaImage(width: 640, height: 360, fill: 128)).isEmpty)
        #expect(try detector.detect(LumaImage(width: 0, height: 0)).isEmpty)
        #expect(try detector.detect(LumaImage(width: 15, height: 400, fill: 0)).isEmpty)
        // Odd sizes are padded, not refused: a 17×17 frame runs through the network.
        _ = try detector.detect(LumaImage(width: 17, height: 17, fill: 40))
    }

    @Test(arguments: ["missing", "empty", "text", "truncated"])
    func aBadModelFileIsAnErrorNamingIt(kind: String) throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("plates.onnx")
        switch kind {
        case "missing": break
        case "empty": try Data().write(to: URL(fileURLWithPath: path))
        case "text": try "not a network\n".write(toFile: path, atomically: true, encoding: .utf8)
        default:
            let whole = try Data(contentsOf: URL(fileURLWithPath: Self.shippedModel))
            try whole.prefix(whole.count / 3).write(to: URL(fileURLWithPath: path))
        }
        #expect {
            _ = try PlateDetector(path: path)
        } throws: { error in
            guard let error = error as? RecognitionError else { return false }
            return error.description.contains(path) && (kind == "missing" ? error.call == "PlateDetector" : error.call == "cv::dnn::readNetFromONNX")
        }
        // A reader asked for that model does not start (the daemon exits 78 on this).
        var settings = PlateReader.Settings()
        settings.detectorModelPath = path
        #expect(throws: RecognitionError.self) { _ = try PlateReader(settings: settings) }
    }

    @Test func boxesOfAFrameScaledForTheNetworkComeBackInFramePixels() throws {
        let detector = try PlateDetector(path: Self.shippedModel)
        let still = try #require(try testFrameStills().first)
        let image = still.frame.image
        // Twice the size: the network sees it at most 640 wide, the boxes must be twice as large.
        let big = ImageOps.resized(image, width: image.width * 2, height: image.height * 2)
        let box = PixelBox(x: still.box.x * 2, y: still.box.y * 2, width: still.box.width * 2, height: still.box.height * 2)
        let best = try detector.detect(big).map { $0.box.iou(box) }.max() ?? 0
        #expect(best >= 0.3, "best overlap \(best)")
    }

    @Test func aPlateCropIsReadByTheFinderAloneAndAFrameThroughTheDetector() throws {
        let still = try #require(try testFrameStills().first { $0.frame.name == "day-clear.jpg" })
        let reader = try PlateReader()
        // 300×150: under 0.1 MP, a crop; the network learnt plates inside scenes.
        let crop = still.frame.image.cropped(to: still.box)
        #expect(reader.read(crop).map(\.text).contains(still.plate))
        #expect(reader.stageTimes.detect == .zero)
        #expect(reader.read(still.frame.image).map(\.text).contains(still.plate))
        #expect(reader.stageTimes.detect > .zero)
    }

    @Test func rowsAlongADetectedPlateFollowTheRegionsProportions() {
        let box = PixelBox(x: 100, y: 50, width: 220, height: 110)
        for format in [PlateFormat.us, .eu] {
            let rows = PlateReader.rows(along: box, format: format)
            #expect(rows.count == 4)
            #expect(Set(rows.map(\.lightText)) == [false, true])
            for row in rows {
                #expect(row.charHeight < Double(box.height))
                #expect(box.contains(x: Int(row.centerX), y: Int(row.centerY)))
                #expect(box.intersection(row.box) == row.box)
            }
        }
    }
}
