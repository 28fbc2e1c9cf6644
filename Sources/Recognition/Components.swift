/// A connected blob of foreground pixels (4-connected), kept as horizontal runs.
struct Component {
    var minX: Int, minY: Int, maxX: Int, maxY: Int
    var area: Int
    /// (y, x0, x1) half-open runs, in scan order.
    var runs: [(y: Int, x0: Int, x1: Int)]

    var width: Int { maxX - minX + 1 }
    var height: Int { maxY - minY + 1 }
    var centerX: Double { Double(minX + maxX + 1) / 2 }
    var centerY: Double { Double(minY + maxY + 1) / 2 }
    var fill: Double { Double(area) / Double(width * height) }
}

/// Run-based connected-component labelling with union–find.
///
/// Runs are fed row by row (`beginRow`, `addRun`); each is joined with the runs of the row
/// above that it touches (4-connectivity). The finder feeds runs straight from its threshold
/// test, so no mask is built for it; `label(_:width:height:keepRuns:)` does the same from a mask.
struct ComponentLabeler {
    /// A horizontal run `x0..<x1` of row `y`, and its union–find parent (a run index).
    private struct Run {
        var y: Int32, x0: Int32, x1: Int32, parent: Int32
    }
    private var runs: [Run] = []
    /// The previous row's runs are `prevStart..<prevEnd`; the current row's start at `rowStart`.
    private var prevStart = 0, prevEnd = 0, rowStart = 0
    /// First run of the previous row that may still touch a run of the current row.
    private var cursor = 0

    init(expectedRuns: Int = 0) {
        runs.reserveCapacity(expectedRuns)
    }

    /// Starts row `y`; rows must come in order, one after another.
    mutating func beginRow(_ y: Int) {
        if let last = runs.last, Int(last.y) == y - 1 {
            prevStart = rowStart
            prevEnd = runs.count
        } else {
            prevStart = runs.count
            prevEnd = runs.count
        }
        rowStart = runs.count
        cursor = prevStart
    }

    /// Adds the run `x0..<x1` of the current row; runs of a row must come left to right.
    mutating func addRun(y: Int, x0: Int, x1: Int) {
        let idx = Int32(runs.count)
        runs.append(Run(y: Int32(y), x0: Int32(x0), x1: Int32(x1), parent: idx))
        let prevEnd = prevEnd
        var cursor = cursor
        runs.withUnsafeMutableBufferPointer { r in
            // Runs of the row above that end at or before x0 touch no later run of this row either.
            while cursor < prevEnd && Int(r[cursor].x1) <= x0 { cursor += 1 }
            var j = cursor
            while j < prevEnd && Int(r[j].x0) < x1 {
                let a = Self.root(Int(idx), r), b = Self.root(j, r)
                if a != b { r[max(a, b)].parent = Int32(min(a, b)) }
                j += 1
            }
        }
        self.cursor = cursor
    }

    /// The root of run `i`'s set, halving the path on the way.
    private static func root(_ i: Int, _ r: UnsafeMutableBufferPointer<Run>) -> Int {
        var i = i
        while Int(r[i].parent) != i {
            r[i].parent = r[Int(r[i].parent)].parent
            i = Int(r[i].parent)
        }
        return i
    }

    /// The components found so far that `include` accepts (it sees each with its box and area,
    /// runs not yet filled in). With `keepRuns` false the run lists stay empty (cheaper when only
    /// boxes are needed). Boxes are gathered in compact arrays first and a `Component` made only
    /// for those accepted: a noisy 1080p threshold has a hundred thousand specks.
    mutating func components(keepRuns: Bool, where include: (Component) -> Bool = { _ in true }) -> [Component] {
        var slot = [Int32](repeating: -1, count: runs.count)
        var runSlot = [Int32](repeating: -1, count: keepRuns ? runs.count : 0)
        var minX: [Int32] = [], minY: [Int32] = [], maxX: [Int32] = [], maxY: [Int32] = [], area: [Int32] = []
        runs.withUnsafeMutableBufferPointer { r in
            for i in 0..<r.count {
                let root = Self.root(i, r)
                let y = r[i].y, x0 = r[i].x0, x1 = r[i].x1
                if slot[root] < 0 {
                    slot[root] = Int32(minX.count)
                    minX.append(x0); minY.append(y); maxX.append(x1 - 1); maxY.append(y); area.append(0)
                }
                let c = Int(slot[root])
                if keepRuns { runSlot[i] = Int32(c) }
                minX[c] = min(minX[c], x0)
                maxX[c] = max(maxX[c], x1 - 1)
                maxY[c] = max(maxY[c], y)
                area[c] += x1 - x0
            }
        }
        var index = [Int32](repeating: -1, count: keepRuns ? minX.count : 0)
        var comps: [Component] = []
        for c in 0..<minX.count {
            let comp = Component(minX: Int(minX[c]), minY: Int(minY[c]), maxX: Int(maxX[c]), maxY: Int(maxY[c]), area: Int(area[c]), runs: [])
            guard include(comp) else { continue }
            if keepRuns { index[c] = Int32(comps.count) }
            comps.append(comp)
        }
        if keepRuns {
            for (i, run) in runs.enumerated() {
                let k = index[Int(runSlot[i])]
                if k >= 0 { comps[Int(k)].runs.append((Int(run.y), Int(run.x0), Int(run.x1))) }
            }
        }
        return comps
    }

    /// Components of `mask` (`width` × `height`).
    static func label(_ mask: [Bool], width w: Int, height h: Int, keepRuns: Bool) -> [Component] {
        var labeler = ComponentLabeler(expectedRuns: w * h / 16)
        mask.withUnsafeBufferPointer { m in
            for y in 0..<h {
                labeler.beginRow(y)
                var x = 0
                let base = y * w
                while x < w {
                    if !m[base + x] { x += 1; continue }
                    let x0 = x
                    while x < w && m[base + x] { x += 1 }
                    labeler.addRun(y: y, x0: x0, x1: x)
                }
            }
        }
        return labeler.components(keepRuns: keepRuns)
    }
}

extension Component {
    /// The component's ink within `rows` only, labelled again: what stays connected inside them.
    /// A character joined above or below to something else (a frame line, a sticker, a bolt)
    /// comes loose when the rows that join them are cut away.
    func keepingRows(_ rows: ClosedRange<Int>) -> [Component] {
        var labeler = ComponentLabeler(expectedRuns: runs.count)
        var row: Int?
        for r in runs where rows.contains(r.y) {
            if row != r.y { labeler.beginRow(r.y); row = r.y }
            labeler.addRun(y: r.y, x0: r.x0, x1: r.x1)
        }
        return labeler.components(keepRuns: true)
    }

    /// Splits the component where only a thin bridge joins its parts: at columns holding at most
    /// `maxBridge` foreground pixels. Characters joined by an underline, a frame line or a
    /// background drawing come apart this way; the thin line's own pieces stay as flat fragments.
    func splitAtThinColumns(maxBridge: Int) -> [Component] {
        var counts = [Int](repeating: 0, count: width)
        for r in runs { for x in r.x0..<r.x1 { counts[x - minX] += 1 } }
        return pieces(keeping: counts.map { $0 > maxBridge })
    }

    /// The component without its bar columns: columns whose ink reaches from row `top` to row
    /// `bottom` (a plate frame or border bar), widened by `margin` on each side. What stands
    /// beside the bar (a character it touched) comes apart as its own pieces; nil when the
    /// component has no bar column.
    func removingBars(top: Int, bottom: Int, margin: Int) -> [Component]? {
        var counts = [Int](repeating: 0, count: width)
        var reachesTop = [Bool](repeating: false, count: width), reachesBottom = reachesTop
        for r in runs {
            for x in r.x0..<r.x1 {
                counts[x - minX] += 1
                if r.y <= top { reachesTop[x - minX] = true }
                if r.y >= bottom { reachesBottom[x - minX] = true }
            }
        }
        let span = bottom - top + 1
        var keep = [Bool](repeating: true, count: width)
        for i in 0..<width where reachesTop[i] && reachesBottom[i] && counts[i] * 10 >= span * 9 {
            for j in max(0, i - margin)...min(width - 1, i + margin) { keep[j] = false }
        }
        guard keep.contains(false) else { return nil }
        return keep.contains(true) ? pieces(keeping: keep) : []
    }

    /// The parts of the component in each run of kept columns.
    private func pieces(keeping keepColumn: [Bool]) -> [Component] {
        var segments: [(Int, Int)] = []
        var start: Int? = nil
        for (i, kept) in keepColumn.enumerated() {
            if kept {
                if start == nil { start = i }
            } else if let s = start {
                segments.append((s, i))
                start = nil
            }
        }
        if let s = start { segments.append((s, keepColumn.count)) }
        guard segments.count > 1 || (segments.first.map { $0.0 > 0 || $0.1 < keepColumn.count } ?? false) else { return [self] }
        return segments.compactMap { seg -> Component? in
            let x0 = minX + seg.0, x1 = minX + seg.1
            var piece = Component(minX: .max, minY: .max, maxX: .min, maxY: .min, area: 0, runs: [])
            for r in runs {
                let a = max(r.x0, x0), b = min(r.x1, x1)
                guard a < b else { continue }
                piece.runs.append((r.y, a, b))
                piece.minX = min(piece.minX, a)
                piece.maxX = max(piece.maxX, b - 1)
                piece.minY = min(piece.minY, r.y)
                piece.maxY = max(piece.maxY, r.y)
                piece.area += b - a
            }
            return piece.area > 0 ? piece : nil
        }
    }
}
