/// An 8-bit grayscale image, rows packed without padding.
///
/// The whole pipeline works on luma: cameras deliver it cheaply (GREY, the Y plane of YUYV,
/// JPEG decoded straight to gray), and plate reading needs no colour.
public struct LumaImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `width * height` bytes, row-major, top row first.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height, "pixel count must be width*height")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A blank image filled with one value.
    public init(width: Int, height: Int, fill: UInt8 = 0) {
        self.init(width: width, height: height, pixels: [UInt8](repeating: fill, count: width * height))
    }

    @inlinable public subscript(x: Int, y: Int) -> UInt8 {
        get { pixels[y * width + x] }
        set { pixels[y * width + x] = newValue }
    }

    /// The pixels inside `box` (clipped to the image), as a new image.
    public func cropped(to box: PixelBox) -> LumaImage {
        let clipped = box.clipped(toWidth: width, height: height)
        guard clipped.width > 0, clipped.height > 0 else { return LumaImage(width: 0, height: 0) }
        var out = [UInt8](repeating: 0, count: clipped.width * clipped.height)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for row in 0..<clipped.height {
                    let s = (clipped.y + row) * width + clipped.x
                    let d = row * clipped.width
                    for col in 0..<clipped.width { dst[d + col] = src[s + col] }
                }
            }
        }
        return LumaImage(width: clipped.width, height: clipped.height, pixels: out)
    }
}
