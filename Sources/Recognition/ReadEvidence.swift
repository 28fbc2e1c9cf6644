import Foundation

/// What one read's confidence is made from: the vote behind it and how its readers agreed.
///
/// Kept beside each read (`PlateReader.readings`) so that confidence can be calibrated against
/// ground truth (`bench accuracy --details` writes it), and so that the calibration in use can
/// be checked read by read.
public struct ReadEvidence: Sendable, Equatable, Codable {
    /// The vote's share of a unanimous, fully confident vote, 0...100 (the first round's confidence).
    public var vote: Double
    /// The same share for the second candidate (0 when there is none).
    public var runnerUp: Double
    /// Whether the text fits one of the region's serial layouts.
    public var fitsLayout: Bool
    /// The glyph classifier's mean confidence over the row's characters, 0...100 (0 without it).
    public var glyphMean: Double
    /// Whether the classifier's own first choice is the read (or, when it was not consulted
    /// because the renderings agreed, whether they did).
    public var glyphAgrees: Bool
    /// Tesseract renderings whose first choice is the read, of `renderings` made.
    public var renderingsAgreeing: Int
    public var renderings: Int
    /// The plate detector's score for the plate the read came from (0: found without it).
    public var detectorScore: Double
    /// Characters in the read.
    public var length: Int
}

/// Turns a read's evidence into the chance, in per cent, that the read is right: a logistic
/// regression on the vote, the layout fit and the glyph classifier's mean confidence.
///
/// The first round reported the vote itself, which is not a probability: on us-dev 53 of 82
/// reads scored 90–100 and 75 % of those were right, 11 % of those at 60–69 (expected
/// calibration error 24 points; eu 30). Fitted by `Models/fit-confidence` on the reads of
/// `bench accuracy --details` over us-dev and eu (README, "Confidence").
public struct ConfidenceCalibration: Sendable, Equatable {
    public var intercept: Double
    public var vote: Double
    public var fitsLayout: Double
    public var glyphMean: Double

    public init(intercept: Double, vote: Double, fitsLayout: Double, glyphMean: Double) {
        self.intercept = intercept
        self.vote = vote
        self.fitsLayout = fitsLayout
        self.glyphMean = glyphMean
    }

    /// The shipped fit (all us-dev and eu reads of the detector build, L2 0.5).
    public static let shipped = ConfidenceCalibration(intercept: -5.14, vote: 2.71, fitsLayout: 0.84, glyphMean: 3.02)

    /// The chance that a read with this evidence is right, 0...100.
    public func confidence(vote v: Double, fitsLayout fits: Bool, glyphMean g: Double) -> Double {
        let z = intercept + vote * min(max(v, 0), 100) / 100 + (fits ? fitsLayout : 0) + glyphMean * min(max(g, 0), 100) / 100
        return 100 / (1 + exp(-z))
    }

    public func confidence(_ evidence: ReadEvidence) -> Double {
        confidence(vote: evidence.vote, fitsLayout: evidence.fitsLayout, glyphMean: evidence.glyphMean)
    }
}
