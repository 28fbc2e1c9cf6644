@testable import Recognition
import Testing

func symbols(_ spec: [(String, Double)]) -> [OCRSymbol] {
    spec.enumerated().map { i, s in OCRSymbol(choices: [(s.0, s.1)], left: i * 10, right: i * 10 + 8) }
}

@Suite struct PlateFormatTests {
    @Test(arguments: [("7ABC123", true), ("ABC1234", true), ("123ABC", true), ("7OBC123", false), ("AB", false),
                      ("ABCDEFGHJ", false), ("8951283", true)])
    func usRules(text: String, fits: Bool) {
        #expect(PlateFormat.us.matches(text) == fits)
    }

    @Test(arguments: [("AB123CD", true), ("1234BCD", true), ("AB12345", true), ("A1", false)])
    func euRules(text: String, fits: Bool) {
        #expect(PlateFormat.eu.matches(text) == fits)
    }

    @Test(arguments: [("ABC1234", true), ("ABC1D23", true), ("QOI1234", true), ("AB12345", false), ("ABC123", false),
                      ("ABC12345", false)])
    func brazilianRules(text: String, fits: Bool) {
        #expect(PlateFormat.br.matches(text) == fits)
    }

    /// A Brazilian grey plate (ABC-1234; the hyphen is no shape): the layouts turn an O read in
    /// the sixth place, a digit in both, into 0 and keep the O of the letter group, which US
    /// rules (no O in serials) would not. (An O in the fifth place is right: Mercosur ABC1D23.)
    @Test func brazilianLayoutSettlesLookAlikes() {
        let read = symbols([("Q", 90), ("O", 88), ("I", 91), ("1", 93), ("0", 92), ("O", 87), ("4", 94)])
        #expect(CandidateBuilder(format: .br, topN: 5).candidates(from: read).first?.text == "QOI1004")
        #expect(CandidateBuilder(format: .us, topN: 5).candidates(from: read).first?.text != "QOI1004")
    }

    @Test func namedRuleSets() {
        #expect(PlateFormat.named("US") == .us)
        #expect(PlateFormat.named("eu") == .eu)
        #expect(PlateFormat.named("BR") == .br)
        #expect(PlateFormat.named("mars") == nil)
        #expect(PlateFormat.namesForMessages == "us, eu or br")
    }
}

@Suite struct CandidateBuilderTests {
    @Test func anOfferedAlternativeMakesTheReadingFitTheFormat() {
        // "7ABC1Z3": Z where the CA-style layout #@@@### needs a digit, and the reader offered 2
        // as its second choice.
        var read = symbols([("7", 95), ("A", 94), ("B", 93), ("C", 95), ("1", 92), ("Z", 80), ("3", 95)])
        read[5].choices.append(("2", 72))
        let ranked = CandidateBuilder(format: .us, topN: 5).candidates(from: read)
        #expect(ranked.first?.text == "7ABC123")
        #expect(ranked.first?.matches == true)
        #expect(ranked.contains { $0.text == "7ABC1Z3" })
    }

    @Test func theLayoutListDoesNotOverruleAConfidentCharacter() {
        // "8FV480" fits none of the US layouts; "8FVL80" (L only as 4's look-alike) fits #@@@##.
        // The US list is far from all the states' layouts: the confident 4 stays.
        let read = symbols([("8", 95), ("F", 94), ("V", 93), ("4", 90), ("8", 95), ("0", 94)])
        let ranked = CandidateBuilder(format: .us, topN: 5).candidates(from: read)
        #expect(ranked.first?.text == "8FV480")
        #expect(ranked.contains { $0.text == "8FVL80" && $0.matches })
    }

    @Test func usSerialsPreferZeroOverO() {
        let read = symbols([("A", 95), ("C", 95), ("O", 90), ("M", 94), ("7", 95), ("V", 93)])
        let ranked = CandidateBuilder(format: .us, topN: 5).candidates(from: read)
        #expect(ranked.first?.text == "AC0M7V")
    }

    @Test func weakEdgeSymbolFromABoltIsDropped() {
        let read = symbols([("1", 35), ("A", 95), ("B", 95), ("C", 95), ("1", 95), ("2", 95), ("3", 95)])
        let ranked = CandidateBuilder(format: .us, topN: 5).candidates(from: read)
        #expect(ranked.first?.text == "ABC123")
    }

    @Test func weakSymbolsAtBothEndsAreDroppedTogether() {
        // Frame bars at both ends of "BTZ7148", read as weak 1s: no one-end variant fits.
        let read = symbols([("1", 40), ("B", 95), ("T", 94), ("Z", 93), ("7", 95), ("1", 94), ("4", 95), ("8", 94), ("1", 45)])
        let ranked = CandidateBuilder(format: .us, topN: 5).candidates(from: read)
        #expect(ranked.first?.text == "BTZ7148")
    }

    @Test func respectsTopN() {
        let read = symbols([("B", 90), ("8", 90), ("S", 90), ("5", 90), ("Z", 90)])
        #expect(CandidateBuilder(format: .us, topN: 3).candidates(from: read).count == 3)
        #expect(CandidateBuilder(format: .us, topN: 3).candidates(from: []).isEmpty)
    }
}
