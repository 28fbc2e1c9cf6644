extension String {
    /// The text a C call wrote into `buffer`, up to its first NUL (all of it when there is none);
    /// bytes that are not UTF-8 become U+FFFD. For the fixed-size message and name buffers that
    /// C APIs fill (gethostname, curl's error buffer, the OpenCV shim, a pseudo-terminal's name).
    public init(nulTerminated buffer: [CChar]) {
        self.init(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
