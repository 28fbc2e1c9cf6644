import ArgumentParser
import Capture
import Evaluation
import Imaging
import PlateKeeperCore
import Recognition
import Foundation

/// `platekeeper line-samples DIR OUT`: labelled line images for training a plate OCR model for
/// Tesseract, cut from labelled photos or plate crops exactly as the reader cuts the lines it
/// hands to Tesseract.
///
/// Per labelled plate, the first candidate row on the plate whose plate run holds as many
/// characters as the label (no character was lost in the cut): each of its cleaned renderings
/// and its raw one is written as `NAME-PLATE-ROW-K.pgm`, with the label in
/// `NAME-PLATE-ROW-K.gt.txt` (tesstrain's layout). Where no row has them all, a row that lost
/// one gives its raw rendering alone (`-r`): the character is still in that image, and reading
/// it there is what the raw rendering is for.
struct LineSamplesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "line-samples",
        abstract: "Write labelled line images for training a plate OCR model.",
        shouldDisplay: false
    )

    @Argument(help: "Folder of labelled photos or plate crops (as for bench accuracy).")
    var dir: String

    @Argument(help: "Output folder (created; must not exist).")
    var out: String

    @Option(help: "Only the images named in this file (one name per line).")
    var list: String?

    @OptionGroup var recognition: RecognitionOptions

    func run() throws {
        let frames = try LabelledFrames(dir: dir, list: list)
        // A folder of our own: nothing already there is written over.
        guard mkdir(out, 0o755) == 0 else {
            Terminal.error("\(out): cannot create the output folder: \(String(cString: strerror(errno)))")
            throw ExitCode(1)
        }
        // Lines are cut from the row finder's rows before any Tesseract model reads them: neither
        // the plate model (which these lines may be about to train) nor the detector is needed.
        let reader = try recognition.makeReader {
            $0.plateOCRWeight = 0
            $0.locator = .finder
        }
        var written = 0, platesUsed = 0, plates = 0
        try frames.forEach { image, frame in
            let lines = reader.ocrLines(in: frame)
            let name = ((image.imagePath as NSString).lastPathComponent as NSString).deletingPathExtension
            for (p, plate) in image.plates.enumerated() {
                plates += 1
                let text = GroundTruth.normalise(plate.text)
                // The cleaned renderings only from a row with every character; the raw one also
                // from a row whose cleaning lost one (the character is still in the raw image).
                let onPlate = lines.enumerated().filter { LabelledFrames.row($0.element.box, isOn: plate.box) }
                let whole = onPlate.first { $0.element.characters == text.count }
                let raw = whole ?? onPlate.first { $0.element.characters == text.count - 1 }
                guard let (row, line) = raw else { continue }
                platesUsed += 1
                let images = (whole != nil ? line.renderings : []) + [line.raw]
                for (k, rendering) in images.enumerated() {
                    let base = "\(out)/\(name)-\(p)-\(row)-\(whole != nil ? "\(k)" : "r")"
                    try Data(PGMEncoder.encode(rendering)).write(to: URL(fileURLWithPath: base + ".pgm"), options: .withoutOverwriting)
                    try Data((text + "\n").utf8).write(to: URL(fileURLWithPath: base + ".gt.txt"), options: .withoutOverwriting)
                    written += 1
                }
            }
        }
        print("\(written) line images from \(platesUsed) of \(plates) plates")
    }
}
