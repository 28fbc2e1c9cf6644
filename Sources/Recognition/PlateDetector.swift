public import PlateKeeperCore
import COpenCVDNN
import Foundation

/// The learned plate detector: a small convolutional network that marks plate centres and sizes
/// in the whole grey frame, run by OpenCV's DNN module (Debian's libopencv-dnn, through the
/// `COpenCVDNN` shim).
///
/// Owns one `cv::dnn::Net` (freed in `deinit`) and its input and output buffers. A network is not
/// safe to run from two threads at once, so each recognition worker owns its own detector, as it
/// owns its Tesseract engine. The model, `Models/plates.onnx`, is trained by
/// `Models/train-detector` (which says on what and how): the frame is scaled to at most
/// `inputWidth` pixels wide and padded to a multiple of 32; the network answers, per 8×8 cell, a
/// centre score (logit), the centre's offset in the cell and the plate's log width and height
/// in cells.
public final class PlateDetector {
    /// A plate the network found: its box in frame pixels and its centre score, 0...1.
    public struct Detection: Sendable, Equatable {
        public var box: PixelBox
        public var score: Double
        public init(box: PixelBox, score: Double) {
            self.box = box
            self.score = score
        }
    }

    public struct Settings: Sendable, Equatable {
        /// Frames wider than this are scaled down to it for the network (it was trained so).
        public var inputWidth = 640
        /// Centre score from which a peak is a plate.
        public var threshold = 0.3
        /// At most this many plates per frame, highest scores first.
        public var limit = 8
        public init() {}
    }

    /// The network's output stride and the side its input is padded to a multiple of.
    static let stride = 8
    static let padding = 32
    /// Bounds on the input side, so no frame size reaches allocation unchecked.
    static let maxSide = 4096

    public let settings: Settings
    private let net: OpaquePointer
    private var input: [Float] = []
    private var output: [Float] = []

    /// Where the installed model is looked for: `$PLATEKEEPER_PLATE_DETECTOR`, the share folder,
    /// then the source tree's `Models/plates.onnx`.
    public static let searchPaths: [String] = {
        let env = ProcessInfo.processInfo.environment["PLATEKEEPER_PLATE_DETECTOR"].map { [$0] } ?? []
        return env + ShareFolder.candidates("plates.onnx", source: "Models/plates.onnx")
    }()

    /// The first model file found on `searchPaths`, if any.
    public static var defaultPath: String? { ShareFolder.firstExisting(searchPaths) }

    public init(path: String, settings: Settings = Settings()) throws(RecognitionError) {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw RecognitionError(call: "PlateDetector", "cannot read \(path)")
        }
        var message = [CChar](repeating: 0, count: 512)
        guard let net = pk_dnn_load_onnx(path, &message, message.count) else {
            throw RecognitionError(call: "cv::dnn::readNetFromONNX", "\(path): \(String(nulTerminated: message))")
        }
        // The daemon's parallelism is one worker per camera; OpenCV's own pool would fight them.
        pk_dnn_set_threads(1)
        self.net = net
        self.settings = settings
    }

    deinit { pk_dnn_free(net) }

    /// The plates in `image`, highest score first.
    public func detect(_ image: LumaImage) throws(RecognitionError) -> [Detection] {
        guard image.width >= 16, image.height >= 16 else { return [] }
        let scale = min(1.0, Double(settings.inputWidth) / Double(image.width))
        let w = min(Self.maxSide, max(16, Int((Double(image.width) * scale).rounded())))
        let h = min(Self.maxSide, max(16, Int((Double(image.height) * scale).rounded())))
        let small = (w == image.width && h == image.height) ? image : ImageOps.resized(image, width: w, height: h)
        let pw = (w + Self.padding - 1) / Self.padding * Self.padding
        let ph = (h + Self.padding - 1) / Self.padding * Self.padding
        fillInput(small, paddedWidth: pw, paddedHeight: ph)
        let gw = pw / Self.stride, gh = ph / Self.stride
        let capacity = 5 * gw * gh
        if output.count < capacity { output = [Float](repeating: 0, count: capacity) }
        var channels: Int32 = 0, oh: Int32 = 0, ow: Int32 = 0
        var message = [CChar](repeating: 0, count: 512)
        let status = input.withUnsafeBufferPointer { inp in
            output.withUnsafeMutableBufferPointer { out in
                pk_dnn_forward(net, inp.baseAddress, Int32(ph), Int32(pw), out.baseAddress, capacity, &channels, &oh, &ow, &message, message.count)
            }
        }
        guard status == 0 else {
            throw RecognitionError(call: "cv::dnn::Net::forward", String(nulTerminated: message))
        }
        guard channels == 5, Int(oh) == gh, Int(ow) == gw else {
            throw RecognitionError(call: "PlateDetector", "the model answered \(channels)×\(oh)×\(ow) for a \(pw)×\(ph) input; expected 5×\(gh)×\(gw)")
        }
        return peaks(gridWidth: gw, gridHeight: gh, scale: scale, frameWidth: image.width, frameHeight: image.height)
    }

    /// Raw grey values 0-255 (the model scales them itself), padded with the frame's mean.
    private func fillInput(_ image: LumaImage, paddedWidth pw: Int, paddedHeight ph: Int) {
        let mean = image.pixels.isEmpty ? 0 : Float(image.pixels.reduce(0) { $0 + Int($1) } / image.pixels.count)
        // The buffer is kept between frames of one size (a camera's frames all are).
        if input.count == pw * ph {
            input.withUnsafeMutableBufferPointer { $0.update(repeating: mean) }
        } else {
            input = [Float](repeating: mean, count: pw * ph)
        }
        image.pixels.withUnsafeBufferPointer { src in
            input.withUnsafeMutableBufferPointer { dst in
                for y in 0..<image.height {
                    let s = y * image.width, d = y * pw
                    for x in 0..<image.width { dst[d + x] = Float(src[s + x]) }
                }
            }
        }
    }

    /// Cells whose score is the largest of their 3×3 neighbourhood and above the threshold.
    private func peaks(gridWidth gw: Int, gridHeight gh: Int, scale: Double, frameWidth: Int, frameHeight: Int) -> [Detection] {
        let plane = gw * gh
        let logitThreshold = Float(log(settings.threshold / (1 - settings.threshold)))
        var found: [Detection] = []
        output.withUnsafeBufferPointer { out in
            for y in 0..<gh {
                for x in 0..<gw {
                    let v = out[y * gw + x]
                    guard v >= logitThreshold, v.isFinite else { continue }
                    var isPeak = true
                    for dy in -1...1 where isPeak {
                        for dx in -1...1 where dx != 0 || dy != 0 {
                            let nx = x + dx, ny = y + dy
                            guard nx >= 0, ny >= 0, nx < gw, ny < gh else { continue }
                            let n = out[ny * gw + nx]
                            // Ties go to the first cell in reading order.
                            if n > v || (n == v && (dy < 0 || (dy == 0 && dx < 0))) { isPeak = false; break }
                        }
                    }
                    guard isPeak else { continue }
                    // Offsets and log sizes are bounded, so a bad model cannot make huge boxes.
                    func channel(_ c: Int, _ range: ClosedRange<Double>) -> Double {
                        let value = Double(out[c * plane + y * gw + x])
                        return value.isFinite ? min(max(value, range.lowerBound), range.upperBound) : range.lowerBound
                    }
                    let cx = (Double(x) + channel(1, 0...1)) * Double(Self.stride) / scale
                    let cy = (Double(y) + channel(2, 0...1)) * Double(Self.stride) / scale
                    let bw = exp(channel(3, -3...6)) * Double(Self.stride) / scale
                    let bh = exp(channel(4, -3...6)) * Double(Self.stride) / scale
                    let box = PixelBox(x: Int((cx - bw / 2).rounded()), y: Int((cy - bh / 2).rounded()),
                                       width: Int(bw.rounded()), height: Int(bh.rounded()))
                        .clipped(toWidth: frameWidth, height: frameHeight)
                    guard box.area > 0 else { continue }
                    found.append(Detection(box: box, score: 1 / (1 + exp(-Double(v)))))
                }
            }
        }
        found.sort { $0.score != $1.score ? $0.score > $1.score : ($0.box.y, $0.box.x) < ($1.box.y, $1.box.x) }
        return Array(found.prefix(settings.limit))
    }
}
