import Foundation
import Imaging
import PlateKeeperCore
import PlateKeeperTesting
@testable import Recognition
import Testing

/// The plate OCR model (`Models/plates.traineddata`, trained by `Models/train-ocr`), which
/// reads each row's raw rendering beside Tesseract's stock model.
@Suite(.serialized) struct PlateOCRTests {
    static var shippedModel: String { TestPaths.repository + "/Models/plates.traineddata" }

    @Test func theShippedModelReadsTheRawLinesOfTestFramesStills() throws {
        // The line the reader hands the plate model: each still's plate row, uncleaned. Scenes
        // it never saw (its synthetic plates come from the same renderer, but other plates,
        // fonts and distortions).
        let engine = try TesseractEngine(modelFile: Self.shippedModel)
        let stills = try testFrameStills().filter { !$0.frame.name.hasPrefix("eu") }
        var correct = 0
        for still in stills {
            let lines = try PlateReader().ocrLines(in: still.frame.image).filter { still.box.intersection($0.box).area > 0 }
            let texts = try lines.map { engine.readLine(try LeptonicaPix($0.raw)).map(\.best).joined() }
            if texts.contains(still.plate) { correct += 1 }
        }
        // Alone it is the weaker reader on these clean synthetic plates (6 of the 8 when this
        // was written; it misreads 5/3 and 8/B there): it is one voice in the reader's vote, which
        // reads them all (ReaderTests). A model that does not load or read gives none.
        #expect(correct >= stills.count / 2, "read \(correct) of \(stills.count)")
    }

    @Test func theModelIsLookedForWhereItIsInstalled() {
        #expect(PlateReader.plateOCRSearchPaths.contains("/usr/share/platekeeper/plates.traineddata"))
        #expect(PlateReader.plateOCRSearchPaths.last?.hasSuffix("Models/plates.traineddata") == true)
    }

    @Test func aMissingMisnamedOrDamagedModelFileIsAnErrorNamingIt() throws {
        let dir = try TemporaryDirectory()
        let damaged = try dir.write("plates.traineddata", [UInt8]([1, 0, 0, 0, 9, 9]))
        let misnamed = try dir.write("plates.model", [UInt8](repeating: 0, count: 16))
        for path in [dir.file("absent.traineddata"), damaged, misnamed] {
            var settings = PlateReader.Settings()
            settings.plateOCRModelPath = path
            do {
                _ = try PlateReader(settings: settings)
                Issue.record("a reader was made with the plate model \(path)")
            } catch {
                #expect(error.message.contains((path as NSString).lastPathComponent), "\(error.message)")
                // A file the operator named is not a Debian package to install.
                #expect(!error.message.contains("tesseract-ocr-"), "\(error.message)")
            }
        }
    }
}
