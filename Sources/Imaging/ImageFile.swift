public import PlateKeeperCore

/// Reads still images from bytes by their magic numbers: JPEG through libjpeg-turbo, PNG
/// (and the other formats Leptonica knows) through Leptonica.
///
/// Owns a JPEG decoder; not thread-safe.
public final class ImageFileDecoder {
    private let jpeg: JPEGDecoder

    public init() throws(ImagingError) {
        jpeg = try JPEGDecoder()
    }

    public func decode(_ data: [UInt8]) throws(ImagingError) -> LumaImage {
        if data.starts(with: [0xFF, 0xD8]) { return try jpeg.decode(data) }
        if data.starts(with: [0x89, 0x50, 0x4E, 0x47]) || data.starts(with: [0x42, 0x4D]) // PNG, BMP
            || data.starts(with: [0x49, 0x49, 0x2A, 0]) || data.starts(with: [0x4D, 0x4D, 0, 0x2A]) // TIFF
            || data.starts(with: [0x50, 0x35]) // PGM
        {
            return try LeptonicaPix.decodeImage(data)
        }
        throw ImagingError(.unsupportedFormat, "not a JPEG, PNG, PGM, BMP or TIFF image")
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
