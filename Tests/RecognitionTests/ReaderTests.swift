import Capture
import Foundation
import Imaging
import PlateKeeperCore
import PlateKeeperTesting
@testable import Recognition
import Testing

/// The stills of TestFrames with their ground truth (box and plate).
func testFrameStills() throws -> [(frame: Frame, box: PixelBox, plate: String)] {
    let dir = (TestPaths.testFrames as NSString).appendingPathComponent("stills")
    let source = try ReplaySource()
    return try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".txt") }.sorted().map { name in
        let f = try String(contentsOfFile: (dir as NSString).appendingPathComponent(name), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\t").map(String.init)
        let item = ReplayItem(path: (dir as NSString).appendingPathComponent(f[0]), camera: "test", sequence: 0, kind: .still,
                              clockQuality: .fileTime)
        return (try source.frame(for: item), PixelBox(x: Int(f[1])!, y: Int(f[2])!, width: Int(f[3])!, height: Int(f[4])!), f[5])
    }
}

@Suite(.serialized) struct ReaderTests {
    @Test func finderFindsARowOnEveryStillPlate() throws {
        let finder = PlateFinder()
        for still in try testFrameStills() {
            let rows = finder.findRows(in: still.frame.image)
            #expect(rows.contains { still.box.intersection($0.box).area * 2 >= $0.box.area }, "no row on the plate of \(still.frame.name)")
        }
    }

    @Test func readsTheStillsOfTestFrames() throws {
        let stills = try testFrameStills()
        var correct = 0
        for still in stills {
            var settings = PlateReader.Settings()
            settings.format = still.frame.name.hasPrefix("eu") ? .eu : .us
            let reader = try PlateReader(settings: settings)
            let reads = reader.read(still.frame.image)
            let atPlate = reads.filter { still.box.intersection($0.box).area > 0 }
            if atPlate.contains(where: { $0.text == still.plate }) { correct += 1 }
            for read in reads {
                #expect(read.candidates.first?.text == read.text)
                #expect(read.candidates.count <= settings.topN)
                #expect((0...100).contains(read.confidence))
            }
        }
        // Synthetic plates in bold condensed fonts: all but the hardest must read exactly.
        #expect(correct >= stills.count - 1, "read \(correct) of \(stills.count)")
    }

    @Test func blankAndNoiseFramesGiveNoReads() throws {
        let reader = try PlateReader()
        #expect(reader.read(LumaImage(width: 640, height: 360, fill: 128)).isEmpty)
        var rng = SystemRandomNumberGenerator()
        let noise = LumaImage(width: 320, height: 240, pixels: (0..<(320 * 240)).map { _ in UInt8.random(in: 0...255, using: &rng) })
        #expect(reader.read(noise).isEmpty)
        #expect(reader.read(LumaImage(width: 0, height: 0)).isEmpty)
        #expect(reader.read(LumaImage(width: 3, height: 2, fill: 0)).isEmpty)
    }

    @Test func missingTraineddataIsANamedError() {
        do {
            _ = try TesseractEngine(language: "nosuchlanguage")
            Issue.record("initialised a missing language")
        } catch {
            #expect(error.call == "fopen")
            #expect(error.message.contains("nosuchlanguage"))
        }
    }

    /// `image` with `patch` copied in at (`x`, `y`).
    private func pasting(_ patch: LumaImage, into image: LumaImage, x: Int, y: Int) -> LumaImage {
        var out = image
        for py in 0..<patch.height where y + py < image.height {
            for px in 0..<patch.width where x + px < image.width {
                out.pixels[(y + py) * image.width + x + px] = patch[px, py]
            }
        }
        return out
    }

    @Test func aRowThatRunsOnIntoALineOfTextIsNoPlate() throws {
        let still = try #require(try testFrameStills().first { $0.frame.name == "day-clear.jpg" })
        let finder = PlateFinder()
        let row = try #require(finder.findRows(in: still.frame.image).first { still.box.intersection($0.box).area > 0 })
        let h = Int(row.charHeight)
        // The plate's characters with a little of the plate around them, on a canvas of the
        // plate's own paper.
        let patch = still.frame.image.cropped(to: row.box.expanded(dx: h / 3, dy: h / 3))
        let paper = patch.pixels.sorted()[patch.pixels.count * 3 / 4]
        let canvas = LumaImage(width: patch.width * 5 + 8 * h, height: patch.height * 4, fill: paper)
        let y = patch.height * 3 / 2
        func rowsOnLine(_ image: LumaImage) -> [TextRowCandidate] {
            finder.findRows(in: image).filter { abs($0.centerY - Double(y + patch.height / 2)) < Double(h) }
        }
        // Alone, the plate is a row.
        let alone = pasting(patch, into: canvas, x: h, y: y)
        #expect(!rowsOnLine(alone).isEmpty)
        // Followed a character's width later by the same characters again, it is one line of
        // more shapes than any plate has: a caption or an overlay, not a plate.
        let line = pasting(patch, into: alone, x: h + patch.width + h / 2, y: y)
        #expect(rowsOnLine(line).isEmpty, "rows: \(rowsOnLine(line).map(\.box))")
        // Far enough apart, they are two plates.
        let apart = pasting(patch, into: alone, x: h + patch.width + 5 * h, y: y)
        #expect(rowsOnLine(apart).count >= 2)
    }

    @Test func aPlateCutByTheFrameIsNotReadUnlessItFillsTheFrame() throws {
        let still = try #require(try testFrameStills().first { $0.frame.name == "day-clear.jpg" })
        let image = still.frame.image
        let row = try #require(PlateFinder().findRows(in: image).first { still.box.intersection($0.box).area > 0 })
        // The frame moved up until a fifth of a character height of plate is left above the
        // characters: the plate's top runs off the frame, its characters are whole.
        let top = max(0, row.box.y - Int(row.charHeight / 5))
        let cut = LumaImage(width: image.width, height: image.height,
                            pixels: Array(image.pixels[(top * image.width)...]) + [UInt8](repeating: 0, count: top * image.width))
        #expect(!(try PlateReader().read(cut)).map(\.text).contains(still.plate))
        var settings = PlateReader.Settings()
        settings.skipsPlatesCutByFrame = false
        #expect(try PlateReader(settings: settings).read(cut).map(\.text).contains(still.plate))
        // A crop of the plate alone is the plate: read.
        let crop = image.cropped(to: still.box)
        #expect(try PlateReader().read(crop).map(\.text).contains(still.plate))
    }

    @Test func regionOfInterestLimitsTheSearch() throws {
        let still = try #require(try testFrameStills().first { $0.frame.name == "day-clear.jpg" })
        let reader = try PlateReader()
        let away = PixelBox(x: 0, y: 0, width: 100, height: 100)
        #expect(reader.read(still.frame.image, regionOfInterest: away).isEmpty)
        #expect(reader.read(still.frame.image, regionOfInterest: still.box.expanded(dx: 40, dy: 40)).map(\.text).contains(still.plate))
    }
}
