import PlateKeeperCore
import PlateKeeperTesting
@testable import Recognition
import Testing

/// Cutting rows into characters, and which rows are worth reading.
@Suite(.serialized) struct SegmentationTests {
    /// A mask `width` × `height` with the given boxes set.
    private func mask(width: Int, height: Int, boxes: [(x: Range<Int>, y: Range<Int>)]) -> [Bool] {
        var m = [Bool](repeating: false, count: width * height)
        for b in boxes {
            for y in b.y { for x in b.x { m[y * width + x] = true } }
        }
        return m
    }

    @Test func aCharacterTouchingAFrameBarComesAwayFromIt() throws {
        // A frame bar (columns 2–4, the whole height) touching a "D"-like ring (columns 5–16,
        // rows 6–33) at its left side; the band is rows 4–35.
        let w = 24, h = 40
        let m = mask(width: w, height: h, boxes: [
            (2..<5, 0..<40),
            (5..<17, 6..<9), (5..<17, 31..<34), (5..<8, 6..<34), (14..<17, 6..<34),
        ])
        let joined = ComponentLabeler.label(m, width: w, height: h, keepRuns: true)
        try #require(joined.count == 1)
        let parts = try #require(joined[0].removingBars(top: 4, bottom: 35, margin: 1))
        let big = parts.filter { $0.width >= 8 }
        #expect(big.count == 1)
        let character = try #require(big.first)
        #expect(character.minX >= 5 && character.minX <= 7 && character.maxX == 16)
        #expect(character.minY == 6 && character.maxY == 33)
        // Nothing of the bar's own columns is left in any part.
        #expect(parts.allSatisfy { $0.minX > 4 })
    }

    @Test func aCharacterJoinedAboveAndBelowComesLooseInsideItsRows() throws {
        // An "O"-like ring (columns 6–17, rows 8–31) joined by a stalk (columns 10–12) to a
        // blob above (rows 0–4) and another below (rows 35–39): one shape until only rows
        // 8–31 are kept, then the ring alone, whole; with rows 6–33 the stalks' stubs stay on it.
        let w = 24, h = 40
        let m = mask(width: w, height: h, boxes: [
            (6..<18, 8..<11), (6..<18, 29..<32), (6..<9, 8..<32), (15..<18, 8..<32),
            (2..<22, 0..<5), (10..<13, 5..<8), (2..<22, 35..<40), (10..<13, 32..<35),
        ])
        let joined = ComponentLabeler.label(m, width: w, height: h, keepRuns: true)
        try #require(joined.count == 1)
        let ringArea = 2 * 12 * 3 + 2 * 3 * 18
        let loose = joined[0].keepingRows(8...31)
        try #require(loose.count == 1)
        #expect(loose[0].minX == 6 && loose[0].maxX == 17 && loose[0].minY == 8 && loose[0].maxY == 31)
        #expect(loose[0].area == ringArea)
        let stubs = joined[0].keepingRows(6...33)
        try #require(stubs.count == 1)
        #expect(stubs[0].minY == 6 && stubs[0].maxY == 33 && stubs[0].area == ringArea + 2 * 3 * 2)
        #expect(joined[0].keepingRows(50...60).isEmpty)
    }

    @Test func aCharacterWithoutABarIsLeftWhole() throws {
        // A "1" as tall as the band is no bar: it does not reach both band edges.
        let w = 20, h = 40
        let m = mask(width: w, height: h, boxes: [(8..<12, 6..<34), (5..<8, 6..<9)])
        let one = try #require(ComponentLabeler.label(m, width: w, height: h, keepRuns: true).first)
        #expect(one.removingBars(top: 4, bottom: 35, margin: 1) == nil)
    }

    @Test func aWashedOutPlateIsFoundByTheWeakerThreshold() throws {
        // A TestFrames still with its contrast squeezed to a tenth around a light grey: the
        // characters differ from the plate by a dozen grey levels, too little for the first
        // threshold, enough for the second.
        let still = try #require(try testFrameStills().first { $0.frame.name == "day-clear.jpg" })
        var faint = still.frame.image
        faint.pixels = faint.pixels.map { UInt8(180 + (Int($0) - 128) / 10) }
        var firstOnly = PlateFinder.Settings()
        firstOnly.thresholds = Array(firstOnly.thresholds.prefix(1))
        let onPlate = { (row: TextRowCandidate) in still.box.intersection(row.box).area * 2 >= row.box.area }
        #expect(PlateFinder().findRows(in: still.frame.image).contains(where: onPlate))
        #expect(!PlateFinder(settings: firstOnly).findRows(in: faint).contains(where: onPlate))
        #expect(PlateFinder().findRows(in: faint).contains(where: onPlate))
    }

    @Test func rowsTheClassifierDoesNotTakeForCharactersAreNotReadByTesseract() throws {
        let still = try #require(try testFrameStills().first { $0.frame.name == "day-clear.jpg" })
        var settings = PlateReader.Settings()
        settings.glyphGate = 101 // no row can pass
        let gated = try PlateReader(settings: settings)
        #expect(gated.read(still.frame.image).isEmpty)
        #expect(gated.stageTimes.ocr == .zero)
        #expect(gated.stageTimes.classifier > .zero)
        settings.glyphGate = 0
        let open = try PlateReader(settings: settings)
        #expect(open.read(still.frame.image).map(\.text).contains(still.plate))
        #expect(open.stageTimes.ocr > .zero)
    }

    @Test func thePlateRunLeavesOutUnsureShapesAtTheEnds() {
        // A bolt (20) and a frame corner (15) around six sure characters.
        #expect(PlateReader.plateRun([20, 90, 85, 88, 92, 80, 95, 15], minCount: 3, worth: 30) == 1...6)
        // An unsure shape between sure ones is part of the plate.
        #expect(PlateReader.plateRun([95, 25, 92, 90], minCount: 3, worth: 30) == 0...3)
        // At least `minCount` shapes, even when a shorter run is surer.
        #expect(PlateReader.plateRun([10, 99, 10, 10, 10], minCount: 3, worth: 30)?.count == 3)
        #expect(PlateReader.plateRun([95, 90], minCount: 3, worth: 30) == nil)
    }

    @Test func blankingALineKeepsOnlyTheChosenColumns() throws {
        let still = try #require(try testFrameStills().first { $0.frame.name == "day-clear.jpg" })
        let row = try #require(PlateFinder().findRows(in: still.frame.image).first { still.box.intersection($0.box).area > 0 })
        var line = try #require(PlateLineImage(from: still.frame.image, row: row, charHeight: 40))
        try #require(line.glyphs.count >= 4)
        let inner = line.glyphs[1].lowerBound..<line.glyphs[line.glyphs.count - 2].upperBound
        func inkColumns(_ image: LumaImage) -> Set<Int> {
            Set((0..<image.height).flatMap { y in (0..<image.width).filter { image[$0, y] < 128 } })
        }
        #expect(inkColumns(line.binary).contains { !inner.contains($0) })
        line.blank(outside: inner)
        for image in [line.gray, line.binary] {
            let ink = inkColumns(image)
            #expect(!ink.isEmpty)
            #expect(ink.allSatisfy { $0 >= inner.lowerBound - 3 && $0 < inner.upperBound + 3 })
        }
    }
}
