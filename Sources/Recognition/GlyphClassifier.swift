public import PlateKeeperCore
import Foundation

/// A small ensemble of neural networks that names one plate character from its normalised image.
///
/// Owns the weights of a few two-layer perceptrons (input → ReLU hidden layer → softmax over the
/// alphabet), trained from different seeds and averaged, loaded from a model file that
/// `Models/build-glyph-model` builds. It exists because the stock Tesseract English model, trained
/// on book text, confuses the condensed plate fonts' look-alikes; this one was trained on plate
/// characters only. Immutable after loading, so it is safe to share between recognition workers.
///
/// File layout: one or more blocks, each (little-endian) the 8 bytes `PKGLYPH1`; UInt32 input
/// size, hidden size, output size, glyph width, glyph height; the alphabet as `output` UTF-8
/// bytes; then Float32 weights: W1 (hidden × input, row-major), b1, W2 (output × hidden), b2.
/// Every block must have the same input size, alphabet and glyph size.
public final class GlyphClassifier: Sendable {
    /// The normalised glyph image: the character's ink box scaled to this height, keeping its
    /// aspect ratio up to this width, centred; ink is 1, paper 0.
    public let glyphWidth: Int
    public let glyphHeight: Int
    public let alphabet: [Character]
    /// The class of shapes that are no character (plate border, bolt, sticker edge).
    public static let noCharacter: Character = "~"
    private let networks: [Network]

    /// One perceptron of the ensemble.
    private struct Network: Sendable {
        var inputs: Int
        var hidden: Int
        var w1: [Float]
        var b1: [Float]
        var w2: [Float]
        var b2: [Float]

        /// The dot product of `count` weights from `offset` with `x`, eight lanes at a time (a
        /// plain sum loop is not vectorised: float addition is not associative).
        @inline(__always)
        static func dot(_ w: UnsafeBufferPointer<Float>, from offset: Int, _ x: UnsafeBufferPointer<Float>, count: Int) -> Float {
            let wp = UnsafeRawPointer(w.baseAddress! + offset), xp = UnsafeRawPointer(x.baseAddress!)
            var acc = SIMD8<Float>()
            var i = 0
            while i + 8 <= count {
                acc += wp.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                    * xp.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                i += 8
            }
            var s = acc.sum()
            while i < count {
                s += w[offset + i] * x[i]
                i += 1
            }
            return s
        }

        /// Softmax probabilities, in alphabet order.
        func probabilities(_ features: [Float]) -> [Double] {
            var h = [Float](repeating: 0, count: hidden)
            w1.withUnsafeBufferPointer { w in
                features.withUnsafeBufferPointer { x in
                    for j in 0..<hidden { h[j] = max(0, b1[j] + Self.dot(w, from: j * inputs, x, count: inputs)) }
                }
            }
            var logits = [Float](repeating: 0, count: b2.count)
            w2.withUnsafeBufferPointer { w in
                h.withUnsafeBufferPointer { x in
                    for k in 0..<b2.count { logits[k] = b2[k] + Self.dot(w, from: k * hidden, x, count: hidden) }
                }
            }
            let top = logits.max() ?? 0
            let exps = logits.map { Double(expf($0 - top)) }
            let total = exps.reduce(0, +)
            return exps.map { $0 / total }
        }
    }

    /// Where the shipped model is looked for, in order, when no path is configured.
    public static let searchPaths: [String] = {
        let env = ProcessInfo.processInfo.environment["PLATEKEEPER_GLYPH_MODEL"].map { [$0] } ?? []
        return env + ShareFolder.candidates("glyphs.model", source: "Models/glyphs.model")
    }()

    /// Loads the first model file found on `searchPaths`.
    public static func loadDefault() throws(RecognitionError) -> GlyphClassifier {
        if let path = ShareFolder.firstExisting(searchPaths) { return try GlyphClassifier(path: path) }
        throw RecognitionError(call: "GlyphClassifier", "no glyph model found (looked in \(searchPaths.joined(separator: ", ")))")
    }

    public init(path: String) throws(RecognitionError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RecognitionError(call: "GlyphClassifier", "cannot read \(path)")
        }
        let bytes = [UInt8](data)
        func fail(_ why: String) -> RecognitionError { RecognitionError(call: "GlyphClassifier", "\(path): \(why)") }
        func u32(_ at: Int) -> Int {
            Int(UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24)
        }
        var networks: [Network] = []
        var shape: (alphabet: [Character], width: Int, height: Int)?
        var at = 0
        while at < bytes.count {
            guard bytes.count - at >= 28, Array(bytes[at..<at + 8]) == Array("PKGLYPH1".utf8) else {
                throw fail(networks.isEmpty ? "not a glyph model" : "trailing bytes after \(networks.count) networks")
            }
            let nIn = u32(at + 8), nHidden = u32(at + 12), nOut = u32(at + 16), gw = u32(at + 20), gh = u32(at + 24)
            guard gw > 0, gh > 0, nIn == gw * gh + 1, (1...4096).contains(nHidden), (2...128).contains(nOut) else {
                throw fail("bad dimensions \(nIn)/\(nHidden)/\(nOut)")
            }
            let alphabetEnd = at + 28 + nOut
            let floats = nHidden * nIn + nHidden + nOut * nHidden + nOut
            guard bytes.count >= alphabetEnd + 4 * floats else { throw fail("size \(bytes.count) does not match its dimensions") }
            let alphabet = Array(String(decoding: bytes[(at + 28)..<alphabetEnd], as: UTF8.self))
            guard alphabet.count == nOut, alphabet.allSatisfy(\.isASCII) else { throw fail("bad alphabet") }
            if let shape, shape.alphabet != alphabet || shape.width != gw || shape.height != gh {
                throw fail("network \(networks.count + 1) differs from the first in alphabet or glyph size")
            }
            shape = (alphabet, gw, gh)
            var values = [Float](repeating: 0, count: floats)
            for i in 0..<floats { values[i] = Float(bitPattern: UInt32(truncatingIfNeeded: u32(alphabetEnd + 4 * i))) }
            guard values.allSatisfy(\.isFinite) else { throw fail("weights are not finite") }
            var next = 0
            func take(_ n: Int) -> [Float] { defer { next += n }; return Array(values[next..<next + n]) }
            networks.append(Network(inputs: nIn, hidden: nHidden, w1: take(nHidden * nIn), b1: take(nHidden),
                                    w2: take(nOut * nHidden), b2: take(nOut)))
            at = alphabetEnd + 4 * floats
        }
        guard let shape else { throw fail("not a glyph model") }
        self.networks = networks
        alphabet = shape.alphabet
        glyphWidth = shape.width
        glyphHeight = shape.height
    }

    /// Probabilities of each character of the alphabet (the ensemble's mean), most likely first.
    public func classify(_ features: [Float]) -> [(character: Character, probability: Double)] {
        precondition(features.count == glyphWidth * glyphHeight + 1, "feature vector size")
        var mean = [Double](repeating: 0, count: alphabet.count)
        for network in networks {
            for (k, p) in network.probabilities(features).enumerated() { mean[k] += p / Double(networks.count) }
        }
        return zip(alphabet, mean).map { ($0, $1) }.sorted { $0.probability > $1.probability }
    }

    /// The feature vector of one character: its ink box (the ink of `binary`) within `columns`,
    /// sampled from `gray` (dark on white), scaled to `height` keeping its aspect up to `width`, centred; ink 1, paper 0;
    /// the last element is the box's aspect ratio (width / height, capped at 2).
    public static func features(gray: LumaImage, binary: LumaImage, columns: Range<Int>, width: Int, height: Int) -> [Float]? {
        let c0 = max(0, columns.lowerBound), c1 = min(gray.width, columns.upperBound)
        guard c1 > c0 else { return nil }
        // The ink box inside the columns.
        var y0 = binary.height, y1 = -1, xMin = c1, xMax = c0 - 1
        for y in 0..<binary.height {
            for x in c0..<c1 where binary[x, y] < 128 {
                y0 = min(y0, y)
                y1 = max(y1, y)
                xMin = min(xMin, x)
                xMax = max(xMax, x)
            }
        }
        guard y1 >= y0 else { return nil }
        let x0 = xMin, x1 = xMax + 1
        let boxW = Double(x1 - x0), boxH = Double(y1 - y0 + 1)
        let scale = Double(height) / boxH // output pixels per source pixel
        let scaledW: Double = (boxW * scale).rounded()
        let outW = min(width, max(1, Int(scaledW)))
        let sx = boxW / Double(outW), sy = boxH / Double(height)
        let left = (width - outW) / 2
        var out = [Float](repeating: 0, count: width * height + 1)
        // Area-average each output pixel over its source rectangle.
        for oy in 0..<height {
            let ya = Double(y0) + Double(oy) * sy, yb = ya + sy
            for ox in 0..<outW {
                let xa = Double(x0) + Double(ox) * sx, xb = xa + sx
                var sum: Double = 0, weight: Double = 0
                var y = Int(ya)
                while Double(y) < yb, y < gray.height {
                    let wy: Double = min(yb, Double(y + 1)) - max(ya, Double(y))
                    var x = Int(xa)
                    while Double(x) < xb, x < gray.width {
                        let wx: Double = min(xb, Double(x + 1)) - max(xa, Double(x))
                        let ink = Double(255 - Int(gray[x, y]))
                        sum += wx * wy * ink
                        weight += wx * wy
                        x += 1
                    }
                    y += 1
                }
                out[oy * width + left + ox] = weight > 0 ? Float(sum / weight / 255) : 0
            }
        }
        out[width * height] = Float(min(2, boxW / boxH))
        return out
    }
}
