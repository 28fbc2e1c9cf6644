/// The operator's name for one camera of a unit, as written in the config (`"north-lane"`).
public struct CameraID: Sendable, Hashable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
    public var description: String { rawValue }
}

/// The layouts a frame can arrive in, named by their V4L2 fourcc.
public enum PixelFormat: String, Sendable, Codable, CaseIterable {
    /// 8-bit luma only.
    case grey = "GREY"
    /// Packed 4:2:2, Y0 U Y1 V: luma is every even byte.
    case yuyv = "YUYV"
    /// Motion JPEG: each frame a JPEG image.
    case mjpeg = "MJPG"

    /// Bytes of one raw frame, or nil for compressed formats.
    public func frameBytes(width: Int, height: Int) -> Int? {
        switch self {
        case .grey: width * height
        case .yuyv: width * height * 2
        case .mjpeg: nil
        }
    }
}
