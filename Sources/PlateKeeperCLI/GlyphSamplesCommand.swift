import ArgumentParser
import Capture
import Evaluation
import PlateKeeperCore
import Recognition
import Foundation

/// `platekeeper glyph-samples DIR OUT`: labelled character images for training the glyph
/// classifier, cut from labelled photos or plate crops exactly as the reader cuts them.
///
/// Per labelled plate, the best candidate row with as many characters as the label, or else one
/// or two more (a border or bolt cut as a character: the trainer aligns them to the label); for
/// photos the row must lie on the labelled plate. Output: one line per character, tab-separated:
/// the plate's label, the image's name and row, the character's index in the row, and the
/// feature vector as hex bytes (value × 255; the aspect ratio × 127).
struct GlyphSamplesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "glyph-samples",
        abstract: "Write labelled character samples for training the glyph classifier.",
        shouldDisplay: false
    )

    @Argument(help: "Folder of labelled photos or plate crops (as for bench accuracy).")
    var dir: String

    @Argument(help: "Output file (TSV).")
    var out: String

    @Option(help: "Only the images named in this file (one name per line).")
    var list: String?

    @Option(name: .customLong("glyph-width")) var glyphWidth = 16
    @Option(name: .customLong("glyph-height")) var glyphHeight = 24

    func validate() throws {
        try require(glyphWidth, in: 4...128, "--glyph-width")
        try require(glyphHeight, in: 4...128, "--glyph-height")
    }

    func run() throws {
        let frames = try LabelledFrames(dir: dir, list: list)
        var settings = PlateReader.Settings()
        settings.minConfidence = 0
        // Cutting characters needs no classifier (this is how its first model is made).
        settings.glyphVoteWeight = 0
        let reader = try PlateReader(settings: settings)
        var lines: [String] = []
        var platesUsed = 0, plates = 0
        try frames.forEach { image, frame in
            let rows = reader.glyphRows(in: frame, glyphWidth: glyphWidth, glyphHeight: glyphHeight)
            let name = (image.imagePath as NSString).lastPathComponent
            for plate in image.plates {
                plates += 1
                let text = Array(GroundTruth.normalise(plate.text))
                // The best row on the plate with as many characters as the label, or one or two
                // more (the trainer works out which are not characters).
                let onPlate = rows.enumerated().filter { LabelledFrames.row($0.element.box, isOn: plate.box) }
                let match = onPlate.first { $0.element.glyphs.count == text.count }
                    ?? onPlate.first { (text.count + 1...text.count + 2).contains($0.element.glyphs.count) }
                guard let (index, row) = match else { continue }
                platesUsed += 1
                for (k, features) in row.glyphs.enumerated() {
                    let hex = features.enumerated().map { k, v in
                        let scaled = k == features.count - 1 ? v * 127 : v * 255
                        return String(format: "%02x", Int(max(0, min(255, scaled.rounded()))))
                    }.joined()
                    lines.append("\(String(text))\t\(name)#\(index)\t\(k)\t\(hex)")
                }
            }
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: out, atomically: true, encoding: .utf8)
        print("\(lines.count) shapes from \(platesUsed) of \(plates) plates")
    }
}
