private import CPNG
public import PlateKeeperCore

/// Decodes PNG to 8-bit luma with libpng's simplified API.
///
/// Not through Leptonica: its PNG reader lets libpng print errors to stderr and allocates
/// whatever the header claims. libpng's simplified API catches its own errors (the message lands
/// in the `png_image`, nothing is printed) and gives the size before any pixel is decoded, so
/// `DecodeLimits` is checked first. Grey images decode straight to grey; colour images to RGB,
/// converted with Leptonica's luminance weights (0.3, 0.5, 0.2) so a PNG reads the same as it did
/// through Leptonica.
public enum PNGDecoder {
    public static func decode(_ data: [UInt8]) throws(ImagingError) -> LumaImage {
        try DecodeLimits.check(bytes: data.count, what: "PNG")
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        let begun = data.withUnsafeBufferPointer { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard begun != 0 else { throw failure(&image, call: "png_image_begin_read_from_memory") }
        let width = Int(image.width), height = Int(image.height)
        try DecodeLimits.check(width: width, height: height, what: "PNG header")
        let grey = image.format & (PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA | PNG_FORMAT_FLAG_LINEAR | PNG_FORMAT_FLAG_COLORMAP) == 0
        image.format = grey ? UInt32(PNG_FORMAT_GRAY) : UInt32(PNG_FORMAT_RGB)
        let channels = grey ? 1 : 3
        var buffer = [UInt8](repeating: 0, count: width * height * channels)
        let finished = buffer.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, Int32(width * channels), nil) }
        guard finished != 0 else { throw failure(&image, call: "png_image_finish_read") }
        if grey { return LumaImage(width: width, height: height, pixels: buffer) }
        var luma = [UInt8](repeating: 0, count: width * height)
        buffer.withUnsafeBufferPointer { rgb in
            luma.withUnsafeMutableBufferPointer { out in
                for i in 0..<out.count {
                    let r = Double(rgb[3 * i]), g = Double(rgb[3 * i + 1]), b = Double(rgb[3 * i + 2])
                    out[i] = UInt8(min(255, 0.3 * r + 0.5 * g + 0.2 * b + 0.5))
                }
            }
        }
        return LumaImage(width: width, height: height, pixels: luma)
    }

    private static func failure(_ image: inout png_image, call: String) -> ImagingError {
        let message = withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return ImagingError(.corrupt, call: call, message.isEmpty ? "cannot decode PNG" : message)
    }
}

/// Decodes binary PGM (`P5`, 8 or 16 bits) to luma: a header of four numbers and the samples.
/// Parsed here rather than by Leptonica, whose reader allocates whatever the header claims.
public enum PGMDecoder {
    public static func decode(_ data: [UInt8]) throws(ImagingError) -> LumaImage {
        try DecodeLimits.check(bytes: data.count, what: "PGM")
        guard data.starts(with: [0x50, 0x35]) else { throw ImagingError(.unsupportedFormat, "not a binary PGM (no P5)") }
        var i = 2
        // Three numbers (width, height, maxval), separated by whitespace and comments, then one whitespace byte.
        func number() throws(ImagingError) -> Int {
            while i < data.count {
                if data[i] == 0x23 {  // '#': comment to end of line
                    while i < data.count, data[i] != 0x0A { i += 1 }
                } else if [0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C].contains(data[i]) {
                    i += 1
                } else {
                    break
                }
            }
            var value = 0, digits = 0
            while i < data.count, (0x30...0x39).contains(data[i]) {
                guard digits < 9 else { throw ImagingError(.corrupt, "PGM header number too long") }
                value = value * 10 + Int(data[i] - 0x30)
                digits += 1
                i += 1
            }
            guard digits > 0 else { throw ImagingError(.corrupt, "PGM header is incomplete") }
            return value
        }
        let width = try number(), height = try number(), maxval = try number()
        try DecodeLimits.check(width: width, height: height, what: "PGM header")
        guard (1...65535).contains(maxval) else { throw ImagingError(.corrupt, "PGM maxval \(maxval) is not 1 to 65535") }
        guard i < data.count, [0x20, 0x09, 0x0A, 0x0D].contains(data[i]) else { throw ImagingError(.corrupt, "PGM header is incomplete") }
        i += 1
        let bytesPerSample = maxval > 255 ? 2 : 1
        let count = width * height
        guard data.count - i >= count * bytesPerSample else {
            throw ImagingError(.corrupt, "PGM \(width)x\(height) needs \(count * bytesPerSample) bytes of samples, has \(data.count - i)")
        }
        var pixels = [UInt8](repeating: 0, count: count)
        data.withUnsafeBufferPointer { src in
            pixels.withUnsafeMutableBufferPointer { out in
                for p in 0..<count {
                    let v = bytesPerSample == 1 ? Int(src[i + p]) : Int(src[i + 2 * p]) << 8 | Int(src[i + 2 * p + 1])
                    out[p] = UInt8((min(v, maxval) * 255 + maxval / 2) / maxval)
                }
            }
        }
        return LumaImage(width: width, height: height, pixels: pixels)
    }
}

/// Encodes luma as binary PGM (`P5`, 8 bits): the format `PGMDecoder` reads, and the one
/// Tesseract's training tools and image viewers take without a library.
public enum PGMEncoder {
    public static func encode(_ image: LumaImage) -> [UInt8] {
        Array("P5\n\(image.width) \(image.height)\n255\n".utf8) + image.pixels
    }
}
