/// Characters that plate readers confuse, folded to one representative so that a hotlist entry
/// matches a read that differs only by them. Kept narrower than the recognition's own table
/// (`PlateFormat.lookAlikes`, which only proposes alternatives): here a fold makes a hit, so only
/// pairs that are near-identical in plate fonts are folded. A public release counts vehicles by the
/// same fold, so one vehicle read two ways is one vehicle.
public enum LookAlikes {
    /// Each character → its class's representative.
    private static let table: [UInt8: UInt8] = {
        var t: [UInt8: UInt8] = [:]
        for group in ["0ODQ", "1I", "8B", "5S", "2Z", "6G"] {
            let bytes = Array(group.utf8)
            for b in bytes { t[b] = bytes[0] }
        }
        return t
    }()

    /// `plate` (normalised: upper case, letters and digits) with each look-alike replaced by its
    /// class's representative.
    public static func fold(_ plate: String) -> String {
        String(decoding: plate.utf8.map(representative), as: UTF8.self)
    }

    /// One character's class representative (itself when it has no look-alike).
    public static func representative(_ c: UInt8) -> UInt8 { table[c] ?? c }
}
