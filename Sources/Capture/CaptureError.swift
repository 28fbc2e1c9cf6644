import Foundation

/// A failure to get a frame: the file or device at fault and what went wrong.
public struct CaptureError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case notFound = "not-found"
        case unreadable
        case badManifest = "bad-manifest"
        case badFrame = "bad-frame"
        case unsupported
        /// A system call on a device failed.
        case device
    }

    public var code: Code
    /// The file or device.
    public var path: String
    public var message: String
    /// The failing system call and errno, for device errors.
    public var call: String?
    public var errno: Int32?

    public init(_ code: Code, path: String, _ message: String, call: String? = nil, errno: Int32? = nil) {
        self.code = code
        self.path = path
        self.message = message
        self.call = call
        self.errno = errno
    }

    public var description: String {
        var s = "\(path): \(message)"
        if let call { s += " (\(call)" + (errno.map { ", errno \($0)" } ?? "") + ")" }
        return s
    }
}

extension CaptureError {
    /// A failed system call on a device, with errno's text: `call` failed with `errno`.
    static func failed(_ call: String, path: String, errno code: Int32, _ kind: Code = .device) -> CaptureError {
        CaptureError(kind, path: path, String(cString: strerror(code)), call: call, errno: code)
    }
}
