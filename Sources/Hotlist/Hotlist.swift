public import PlateKeeperCore

/// The loaded hotlists, indexed for matching reads: immutable, shared by reference, replaced as a
/// whole when a file changes.
///
/// A read matches an entry when its text is within `maxEditDistance` edits of the entry's plate
/// after both are folded through the region's look-alike table (so 0/O, 1/I, 8/B … cost
/// nothing); the read's other candidates match only exactly (after folding), so that tolerance is
/// not spent twice. Among matches the nearest wins, then the first loaded. An expired entry never
/// matches. Exact (folded) matches are a hash lookup; tolerant ones scan the entries of nearby
/// lengths with a banded edit distance that stops early.
public final class Hotlist: Sendable {
    public let entries: [HotlistEntry]
    public let maxEditDistance: Int
    /// Folded plate → indices into `entries`.
    private let exact: [String: [Int]]
    /// Folded plates as bytes, by length, with their entry index: the tolerant scan's table.
    private let byLength: [[(key: [UInt8], index: Int)]]

    /// The tolerance is clamped to 0…2: more would match unrelated plates.
    public init(entries: [HotlistEntry], maxEditDistance: Int = 1) {
        self.entries = entries
        self.maxEditDistance = min(max(maxEditDistance, 0), 2)
        var exact: [String: [Int]] = [:]
        var byLength = [[(key: [UInt8], index: Int)]](repeating: [], count: HotlistFile.maxPlateLength + 1)
        for (i, entry) in entries.enumerated() {
            let key = LookAlikes.fold(entry.plate)
            exact[key, default: []].append(i)
            let bytes = Array(key.utf8)
            if bytes.count < byLength.count { byLength[bytes.count].append((bytes, i)) }
        }
        self.exact = exact
        self.byLength = byLength
    }

    /// Lists and their entry counts, in load order.
    public var lists: [(name: String, entries: Int)] {
        var order: [String] = []
        var counts: [String: Int] = [:]
        for e in entries {
            if counts[e.list] == nil { order.append(e.list) }
            counts[e.list, default: 0] += 1
        }
        return order.map { ($0, counts[$0] ?? 0) }
    }

    /// The entry `plate` (and its alternatives `candidates`) matches at `now` (Unix ns), if any.
    public func match(plate: String, candidates: [String] = [], now: Int64) -> HotlistHit? {
        guard !entries.isEmpty, let read = HotlistFile.normalise(plate) else { return nil }
        let key = LookAlikes.fold(read)
        func live(_ i: Int) -> Bool { entries[i].expires.map { $0 > now } ?? true }
        func hit(_ i: Int, _ distance: Int) -> HotlistHit {
            HotlistHit(list: entries[i].list, plate: entries[i].plate, reason: entries[i].reason, distance: distance)
        }
        if let i = exact[key]?.first(where: live) { return hit(i, 0) }
        for candidate in candidates {
            guard let c = HotlistFile.normalise(candidate), let i = exact[LookAlikes.fold(c)]?.first(where: live) else { continue }
            return hit(i, 0)
        }
        guard maxEditDistance > 0 else { return nil }
        let bytes = Array(key.utf8)
        var best: (distance: Int, index: Int)?
        let lengths = max(1, bytes.count - maxEditDistance)...min(byLength.count - 1, bytes.count + maxEditDistance)
        guard !lengths.isEmpty else { return nil }
        for length in lengths {
            for (other, i) in byLength[length] {
                let limit = (best?.distance ?? maxEditDistance + 1) - 1
                guard limit >= 1, let d = Self.distance(bytes, other, limit: limit), live(i) else { continue }
                if best == nil || d < best!.distance || (d == best!.distance && i < best!.index) { best = (d, i) }
            }
        }
        return best.map { hit($0.index, $0.distance) }
    }

    /// Levenshtein distance if it is at most `limit`, else nil; computes only the band of width
    /// 2·limit+1 around the diagonal and stops when a whole row exceeds the limit.
    static func distance(_ a: [UInt8], _ b: [UInt8], limit: Int) -> Int? {
        if abs(a.count - b.count) > limit { return nil }
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        let big = limit + 1
        var previous = [Int](0...b.count).map { min($0, big) }
        var current = [Int](repeating: big, count: b.count + 1)
        for i in 1...a.count {
            let lo = max(1, i - limit), hi = min(b.count, i + limit)
            current[0] = min(i, big)
            if lo > 1 { current[lo - 1] = big }
            var rowMin = current[0]
            if lo <= hi {
                for j in lo...hi {
                    let cost = a[i - 1] == b[j - 1] ? 0 : 1
                    let v = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                    current[j] = min(v, big)
                    rowMin = min(rowMin, current[j])
                }
            }
            if hi < b.count { current[hi + 1] = big }
            if rowMin > limit { return nil }
            swap(&previous, &current)
        }
        return previous[b.count] <= limit ? previous[b.count] : nil
    }
}

/// Characters that plate readers confuse, folded to one representative so that a hotlist entry
/// matches a read that differs only by them. Kept narrower than the recognition's own table
/// (`PlateFormat.lookAlikes`, which only proposes alternatives): here a fold makes a hit, so only
/// pairs that are near-identical in plate fonts are folded.
public enum LookAlikes {
    /// Each character → its class's representative.
    static let table: [UInt8: UInt8] = {
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
        String(decoding: plate.utf8.map { table[$0] ?? $0 }, as: UTF8.self)
    }
}
