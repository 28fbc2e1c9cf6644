public import PlateKeeperCore
import Imaging
import Foundation

/// One frame of a replay, located but not yet read from disk.
public struct ReplayItem: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A JPEG/PNG still; its capture time is the file's modification time.
        case still
        /// A frame listed in a recording manifest.
        case recorded(format: PixelFormat?, width: Int?, height: Int?, captureNanos: Int64)
    }

    public var path: String
    public var camera: CameraID
    public var sequence: UInt64
    public var kind: Kind
    public var clockQuality: ClockQuality
    /// The luma checksum the manifest gives for this frame, if any.
    public var lumaChecksum: String?

    public init(path: String, camera: CameraID, sequence: UInt64, kind: Kind, clockQuality: ClockQuality, lumaChecksum: String? = nil) {
        self.lumaChecksum = lumaChecksum
        self.path = path
        self.camera = camera
        self.sequence = sequence
        self.kind = kind
        self.clockQuality = clockQuality
    }
}

/// Plays recorded frames: single images, folders of images, and recording folders
/// (`manifest.json` plus frames). Decoding is lazy, one frame at a time, so a replay of
/// thousands of frames needs memory for one.
///
/// A bad frame (unreadable, torn, wrong size) is reported as an error for that frame and the
/// replay goes on; a bad manifest fails only its own recording.
public final class ReplaySource {
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "pgm"]

    private let decoder: ImageFileDecoder

    public init() throws(CaptureError) {
        do {
            decoder = try ImageFileDecoder()
        } catch {
            throw CaptureError(.unsupported, path: "libturbojpeg", error.description)
        }
    }

    /// Lists the frames under `paths`. A folder with a `manifest.json` is a recording; any other
    /// folder contributes its images and, in name order, its subfolders. Errors for whole inputs
    /// (missing path, bad manifest) are returned beside the items so that the other inputs still play.
    ///
    /// Each real file and folder is visited once, whatever symbolic links lead to it again (a link
    /// to its own folder, or two links to one recording), so planning is linear in the files there.
    public static func plan(_ paths: [String], defaultCamera: CameraID = "replay") -> (items: [ReplayItem], errors: [CaptureError]) {
        var items: [ReplayItem] = []
        var errors: [CaptureError] = []
        var visited = Set<String>()
        for path in paths {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
                errors.append(CaptureError(.notFound, path: path, "no such file or folder"))
                continue
            }
            guard visited.insert(realPath(path)).inserted else { continue }
            if isDir.boolValue {
                planFolder(path, depth: 0, defaultCamera: defaultCamera, items: &items, errors: &errors, visited: &visited)
            } else {
                items.append(ReplayItem(path: path, camera: defaultCamera, sequence: UInt64(items.count), kind: .still, clockQuality: .fileTime))
            }
        }
        return (items, errors)
    }

    private static func planFolder(
        _ path: String, depth: Int, defaultCamera: CameraID, items: inout [ReplayItem], errors: inout [CaptureError],
        visited: inout Set<String>
    ) {
        let fm = FileManager.default
        let manifestPath = (path as NSString).appendingPathComponent(RecordingManifest.fileName)
        if fm.fileExists(atPath: manifestPath) {
            do {
                items += try recordingItems(folder: path, manifestPath: manifestPath, defaultCamera: defaultCamera)
            } catch {
                errors.append(error)
            }
            return
        }
        guard let names = try? fm.contentsOfDirectory(atPath: path) else {
            errors.append(CaptureError(.unreadable, path: path, "cannot list folder"))
            return
        }
        var subfolders: [String] = []
        for name in names.sorted() where !name.hasPrefix(".") {
            let child = (path as NSString).appendingPathComponent(name)
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: child, isDirectory: &isDir), visited.insert(realPath(child)).inserted else { continue }
            if isDir.boolValue {
                subfolders.append(child)
            } else if imageExtensions.contains((name as NSString).pathExtension.lowercased()) {
                items.append(ReplayItem(path: child, camera: defaultCamera, sequence: UInt64(items.count), kind: .still, clockQuality: .fileTime))
            }
        }
        // Bounded as well, so that a very deep tree cannot exhaust the stack.
        guard depth < 8 else { return }
        for folder in subfolders {
            planFolder(folder, depth: depth + 1, defaultCamera: defaultCamera, items: &items, errors: &errors, visited: &visited)
        }
    }

    /// The canonical path of `path` (symbolic links resolved), or `path` itself if it cannot be resolved.
    private static func realPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The largest manifest read: 32 MiB is some 200,000 frame entries.
    static let maxManifestBytes = 32 << 20

    private static func recordingItems(folder: String, manifestPath: String, defaultCamera: CameraID) throws(CaptureError) -> [ReplayItem] {
        let bytes: [UInt8]
        do {
            bytes = try BoundedFile.read(manifestPath, limit: maxManifestBytes)
        } catch {
            throw CaptureError(error.isMissing ? .notFound : .unreadable, path: manifestPath, "cannot read manifest: \(error)")
        }
        let manifest = try RecordingManifest.parse(bytes: bytes, path: manifestPath)
        let quality = manifest.clockQuality.flatMap(ClockQuality.init(rawValue:)) ?? .recorded
        return manifest.frames.enumerated().map { i, f in
            ReplayItem(
                path: (folder as NSString).appendingPathComponent(f.file),
                camera: CameraID(f.camera ?? manifest.camera ?? defaultCamera.rawValue),
                sequence: f.sequence ?? UInt64(i),
                kind: .recorded(format: f.pixelFormat.flatMap(PixelFormat.init(rawValue:)), width: f.width, height: f.height,
                                captureNanos: ISO8601.parse(f.captureTime)!),
                clockQuality: quality, lumaChecksum: f.lumaChecksum)
        }
    }

    /// Reads and decodes one item into a frame.
    public func frame(for item: ReplayItem) throws(CaptureError) -> Frame {
        let bytes: [UInt8]
        do {
            bytes = try BoundedFile.read(item.path, limit: DecodeLimits.maxFileBytes)
        } catch {
            switch error.reason {
            case .tooLarge: throw CaptureError(.badFrame, path: item.path, "larger than the \(DecodeLimits.maxFileBytes >> 20) MiB limit for a frame")
            case .notRegularFile: throw CaptureError(.badFrame, path: item.path, "not a regular file")
            case .system: throw CaptureError(error.isMissing ? .notFound : .unreadable, path: item.path, error.description)
            }
        }
        let image: LumaImage
        let time: CaptureTime
        do {
            switch item.kind {
            case .still:
                image = try decoder.decode(bytes)
                var st = stat()
                let mtime = stat(item.path, &st) == 0 ? ISO8601.nanoseconds(seconds: Int64(st.st_mtim.tv_sec), plus: Int64(st.st_mtim.tv_nsec)) : nil
                time = mtime.map { CaptureTime(unixNanoseconds: $0, quality: .fileTime) } ?? CaptureTime(date: Date(), quality: .fileTime)
            case let .recorded(format, width, height, nanos):
                if let format, let width, let height {
                    image = try decoder.decodeFrame(bytes, format: format, width: width, height: height)
                } else {
                    image = try decoder.decode(bytes)
                }
                time = CaptureTime(unixNanoseconds: nanos, quality: item.clockQuality)
            }
        } catch {
            throw CaptureError(.badFrame, path: item.path, error.description)
        }
        if let expected = item.lumaChecksum, LumaChecksum.hex(image) != expected.lowercased() {
            throw CaptureError(.badFrame, path: item.path, "luma checksum \(LumaChecksum.hex(image)) differs from the manifest's \(expected): the recording changed")
        }
        return Frame(camera: item.camera, sequence: item.sequence, captureTime: time,
                     name: (item.path as NSString).lastPathComponent, image: image)
    }
}

/// FNV-1a 64 over a frame's luma: cheap, and enough to tell that a recorded frame changed.
public enum LumaChecksum {
    public static func hex(_ image: LumaImage) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        image.pixels.withUnsafeBufferPointer { p in
            for b in p {
                hash ^= UInt64(b)
                hash &*= 0x0000_0100_0000_01B3
            }
        }
        let s = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
