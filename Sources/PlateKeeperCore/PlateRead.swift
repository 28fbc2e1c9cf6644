/// One possible reading of a plate, with the recogniser's confidence (0...100).
public struct PlateCandidate: Sendable, Hashable, Codable {
    public var text: String
    public var confidence: Double
    /// Whether the text fits one of the region's plate formats.
    public var matchesFormat: Bool

    public init(text: String, confidence: Double, matchesFormat: Bool) {
        self.text = text
        self.confidence = confidence
        self.matchesFormat = matchesFormat
    }
}

/// A plate read in one frame: the best text, its alternatives, and where the plate is.
///
/// This is what recognition hands on. The daemon groups reads of one vehicle into a `ReadEvent`.
public struct PlateRead: Sendable, Hashable, Codable {
    /// The best reading; equal to `candidates.first?.text`.
    public var text: String
    public var confidence: Double
    /// Alternatives, best first, at most the configured top-N.
    public var candidates: [PlateCandidate]
    /// The plate in frame pixels.
    public var box: PixelBox
    /// The plate-format rule set that ranked the candidates (`us`, `eu`).
    public var region: String

    public init(text: String, confidence: Double, candidates: [PlateCandidate], box: PixelBox, region: String) {
        self.text = text
        self.confidence = confidence
        self.candidates = candidates
        self.box = box
        self.region = region
    }
}
