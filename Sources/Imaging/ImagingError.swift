/// A failure to decode or convert an image, naming the C call that failed and why.
public struct ImagingError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The bytes are not an image format we read.
        case unsupportedFormat = "unsupported-format"
        /// The image is damaged: torn, truncated, or not decodable.
        case corrupt
        /// A raw frame whose byte count does not match its declared size and format.
        case wrongSize = "wrong-size"
        /// The image claims more pixels or bytes than `DecodeLimits` allow; refused before decoding.
        case tooLarge = "too-large"
        /// A library call failed for a reason other than the data (out of memory, bad handle).
        case libraryFailure = "library-failure"
    }

    public var code: Code
    /// The C function that reported the failure, if any (`tjDecompress2`).
    public var call: String?
    public var message: String

    public init(_ code: Code, call: String? = nil, _ message: String) {
        self.code = code
        self.call = call
        self.message = message
    }

    public var description: String {
        if let call { return "\(code.rawValue): \(call): \(message)" }
        return "\(code.rawValue): \(message)"
    }
}
