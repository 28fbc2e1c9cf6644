/// The plate formats of a region, used to rank candidates and settle look-alike characters.
///
/// A pattern is a string of `@` (letter), `#` (digit) and `*` (either). A candidate that fits a
/// pattern gets a bonus; where a position's look-alike (O/0, I/1, B/8, S/5, Z/2, G/6, D/0) would
/// make a reading fit, that variant is offered as a candidate too.
public struct PlateFormat: Sendable, Equatable {
    public var name: String
    public var minLength: Int
    public var maxLength: Int
    public var patterns: [String]
    /// Letters the region's standard serials never use (US states avoid I, O and Q, which read
    /// as 1 and 0); a reading with them is less likely than its look-alike with digits.
    public var excludedLetters: Set<Character>
    /// Score (confidence points) a candidate gains by fitting one of `patterns`: how much a fit
    /// says depends on how much of the region's plates the list covers.
    public var patternBonus: Double
    /// How far the plate reaches beyond the box of its characters, in character heights: to
    /// each side, and above and below.
    public var sideMargin: Double
    public var verticalMargin: Double

    public init(name: String, minLength: Int, maxLength: Int, patterns: [String], excludedLetters: Set<Character> = [],
                patternBonus: Double = 8, sideMargin: Double = 0.4, verticalMargin: Double = 0.5) {
        self.name = name
        self.minLength = minLength
        self.maxLength = maxLength
        self.patterns = patterns
        self.excludedLetters = excludedLetters
        self.patternBonus = patternBonus
        self.sideMargin = sideMargin
        self.verticalMargin = verticalMargin
    }

    /// Generic United States rules: the common serial layouts of the states' standard plates.
    /// Fifty states' current and older series, specialty and vanity plates are far more than this
    /// list, so fitting it counts for half what it does in Europe: at 8 a fit overruled a
    /// confidently read character (8FV480 read as 8FVL80 to fit `#@@@##`). The plate is
    /// 12 × 6 in with 2.75–3 in characters: 0.6 heights above and below them.
    public static let us = PlateFormat(name: "us", minLength: 4, maxLength: 8, patterns: [
        "@@@###", "@@@####", "#@@@###", "###@@@", "@@#####", "###@###", "@@@#@@", "#@@####",
        "##@@###", "@##@@@", "###@@@@", "@@@##@", "@@##@@", "####@@", "@@####", "#####@@", "##@####",
        "@#####", "###@@", "@@###@", "#@#####", "####@@@", "######", "#######", "##@###", "#@@@##",
    ], excludedLetters: ["I", "O", "Q"], patternBonus: 4, sideMargin: 0.4, verticalMargin: 0.6)

    /// Generic European rules: the standard layouts of the larger EU countries
    /// (FR/IT `AB123CD`, ES `1234BCD`, PL `AB12345`, NL, DE-style, CZ/SK, PT …). The plate is
    /// 520 × 110 mm with 75 mm characters: a quarter height above and below them.
    public static let eu = PlateFormat(name: "eu", minLength: 4, maxLength: 9, patterns: [
        "@@###@@", "####@@@", "@@#####", "@@####@", "@@@####", "@@@###", "@@##@@@", "##@@@#", "#@@@##",
        "@@###@", "@@@#@@", "@@@##@@", "@@####", "@#####", "@##@@", "@@##@@", "@@@@###", "@@@@##",
        "#@@####", "#@#####", "@@@####@", "###@@@@", "@@@#####", "@#@####",
    ], sideMargin: 0.4, verticalMargin: 0.25)

    /// Brazilian rules: the grey plates' `ABC1234` (`ABC-1234`; the hyphen is no character) and
    /// Mercosur's `ABC1D23`. These two layouts cover the country's serials, so a fit counts as
    /// much as in Europe. The plate is 400 × 130 mm with 63–65 mm characters: about half a
    /// character height above and below them and to each side.
    public static let br = PlateFormat(name: "br", minLength: 7, maxLength: 7, patterns: ["@@@####", "@@@#@##"],
                                       sideMargin: 0.5, verticalMargin: 0.5)

    /// Every region's rules, by name.
    public static let all: [PlateFormat] = [.us, .eu, .br]

    /// The region's names, for messages: "us, eu or br".
    public static var namesForMessages: String {
        let names = all.map(\.name)
        return names.dropLast().joined(separator: ", ") + " or " + names.last!
    }

    public static func named(_ name: String) -> PlateFormat? {
        all.first { $0.name == name.lowercased() }
    }

    /// Whether `text` has the right length and none of the excluded letters.
    public func usesSerialCharacters(_ text: String) -> Bool {
        text.count >= minLength && text.count <= maxLength && !text.contains(where: excludedLetters.contains)
    }

    /// Whether `text` fits one of the region's patterns and uses serial characters only.
    public func matches(_ text: String) -> Bool {
        let chars = Array(text)
        guard usesSerialCharacters(text) else { return false }
        return patterns.contains { pattern in
            guard pattern.count == chars.count else { return false }
            return zip(pattern, chars).allSatisfy { p, c in
                switch p {
                case "@": c.isLetter
                case "#": c.isNumber
                default: true
                }
            }
        }
    }

    /// Characters often confused with each other on plates, both ways.
    static let lookAlikes: [Character: [Character]] = [
        "O": ["0", "D", "Q"], "0": ["O", "D"], "D": ["0", "O"], "Q": ["0", "O"],
        "I": ["1", "T"], "1": ["I", "T"], "T": ["1"], "B": ["8"], "8": ["B"],
        "S": ["5"], "5": ["S"], "Z": ["2"], "2": ["Z"], "G": ["6"], "6": ["G"], "A": ["4"], "4": ["A", "L"],
        "L": ["4"], "Y": ["V"], "V": ["Y"], "J": ["1"],
    ]
}

/// Builds ranked candidate texts from Tesseract's per-symbol alternatives and a region's rules.
struct CandidateBuilder {
    var format: PlateFormat
    var topN: Int
    /// Confidence given to an alternative that only the look-alike table proposes.
    var lookAlikePenalty = 35.0
    /// Score bonus for a candidate that fits one of the region's patterns.
    var formatBonus: Double { format.patternBonus }
    /// Score bonus for a candidate without the region's excluded letters.
    var serialBonus = 8.0

    func candidates(from symbols: [OCRSymbol]) -> [(text: String, confidence: Double, matches: Bool, score: Double)] {
        guard !symbols.isEmpty else { return [] }
        // Per position: Tesseract's choices plus look-alikes.
        var positions: [[(Character, Double)]] = []
        for s in symbols {
            var options: [(Character, Double)] = []
            for choice in s.choices.prefix(4) {
                guard let ch = choice.text.first, choice.text.count == 1, !options.contains(where: { $0.0 == ch }) else { continue }
                options.append((ch, choice.confidence))
            }
            guard let best = options.first else { continue }
            // Look-alikes are listed most likely first; each further one costs a little more.
            for (rank, alt) in (PlateFormat.lookAlikes[best.0] ?? []).enumerated() where !options.contains(where: { $0.0 == alt }) {
                options.append((alt, max(0, best.1 - lookAlikePenalty - 5 * Double(rank))))
            }
            positions.append(options)
        }
        // Variants that drop a weak first or last symbol, or both (border, frame or bolt
        // remnants read as I/1).
        var spans: [Range<Int>] = [0..<positions.count]
        let n = positions.count
        let weakFirst = positions[0][0].1 < 75, weakLast = positions[n - 1][0].1 < 75
        if n > format.minLength {
            if weakFirst { spans.append(1..<n) }
            if weakLast { spans.append(0..<(n - 1)) }
        }
        if n > format.minLength + 1, weakFirst, weakLast { spans.append(1..<(n - 1)) }
        var scored: [String: (Double, Bool)] = [:]
        var bonus: [String: Double] = [:]
        for span in spans {
            for (text, sum) in beam(Array(positions[span]), width: max(64, topN * 4)) {
                let mean = sum / Double(span.count)
                let fits = format.matches(text)
                let serial = format.usesSerialCharacters(text)
                let lengthOK = text.count >= format.minLength && text.count <= format.maxLength
                // Dropping a symbol costs what it would have contributed.
                let dropped = positions.count - span.count
                let score = mean + (fits ? formatBonus : 0) + (serial ? serialBonus : 0) - (lengthOK ? 0 : 30) - Double(dropped) * 8
                if let old = scored[text], old.0 >= score { continue }
                scored[text] = (score, fits)
                bonus[text] = (fits ? formatBonus : 0) + (serial ? serialBonus : 0)
            }
        }
        // Report each candidate's own mean confidence, ranked by the format-adjusted score.
        let ranked = scored.sorted { $0.value.0 != $1.value.0 ? $0.value.0 > $1.value.0 : $0.key < $1.key }.prefix(topN)
        return ranked.map { text, value in
            let conf = min(100, max(0, value.0 - bonus[text, default: 0]))
            return (text, conf, value.1, value.0)
        }
    }

    /// Highest sums of confidences over one option per position.
    private func beam(_ positions: [[(Character, Double)]], width: Int) -> [(String, Double)] {
        var states: [([Character], Double)] = [([], 0)]
        for options in positions {
            var next: [([Character], Double)] = []
            next.reserveCapacity(states.count * options.count)
            for (chars, sum) in states {
                for (ch, conf) in options { next.append((chars + [ch], sum + conf)) }
            }
            next.sort { $0.1 > $1.1 }
            states = Array(next.prefix(width))
        }
        return states.map { (String($0.0), $0.1) }
    }
}
