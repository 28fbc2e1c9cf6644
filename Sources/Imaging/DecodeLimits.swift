/// The bounds every decoder enforces on untrusted image data, checked from the header before any
/// pixel buffer is allocated: a 119-byte file claiming 40000×40000 pixels is refused, not decoded.
///
/// One pixel limit and one file-size limit for every format (JPEG, PNG, PGM, BMP, TIFF, raw camera
/// layouts). 24 megapixels is a 6000×4000 photo, three times a 4K camera frame; decoding one takes
/// at most about 100 MB (RGB working buffers plus the luma copy). 48 MiB covers any such photo.
public enum DecodeLimits {
    /// Width × height above this is refused.
    public static let maxPixels = 24_000_000
    /// Encoded files (and raw frames) larger than this are refused before they are read.
    public static let maxFileBytes = 48 << 20

    /// Throws `.tooLarge` unless `width`×`height` is positive and within `maxPixels`. Safe for any
    /// `Int` inputs: the product is only formed once both sides are known to be small.
    public static func check(width: Int, height: Int, what: String) throws(ImagingError) {
        guard width > 0, height > 0 else {
            throw ImagingError(.corrupt, "\(what) claims a size of \(width)x\(height)")
        }
        guard width <= maxPixels, height <= maxPixels, width * height <= maxPixels else {
            throw ImagingError(.tooLarge, "\(what) claims \(width)x\(height) pixels; the limit is \(maxPixels / 1_000_000) megapixels")
        }
    }

    /// Throws `.tooLarge` when `count` encoded bytes exceed `maxFileBytes`.
    public static func check(bytes count: Int, what: String) throws(ImagingError) {
        guard count <= maxFileBytes else {
            throw ImagingError(.tooLarge, "\(what) is \(count) bytes; the limit is \(maxFileBytes >> 20) MiB")
        }
    }
}
