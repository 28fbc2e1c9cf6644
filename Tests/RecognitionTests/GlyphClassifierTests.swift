import Foundation
import PlateKeeperCore
import PlateKeeperTesting
@testable import Recognition
import Testing

@Suite struct GlyphClassifierTests {
    @Test func theShippedModelLoadsWithEveryPlateCharacter() throws {
        let model = try GlyphClassifier.loadDefault()
        #expect(Set(model.alphabet) == Set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ~"))
        #expect(model.glyphWidth * model.glyphHeight > 0)
    }

    @Test func readsTheCharactersOfARenderedPlate() throws {
        // The TestFrames stills: plates the classifier never saw (it learnt from real crops and
        // from other synthetic plates); most characters must come out right.
        let model = try GlyphClassifier.loadDefault()
        let reader = try PlateReader(settings: PlateReader.Settings())
        var right = 0, total = 0
        for still in try testFrameStills() where !still.frame.name.hasPrefix("eu") {
            let rows = reader.glyphRows(in: still.frame.image, glyphWidth: model.glyphWidth, glyphHeight: model.glyphHeight)
            guard let row = rows.first(where: { still.box.intersection($0.box).area * 2 >= $0.box.area && $0.glyphs.count == still.plate.count })
            else { continue }
            for (glyph, expected) in zip(row.glyphs, still.plate) {
                total += 1
                if model.classify(glyph).first?.character == expected { right += 1 }
            }
        }
        #expect(total >= 30, "too few plates segmented: \(total) characters")
        #expect(Double(right) >= 0.8 * Double(total), "\(right) of \(total) characters")
    }

    @Test func featuresOfABarAreCentredAndNarrow() throws {
        // A dark vertical bar 6 px wide, 40 px tall on white: the glyph's aspect is 6/40 and its
        // ink sits in the middle columns.
        var gray = LumaImage(width: 30, height: 80, fill: 255)
        for y in 20..<60 { for x in 12..<18 { gray[x, y] = 0 } }
        let f = try #require(GlyphClassifier.features(gray: gray, binary: gray, columns: 12..<18, width: 16, height: 24))
        #expect(f.count == 16 * 24 + 1)
        #expect(abs(Double(f[16 * 24]) - 6.0 / 40.0) < 0.01)
        for y in 0..<24 {
            #expect(f[y * 16 + 0] == 0 && f[y * 16 + 15] == 0)
            #expect(f[y * 16 + 8] > 0.9)
        }
        #expect(GlyphClassifier.features(gray: gray, binary: gray, columns: 0..<5, width: 16, height: 24) == nil)
    }

    @Test(arguments: [
        ("missing", nil as [UInt8]?, "cannot read"),
        ("foreign", Array("GIF89a and then some more bytes to pass".utf8), "not a glyph model"),
        ("truncated", nil, "does not match"),
        ("nan", nil, "not finite"),
        ("dimensions", nil, "bad dimensions"),
    ])
    func badModelFilesAreNamedErrors(kind: String, bytes: [UInt8]?, message: String) throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("glyphs.model")
        let shipped = try #require(GlyphClassifier.searchPaths.first { FileManager.default.fileExists(atPath: $0) })
        var good = [UInt8](try #require(FileManager.default.contents(atPath: shipped)))
        switch kind {
        case "missing": break
        case "foreign": try Data(bytes!).write(to: URL(fileURLWithPath: path))
        case "truncated": try Data(good.dropLast(10)).write(to: URL(fileURLWithPath: path))
        case "nan":
            let nan = Float.nan.bitPattern
            for k in 0..<4 { good[good.count - 4 + k] = UInt8(truncatingIfNeeded: nan >> (8 * UInt32(k))) }
            try Data(good).write(to: URL(fileURLWithPath: path))
        default:
            good[12] = 0; good[13] = 0 // hidden size 0
            try Data(good).write(to: URL(fileURLWithPath: path))
        }
        do {
            _ = try GlyphClassifier(path: path)
            Issue.record("loaded a \(kind) model")
        } catch {
            #expect(error.call == "GlyphClassifier")
            #expect(error.message.contains(message), "\(error.message)")
            if kind != "missing" { #expect(error.message.contains(path)) }
        }
        // A reader configured with such a file fails to start with the same error.
        var settings = PlateReader.Settings()
        settings.glyphModelPath = path
        #expect(throws: RecognitionError.self) { try PlateReader(settings: settings) }
    }
}
