public import PlateKeeperCore

/// The loaded hotlists, indexed for matching reads: immutable, shared by reference, replaced as a
/// whole when a file changes.
///
/// A read matches an entry when its text is within `maxEditDistance` edits of the entry's plate
/// after both are folded through the region's look-alike table (so 0/O, 1/I, 8/B … cost
/// nothing); the read's other candidates match only exactly (after folding), so that tolerance is
/// not spent twice. Among matches the nearest wins, then the first loaded. An expired entry never
/// matches. Exact (folded) matches are a hash lookup. A tolerant match either scans the entries of
/// nearby lengths with a banded edit distance that stops early (short lists) or looks up every
/// text within the tolerance of the read (long lists), whichever costs less.
public final class Hotlist: Sendable {
    public let entries: [HotlistEntry]
    public let maxEditDistance: Int
    /// Folded plate → indices into `entries`.
    private let exact: [String: [Int]]
    /// Folded plates as bytes, by length, with their entry index: the tolerant scan's table.
    private let byLength: [[(key: [UInt8], index: Int)]]

    /// How tolerant matches are searched: nil picks by cost; tests force one.
    let strategy: Strategy?

    /// The tolerance is clamped to 0…2: more would match unrelated plates.
    public convenience init(entries: [HotlistEntry], maxEditDistance: Int = 1) {
        self.init(entries: entries, maxEditDistance: maxEditDistance, strategy: nil)
    }

    init(entries: [HotlistEntry], maxEditDistance: Int, strategy: Strategy?) {
        self.strategy = strategy
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
        let lengths = max(1, bytes.count - maxEditDistance)...max(1, min(byLength.count - 1, bytes.count + maxEditDistance))
        let scanCost = lengths.reduce(0) { $0 + byLength[$1].count }
        let useNeighbours = strategy.map { $0 == .neighbours } ?? (Self.neighbourCost(bytes.count, maxEditDistance) * 4 < scanCost)
        let best = useNeighbours ? nearestByNeighbours(bytes, live: live) : nearestByScan(bytes, lengths: lengths, live: live)
        return best.map { hit($0.index, $0.distance) }
    }

    /// How a tolerant match looks for its entry; nil picks by cost (tests force one or the other).
    enum Strategy { case scan, neighbours }

    /// Every entry of a nearby length, through the banded distance: cheap for short lists.
    private func nearestByScan(_ bytes: [UInt8], lengths: ClosedRange<Int>, live: (Int) -> Bool) -> (distance: Int, index: Int)? {
        var best: (distance: Int, index: Int)?
        for length in lengths {
            for (other, i) in byLength[length] {
                // Ties are kept (the first loaded wins), so the limit is the best distance so far.
                let limit = best?.distance ?? maxEditDistance
                guard let d = Self.distance(bytes, other, limit: limit), d > 0, live(i) else { continue }
                if best == nil || d < best!.distance || (d == best!.distance && i < best!.index) { best = (d, i) }
            }
        }
        return best
    }

    /// Every text within the tolerance of the read, looked up: cheap for long lists (about 450
    /// lookups per edit for a 7-character plate, whatever the list's size).
    func nearestByNeighbours(_ bytes: [UInt8], live: (Int) -> Bool) -> (distance: Int, index: Int)? {
        var frontier: Set<[UInt8]> = [bytes]
        var seen: Set<[UInt8]> = [bytes]
        for distance in 1...maxEditDistance {
            var next: Set<[UInt8]> = []
            for text in frontier { Self.oneEditAway(text, into: &next) }
            next.subtract(seen)
            seen.formUnion(next)
            var best: Int?
            for text in next where !text.isEmpty && text.count <= HotlistFile.maxPlateLength {
                guard let indices = exact[String(decoding: text, as: UTF8.self)], let i = indices.first(where: live) else { continue }
                if best == nil || i < best! { best = i }
            }
            if let best { return (distance, best) }
            frontier = next
        }
        return nil
    }

    /// The folded alphabet: letters and digits, one representative per look-alike class.
    static let foldedAlphabet: [UInt8] = Array(Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8).map { LookAlikes.representative($0) })).sorted()

    static func oneEditAway(_ text: [UInt8], into out: inout Set<[UInt8]>) {
        for i in 0...text.count {
            for c in foldedAlphabet {
                var inserted = text
                inserted.insert(c, at: i)
                out.insert(inserted)
            }
            guard i < text.count else { continue }
            var deleted = text
            deleted.remove(at: i)
            out.insert(deleted)
            for c in foldedAlphabet where c != text[i] {
                var changed = text
                changed[i] = c
                out.insert(changed)
            }
        }
    }

    static func neighbourCost(_ length: Int, _ distance: Int) -> Int {
        let one = foldedAlphabet.count * (2 * length + 1) + length
        return distance == 1 ? one : one * one
    }

    /// Levenshtein distance if it is at most `limit`, else nil; computes only the band of width
    /// 2·limit+1 around the diagonal and stops when a whole row exceeds the limit.
    static func distance(_ a: [UInt8], _ b: [UInt8], limit: Int) -> Int? {
        if abs(a.count - b.count) > limit { return nil }
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        let big = limit + 1, width = b.count + 1
        // Two rows on the stack: this runs once per entry compared, millions of times per read
        // on a long list with tolerance 2, and must not touch the heap.
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * width) { rows -> Int? in
            var previous = rows.baseAddress!, current = previous + width
            for j in 0..<width {
                previous[j] = min(j, big)
                current[j] = big
            }
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
}
