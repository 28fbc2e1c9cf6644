import PlateKeeperCore

/// Pixel operations the finder and the OCR preparation need, on `LumaImage`.
///
/// Written in Swift over raw buffers rather than through Leptonica: they are simple, they run on
/// every frame, and keeping them here avoids copying each frame into and out of a PIX.
enum ImageOps {
    /// Box-filter means over a (2r+1)² window, clamped at the edges (the window shrinks there),
    /// rounded down.
    ///
    /// Sliding sums: a running sum per column over the window's rows, then a running sum along
    /// each row; the division is a multiplication by a reciprocal per window area, exact for
    /// these sums (below 2^24; the error of the rounded-up reciprocal stays under 1/area).
    static func localMeans(_ image: LumaImage, radius r: Int) -> [UInt8] {
        let w = image.width, h = image.height
        var means = [UInt8](repeating: 0, count: w * h)
        guard w > 0, h > 0 else { return means }
        let side = 2 * r + 1
        var reciprocal = [UInt64](repeating: 0, count: side * side + 1)
        for area in 1..<reciprocal.count { reciprocal[area] = ((1 << 40) + UInt64(area) - 1) / UInt64(area) }
        var columns = [UInt32](repeating: 0, count: w)
        image.pixels.withUnsafeBufferPointer { px in
            means.withUnsafeMutableBufferPointer { out in
                columns.withUnsafeMutableBufferPointer { col in
                    reciprocal.withUnsafeBufferPointer { recip in
                        // Column sums over rows 0..<min(h, r).
                        for y in 0..<min(h, r) {
                            for x in 0..<w { col[x] &+= UInt32(px[y * w + x]) }
                        }
                        for y in 0..<h {
                            // Slide the column sums to rows y-r...y+r.
                            if y + r < h { for x in 0..<w { col[x] &+= UInt32(px[(y + r) * w + x]) } }
                            if y - r - 1 >= 0 { for x in 0..<w { col[x] &-= UInt32(px[(y - r - 1) * w + x]) } }
                            let rows = min(h, y + r + 1) - max(0, y - r)
                            var sum: UInt32 = 0
                            for x in 0..<min(w, r) { sum &+= col[x] }
                            let row = y * w
                            // Near the edges the window is cut and its area varies; in between
                            // (r < x < w - r) it is whole, and one reciprocal serves the row.
                            func edge(_ x: Int) {
                                if x + r < w { sum &+= col[x + r] }
                                if x - r - 1 >= 0 { sum &-= col[x - r - 1] }
                                let cols = min(w, x + r + 1) - max(0, x - r)
                                out[row + x] = UInt8(truncatingIfNeeded: (UInt64(sum) &* recip[rows * cols]) >> 40)
                            }
                            let leftEnd = min(w, r + 1), interiorEnd = max(leftEnd, w - r)
                            for x in 0..<leftEnd { edge(x) }
                            let whole = recip[rows * side]
                            for x in leftEnd..<interiorEnd {
                                sum = sum &+ col[x + r] &- col[x - r - 1]
                                out[row + x] = UInt8(truncatingIfNeeded: (UInt64(sum) &* whole) >> 40)
                            }
                            for x in interiorEnd..<w { edge(x) }
                        }
                    }
                }
            }
        }
        return means
    }

    /// Foreground mask: pixels darker (or, with `lightText`, brighter) than their neighbourhood
    /// by at least `fraction` of the local mean and at least `minContrast` grey levels.
    static func adaptiveMask(_ image: LumaImage, radius: Int, fraction: Double, minContrast: Int, lightText: Bool) -> [Bool] {
        adaptiveMask(image, means: localMeans(image, radius: radius), fraction: fraction, minContrast: minContrast, lightText: lightText)
    }

    /// The same, from local means already computed (`localMeans`), for several masks of one image.
    static func adaptiveMask(_ image: LumaImage, means: [UInt8], fraction: Double, minContrast: Int, lightText: Bool) -> [Bool] {
        var mask = [Bool](repeating: false, count: image.pixels.count)
        let f = Int(fraction * 256)
        image.pixels.withUnsafeBufferPointer { px in
            means.withUnsafeBufferPointer { m in
                mask.withUnsafeMutableBufferPointer { out in
                    for i in 0..<out.count {
                        let p = Int(px[i]), mean = Int(m[i])
                        let need = max(minContrast, (mean * f) >> 8)
                        out[i] = lightText ? p - mean >= need : mean - p >= need
                    }
                }
            }
        }
        return mask
    }

    /// The connected components of `adaptiveMask(image, means:…)` after `removeLongRuns(maxRun:)`
    /// that `include` accepts, labelled straight from the threshold test without building the
    /// mask: the finder does this four times per pyramid level, and it is most of its time.
    static func adaptiveComponents(_ image: LumaImage, means: [UInt8], fraction: Double, minContrast: Int, lightText: Bool,
                                   maxRun: Int, where include: (Component) -> Bool) -> [Component] {
        let w = image.width, h = image.height
        let f = Int(fraction * 256)
        // The contrast each mean level needs.
        var need = [Int](repeating: 0, count: 256)
        for mean in 0..<256 { need[mean] = max(minContrast, (mean * f) >> 8) }
        let sign = lightText ? 1 : -1
        var labeler = ComponentLabeler(expectedRuns: w * h / 32)
        image.pixels.withUnsafeBufferPointer { px in
            means.withUnsafeBufferPointer { m in
                need.withUnsafeBufferPointer { need in
                    for y in 0..<h {
                        labeler.beginRow(y)
                        let base = y * w
                        var x = 0
                        while x < w {
                            let mean = Int(m[base + x])
                            guard sign * (Int(px[base + x]) - mean) >= need[mean] else { x += 1; continue }
                            let x0 = x
                            x += 1
                            while x < w {
                                let mean = Int(m[base + x])
                                guard sign * (Int(px[base + x]) - mean) >= need[mean] else { break }
                                x += 1
                            }
                            if x - x0 <= maxRun { labeler.addRun(y: y, x0: x0, x1: x) }
                        }
                    }
                }
            }
        }
        return labeler.components(keepRuns: false, where: include)
    }

    /// Clears horizontal foreground runs longer than `maxRun`: frame and border lines that
    /// would otherwise join the characters they touch into one shape.
    static func removeLongRuns(_ mask: inout [Bool], width w: Int, height h: Int, maxRun: Int) {
        mask.withUnsafeMutableBufferPointer { m in
            for y in 0..<h {
                var x = 0
                let base = y * w
                while x < w {
                    guard m[base + x] else { x += 1; continue }
                    let start = x
                    while x < w && m[base + x] { x += 1 }
                    if x - start > maxRun {
                        for i in start..<x { m[base + i] = false }
                    }
                }
            }
        }
    }

    /// Bilinear resampling to the given size.
    static func resized(_ image: LumaImage, width nw: Int, height nh: Int) -> LumaImage {
        guard nw > 0, nh > 0, image.width > 0, image.height > 0 else { return LumaImage(width: max(nw, 0), height: max(nh, 0)) }
        let w = image.width, h = image.height
        var out = [UInt8](repeating: 0, count: nw * nh)
        let sx = Double(w) / Double(nw), sy = Double(h) / Double(nh)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                if w == 2 * nw && h == 2 * nh {
                    // Exact halving (every pyramid level of an even-sized frame): 2×2 blocks.
                    for y in 0..<nh {
                        let top = 2 * y * w, bottom = top + w
                        for x in 0..<nw {
                            let sum = Int(src[top + 2 * x]) + Int(src[top + 2 * x + 1]) + Int(src[bottom + 2 * x]) + Int(src[bottom + 2 * x + 1])
                            dst[y * nw + x] = UInt8(sum / 4)
                        }
                    }
                    return
                }
                if sx >= 2 || sy >= 2 {
                    // Shrinking a lot: average the source block so small text does not alias.
                    for y in 0..<nh {
                        let y0 = Int(Double(y) * sy), y1 = max(y0 + 1, min(h, Int(Double(y + 1) * sy)))
                        for x in 0..<nw {
                            let x0 = Int(Double(x) * sx), x1 = max(x0 + 1, min(w, Int(Double(x + 1) * sx)))
                            var sum = 0
                            for yy in y0..<y1 { for xx in x0..<x1 { sum += Int(src[yy * w + xx]) } }
                            dst[y * nw + x] = UInt8(sum / ((y1 - y0) * (x1 - x0)))
                        }
                    }
                    return
                }
                for y in 0..<nh {
                    let fy = max(0, (Double(y) + 0.5) * sy - 0.5)
                    for x in 0..<nw {
                        let fx = max(0, (Double(x) + 0.5) * sx - 0.5)
                        dst[y * nw + x] = bilinear(src, width: w, height: h, x: fx, y: fy)
                    }
                }
            }
        }
        return LumaImage(width: nw, height: nh, pixels: out)
    }

    /// Samples `image` along a rotated rectangle: centre (cx, cy), angle (radians, clockwise
    /// positive in image coordinates), output size `outW`×`outH`, `scale` source pixels per output pixel.
    static func sampleRotated(_ image: LumaImage, cx: Double, cy: Double, angle: Double, outW: Int, outH: Int, scale: Double) -> LumaImage {
        var out = [UInt8](repeating: 0, count: outW * outH)
        let c = cos(angle), s = sin(angle)
        let w = image.width, h = image.height
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for oy in 0..<outH {
                    let dy = (Double(oy) - Double(outH) / 2 + 0.5) * scale
                    for ox in 0..<outW {
                        let dx = (Double(ox) - Double(outW) / 2 + 0.5) * scale
                        let fx = min(max(cx + dx * c - dy * s - 0.5, 0), Double(w - 1))
                        let fy = min(max(cy + dx * s + dy * c - 0.5, 0), Double(h - 1))
                        dst[oy * outW + ox] = bilinear(src, width: w, height: h, x: fx, y: fy)
                    }
                }
            }
        }
        return LumaImage(width: outW, height: outH, pixels: out)
    }

    /// The bilinear interpolation of `src` (`width` × `height`) at (x, y), both ≥ 0; coordinates
    /// past the last row or column use the edge pixels.
    private static func bilinear(_ src: UnsafeBufferPointer<UInt8>, width w: Int, height h: Int, x: Double, y: Double) -> UInt8 {
        let x0 = min(w - 1, Int(x)), y0 = min(h - 1, Int(y))
        let x1 = min(w - 1, x0 + 1), y1 = min(h - 1, y0 + 1)
        let wx = x - Double(x0), wy = y - Double(y0)
        let a = Double(src[y0 * w + x0]) * (1 - wx) + Double(src[y0 * w + x1]) * wx
        let b = Double(src[y1 * w + x0]) * (1 - wx) + Double(src[y1 * w + x1]) * wx
        return UInt8(min(255, max(0, (a * (1 - wy) + b * wy).rounded())))
    }

    static func inverted(_ image: LumaImage) -> LumaImage {
        LumaImage(width: image.width, height: image.height, pixels: image.pixels.map { 255 - $0 })
    }
}

#if canImport(Glibc)
import Glibc
#endif
