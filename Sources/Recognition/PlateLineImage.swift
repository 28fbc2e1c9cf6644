import PlateKeeperCore

/// Turns a candidate row into the images Tesseract reads: the row straightened and scaled to a
/// fixed character height, then cleaned down to the shapes that sit on the character line.
/// Plate borders, frames, state names, slogans, bolts and emblems are removed; what is left is
/// dark on white with margins.
///
/// Two renderings are made of the same cleaned shapes: `gray` keeps the anti-aliased grey levels
/// inside each shape's box (contrast-stretched from ink to paper); `binary` is the bare mask.
/// They fail on different characters, so the reader reads both and votes.
struct PlateLineImage {
    var gray: LumaImage
    var binary: LumaImage
    /// The straightened row itself, contrast-stretched, within the character band and the
    /// line's extent widened by half a character height at each end, nothing removed: what a
    /// model trained on plate lines reads when the cleaning lost a character (one joined to the
    /// frame, an emblem or a sticker, or too faint to make a shape of its own).
    var raw: LumaImage
    /// How far beyond the plate run `blank(outside:)` leaves the raw rendering: a character the
    /// cleaning lost at an end of the plate is still partly there.
    var rawMargin: Int
    /// Column ranges of the characters found on the line, in `gray`/`binary` coordinates
    /// (shapes whose columns overlap count as one character).
    var glyphs: [Range<Int>]

    struct Settings {
        /// Local-threshold strength inside the row (fraction of the local mean).
        var fraction = 0.05
        /// Shapes lower than this share of the character height are dropped as fragments.
        var minPieceHeight = 0.6
    }

    init?(from image: LumaImage, row: TextRowCandidate, charHeight target: Int, settings: Settings = Settings()) {
        let h = row.charHeight
        guard h >= 4 else { return nil }
        let scale = h / Double(target) // source pixels per output pixel
        let rowWidth = Double(row.box.width) / cos(row.angle)
        // Wide enough to take in end characters the finder missed.
        let outW = Int((rowWidth + 5.0 * h) / scale)
        let outH = 2 * target
        guard outW > 8, outW < 4000 else { return nil }
        var sample = ImageOps.sampleRotated(image, cx: row.centerX, cy: row.centerY, angle: row.angle,
                                            outW: outW, outH: outH, scale: scale)
        if row.lightText { sample = ImageOps.inverted(sample) }
        var mask = ImageOps.adaptiveMask(sample, radius: target, fraction: settings.fraction, minContrast: 8, lightText: false)
        ImageOps.removeLongRuns(&mask, width: outW, height: outH, maxRun: 2 * target)
        let comps = ComponentLabeler.label(mask, width: outW, height: outH, keepRuns: false)
        let t = Double(target), mid = Double(outH) / 2

        // The character band: where whole, character-sized shapes near the row's centre line sit.
        let core = comps.filter { c in
            let ch = Double(c.height)
            return ch >= 0.6 * t && ch <= 1.45 * t && Double(c.width) <= 1.6 * t && abs(c.centerY - mid) <= 0.35 * t
                && c.minY > 0 && c.maxY < outH - 1
        }
        guard core.count >= 2 else { return nil }
        let tops = core.map(\.minY).sorted(), bottoms = core.map(\.maxY).sorted()
        let charH = Double(bottoms[bottoms.count / 2] - tops[tops.count / 2] + 1)
        let bandTop = max(0, Int((Double(tops[tops.count / 2]) - 0.08 * t).rounded(.down)))
        let bandBottom = min(outH - 1, Int((Double(bottoms[bottoms.count / 2]) + 0.08 * t).rounded(.up)))

        // Cut the mask to the band and label again: characters touching a frame line or a
        // sticker above or below come loose from it. Wide shapes are split where only a thin
        // bridge (underline, frame, background drawing) joins them.
        var banded = mask
        for y in 0..<outH where y < bandTop || y > bandBottom {
            for x in 0..<outW { banded[y * outW + x] = false }
        }
        let pieces = ComponentLabeler.label(banded, width: outW, height: outH, keepRuns: true)
            .flatMap { c in Double(c.width) > 0.8 * t ? c.splitAtThinColumns(maxBridge: max(2, target / 8)) : [c] }
            // A character touching a frame or border bar at its side: take the bar away.
            .flatMap { c -> [Component] in
                guard c.minY <= bandTop, c.maxY >= bandBottom,
                      let parts = c.removingBars(top: bandTop, bottom: bandBottom, margin: max(1, target / 16)) else { return [c] }
                return parts.filter { Double($0.width) >= 0.35 * t && $0.fill < 0.7 }
            }
            // A character-wide shape that still reaches both band edges is a character joined
            // above and below to something else (a frame line, a sticker, a bolt): keep only its
            // ink between the characters' usual top and bottom lines, where it comes loose.
            .flatMap { c -> [Component] in
                guard c.minY <= bandTop, c.maxY >= bandBottom, Double(c.width) >= 0.35 * t else { return [c] }
                let margin = max(1, Int((0.08 * t).rounded()))
                guard bandBottom - bandTop > 2 * margin else { return [c] }
                return c.keepingRows((bandTop + margin)...(bandBottom - margin))
            }
        var inBand = pieces.filter { c in
            c.area >= Int(0.02 * t * t) && Double(c.width) <= 2.4 * t && Double(c.height) >= settings.minPieceHeight * charH
                // Solid blobs (emblems, stickers) are no character.
                && !(c.fill > 0.8 && Double(c.width) > 0.45 * t)
                // Cut at both band edges: a bar or frame crossing the whole band.
                && !(c.minY <= bandTop && c.maxY >= bandBottom)
        }
        inBand.sort { $0.minX < $1.minX }

        // Start from the row the finder saw and grow outward while the next shape is near:
        // this picks up end characters the finder missed and stops at the plate's edge.
        var lo = core.map(\.minX).min()!, hi = core.map(\.maxX).max()!
        var grew = true
        while grew {
            grew = false
            for c in inBand where (c.maxX < lo && Double(lo - c.maxX) <= 0.9 * t) || (c.minX > hi && Double(c.minX - hi) <= 0.9 * t) {
                lo = min(lo, c.minX)
                hi = max(hi, c.maxX)
                grew = true
            }
        }
        let keep = inBand.filter { $0.minX >= lo && $0.maxX <= hi }
        guard keep.count >= 2 else { return nil }

        let minX = keep.map(\.minX).min()!, maxX = keep.map(\.maxX).max()!
        let pad = target / 2
        var glyphs: [Range<Int>] = []
        for c in keep {
            let r = (c.minX - minX + pad)..<(c.maxX + 1 - minX + pad)
            if let last = glyphs.last, r.lowerBound < last.upperBound - min(r.count, last.count) / 2 {
                glyphs[glyphs.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
            } else {
                glyphs.append(r)
            }
        }
        self.glyphs = glyphs
        let w = maxX - minX + 1 + 2 * pad
        var binary = LumaImage(width: w, height: outH, fill: 255)
        var isInk = [Bool](repeating: false, count: outW * outH)
        binary.pixels.withUnsafeMutableBufferPointer { dst in
            for c in keep {
                for r in c.runs {
                    for x in r.x0..<r.x1 {
                        dst[r.y * w + x - minX + pad] = 0
                        isInk[r.y * outW + x] = true
                    }
                }
            }
        }
        // Ink and paper levels inside the kept shapes' boxes, for the contrast stretch: the 10th
        // percentile of ink, the 75th of paper (from histograms).
        var inkCount = [Int](repeating: 0, count: 256), paperCount = inkCount
        for c in keep {
            for y in c.minY...c.maxY {
                for x in c.minX...c.maxX {
                    let v = Int(sample.pixels[y * outW + x])
                    if isInk[y * outW + x] { inkCount[v] += 1 } else { paperCount[v] += 1 }
                }
            }
        }
        /// The value at position `rank` of the sorted values the histogram counts.
        func value(at rank: Int, _ histogram: [Int]) -> Int {
            var seen = 0
            for (v, n) in histogram.enumerated() {
                seen += n
                if seen > rank { return v }
            }
            return 255
        }
        let inkTotal = inkCount.reduce(0, +), paperTotal = paperCount.reduce(0, +)
        let dark = inkTotal == 0 ? 0 : value(at: inkTotal / 10, inkCount)
        let light = paperTotal == 0 ? 255 : value(at: paperTotal * 3 / 4, paperCount)
        let span = max(1, light - dark)
        /// The sample at (x, y) stretched from ink (0) to paper (255).
        func stretched(x: Int, y: Int) -> UInt8 {
            UInt8(max(0, min(255, (Int(sample.pixels[y * outW + x]) - dark) * 255 / span)))
        }
        var gray = LumaImage(width: w, height: outH, fill: 255)
        for c in keep {
            let y0 = max(0, c.minY - 2), y1 = min(outH - 1, c.maxY + 2)
            let x0 = max(0, c.minX - 2), x1 = min(outW - 1, c.maxX + 2)
            for y in y0...y1 {
                for x in x0...x1 {
                    let o = y * w + x - minX + pad
                    gray.pixels[o] = min(gray.pixels[o], stretched(x: x, y: y))
                }
            }
        }
        self.gray = gray
        self.binary = binary
        var raw = LumaImage(width: w, height: outH, fill: 255)
        for y in max(0, bandTop - 2)...min(outH - 1, bandBottom + 2) {
            for o in 0..<w {
                let x = o + minX - pad
                guard x >= 0, x < outW else { continue }
                raw.pixels[y * w + o] = stretched(x: x, y: y)
            }
        }
        self.raw = raw
        self.rawMargin = target * 2 / 5
    }

    /// The renderings made white outside `columns` widened by 3 pixels (the grey rendering
    /// draws two pixels of context around each shape's box), the raw one by `rawMargin` more:
    /// what lies beyond is not to be read.
    mutating func blank(outside columns: Range<Int>) {
        let from = columns.lowerBound - 3, to = columns.upperBound + 3
        let w = gray.width
        for y in 0..<gray.height {
            for x in 0..<w where x < from || x >= to {
                gray.pixels[y * w + x] = 255
                binary.pixels[y * w + x] = 255
                if x < from - rawMargin || x >= to + rawMargin { raw.pixels[y * w + x] = 255 }
            }
        }
    }

    /// `image` widened by `factor`: plate fonts are condensed, and Tesseract's models were
    /// trained on book fonts, so a modest horizontal stretch reads better.
    static func stretched(_ image: LumaImage, by factor: Double) -> LumaImage {
        factor == 1 ? image : ImageOps.resized(image, width: Int(Double(image.width) * factor), height: image.height)
    }
}

#if canImport(Glibc)
import Glibc
#endif
