public import PlateKeeperCore
import Imaging
import Foundation

/// Reads the plates in a frame: finds candidate character rows, cleans each into a line of
/// characters, reads it with Tesseract and the glyph classifier, and ranks the readings with the
/// region's format rules.
///
/// Owns a `TesseractEngine` (and its stage clocks), so it is not thread-safe: each recognition
/// worker has its own reader for its whole life.
public final class PlateReader {
    public struct Settings: Sendable {
        public var format: PlateFormat = .us
        /// Alternatives kept per read.
        public var topN = 10
        /// Reads whose best candidate's confidence is below this are dropped.
        public var minConfidence = 50.0
        /// A reading that fits one of the region's layouts is accepted this much below
        /// `minConfidence`, one that fits none needs this much more: signs, stickers and partial
        /// reads rarely fit a layout.
        public var layoutConfidenceMargin = 10.0
        /// Character height in the image handed to Tesseract, pixels.
        public var ocrCharHeight = 40
        /// Plates smaller than this (character height, frame pixels) are ignored.
        public var minCharHeight = 8.0
        public var finder = PlateFinder.Settings()
        /// The glyph classifier's model file; nil: the shipped model (`GlyphClassifier.searchPaths`).
        public var glyphModelPath: String?
        /// Weight of the glyph classifier's reading in the vote, against 1 for each Tesseract
        /// rendering; 0 turns the classifier off.
        public var glyphVoteWeight = 8.0
        /// A row is read by Tesseract only if the glyph classifier finds in it at least as many
        /// characters as the shortest plate less one and is, on average over them, at least this
        /// sure of them (0–100). Rows of texture, grilles and other text stop here (us-dev
        /// without the gate: 109 ms per photo and 0.10 phantom reads; with it 65 ms and 0.06).
        public var glyphGate = 70.0
        /// When every Tesseract rendering reads the same text with at least this confidence, the
        /// glyph classifier is not consulted.
        public var unanimousConfidence = 90.0
        /// Before Tesseract reads a row, shapes at its ends that are not part of the plate
        /// (frame bolts, emblems, stickers, a neighbouring plate) are blanked: the plate is taken
        /// as the run of consecutive shapes whose glyph-classifier confidences less this value
        /// add up to the most (`plateRun`). 0 blanks only shapes the classifier calls no
        /// character (us-dev top-1 46.3 %, eu 63.0 %); 30: 49.1 % and 63.0 %; without: 46.3 %
        /// and 62.0 %. Chosen on the even half of us-dev, checked on the odd half and eu.
        public var plateRunConfidence = 30.0
        /// Rows whose plate (the characters and the region's margins) runs off the frame are
        /// not read, unless the plate is about as large as the frame (a crop or a close-up):
        /// such a plate is partly out of view, and a passing vehicle is read whole in other
        /// frames; text that hugs the frame's edge is more often the camera's own date and time
        /// overlay than a plate (us-dev: phantom reads 0.15 → 0.06 per photo, no read lost).
        public var skipsPlatesCutByFrame = true
        /// When set, each candidate row's OCR image is written here as PGM, with what was read
        /// (for tuning; never set in production).
        public var debugDirectory: String?
        public init() {}
    }

    /// Time spent in each stage of recognition, summed over calls since the last reset.
    public struct StageTimes: Sendable, Equatable {
        /// Finding candidate character rows.
        public var search: Duration = .zero
        /// Straightening, cleaning and cutting each row into line images and characters.
        public var lines: Duration = .zero
        /// Tesseract (the line renderings).
        public var ocr: Duration = .zero
        /// The glyph classifier.
        public var classifier: Duration = .zero
        /// Candidates, format rules and the vote.
        public var rules: Duration = .zero
        public init() {}
    }

    public let settings: Settings
    /// Summed stage times; `resetStageTimes()` starts a new sum.
    public private(set) var stageTimes = StageTimes()
    private let clock = ContinuousClock()
    private let engine: TesseractEngine
    private let finder: PlateFinder
    private let classifier: GlyphClassifier?
    private var debugCounter = 0

    public func resetStageTimes() { stageTimes = StageTimes() }

    private func timed<T>(_ stage: WritableKeyPath<StageTimes, Duration>, _ body: () -> T) -> T {
        let start = clock.now
        defer { stageTimes[keyPath: stage] += clock.now - start }
        return body()
    }

    public init(settings: Settings = Settings(), tessdataPath: String? = nil) throws(RecognitionError) {
        self.settings = settings
        self.engine = try TesseractEngine(dataPath: tessdataPath)
        self.finder = PlateFinder(settings: settings.finder)
        if settings.glyphVoteWeight > 0 {
            if let path = settings.glyphModelPath {
                classifier = try GlyphClassifier(path: path)
            } else {
                classifier = try GlyphClassifier.loadDefault()
            }
        } else {
            classifier = nil
        }
    }

    /// The plates in `image`, best first; none when nothing plate-like reads well enough.
    public func read(_ image: LumaImage, regionOfInterest: PixelBox? = nil) -> [PlateRead] {
        let rows = timed(\.search) {
            candidateRows(in: image, regionOfInterest: regionOfInterest)
        }
        var reads: [PlateRead] = []
        for row in rows where !isCutByFrame(row, in: image) {
            guard let read = readRow(row, in: image) else { continue }
            if let i = reads.firstIndex(where: { $0.box.iou(read.box) > 0.2 || $0.text == read.text }) {
                if reads[i].confidence < read.confidence { reads[i] = read }
            } else {
                reads.append(read)
            }
        }
        return reads.sorted { $0.confidence > $1.confidence }
    }

    /// The plate around a row of characters, by the region's plate margins; not clipped.
    private func plateBox(around row: TextRowCandidate) -> PixelBox {
        let h = row.charHeight
        return row.box.expanded(dx: Int(settings.format.sideMargin * h), dy: Int(settings.format.verticalMargin * h))
    }

    /// Whether the plate around `row` runs off a frame much larger than it (`skipsPlatesCutByFrame`).
    private func isCutByFrame(_ row: TextRowCandidate, in image: LumaImage) -> Bool {
        guard settings.skipsPlatesCutByFrame else { return false }
        let plate = plateBox(around: row)
        // A plate about as large as the frame is a crop or a close-up: there the frame is the plate.
        guard plate.width * 2 < image.width, plate.height * 3 < image.height else { return false }
        return plate.clipped(toWidth: image.width, height: image.height) != plate
    }

    /// The finder's rows with characters tall enough to read.
    private func candidateRows(in image: LumaImage, regionOfInterest: PixelBox? = nil) -> [TextRowCandidate] {
        finder.findRows(in: image, regionOfInterest: regionOfInterest).filter { $0.charHeight >= settings.minCharHeight }
    }

    /// The candidate character rows of `image` as the reader sees them, each character as the
    /// glyph classifier's feature vector: the raw material for training that classifier.
    public func glyphRows(in image: LumaImage, glyphWidth: Int, glyphHeight: Int) -> [(box: PixelBox, glyphs: [[Float]])] {
        candidateRows(in: image).compactMap { row -> (box: PixelBox, glyphs: [[Float]])? in
            guard let line = PlateLineImage(from: image, row: row, charHeight: settings.ocrCharHeight) else { return nil }
            let glyphs = line.glyphs.compactMap {
                GlyphClassifier.features(gray: line.gray, binary: line.binary, columns: $0, width: glyphWidth, height: glyphHeight)
            }
            guard glyphs.count == line.glyphs.count else { return nil }
            return (row.box, glyphs)
        }
    }

    /// Reads one candidate row; nil if it does not read as a plate.
    ///
    /// The row is read by Tesseract in several renderings (gray and binary, stretched by
    /// different amounts) and by the glyph classifier, shape by shape; each gives ranked
    /// candidates, and a candidate's score is its mean confidence summed, weighted, over the
    /// readings that proposed it. The classifier decides first whether the row is worth reading
    /// at all (`glyphGate`), the first rendering whether it is worth the others.
    func readRow(_ row: TextRowCandidate, in image: LumaImage) -> PlateRead? {
        guard var line = timed(\.lines, { PlateLineImage(from: image, row: row, charHeight: settings.ocrCharHeight) }) else { return nil }
        // The classifier reads the shapes first: it is cheap, and a row whose shapes it does not
        // take for characters (texture, grilles, text of other sizes) is not worth Tesseract.
        let glyphSymbols = classifier.map { c in timed(\.classifier) { classify(line.glyphs, in: line, with: c) } }
        if let glyphSymbols {
            let mean = glyphSymbols.map(\.confidence).reduce(0, +) / Double(max(1, glyphSymbols.count))
            guard glyphSymbols.count >= settings.format.minLength - 1, mean >= settings.glyphGate else { return nil }
            if let run = Self.plateRun(glyphSymbols.map(\.confidence), minCount: settings.format.minLength - 1,
                                       worth: settings.plateRunConfidence) {
                timed(\.lines) { line.blank(outside: glyphSymbols[run.lowerBound].left..<glyphSymbols[run.upperBound].right) }
            }
        }
        let builder = CandidateBuilder(format: settings.format, topN: settings.topN)
        var votes: [String: (score: Double, matches: Bool)] = [:]
        var voters = 0.0
        /// Adds one reading's ranked candidates to the vote; later ranks count for less, since a
        /// reading's own ranking carries information.
        func vote(_ ranked: [(text: String, confidence: Double, matches: Bool, score: Double)], weight: Double = 1) {
            timed(\.rules) {
                voters += weight
                for (rank, c) in ranked.enumerated() {
                    votes[c.text] = ((votes[c.text]?.score ?? 0) + weight * c.score * (rank == 0 ? 1.0 : 0.85), c.matches)
                }
            }
        }
        // Gray ×1.3, gray, binary ×1.15, each made only when the row is still worth it.
        let renderings: [(image: LumaImage, stretch: Double)] = [(line.gray, 1.3), (line.gray, 1.0), (line.binary, 1.15)]
        var firstChoices: Set<String> = []
        for (i, source) in renderings.enumerated() {
            let rendering = timed(\.lines) { PlateLineImage.stretched(source.image, by: source.stretch) }
            guard let symbols = timed(\.ocr, { (try? LeptonicaPix(rendering)).map { engine.readLine($0) } }) else { continue }
            let ranked = timed(\.rules) { builder.candidates(from: symbols) }
            firstChoices.insert(ranked.first?.text ?? "")
            debugDump(rendering, row: row, text: ranked.first?.text, confidence: ranked.first?.confidence)
            if i == 0 {
                guard let first = ranked.first, first.text.count >= settings.format.minLength - 1,
                      first.confidence >= settings.minConfidence - 25 else { return nil }
            }
            vote(ranked)
        }
        // The glyph classifier's reading of the shapes found on the line.
        // When the line renderings agree, and confidently, the classifier does not overrule them
        // (it reads the shapes as cut, and a wrong cut can hide a character the renderings see).
        let unanimous = firstChoices.count == 1
            && (votes.values.map(\.score).max() ?? 0) / max(voters, 1) >= settings.unanimousConfidence
        if let symbols = glyphSymbols, !unanimous, (settings.format.minLength...settings.format.maxLength).contains(symbols.count) {
            vote(timed(\.rules) { builder.candidates(from: symbols) }, weight: settings.glyphVoteWeight)
        }
        let ranked = timed(\.rules) { votes.sorted { $0.value.score != $1.value.score ? $0.value.score > $1.value.score : $0.key < $1.key }.prefix(settings.topN) }
        guard let best = ranked.first else { return nil }
        // The reported confidence: the vote's share of a unanimous, fully confident vote.
        let confidence = min(100, best.value.score / max(voters, 1))
        // A reading that fits one of the region's layouts is accepted with less confidence than
        // one that does not (signs, stickers and partial reads rarely fit a layout).
        let fits = best.value.matches
        let needed = settings.minConfidence + (fits ? -settings.layoutConfidenceMargin : settings.layoutConfidenceMargin)
        guard best.key.count >= settings.format.minLength, best.key.count <= settings.format.maxLength,
              confidence >= needed
        else { return nil }
        let plateBox = plateBox(around: row).clipped(toWidth: image.width, height: image.height)
        return PlateRead(
            text: best.key, confidence: (confidence * 10).rounded() / 10,
            candidates: ranked.map {
                PlateCandidate(text: $0.key, confidence: (min(100, $0.value.score / max(voters, 1)) * 10).rounded() / 10,
                               matchesFormat: $0.value.matches)
            },
            box: plateBox, region: settings.format.name)
    }

    /// The run of consecutive shapes, at least `minCount` long, whose `confidences` less `worth`
    /// add up to the most: the plate's characters, without what the row caught beyond its ends.
    /// Nil when there are fewer than `minCount` shapes.
    static func plateRun(_ confidences: [Double], minCount: Int, worth: Double) -> ClosedRange<Int>? {
        let need = max(1, minCount)
        guard confidences.count >= need else { return nil }
        var best: (sum: Double, run: ClosedRange<Int>)?
        for lo in confidences.indices {
            var sum = 0.0
            for hi in lo..<confidences.count {
                sum += confidences[hi] - worth
                if hi - lo + 1 >= need, best == nil || sum > best!.sum { best = (sum, lo...hi) }
            }
        }
        return best?.run
    }

    /// The classifier's reading of the characters in `columns` of `line`; shapes it takes for no
    /// character (border, bolt, sticker edge) are left out.
    private func classify(_ columns: [Range<Int>], in line: PlateLineImage, with classifier: GlyphClassifier) -> [OCRSymbol] {
        columns.compactMap { range in
            guard let f = GlyphClassifier.features(gray: line.gray, binary: line.binary, columns: range,
                                                   width: classifier.glyphWidth, height: classifier.glyphHeight) else { return nil }
            let probs = classifier.classify(f)
            if probs[0].character == GlyphClassifier.noCharacter, probs[0].probability > 0.5 { return nil }
            let choices = probs.filter { $0.character != GlyphClassifier.noCharacter }.prefix(4)
            return OCRSymbol(choices: choices.map { (String($0.character), $0.probability * 100) },
                             left: range.lowerBound, right: range.upperBound)
        }
    }

    private func debugDump(_ image: LumaImage, row: TextRowCandidate, text: String?, confidence: Double?) {
        guard let dir = settings.debugDirectory else { return }
        debugCounter += 1
        let name = "\(dir)/row\(debugCounter)-\(row.box.x)_\(row.box.y)_\(row.box.width)x\(row.box.height)-\(text ?? "none")-\(Int(confidence ?? 0)).pgm"
        let header = Array("P5\n\(image.width) \(image.height)\n255\n".utf8)
        _ = FileManager.default.createFile(atPath: name, contents: Data(header + image.pixels))
    }
}
