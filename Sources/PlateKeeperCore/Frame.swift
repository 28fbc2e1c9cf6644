/// One captured (or replayed) frame in luma, with where and when it came from.
public struct Frame: Sendable {
    public var camera: CameraID
    /// The source's frame counter; gaps mean dropped frames.
    public var sequence: UInt64
    public var captureTime: CaptureTime
    /// A name for logs and output: the file name in replay, `video0#1234` for a device.
    public var name: String
    public var image: LumaImage

    public init(camera: CameraID, sequence: UInt64, captureTime: CaptureTime, name: String, image: LumaImage) {
        self.camera = camera
        self.sequence = sequence
        self.captureTime = captureTime
        self.name = name
        self.image = image
    }
}
