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
        // Each scan of a progressive JPEG passes over the whole image: a small file of thousands
        // of empty scans costs minutes (a scan bomb). Counted from the markers before decoding.
        let scans = JPEGStructure.scanCount(data)
        guard scans <= JPEGStructure.maxScans else {
            throw ImagingError(.tooLarge, "JPEG has \(scans) scans; the limit is \(JPEGStructure.maxScans) (a real progressive JPEG has about 10)")
        }
        if colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue) {
            return try decodeCMYK(data, with: handle, width: width, height: height)
        }
        var pixels = [UInt8](repeating: 0, count: Int(width) * Int(height))
        let rc = data.withUnsafeBufferPointer { src in
            pixels.withUnsafeMutableBufferPointer { dst in
                // libjpeg-turbo's own scan limit (500) stays on behind the count above.
                tjDecompress2(handle, src.baseAddress, UInt(src.count), dst.baseAddress, width, width, height,
                              Int32(TJPF_GRAY.rawValue), Self.limitScans)
            }
        }
        try Self.check(rc, handle)
        return LumaImage(width: Int(width), height: Int(height), pixels: pixels)
    }

    /// What `tjDecompress2`'s result means. Extraneous bytes between markers are common in camera
    /// output and harmless; every other warning (premature end of data, bad Huffman code) and every
    /// error means lost image data.
    private static func check(_ rc: Int32, _ handle: tjhandle) throws(ImagingError) {
        guard rc != 0 else { return }
        let message = String(cString: tjGetErrorStr2(handle))
        let isWarning = tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue)
        if !(isWarning && message.contains("extraneous bytes")) { throw ImagingError(.corrupt, call: "tjDecompress2", message) }
    }

    /// A CMYK or YCCK JPEG (print workflows, some scanners): libjpeg-turbo gives CMYK, not grey.
    /// Luma from it as from RGB (R = (1 − C)(1 − K) …), with Adobe's inverted CMYK (an APP14
    /// "Adobe" segment, as Photoshop and most writers store it) read as inverted.
    private func decodeCMYK(_ data: [UInt8], with handle: tjhandle, width: Int32, height: Int32) throws(ImagingError) -> LumaImage {
        let count = Int(width) * Int(height)
        var cmyk = [UInt8](repeating: 0, count: count * 4)
        let rc = data.withUnsafeBufferPointer { src in
            cmyk.withUnsafeMutableBufferPointer { dst in
                tjDecompress2(handle, src.baseAddress, UInt(src.count), dst.baseAddress, width, width * 4, height,
                              Int32(TJPF_CMYK.rawValue), Self.limitScans)
            }
        }
        try Self.check(rc, handle)
        let inverted = JPEGStructure.hasAdobeSegment(data)
        var pixels = [UInt8](repeating: 0, count: count)
        for p in 0..<count {
            var c = Int(cmyk[4 * p]), m = Int(cmyk[4 * p + 1]), y = Int(cmyk[4 * p + 2]), k = Int(cmyk[4 * p + 3])
            if !inverted { (c, m, y, k) = (255 - c, 255 - m, 255 - y, 255 - k) }
            // Now 255 means no ink: R = C'·K'/255 and so on, then BT.601 luma.
            let r = c * k / 255, g = m * k / 255, b = y * k / 255
            pixels[p] = UInt8((299 * r + 587 * g + 114 * b + 500) / 1000)
        }
        return LumaImage(width: Int(width), height: Int(height), pixels: pixels)
    }
}
extension JPEGDecoder {
    /// TJFLAG_LIMITSCANS (a macro Swift does not import as the C type).
    static let limitScans: Int32 = 32768
}

/// The marker structure of a JPEG file, walked without decoding: segments skipped by their
/// length, entropy-coded data skipped to the next marker.
enum JPEGStructure {
    /// Scans allowed in one image: libjpeg's progressive default uses 10 for colour, 6 for grey.
    static let maxScans = 64

    /// Whether the file has an APP14 "Adobe" segment before its first scan (its CMYK is inverted).
    static func hasAdobeSegment(_ data: [UInt8]) -> Bool {
        var i = 2
        while i + 9 < data.count, data[i] == 0xFF {
            let marker = data[i + 1]
            if marker == 0xDA { return false }
            let length = Int(data[i + 2]) << 8 | Int(data[i + 3])
            if marker == 0xEE, Array(data[(i + 4)..<(i + 9)]) == Array("Adobe".utf8) { return true }
            i += 2 + max(2, length)
        }
        return false
    }

    /// Start-of-scan markers in `data` (stops counting past `maxScans + 1`, and at EOI).
    static func scanCount(_ data: [UInt8]) -> Int {
        var i = 2, scans = 0
        while i + 1 < data.count, scans <= maxScans {
            guard data[i] == 0xFF else { i += 1; continue }
            let marker = data[i + 1]
            switch marker {
            case 0xFF: i += 1  // fill byte
            case 0x00, 0xD0...0xD7, 0x01: i += 2  // stuffed byte, restart marker, TEM: no length
            case 0xD9: return scans  // EOI
            default:
                guard i + 3 < data.count else { return scans }
                let length = Int(data[i + 2]) << 8 | Int(data[i + 3])
                i += 2 + length
                if marker == 0xDA {
                    scans += 1
                    // Entropy-coded data: up to the next 0xFF that is not a stuffed byte or a restart.
                    while i + 1 < data.count, !(data[i] == 0xFF && data[i + 1] != 0x00 && !(0xD0...0xD7).contains(data[i + 1])) { i += 1 }
                }
            }
        }
        return scans
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
