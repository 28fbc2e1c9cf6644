import ArgumentParser
import Recognition
import Foundation

/// Options shared by every command that runs recognition.
struct RecognitionOptions: ParsableArguments {
    @Option(help: "Plate-format rules: us, eu or br.")
    var region: String = "us"

    @Option(name: .customLong("top-n"), help: "Alternative readings kept per plate.")
    var topN: Int = 10

    @Option(name: .customLong("min-confidence"), help: "Drop reads below this confidence (0-100).")
    var minConfidence: Double = PlateReader.Settings().minConfidence

    @Option(name: .customLong("tessdata"), help: "Folder holding the Tesseract traineddata (default: the system's).")
    var tessdata: String?

    @Option(name: .customLong("glyph-model"), help: "Glyph classifier model file (default: the shipped one).")
    var glyphModel: String?

    @Option(name: .customLong("glyph-weight"), help: "Weight of the glyph classifier in the vote (0 turns it off).")
    var glyphWeight: Double = PlateReader.Settings().glyphVoteWeight

    @Option(name: .customLong("glyph-gate"), help: "Rows whose characters the glyph classifier is on average less sure of than this (0-100) are not read by Tesseract; 0 reads every row.")
    var glyphGate: Double = PlateReader.Settings().glyphGate

    @Option(help: "How plates are located: detector (the learned detector, the row finder inside its plates), finder (the row finder over the whole frame) or both.")
    var locator: String = PlateReader.Settings().locator.rawValue

    @Option(name: .customLong("detector-model"), help: "Plate detector model file (default: the shipped one).")
    var detectorModel: String?

    @Option(name: .customLong("plate-ocr-model"), help: "Plate OCR model, a Tesseract NAME.traineddata (default: the shipped one).")
    var plateOCRModel: String?

    @Option(name: .customLong("plate-ocr-weight"), help: "Weight in the vote of the plate OCR model's reading, against 1 for each of the stock model's; 0 turns it off.")
    var plateOCRWeight: Double = PlateReader.Settings().plateOCRWeight

    func validate() throws {
        guard (0...20).contains(plateOCRWeight) else { throw ValidationError("--plate-ocr-weight must be between 0 and 20") }
        guard PlateReader.Locator(rawValue: locator) != nil else {
            throw ValidationError("--locator must be \(PlateReader.Locator.allCases.map(\.rawValue).joined(separator: ", ")), not '\(locator)'")
        }
        guard PlateFormat.named(region) != nil else { throw ValidationError("--region must be \(PlateFormat.namesForMessages), not '\(region)'") }
        guard (1...50).contains(topN) else { throw ValidationError("--top-n must be between 1 and 50") }
        guard (0...20).contains(glyphWeight) else { throw ValidationError("--glyph-weight must be between 0 and 20") }
        guard (0...100).contains(glyphGate) else { throw ValidationError("--glyph-gate must be between 0 and 100") }
        guard (0...100).contains(minConfidence) else { throw ValidationError("--min-confidence must be between 0 and 100") }
    }

    /// The reader these options describe; `adjust` may change its settings last.
    func makeReader(_ adjust: (inout PlateReader.Settings) -> Void = { _ in }) throws -> PlateReader {
        var settings = PlateReader.Settings()
        settings.format = PlateFormat.named(region)!
        settings.topN = topN
        settings.minConfidence = minConfidence
        settings.glyphModelPath = glyphModel
        settings.glyphVoteWeight = glyphWeight
        settings.glyphGate = glyphGate
        settings.locator = PlateReader.Locator(rawValue: locator)!
        settings.detectorModelPath = detectorModel
        settings.plateOCRModelPath = plateOCRModel
        settings.plateOCRWeight = plateOCRWeight
        settings.debugDirectory = ProcessInfo.processInfo.environment["PLATEKEEPER_DEBUG_DIR"]
        adjust(&settings)
        return try PlateReader(settings: settings, tessdataPath: tessdata)
    }
}
