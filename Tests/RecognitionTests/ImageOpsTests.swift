import PlateKeeperCore
@testable import Recognition
import Testing

/// The finder's pixel operations against plain, slow definitions of what they compute.
struct ImageOpsTests {
    /// A seeded noise image with some smooth structure, so that means vary.
    private func noise(width: Int, height: Int, seed: UInt64) -> LumaImage {
        var random = SeededRandom(seed: seed)
        var pixels = [UInt8](repeating: 0, count: width * height)
        for y in 0..<height {
            for x in 0..<width {
                let base = (x * 255 / max(1, width - 1) + y * 97) % 256
                pixels[y * width + x] = UInt8((base + Int(random.next() % 64)) % 256)
            }
        }
        return LumaImage(width: width, height: height, pixels: pixels)
    }

    @Test(arguments: [(37, 23, 3), (5, 40, 9), (64, 3, 2), (1, 1, 4), (50, 50, 0)])
    func localMeansAreTheFlooredWindowMeans(width: Int, height: Int, radius: Int) {
        let image = noise(width: width, height: height, seed: UInt64(width * 1000 + height))
        let means = ImageOps.localMeans(image, radius: radius)
        var wrong = 0
        for y in 0..<height {
            for x in 0..<width {
                var sum = 0, n = 0
                for yy in max(0, y - radius)...min(height - 1, y + radius) {
                    for xx in max(0, x - radius)...min(width - 1, x + radius) {
                        sum += Int(image.pixels[yy * width + xx]); n += 1
                    }
                }
                if Int(means[y * width + x]) != sum / n { wrong += 1 }
            }
        }
        #expect(wrong == 0)
    }

    @Test(arguments: [(40, 30), (41, 30), (40, 31), (7, 5)])
    func halvingAveragesEachBlock(width: Int, height: Int) {
        let image = noise(width: width, height: height, seed: 3)
        let half = ImageOps.resized(image, width: width / 2, height: height / 2)
        let sx = Double(width) / Double(width / 2), sy = Double(height) / Double(height / 2)
        var wrong = 0
        for y in 0..<half.height {
            for x in 0..<half.width {
                // The source block the output pixel covers, as in the general shrinking code.
                let y0 = Int(Double(y) * sy), y1 = max(y0 + 1, min(height, Int(Double(y + 1) * sy)))
                let x0 = Int(Double(x) * sx), x1 = max(x0 + 1, min(width, Int(Double(x + 1) * sx)))
                var sum = 0
                for yy in y0..<y1 { for xx in x0..<x1 { sum += Int(image.pixels[yy * width + xx]) } }
                if Int(half.pixels[y * half.width + x]) != sum / ((y1 - y0) * (x1 - x0)) { wrong += 1 }
            }
        }
        #expect(wrong == 0)
    }

    /// 4-connected components by flood fill: boxes and areas, sorted.
    private func floodFill(_ mask: [Bool], width w: Int, height h: Int) -> [[Int]] {
        var seen = [Bool](repeating: false, count: mask.count)
        var found: [[Int]] = []
        for start in 0..<mask.count where mask[start] && !seen[start] {
            var stack = [start], box = [Int.max, Int.max, Int.min, Int.min], area = 0
            seen[start] = true
            while let i = stack.popLast() {
                let x = i % w, y = i / w
                box = [min(box[0], x), min(box[1], y), max(box[2], x), max(box[3], y)]
                area += 1
                for (nx, ny) in [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)] where nx >= 0 && nx < w && ny >= 0 && ny < h {
                    let j = ny * w + nx
                    if mask[j] && !seen[j] { seen[j] = true; stack.append(j) }
                }
            }
            found.append(box + [area])
        }
        return found.sorted { $0.lexicographicallyPrecedes($1) }
    }

    @Test func labellingFindsTheFloodFillComponents() {
        let image = noise(width: 70, height: 50, seed: 11)
        let mask = image.pixels.map { $0 < 110 }
        let labelled = ComponentLabeler.label(mask, width: 70, height: 50, keepRuns: false)
            .map { [$0.minX, $0.minY, $0.maxX, $0.maxY, $0.area] }.sorted { $0.lexicographicallyPrecedes($1) }
        #expect(labelled.count > 10)
        #expect(labelled == floodFill(mask, width: 70, height: 50))
        // With runs kept, each component's runs cover exactly its pixels.
        let withRuns = ComponentLabeler.label(mask, width: 70, height: 50, keepRuns: true)
        #expect(withRuns.count == labelled.count)
        for c in withRuns {
            #expect(c.runs.reduce(0) { $0 + $1.x1 - $1.x0 } == c.area)
            #expect(c.runs.allSatisfy { $0.y >= c.minY && $0.y <= c.maxY && $0.x0 >= c.minX && $0.x1 <= c.maxX + 1 && mask[$0.y * 70 + $0.x0] })
        }
    }

    @Test func thresholdComponentsMatchTheMaskPath() {
        let image = noise(width: 90, height: 60, seed: 7)
        let means = ImageOps.localMeans(image, radius: 4)
        for light in [false, true] {
            var mask = ImageOps.adaptiveMask(image, means: means, fraction: 0.1, minContrast: 12, lightText: light)
            ImageOps.removeLongRuns(&mask, width: 90, height: 60, maxRun: 6)
            let expected = ComponentLabeler.label(mask, width: 90, height: 60, keepRuns: false).filter { $0.area <= 40 }
            let got = ImageOps.adaptiveComponents(image, means: means, fraction: 0.1, minContrast: 12, lightText: light,
                                                  maxRun: 6) { $0.area <= 40 }
            #expect(expected.count > 5)
            #expect(got.map { [$0.minX, $0.minY, $0.maxX, $0.maxY, $0.area] } == expected.map { [$0.minX, $0.minY, $0.maxX, $0.maxY, $0.area] })
        }
    }
}
