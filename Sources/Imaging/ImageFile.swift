public import PlateKeeperCore

/// Reads still images from bytes by their magic numbers: JPEG (libjpeg-turbo), PNG (libpng) and
/// binary PGM. Every format is held to `DecodeLimits` before any pixel buffer is allocated, and no
/// decoder prints to stderr.
///
/// BMP and TIFF are not read: no camera or recording produces them, and each would add a large C
/// decoder (with its own stderr messages) to what an untrusted file can reach.
///
/// Owns a JPEG decoder; not thread-safe.
public final class ImageFileDecoder {
    private let jpeg: JPEGDecoder

    public init() throws(ImagingError) {
        jpeg = try JPEGDecoder()
    }

    /// The formats `decode` reads, for help texts and errors.
    public static let formats = "JPEG, PNG or binary PGM"

    public func decode(_ data: [UInt8]) throws(ImagingError) -> LumaImage {
        try DecodeLimits.check(bytes: data.count, what: "image file")
        if data.starts(with: [0xFF, 0xD8]) { return try jpeg.decode(data) }
        if data.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return try PNGDecoder.decode(data) }
        if data.starts(with: [0x50, 0x35]) { return try PGMDecoder.decode(data) }
        throw ImagingError(.unsupportedFormat, "not a \(Self.formats) image")
    }

    /// Decodes one raw or compressed camera frame in a V4L2 pixel format.
    public func decodeFrame(_ data: [UInt8], format: PixelFormat, width: Int, height: Int) throws(ImagingError) -> LumaImage {
        switch format {
        case .mjpeg:
            let image = try jpeg.decode(data)
            guard image.width == width, image.height == height else {
                throw ImagingError(.wrongSize, "MJPEG frame is \(image.width)x\(image.height), expected \(width)x\(height)")
            }
            return image
        case .grey, .yuyv:
            return try RawFrame.luma(data, format: format, width: width, height: height)
        }
    }
}

/// Raw V4L2 frame layouts to luma.
public enum RawFrame {
    public static func luma(_ data: [UInt8], format: PixelFormat, width: Int, height: Int) throws(ImagingError) -> LumaImage {
        guard width > 0, height > 0 else { throw ImagingError(.wrongSize, "frame size \(width)x\(height)") }
        try DecodeLimits.check(width: width, height: height, what: "\(format.rawValue) frame")
        guard let expected = format.frameBytes(width: width, height: height) else {
            throw ImagingError(.unsupportedFormat, "\(format.rawValue) is not a raw format")
        }
        guard data.count == expected else {
            throw ImagingError(.wrongSize, "\(format.rawValue) \(width)x\(height) needs \(expected) bytes, got \(data.count)")
        }
        switch format {
        case .grey:
            return LumaImage(width: width, height: height, pixels: data)
        case .yuyv:
            var y = [UInt8](repeating: 0, count: width * height)
            data.withUnsafeBufferPointer { src in
                y.withUnsafeMutableBufferPointer { dst in
                    for i in 0..<dst.count { dst[i] = src[2 * i] }
                }
            }
            return LumaImage(width: width, height: height, pixels: y)
        case .mjpeg:
            throw ImagingError(.unsupportedFormat, "MJPG is not a raw format")
        }
    }
}
