public import PlateKeeperCore
import Foundation

/// Writes a recording folder: each frame's raw bytes as captured (GREY/YUYV rows without padding,
/// MJPEG as the camera sent it) and a manifest with capture times, sequence numbers, format and a
/// checksum of the luma, so that `replay` and replay cameras play it back bit-exactly and notice
/// if a frame changed on disk.
public final class RecordingWriter {
    public let folder: String
    public let camera: CameraID
    public let format: NegotiatedFormat
    public private(set) var entries: [RecordingManifest.Entry] = []

    /// Creates `folder` (which must not exist or be empty).
    public init(folder: String, camera: CameraID, format: NegotiatedFormat) throws(CaptureError) {
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        guard existing.isEmpty else { throw CaptureError(.unsupported, path: folder, "exists and is not empty") }
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw CaptureError(.unreadable, path: folder, "cannot create: \(error.localizedDescription)")
        }
        self.folder = folder
        self.camera = camera
        self.format = format
    }

    /// Adds one frame (it must carry its raw bytes: `nextFrame(keepRaw: true)`).
    public func append(_ frame: CapturedFrame) throws(CaptureError) {
        guard let raw = frame.raw else { throw CaptureError(.badFrame, path: folder, "frame \(frame.sequence) has no raw bytes") }
        let number = String(entries.count + 1)
        let ext = format.format == .mjpeg ? "jpg" : format.format.rawValue.lowercased()
        let name = String(repeating: "0", count: max(0, 6 - number.count)) + number + "." + ext
        let path = (folder as NSString).appendingPathComponent(name)
        do {
            try Data(raw).write(to: URL(fileURLWithPath: path))
        } catch {
            throw CaptureError(.unreadable, path: path, "cannot write: \(error.localizedDescription)")
        }
        entries.append(RecordingManifest.Entry(
            file: name, captureTime: frame.time.iso8601, pixelFormat: format.format.rawValue, width: format.width,
            height: format.height, sequence: UInt64(frame.sequence), lumaChecksum: LumaChecksum.hex(frame.image)))
    }

    /// Writes manifest.json; the recording is complete once this returns.
    public func finish(clockQuality: ClockQuality) throws(CaptureError) {
        let manifest = RecordingManifest(camera: camera.rawValue, clockQuality: clockQuality.rawValue, frames: entries)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let path = (folder as NSString).appendingPathComponent(RecordingManifest.fileName)
        do {
            try encoder.encode(manifest).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw CaptureError(.unreadable, path: path, "cannot write: \(error.localizedDescription)")
        }
    }
}
