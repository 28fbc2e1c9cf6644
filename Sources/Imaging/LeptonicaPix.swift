private import CLeptonica
public import PlateKeeperCore

/// Owns one Leptonica `PIX`, destroyed in `deinit`.
///
/// The only place a `PIX*` lives on the Swift side. Recognition borrows the raw pointer
/// through `withUnsafePix` for the duration of one C call and never keeps it.
public final class LeptonicaPix {
    private var raw: UnsafeMutablePointer<Pix>?

    private init(owning raw: UnsafeMutablePointer<Pix>) {
        LeptonicaQuiet.once
        self.raw = raw
    }

    deinit { pixDestroy(&raw) }

    /// An 8-bit PIX holding a copy of `image`.
    public convenience init(_ image: LumaImage) throws(ImagingError) {
        guard image.width > 0, image.height > 0,
              let pix = pixCreate(Int32(image.width), Int32(image.height), 8)
        else { throw ImagingError(.libraryFailure, call: "pixCreate", "cannot allocate \(image.width)x\(image.height)") }
        self.init(owning: pix)
        let wpl = Int(pixGetWpl(pix))
        let data = UnsafeMutableRawPointer(pixGetData(pix)!).assumingMemoryBound(to: UInt8.self)
        image.pixels.withUnsafeBufferPointer { src in
            for row in 0..<image.height {
                let dst = data + row * wpl * 4
                let s = row * image.width
                // PIX keeps each 32-bit word most significant byte first; on a little-endian
                // machine byte x of a row therefore sits at x ^ 3.
                for x in 0..<image.width { dst[x ^ 3] = src[s + x] }
            }
        }
    }

    /// The image as 8-bit luma (colour is converted to luminance, colormaps are applied).
    public func luma() throws(ImagingError) -> LumaImage {
        guard let raw else { throw ImagingError(.libraryFailure, "PIX already released") }
        let eight: LeptonicaPix
        if pixGetDepth(raw) == 8 && pixGetColormap(raw) == nil {
            eight = self
        } else {
            guard let converted = pixConvertTo8(raw, 0) else {
                throw ImagingError(.corrupt, call: "pixConvertTo8", "cannot convert depth \(pixGetDepth(raw)) to 8 bit")
            }
            eight = LeptonicaPix(owning: converted)
        }
        return eight.copyOut8()
    }

    private func copyOut8() -> LumaImage {
        let pix = raw!
        let w = Int(pixGetWidth(pix)), h = Int(pixGetHeight(pix)), wpl = Int(pixGetWpl(pix))
        let data = UnsafeMutableRawPointer(pixGetData(pix)!).assumingMemoryBound(to: UInt8.self)
        var out = [UInt8](repeating: 0, count: w * h)
        out.withUnsafeMutableBufferPointer { dst in
            for row in 0..<h {
                let src = data + row * wpl * 4
                for x in 0..<w { dst[row * w + x] = src[x ^ 3] }
            }
        }
        return LumaImage(width: w, height: h, pixels: out)
    }

    /// The image encoded as PNG.
    public func pngData() throws(ImagingError) -> [UInt8] {
        var data: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        guard pixWriteMem(&data, &size, raw, Int32(IFF_PNG)) == 0, let data else {
            throw ImagingError(.libraryFailure, call: "pixWriteMem", "cannot encode PNG")
        }
        defer { lept_free(data) }
        return Array(UnsafeBufferPointer(start: data, count: size))
    }

    /// Lends the PIX pointer (as an opaque pointer, so Leptonica's types stay private) for one call.
    public func withUnsafePix<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R {
        try body(OpaquePointer(raw!))
    }
}

/// Leptonica prints every error to stderr, some of them (its memory-stream messages) past its
/// severity setting; we report errors ourselves, so both paths are closed.
private enum LeptonicaQuiet {
    static let once: Void = {
        _ = setMsgSeverity(Int32(L_SEVERITY_NONE))
        leptSetStderrHandler { _ in }
    }()
}
