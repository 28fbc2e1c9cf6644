public import PlateKeeperCore

/// The outcome for one labelled image.
public struct ImageScore: Sendable {
    public var imagePath: String
    public var expected: [String]
    public var read: [String]
    public var top1: Int
    public var topN: Int
    public var detected: Int
    public var labelled: Int
    /// Reads on a labelled plate whose text matches no plate of the image.
    public var misreads: Int
    /// Reads where there is no labelled plate, whose text matches no plate of the image.
    public var phantoms: Int
    /// Misreads and phantoms together.
    public var falseReads: Int { misreads + phantoms }
    public var milliseconds: Double
    public var failed: Bool
    /// Each read's confidence and whether its text is a plate of the image.
    public var outcomes: [ReadOutcome] = []
}

/// One read as calibration sees it: the confidence it was given, and whether it was right.
public struct ReadOutcome: Sendable, Equatable {
    public var confidence: Double
    public var right: Bool
}

/// Reads whose confidence fell in `lower ..< upper` (the last band includes 100), how many were
/// right, and their mean confidence.
public struct CalibrationBand: Sendable, Equatable {
    public var lower: Double
    public var upper: Double
    public var reads: Int
    public var right: Int
    public var meanConfidence: Double
    /// Per cent of the band's reads that were right.
    public var accuracy: Double { reads == 0 ? 0 : 100 * Double(right) / Double(reads) }
}

/// Accuracy figures over a labelled set: what `platekeeper bench accuracy` prints.
///
/// - top-1: the read at a labelled plate's position has exactly the labelled text as its best candidate.
/// - top-N: the labelled text is among that read's candidates.
/// - detection: some read's box overlaps the labelled box (IoU ≥ 0.2, or the read's centre lies
///   inside it); for crops (no boxes) any read counts.
/// - false reads: reads whose text matches no plate of the image, in two kinds: misreads (on a
///   labelled plate: its box matches the plate's; for crops, which are all plate, every read) and
///   phantoms (anywhere else: signs, lettering, texture). "False reads per image" counts both, as
///   OpenALPR's figure does; a read of a plate's text elsewhere is neither.
/// A read "at" a plate is the matched read with the best confidence.
public struct AccuracyReport: Sendable {
    public private(set) var images: [ImageScore] = []

    public init() {}

    public static func matches(_ read: PixelBox, _ truth: PixelBox) -> Bool {
        read.iou(truth) >= 0.2 || (truth.intersection(read).area > 0
            && Double(truth.x) <= read.centerX && read.centerX <= Double(truth.maxX)
            && Double(truth.y) <= read.centerY && read.centerY <= Double(truth.maxY))
    }

    /// Scores one image's reads against its labels.
    @discardableResult
    public mutating func add(_ image: LabelledImage, reads: [PlateRead], milliseconds: Double, failed: Bool = false) -> ImageScore {
        var top1 = 0, topN = 0, detected = 0
        for plate in image.plates {
            let candidates: [Int]
            if let box = plate.box {
                candidates = reads.indices.filter { Self.matches(reads[$0].box, box) }
            } else {
                candidates = reads.indices.map { $0 }
            }
            guard !candidates.isEmpty else { continue }
            detected += 1
            // Prefer a matched read with the right text; otherwise the most confident.
            let pick = candidates.first { reads[$0].text == plate.text }
                ?? candidates.max { reads[$0].confidence < reads[$1].confidence }!
            if reads[pick].text == plate.text { top1 += 1 }
            if candidates.contains(where: { reads[$0].candidates.contains { $0.text == plate.text } }) { topN += 1 }
        }
        let texts = Set(image.plates.map(\.text))
        var misreads = 0, phantoms = 0
        for read in reads where !texts.contains(read.text) {
            let onPlate = image.plates.contains { plate in plate.box.map { Self.matches(read.box, $0) } ?? true }
            if onPlate { misreads += 1 } else { phantoms += 1 }
        }
        let score = ImageScore(imagePath: image.imagePath, expected: image.plates.map(\.text), read: reads.map(\.text),
                               top1: top1, topN: topN, detected: detected, labelled: image.plates.count,
                               misreads: misreads, phantoms: phantoms, milliseconds: milliseconds, failed: failed,
                               outcomes: reads.map { ReadOutcome(confidence: $0.confidence, right: texts.contains($0.text)) })
        images.append(score)
        return score
    }

    public var labelled: Int { images.reduce(0) { $0 + $1.labelled } }
    public var top1Rate: Double { rate(images.reduce(0) { $0 + $1.top1 }) }
    public var topNRate: Double { rate(images.reduce(0) { $0 + $1.topN }) }
    public var detectionRate: Double { rate(images.reduce(0) { $0 + $1.detected }) }
    public var falseReadsPerImage: Double { perImage(\.falseReads) }
    public var misreadsPerImage: Double { perImage(\.misreads) }
    public var phantomsPerImage: Double { perImage(\.phantoms) }

    private func perImage(_ count: KeyPath<ImageScore, Int>) -> Double {
        images.isEmpty ? 0 : Double(images.reduce(0) { $0 + $1[keyPath: count] }) / Double(images.count)
    }
    public var failedImages: Int { images.filter(\.failed).count }

    /// Confidence against accuracy: among reads given confidence c, about c % should be right.
    /// Bands of `width` points from 0 to 100; empty bands are left out.
    public func calibration(width: Double = 10) -> [CalibrationBand] {
        let outcomes = images.flatMap(\.outcomes)
        var bands: [CalibrationBand] = []
        var lower = 0.0
        while lower < 100 {
            let upper = min(lower + width, 100)
            let inBand = outcomes.filter { $0.confidence >= lower && ($0.confidence < upper || (upper == 100 && $0.confidence <= 100)) }
            if !inBand.isEmpty {
                bands.append(CalibrationBand(
                    lower: lower, upper: upper, reads: inBand.count, right: inBand.filter(\.right).count,
                    meanConfidence: inBand.reduce(0) { $0 + $1.confidence } / Double(inBand.count)))
            }
            lower = upper
        }
        return bands
    }

    /// Expected calibration error, in points: the bands' gaps between mean confidence and
    /// accuracy, weighted by their share of the reads.
    public func expectedCalibrationError(width: Double = 10) -> Double {
        let bands = calibration(width: width)
        let total = bands.reduce(0) { $0 + $1.reads }
        guard total > 0 else { return 0 }
        return bands.reduce(0) { $0 + Double($1.reads) / Double(total) * abs($1.accuracy - $1.meanConfidence) }
    }

    /// Milliseconds per image at quantile q (0...1), nearest rank.
    public func millisecondsQuantile(_ q: Double) -> Double {
        nearestRankQuantile(images.filter { !$0.failed }.map(\.milliseconds), q)
    }

    private func rate(_ n: Int) -> Double { labelled == 0 ? 0 : Double(n) / Double(labelled) }
}

/// The value at quantile q (0...1) of `values` by the nearest-rank rule; 0 for no values.
public func nearestRankQuantile(_ values: [Double], _ q: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}
