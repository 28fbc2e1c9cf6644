public import PlateKeeperCore

/// A row of character-like shapes that may be the characters of a plate.
public struct TextRowCandidate: Sendable, Equatable {
    /// The box around the characters, in frame pixels.
    public var box: PixelBox
    /// Median character height, frame pixels.
    public var charHeight: Double
    /// Slope of the row, radians, clockwise positive.
    public var angle: Double
    /// Centre of the row, frame pixels.
    public var centerX: Double
    public var centerY: Double
    /// Light characters on a dark plate.
    public var lightText: Bool
    /// How many character-like shapes the row holds.
    public var count: Int
    /// Higher is more plate-like.
    public var score: Double
}

extension TextRowCandidate {
    /// The same row in a frame where the image it was found in starts at (dx, dy).
    func moved(dx: Int, dy: Int) -> TextRowCandidate {
        var row = self
        row.box = box.offsetBy(dx: dx, dy: dy)
        row.centerX += Double(dx)
        row.centerY += Double(dy)
        return row
    }
}

/// A local threshold: a pixel is ink when it is darker (or lighter) than its neighbourhood's
/// mean by `fraction` of that mean and by at least `minContrast` grey levels.
public struct LocalThreshold: Sendable, Equatable {
    public var fraction: Double
    public var minContrast: Int
    public init(fraction: Double, minContrast: Int) {
        self.fraction = fraction
        self.minContrast = minContrast
    }
}

/// Finds candidate plate character rows in a frame.
///
/// Method: binarise with a local-mean threshold (for dark and for light text), label connected
/// components, keep those shaped like characters, and link neighbours of similar height on a
/// common line into rows. Runs at full resolution and at half resolution so that both small
/// (8 px) and large characters fall in the size band. It does not depend on plate colour, border
/// or aspect ratio, so it works for any region's plates and for tilted plates.
public struct PlateFinder: Sendable {
    public struct Settings: Sendable {
        /// Character height band at each pyramid level, level pixels.
        public var minCharHeight = 8
        public var maxCharHeight = 22
        /// Pyramid levels searched (each half the size of the one before).
        public var levels = 3
        /// Radius of the local-mean window, level pixels; about a character height, so that the
        /// mean is taken over the plate and not the car around it.
        public var windowRadius = 9
        /// Fewest characters a row must have.
        public var minCharacters = 3
        public var maxCharacters = 12
        /// A row that runs on, along its own line and at its own character height, into more
        /// shapes than this in all (gaps of up to `lineGap` character heights) is a line of
        /// text, not a plate: a caption, a sign, the camera's own date and time overlay. No
        /// region's serial is longer than 9 characters.
        public var maxLineCharacters = 10
        public var lineGap = 3.0
        /// Most rows returned, best first.
        public var maxCandidates = 10
        /// Images wider than this are searched from half resolution down.
        public var fullResolutionMaxWidth = 2000
        /// Local thresholds the frame is binarised with, in turn; each after the first only adds
        /// rows where none was found before. The second, weaker one finds the characters of
        /// washed-out and dim plates that the first breaks into specks.
        public var thresholds = [LocalThreshold(fraction: 0.10, minContrast: 12), LocalThreshold(fraction: 0.05, minContrast: 6)]
        public init() {}
    }

    public var settings: Settings

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    public func findRows(in image: LumaImage, regionOfInterest: PixelBox? = nil) -> [TextRowCandidate] {
        // Level by level, each threshold's rows; one level's means (2 MB at 1080p) and one
        // reduced image are alive at a time.
        var found = [[TextRowCandidate]](repeating: [], count: settings.thresholds.count)
        var level = image
        var scale = 1.0
        if image.width > settings.fullResolutionMaxWidth {
            level = ImageOps.resized(image, width: image.width / 2, height: image.height / 2)
            scale = 0.5
        }
        for _ in 0..<settings.levels {
            guard level.width >= 16, level.height >= 8 else { break }
            let means = ImageOps.localMeans(level, radius: settings.windowRadius)
            for (i, threshold) in settings.thresholds.enumerated() {
                for light in [false, true] {
                    found[i] += rowsAtLevel(level, means: means, scale: scale, lightText: light, threshold: threshold)
                }
            }
            level = ImageOps.resized(level, width: level.width / 2, height: level.height / 2)
            scale /= 2
        }
        // The first threshold's rows, then what each further threshold finds where no row was
        // found before: where the first found a row, another only offers a rival cut of it.
        var kept: [TextRowCandidate] = []
        var seen: [TextRowCandidate] = []
        for (i, var rows) in found.enumerated() {
            if let roi = regionOfInterest {
                rows = rows.filter { roi.intersection($0.box).area * 2 >= $0.box.area }
            }
            let fresh = i == 0 ? rows : rows.filter { row in !seen.contains { $0.box.intersection(row.box).area > 0 } }
            seen += rows
            kept += Self.best(fresh, limit: i == 0 ? settings.maxCandidates : settings.maxCandidates / 2)
        }
        return kept
    }

    /// The best scored of `rows`, duplicates found at several levels suppressed.
    ///
    /// Rows of opposite polarity do not suppress each other: the gaps between dark characters
    /// can look like a row of light ones, and only reading both tells which is the plate. Ties
    /// are broken by position so the result never depends on hashing order.
    private static func best(_ rows: [TextRowCandidate], limit: Int) -> [TextRowCandidate] {
        let rows = rows.sorted { a, b in
            if a.score != b.score { return a.score > b.score }
            if a.box.y != b.box.y { return a.box.y < b.box.y }
            if a.box.x != b.box.x { return a.box.x < b.box.x }
            return !a.lightText && b.lightText
        }
        var kept: [TextRowCandidate] = []
        for row in rows where !kept.contains(where: { $0.lightText == row.lightText && $0.box.iou(row.box) > 0.4 }) {
            kept.append(row)
            if kept.count == limit { break }
        }
        return kept
    }

    private func rowsAtLevel(_ image: LumaImage, means: [UInt8], scale: Double, lightText: Bool, threshold: LocalThreshold) -> [TextRowCandidate] {
        let maxH = settings.maxCharHeight, minH = settings.minCharHeight
        // No character at this level is wider than about 1.5 heights; longer runs are frame lines.
        let comps = ImageOps.adaptiveComponents(image, means: means, fraction: threshold.fraction, minContrast: threshold.minContrast,
                                                lightText: lightText, maxRun: maxH * 3 / 2) { c in
                c.area <= maxH * maxH && c.height >= minH && c.height <= maxH && c.width <= c.height + 2 && c.height <= c.width * 10
                    && c.fill >= 0.15 && c.fill <= 0.95
            }
            .sorted { $0.minX < $1.minX }
        guard comps.count >= settings.minCharacters else { return [] }

        // Union neighbours that could be consecutive characters of one row.
        var sets = DisjointSets(count: comps.count)
        for i in 0..<comps.count {
            let a = comps[i]
            let ha = Double(a.height)
            var j = i + 1
            while j < comps.count, Double(comps[j].minX) <= Double(a.maxX) + 1.4 * ha {
                let b = comps[j]
                j += 1
                let hb = Double(b.height)
                let hmax = max(ha, hb), hmin = min(ha, hb)
                guard hmax / hmin <= 1.4 else { continue }
                guard abs(a.centerY - b.centerY) <= 0.35 * hmax else { continue }
                guard Double(b.minX - a.maxX) >= -0.3 * hmin, b.centerX > a.centerX + 0.25 * hmin else { continue }
                sets.union(i, j - 1)
            }
        }
        var groupOf: [Int: [Int]] = [:]
        for i in 0..<comps.count { groupOf[sets.find(i), default: []].append(i) }
        // Members are in left-to-right order, and so are the groups by their first member.
        let groups = groupOf.values.sorted { $0[0] < $1[0] }
        let lineLengths = lineLengths(of: groups, comps: comps)

        var rows: [TextRowCandidate] = []
        for (g, members) in groups.enumerated()
        where members.count >= settings.minCharacters && members.count <= settings.maxCharacters && lineLengths[g] <= settings.maxLineCharacters {
            let cs = members.map { comps[$0] }
            let heights = cs.map { Double($0.height) }.sorted()
            let medianH = heights[heights.count / 2]
            let meanH = heights.reduce(0, +) / Double(heights.count)
            let sd = (heights.map { ($0 - meanH) * ($0 - meanH) }.reduce(0, +) / Double(heights.count)).squareRoot()
            // Least-squares slope of the character centres.
            let xs = cs.map(\.centerX), ys = cs.map(\.centerY)
            let mx = xs.reduce(0, +) / Double(xs.count), my = ys.reduce(0, +) / Double(ys.count)
            var sxy = 0.0, sxx = 0.0
            for k in 0..<xs.count { sxy += (xs[k] - mx) * (ys[k] - my); sxx += (xs[k] - mx) * (xs[k] - mx) }
            let angle = sxx > 0 ? max(-0.35, min(0.35, atan(sxy / sxx))) : 0
            let minX = cs.map(\.minX).min()!, maxX = cs.map(\.maxX).max()!
            let minY = cs.map(\.minY).min()!, maxY = cs.map(\.maxY).max()!
            let inv = 1 / scale
            let box = PixelBox(x: Int(Double(minX) * inv), y: Int(Double(minY) * inv),
                               width: Int(Double(maxX - minX + 1) * inv), height: Int(Double(maxY - minY + 1) * inv))
            // Rows of 5–8 even-height characters look most like plates.
            let countScore = Double(min(members.count, 8)) - (members.count > 9 ? Double(members.count - 9) : 0)
            let score = countScore + 3 * max(0, 1 - 3 * sd / meanH)
            rows.append(TextRowCandidate(box: box, charHeight: medianH * inv, angle: angle,
                                         centerX: (Double(minX + maxX + 1) / 2) * inv, centerY: my * inv,
                                         lightText: lightText, count: members.count, score: score))
        }
        return rows
    }

    /// For each group of shapes (sorted by left edge), how many shapes the line of text it
    /// belongs to holds: groups of like character height whose centres are level and whose
    /// gap is at most `lineGap` heights are on one line.
    private func lineLengths(of groups: [[Int]], comps: [Component]) -> [Int] {
        struct Extent { var minX: Int, maxX: Int, centerY: Double, height: Double, count: Int }
        let extents = groups.map { members -> Extent in
            let heights = members.map { Double(comps[$0].height) }.sorted()
            return Extent(minX: members.map { comps[$0].minX }.min()!, maxX: members.map { comps[$0].maxX }.max()!,
                          centerY: members.map { comps[$0].centerY }.reduce(0, +) / Double(members.count),
                          height: heights[heights.count / 2], count: members.count)
        }
        var sets = DisjointSets(count: extents.count)
        // Groups are sorted by left edge, so the scan to the right stops at the first one too
        // far right of this one's right edge.
        let reach = settings.lineGap * Double(settings.maxCharHeight)
        for a in extents.indices {
            let ea = extents[a]
            var b = a + 1
            while b < extents.count, Double(extents[b].minX - ea.maxX) <= reach {
                let eb = extents[b]
                b += 1
                let hmax = max(ea.height, eb.height), hmin = min(ea.height, eb.height)
                guard hmax <= 1.3 * hmin, abs(ea.centerY - eb.centerY) <= 0.4 * hmax else { continue }
                let gap = max(eb.minX - ea.maxX, ea.minX - eb.maxX, 0)
                guard Double(gap) <= settings.lineGap * hmax else { continue }
                sets.union(a, b - 1)
            }
        }
        var total: [Int: Int] = [:]
        for i in extents.indices { total[sets.find(i), default: 0] += extents[i].count }
        return extents.indices.map { total[sets.find($0)]! }
    }
}

/// Which of `count` items belong together (union–find with path halving); a set's
/// representative is its lowest index, so results never depend on the order of unions.
private struct DisjointSets {
    private var parent: [Int]

    init(count: Int) { parent = Array(0..<count) }

    mutating func find(_ i: Int) -> Int {
        var i = i
        while parent[i] != i { parent[i] = parent[parent[i]]; i = parent[i] }
        return i
    }

    mutating func union(_ a: Int, _ b: Int) {
        let ra = find(a), rb = find(b)
        if ra != rb { parent[max(ra, rb)] = min(ra, rb) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
