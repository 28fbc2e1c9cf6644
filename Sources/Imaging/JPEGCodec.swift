private import CTurboJPEG
public import PlateKeeperCore

/// Decodes JPEG (and MJPEG frames) straight to 8-bit luma with libjpeg-turbo.
///
/// Owns one TurboJPEG decompressor handle, freed in `deinit`. Not thread-safe: keep one per
/// thread of work. Decoding to gray reads only the Y component and skips colour conversion.
///
/// libjpeg-turbo leaves a handle in a broken state after some failures (a header without SOS, a
/// width over 65500): every later image then fails with "Unsupported marker type". So a handle
/// that reported any error is destroyed and a fresh one made before the next image: one torn
/// MJPEG frame cannot poison the frames after it.
public final class JPEGDecoder {
    private var handle: tjhandle?

    public init() throws(ImagingError) {
        handle = try Self.makeHandle()
    }

    deinit { if let handle { tjDestroy(handle) } }

    private static func makeHandle() throws(ImagingError) -> tjhandle {
        guard let h = tjInitDecompress() else {
            throw ImagingError(.libraryFailure, call: "tjInitDecompress", String(cString: tjGetErrorStr2(nil)))
        }
        return h
    }

    /// Decodes a whole JPEG image.
    ///
    /// A torn or truncated image is an error (`.corrupt`), not a grey-filled picture: libjpeg-turbo
    /// reports premature end of data only as a warning, which we treat as fatal. Sizes beyond
    /// `DecodeLimits` are refused from the header (`.tooLarge`).
    public func decode(_ data: [UInt8]) throws(ImagingError) -> LumaImage {
        guard data.count >= 4, data[0] == 0xFF, data[1] == 0xD8 else {
            throw ImagingError(.unsupportedFormat, "not a JPEG (no SOI marker)")
        }
        try DecodeLimits.check(bytes: data.count, what: "JPEG")
        if handle == nil { handle = try Self.makeHandle() }
        do {
            return try decode(data, with: handle!)
        } catch {
            // Whatever failed, the handle may be left broken: start the next image on a new one.
            tjDestroy(handle)
            handle = try? Self.makeHandle()
            throw error
        }
    }

    private func decode(_ data: [UInt8], with handle: tjhandle) throws(ImagingError) -> LumaImage {
        var width: Int32 = 0, height: Int32 = 0, subsamp: Int32 = 0, colorspace: Int32 = 0
        let headerOK = data.withUnsafeBufferPointer { buf in
            tjDecompressHeader3(handle, buf.baseAddress, UInt(buf.count), &width, &height, &subsamp, &colorspace)
        }
        guard headerOK == 0 else {
            throw ImagingError(.corrupt, call: "tjDecompressHeader3", String(cString: tjGetErrorStr2(handle)))
        }
        // libjpeg-turbo accepts some garbage headers with a 0x0 size.
        try DecodeLimits.check(width: Int(width), height: Int(height), what: "JPEG header")
        var pixels = [UInt8](repeating: 0, count: Int(width) * Int(height))
        let rc = data.withUnsafeBufferPointer { src in
            pixels.withUnsafeMutableBufferPointer { dst in
                tjDecompress2(handle, src.baseAddress, UInt(src.count), dst.baseAddress, width, width, height,
                              Int32(TJPF_GRAY.rawValue), 0)
            }
        }
        if rc != 0 {
            let message = String(cString: tjGetErrorStr2(handle))
            let isWarning = tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue)
            // Extraneous bytes between markers are common in camera output and harmless;
            // every other warning (premature end of data, bad Huffman code) means lost image data.
            if !(isWarning && message.contains("extraneous bytes")) {
                throw ImagingError(.corrupt, call: "tjDecompress2", message)
            }
        }
        return LumaImage(width: Int(width), height: Int(height), pixels: pixels)
    }
}
/// Encodes luma images as grayscale JPEG (plate crops for the journal, synthetic frames).
///
/// Owns one TurboJPEG compressor handle, freed in `deinit`. Not thread-safe.
public final class JPEGEncoder {
    private let handle: tjhandle

    public init() throws(ImagingError) {
        guard let h = tjInitCompress() else {
            throw ImagingError(.libraryFailure, call: "tjInitCompress", String(cString: tjGetErrorStr2(nil)))
        }
        handle = h
    }

    deinit { tjDestroy(handle) }

    public func encode(_ image: LumaImage, quality: Int = 85) throws(ImagingError) -> [UInt8] {
        guard image.width > 0, image.height > 0 else {
            throw ImagingError(.libraryFailure, call: "tjCompress2", "empty image")
        }
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let rc = image.pixels.withUnsafeBufferPointer { src in
            tjCompress2(handle, src.baseAddress, Int32(image.width), Int32(image.width), Int32(image.height),
                        Int32(TJPF_GRAY.rawValue), &out, &size, Int32(TJSAMP_GRAY.rawValue),
                        Int32(max(1, min(100, quality))), 0)
        }
        defer { if let out { tjFree(out) } }
        guard rc == 0, let out else {
            throw ImagingError(.libraryFailure, call: "tjCompress2", String(cString: tjGetErrorStr2(handle)))
        }
        return Array(UnsafeBufferPointer(start: out, count: Int(size)))
    }
}
