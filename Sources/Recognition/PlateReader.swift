public import PlateKeeperCore
import Imaging
import Foundation

/// Reads the plates in a frame: finds where plates are (the learned detector, then the
/// character-row finder inside each plate it marks), cleans each row into a line of characters,
/// reads it with Tesseract (the stock model on the cleaned line, the plate model on the row as it
/// is) and the glyph classifier, and ranks the readings with the region's format rules.
///
/// Owns its `TesseractEngine`s, a `PlateDetector` (and its stage clocks), so it is not
/// thread-safe: each recognition worker has its own reader for its whole life.
public final class PlateReader {
    /// How plates are located in the frame.
    public enum Locator: String, Sendable, CaseIterable {
        /// The learned detector marks plates; the row finder looks for characters only there.
        /// When it marks none, only a plate about as large as the frame (a close-up) is looked
        /// for by the finder over the whole frame; a frame of at most `smallFrameArea` pixels
        /// (a crop, a thumbnail) is read by the finder alone.
        case detector
        /// The row finder over the whole frame, no detector (the first round's method).
        case finder
        /// Both: the detector's plates, and the finder's rows anywhere else.
        case both
    }

    public struct Settings: Sendable {
        /// How plates are located (`Locator`).
        public var locator: Locator = .detector
        /// The detector's model file; nil: the shipped model (`PlateDetector.searchPaths`).
        public var detectorModelPath: String?
        public var detector = PlateDetector.Settings()
        public var format: PlateFormat = .us
        /// The plate OCR model (a Tesseract traineddata trained on plate lines by
        /// `Models/train-ocr`); nil: the shipped one (`PlateReader.plateOCRSearchPaths`).
        public var plateOCRModelPath: String?
        /// Weight in the vote of the plate model's reading of the raw rendering
        /// (`PlateLineImage.raw`), against 1 for each of the stock model's renderings; 0 turns
        /// the plate model off.
        public var plateOCRWeight = 1.0
        /// Alternatives kept per read.
        public var topN = 10
        /// Reads whose confidence is below this are dropped. With `calibration` (the default) the
        /// confidence is the chance in per cent that the read is right; 25 keeps the first
        /// round's operating point (us-dev, detector folds: the same top-1, 50.0 %, and 0.24
        /// false reads per photo against 0.25 with the vote rule; 30 gave 49.1 % and 0.21).
        public var minConfidence = 25.0
        /// Without calibration: a reading that fits one of the region's layouts is accepted
        /// this much below `minConfidence`, one that fits none needs this much more (signs,
        /// stickers and partial reads rarely fit a layout). Calibration weighs the fit itself.
        public var layoutConfidenceMargin = 10.0
        /// Turns a read's vote, layout fit and glyph confidence into the chance that it is right
        /// (`ConfidenceCalibration`); nil reports the vote itself, as the first round did (and
        /// so does a reader without the glyph classifier, whose evidence the fit needs).
        public var calibration: ConfidenceCalibration? = .shipped
        /// The first rendering's best reading must reach this vote (0–100) for the row to be
        /// rendered and read again.
        public var firstReadingFloor = 25.0
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
        /// The learned detector (scaling the frame, the network, its peaks).
        public var detect: Duration = .zero
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
    /// The plate OCR model, reading the raw rendering (`Settings.plateOCRWeight`); nil when off.
    private let plateEngine: TesseractEngine?
    private let finder: PlateFinder
    private let classifier: GlyphClassifier?
    private let detector: PlateDetector?
    /// Frames on which the detector failed (OpenCV threw) and the finder read the whole frame.
    public private(set) var detectorFailures = 0
    /// The last of those failures, as the error said it.
    public private(set) var lastDetectorFailure: String?
    private var debugCounter = 0

    public func resetStageTimes() { stageTimes = StageTimes() }

    private func timed<T, E: Error>(_ stage: WritableKeyPath<StageTimes, Duration>, _ body: () throws(E) -> T) throws(E) -> T {
        let start = clock.now
        defer { stageTimes[keyPath: stage] += clock.now - start }
        return try body()
    }

    public init(settings: Settings = Settings(), tessdataPath: String? = nil) throws(RecognitionError) {
        self.settings = settings
        self.engine = try TesseractEngine(dataPath: tessdataPath)
        if settings.plateOCRWeight > 0 {
            guard let path = settings.plateOCRModelPath ?? ShareFolder.firstExisting(Self.plateOCRSearchPaths) else {
                throw RecognitionError(call: "TesseractEngine", "no plate OCR model found (looked in \(Self.plateOCRSearchPaths.joined(separator: ", ")))")
            }
            plateEngine = try TesseractEngine(modelFile: path)
        } else {
            plateEngine = nil
        }
        self.finder = PlateFinder(settings: settings.finder)
        if settings.locator == .finder {
            detector = nil
        } else if let path = settings.detectorModelPath ?? PlateDetector.defaultPath {
            detector = try PlateDetector(path: path, settings: settings.detector)
        } else {
            throw RecognitionError(call: "PlateDetector", "no plate detector model found (looked in \(PlateDetector.searchPaths.joined(separator: ", ")))")
        }
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
        readings(image, regionOfInterest: regionOfInterest).map(\.read)
    }

    /// One plate read with what its confidence was computed from.
    public struct Reading: Sendable, Equatable {
        public var read: PlateRead
        public var evidence: ReadEvidence
    }

    /// The plates in `image` with the evidence behind each confidence, best first.
    public func readings(_ image: LumaImage, regionOfInterest: PixelBox? = nil) -> [Reading] {
        var reads: [Reading] = []
        func add(_ reading: Reading) {
            let read = reading.read
            if let i = reads.firstIndex(where: { $0.read.box.iou(read.box) > 0.2 || $0.read.text == read.text }) {
                if reads[i].read.confidence < read.confidence { reads[i] = reading }
            } else {
                reads.append(reading)
            }
        }
        let frame = PixelBox(x: 0, y: 0, width: image.width, height: image.height)
        let area = (regionOfInterest ?? frame).clipped(toWidth: image.width, height: image.height)
        var plates: [PlateDetector.Detection]?
        // A small frame (a plate crop, a thumbnail) is read by the finder alone: it costs little
        // there, the plate fills the frame, and the network learnt plates inside scenes (at most
        // 220 px in a 256 px window); its box for a plate that fills the frame is rough.
        if let detector, image.width * image.height > Self.smallFrameArea {
            do {
                let found = try timed(\.detect) { () throws(RecognitionError) -> [PlateDetector.Detection] in try detector.detect(image) }
                plates = found.filter { area.contains(x: Int($0.box.centerX), y: Int($0.box.centerY)) }
            } catch {
                detectorFailures += 1
                lastDetectorFailure = "\(error)"
            }
        }
        var searched: [PixelBox] = []
        for detection in plates ?? [] {
            let plate = detection.box
            guard !searched.contains(where: { $0.contains(x: Int(plate.centerX), y: Int(plate.centerY)) }) else { continue }
            searched.append(Self.searchRegion(around: plate, in: image))
            if var reading = readPlate(at: plate, in: image) {
                reading.evidence.detectorScore = detection.score
                add(reading)
            }
        }
        let finderEverywhere = plates == nil || settings.locator == .both
        if finderEverywhere || searched.isEmpty {
            let rows = timed(\.search) { candidateRows(in: image, regionOfInterest: regionOfInterest) }
            for row in rows where !isCutByFrame(row, in: image) {
                guard !searched.contains(where: { $0.contains(x: Int(row.centerX), y: Int(row.centerY)) }) else { continue }
                // With the detector's word that there is no plate, only one as large as the frame.
                guard finderEverywhere || isCloseUp(plateBox(around: row), in: image) else { continue }
                guard let read = readRow(row, in: image) else { continue }
                add(read)
            }
        }
        return reads.sorted { $0.read.confidence > $1.read.confidence }
    }

    /// Where the characters of a plate boxed at `plate` are looked for: the box with a margin
    /// (the detector's box is rough), within the frame.
    static func searchRegion(around plate: PixelBox, in image: LumaImage) -> PixelBox {
        plate.expanded(dx: plate.width / 4 + plate.height / 2, dy: plate.height / 2 + 2).clipped(toWidth: image.width, height: image.height)
    }

    /// Reads the one plate boxed at `plate` in `image`, as for each of the detector's plates:
    /// rows of characters in a margin around the box, the row at the box's centre first, then the
    /// most confident (a state name or a dealer's slogan beside the serial is not a second plate);
    /// rows laid along the box when the finder sees none. `bench accuracy` gives it each labelled
    /// plate's own box, to measure reading apart from finding.
    public func readPlate(at plate: PixelBox, in image: LumaImage) -> Reading? {
        let region = Self.searchRegion(around: plate, in: image)
        guard region.width > 0, region.height > 0 else { return nil }
        let crop = image.cropped(to: region)
        let local = plate.offsetBy(dx: -region.x, dy: -region.y)
        var best: Reading?
        func consider(_ reading: Reading) {
            let read = reading.read
            let inside = local.contains(x: Int(read.box.centerX), y: Int(read.box.centerY))
            guard let current = best?.read else { best = reading; return }
            let currentInside = local.contains(x: Int(current.box.centerX), y: Int(current.box.centerY))
            if (inside && !currentInside) || (inside == currentInside && read.confidence > current.confidence) { best = reading }
        }
        // A row of the crop is read unless its plate runs off the whole frame.
        func readInCrop(_ row: TextRowCandidate) {
            guard !isCutByFrame(row.moved(dx: region.x, dy: region.y), in: image), let read = readRow(row, in: crop) else { return }
            consider(read)
        }
        let rows = timed(\.search) { candidateRows(in: crop) }
        rows.forEach(readInCrop)
        if rows.isEmpty {
            // The finder saw no characters where the network saw a plate (low contrast,
            // characters joined to the frame): read rows laid along the plate itself.
            Self.rows(along: local, format: settings.format).forEach(readInCrop)
        }
        guard var reading = best else { return nil }
        reading.read.box = reading.read.box.offsetBy(dx: region.x, dy: region.y)
        return reading
    }

    /// Where the shipped plate OCR model is looked for when none is configured:
    /// `$PLATEKEEPER_PLATE_OCR`, the share folder, then the source tree's `Models/`.
    public static let plateOCRSearchPaths: [String] = {
        let env = ProcessInfo.processInfo.environment["PLATEKEEPER_PLATE_OCR"].map { [$0] } ?? []
        return env + ShareFolder.candidates("plates.traineddata", source: "Models/plates.traineddata")
    }()

    /// Frames of at most this many pixels are read by the finder alone, without the detector
    /// (0.1 MP: a 320×240 frame and plate crops are; a 640×360 frame is not).
    static let smallFrameArea = 100_000

    /// Rows of characters as a plate of `box` would hold them by the region's plate proportions
    /// (characters of the plate's height less its margins above and below, and 85 % of that,
    /// centred), for dark and for light characters: what is read when the finder sees no row
    /// inside a detected plate.
    static func rows(along box: PixelBox, format: PlateFormat) -> [TextRowCandidate] {
        let plateHeight = Double(box.height)
        let share = 1 / (1 + 2 * format.verticalMargin)
        return [share * 0.85, share].flatMap { part -> [TextRowCandidate] in
            let charHeight = plateHeight * part
            let width = max(1, Int(Double(box.width) - 2 * format.sideMargin * charHeight))
            let row = PixelBox(x: Int(box.centerX) - width / 2, y: Int(box.centerY - charHeight / 2), width: width, height: Int(charHeight.rounded()))
            return [false, true].map {
                TextRowCandidate(box: row, charHeight: charHeight, angle: 0, centerX: box.centerX, centerY: box.centerY,
                                 lightText: $0, count: 0, score: 0)
            }
        }
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
        guard !isCloseUp(plate, in: image) else { return false }
        return plate.clipped(toWidth: image.width, height: image.height) != plate
    }

    /// Whether a plate is about as large as the frame (at least half its width or a third of its
    /// height): a crop or a close-up.
    private func isCloseUp(_ plate: PixelBox, in image: LumaImage) -> Bool {
        plate.width * 2 >= image.width || plate.height * 3 >= image.height
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

    /// The row's line image, cut to the plate, with the classifier's reading of the plate's
    /// shapes and their mean confidence; nil when the row is not worth Tesseract.
    ///
    /// The classifier reads the shapes first: it is cheap, and a row whose shapes it does not
    /// take for characters (texture, grilles, text of other sizes) is not worth reading. The
    /// plate's own shapes are the run the classifier is surest of (`plateRun`): what the row
    /// caught beyond the plate's ends is blanked, and the gate judges the plate, not the junk
    /// beside it.
    private func preparedLine(_ row: TextRowCandidate, in image: LumaImage) -> (line: PlateLineImage, symbols: [OCRSymbol]?, glyphMean: Double)? {
        guard var line = timed(\.lines, { PlateLineImage(from: image, row: row, charHeight: settings.ocrCharHeight) }) else { return nil }
        guard let classifier else { return (line, nil, 0) }
        let symbols = timed(\.classifier) { classify(line.glyphs, in: line, with: classifier) }
        let run = Self.plateRun(symbols.map(\.confidence), minCount: settings.format.minLength - 1,
                                worth: settings.plateRunConfidence)
        let plate = run.map { Array(symbols[$0]) } ?? symbols
        let glyphMean = plate.map(\.confidence).reduce(0, +) / Double(max(1, plate.count))
        guard plate.count >= settings.format.minLength - 1, glyphMean >= settings.glyphGate else { return nil }
        if let run {
            timed(\.lines) { line.blank(outside: symbols[run.lowerBound].left..<symbols[run.upperBound].right) }
        }
        return (line, plate, glyphMean)
    }

    /// The line images Tesseract reads (`renderings`), in order.
    private static func renderings(of line: PlateLineImage) -> [(image: LumaImage, stretch: Double)] {
        [(line.gray, 1.3), (line.gray, 1.0), (line.binary, 1.15)]
    }

    /// Every candidate row of `image` that passes the classifier's gate, as Tesseract sees it:
    /// its box, how many characters the classifier counts on the plate, the cleaned renderings
    /// read (stretched) and the raw one. The raw material for training a plate OCR model on the
    /// reader's own cuts.
    public func ocrLines(in image: LumaImage) -> [(box: PixelBox, characters: Int, renderings: [LumaImage], raw: LumaImage)] {
        candidateRows(in: image).compactMap { row in
            guard let (line, symbols, _) = preparedLine(row, in: image) else { return nil }
            return (row.box, symbols?.count ?? line.glyphs.count,
                    Self.renderings(of: line).map { PlateLineImage.stretched($0.image, by: $0.stretch) }, line.raw)
        }
    }

    /// Reads one candidate row; nil if it does not read as a plate.
    ///
    /// The row is read by Tesseract in several renderings (gray and binary, stretched by
    /// different amounts) and by the glyph classifier, shape by shape; each gives ranked
    /// candidates, and a candidate's score is its mean confidence summed, weighted, over the
    /// readings that proposed it. The classifier decides first whether the row is worth reading
    /// at all (`glyphGate`), the first rendering whether it is worth the others.
    func readRow(_ row: TextRowCandidate, in image: LumaImage) -> Reading? {
        guard let (line, glyphSymbols, glyphMean) = preparedLine(row, in: image) else { return nil }
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
        let renderings = Self.renderings(of: line)
        var firstChoices: [String] = []
        for (i, source) in renderings.enumerated() {
            let rendering = timed(\.lines) { PlateLineImage.stretched(source.image, by: source.stretch) }
            guard let symbols = timed(\.ocr, { (try? LeptonicaPix(rendering)).map { engine.readLine($0) } }) else { continue }
            let ranked = timed(\.rules) { builder.candidates(from: symbols) }
            firstChoices.append(ranked.first?.text ?? "")
            debugDump(rendering, row: row, text: ranked.first?.text, confidence: ranked.first?.confidence)
            if i == 0 {
                guard let first = ranked.first, first.text.count >= settings.format.minLength - 1,
                      first.confidence >= settings.firstReadingFloor else { return nil }
            }
            vote(ranked)
        }
        // The plate model reads the row as it is, uncleaned: it learnt plate lines, and reads
        // past frames, emblems and stickers that the cleaning can take a character away with.
        if let plateEngine, let symbols = timed(\.ocr, { (try? LeptonicaPix(line.raw)).map { plateEngine.readLine($0) } }) {
            let ranked = timed(\.rules) { builder.candidates(from: symbols) }
            firstChoices.append(ranked.first?.text ?? "")
            debugDump(line.raw, row: row, text: ranked.first?.text, confidence: ranked.first?.confidence)
            vote(ranked, weight: settings.plateOCRWeight)
        }
        // The glyph classifier's reading of the shapes found on the line.
        // When the line renderings agree, and confidently, the classifier does not overrule them
        // (it reads the shapes as cut, and a wrong cut can hide a character the renderings see).
        let unanimous = Set(firstChoices).count == 1
            && (votes.values.map(\.score).max() ?? 0) / max(voters, 1) >= settings.unanimousConfidence
        var glyphFirst: String?
        if let symbols = glyphSymbols, !unanimous, (settings.format.minLength...settings.format.maxLength).contains(symbols.count) {
            let ranked = timed(\.rules) { builder.candidates(from: symbols) }
            glyphFirst = ranked.first?.text
            vote(ranked, weight: settings.glyphVoteWeight)
        }
        let ranked = timed(\.rules) { votes.sorted { $0.value.score != $1.value.score ? $0.value.score > $1.value.score : $0.key < $1.key }.prefix(settings.topN) }
        guard let best = ranked.first else { return nil }
        // The vote: each candidate's share of a unanimous, fully confident vote.
        let share = { (score: Double) in min(100, score / max(voters, 1)) }
        let vote = share(best.value.score)
        let fits = best.value.matches
        let evidence = ReadEvidence(
            vote: vote,
            runnerUp: ranked.dropFirst().first.map { share($0.value.score) } ?? 0,
            fitsLayout: fits,
            glyphMean: glyphMean,
            glyphAgrees: glyphFirst.map { $0 == best.key } ?? unanimous,
            renderingsAgreeing: firstChoices.filter { $0 == best.key }.count,
            renderings: firstChoices.count,
            detectorScore: 0,
            length: best.key.count)
        // The reported confidence: calibrated, the chance that the read is right; or the vote,
        // accepted with less when the reading fits one of the region's layouts (signs, stickers
        // and partial reads rarely fit one).
        let calibration = glyphSymbols == nil ? nil : settings.calibration
        let confidence = calibration.map { $0.confidence(evidence) } ?? vote
        let needed = calibration != nil ? settings.minConfidence
            : settings.minConfidence + (fits ? -settings.layoutConfidenceMargin : settings.layoutConfidenceMargin)
        guard best.key.count >= settings.format.minLength, best.key.count <= settings.format.maxLength,
              confidence >= needed
        else { return nil }
        func reported(_ candidate: (key: String, value: (score: Double, matches: Bool))) -> Double {
            let value = calibration.map { min(confidence, $0.confidence(vote: share(candidate.value.score), fitsLayout: candidate.value.matches, glyphMean: glyphMean)) }
                ?? share(candidate.value.score)
            return (value * 10).rounded() / 10
        }
        let plateBox = plateBox(around: row).clipped(toWidth: image.width, height: image.height)
        let read = PlateRead(
            text: best.key, confidence: (confidence * 10).rounded() / 10,
            candidates: ranked.map { PlateCandidate(text: $0.key, confidence: reported($0), matchesFormat: $0.value.matches) },
            box: plateBox, region: settings.format.name)
        return Reading(read: read, evidence: evidence)
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
        _ = FileManager.default.createFile(atPath: name, contents: Data(PGMEncoder.encode(image)))
    }
}
