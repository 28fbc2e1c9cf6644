import PlateKeeperCore
public import Foundation

/// `manifest.json` of a recording folder: the frames in order, with when and how each was captured.
///
/// ```json
/// {"version": 1, "camera": "lane-1",
///  "frames": [{"file": "000001.yuv", "captureTime": "2026-11-27T13:05:01.250Z",
///              "pixelFormat": "YUYV", "width": 640, "height": 360, "sequence": 1}]}
/// ```
/// `camera` may be set per frame; `pixelFormat`, `width` and `height` are required for raw frames
/// (GREY, YUYV) and for MJPEG, and absent for JPEG/PNG stills.
public struct RecordingManifest: Sendable, Codable, Equatable {
    public struct Entry: Sendable, Codable, Equatable {
        public var file: String
        public var captureTime: String
        public var camera: String?
        public var pixelFormat: String?
        public var width: Int?
        public var height: Int?
        public var sequence: UInt64?
        /// FNV-1a 64 of the frame's luma, hex, as `platekeeper record` saw it: replay checks it, so
        /// a recording that changed on disk is reported, not silently replayed.
        public var lumaChecksum: String?

        public init(file: String, captureTime: String, camera: String? = nil, pixelFormat: String? = nil,
                    width: Int? = nil, height: Int? = nil, sequence: UInt64? = nil, lumaChecksum: String? = nil) {
            self.lumaChecksum = lumaChecksum
            self.file = file
            self.captureTime = captureTime
            self.camera = camera
            self.pixelFormat = pixelFormat
            self.width = width
            self.height = height
            self.sequence = sequence
        }
    }

    public var version: Int
    public var camera: String?
    /// Clock quality of the recording unit when it recorded (default `recorded`).
    public var clockQuality: String?
    public var frames: [Entry]

    public init(version: Int = 1, camera: String? = nil, clockQuality: String? = nil, frames: [Entry]) {
        self.version = version
        self.camera = camera
        self.clockQuality = clockQuality
        self.frames = frames
    }

    public static let fileName = "manifest.json"

    /// Frame entries a manifest may list (32 MiB holds some 200,000 real ones).
    public static let maxFrames = 1_000_000
    /// Bytes of one frame entry.
    static let maxEntryBytes = 64 << 10

    /// Parses and validates a manifest. Errors name the frame entry and field at fault.
    ///
    /// The document is walked, not built: each frame entry is decoded on its own, and anything
    /// else is skipped where it lies, so memory is the entries kept, whatever else the file holds
    /// (a 32 MiB array of junk once cost 0.9 GB).
    public static func parse(_ data: Data, path: String) throws(CaptureError) -> RecordingManifest {
        try parse(bytes: [UInt8](data), path: path)
    }

    /// `parse` of the file's bytes as read, without a copy.
    public static func parse(bytes: [UInt8], path: String) throws(CaptureError) -> RecordingManifest {
        var version: Int?, camera: String?, clockQuality: String?, frames: [Entry]?
        var scanner = JSONScanner(bytes)
        do {
            guard scanner.peek() == UInt8(ascii: "{") else {
                _ = try scanner.value()
                throw CaptureError(.badManifest, path: path, "wrong type at top level: expected an object")
            }
            try scanner.object { key, s in
                switch key {
                case "version": version = try decode(Int.self, &s, at: ".version", path: path)
                case "camera": camera = try decode(String?.self, &s, at: ".camera", path: path)
                case "clockQuality": clockQuality = try decode(String?.self, &s, at: ".clockQuality", path: path)
                case "frames":
                    var list: [Entry] = []
                    try s.array { i, s in
                        guard i < maxFrames else { throw CaptureError(.badManifest, path: path, "more than \(maxFrames) frames") }
                        list.append(try decode(Entry.self, &s, at: ".frames[\(i)]", path: path))
                    }
                    frames = list
                default:
                    try s.value()
                }
            }
            try scanner.end()
        } catch let error as CaptureError {
            throw error
        } catch {
            throw CaptureError(.badManifest, path: path, "not valid JSON: \(error)")
        }
        guard let version else { throw CaptureError(.badManifest, path: path, "missing key 'version' at top level") }
        guard let frames else { throw CaptureError(.badManifest, path: path, "missing key 'frames' at top level") }
        let manifest = RecordingManifest(version: version, camera: camera, clockQuality: clockQuality, frames: frames)
        guard manifest.version == 1 else {
            throw CaptureError(.badManifest, path: path, "unsupported manifest version \(manifest.version) (this build reads version 1)")
        }
        if let q = manifest.clockQuality, ClockQuality(rawValue: q) == nil {
            throw CaptureError(.badManifest, path: path, "clockQuality '\(q)' is not one of synchronized, unsynchronized, recorded, file-time, unknown")
        }
        var seen = Set<String>()
        for (i, f) in manifest.frames.enumerated() {
            let at = "frames[\(i)] (\(f.file))"
            guard !f.file.isEmpty, !f.file.contains("/"), f.file != "..", f.file != "." else {
                throw CaptureError(.badManifest, path: path, "\(at): file must be a plain file name inside the recording folder")
            }
            guard seen.insert(f.file).inserted else {
                throw CaptureError(.badManifest, path: path, "\(at): file listed twice")
            }
            guard let time = ISO8601.parse(f.captureTime) else {
                throw CaptureError(.badManifest, path: path, "\(at): captureTime '\(f.captureTime)' is not ISO 8601 (2026-11-27T13:05:01.250Z), or not a real date")
            }
            guard captureTimeRange.contains(time) else {
                throw CaptureError(.badManifest, path: path, "\(at): captureTime '\(f.captureTime)' is outside 1970-01-01 to 2199-12-31")
            }
            if let pf = f.pixelFormat {
                guard let format = PixelFormat(rawValue: pf) else {
                    throw CaptureError(.badManifest, path: path, "\(at): pixelFormat '\(pf)' is not one of GREY, YUYV, MJPG")
                }
                guard let w = f.width, let h = f.height, w > 0, h > 0, w <= 16384, h <= 16384 else {
                    throw CaptureError(.badManifest, path: path, "\(at): \(format.rawValue) frames need width and height between 1 and 16384")
                }
            }
        }
        return manifest
    }

    /// Capture times a recording may hold: from the Unix epoch to the end of 2199. Frames outside
    /// it are a damaged or forged manifest, not evidence.
    static let captureTimeRange: ClosedRange<Int64> = 0...ISO8601.parse("2199-12-31T23:59:59.999Z")!

    /// Decodes the next value (at most `maxEntryBytes`) as `T`; errors name `at` and the field.
    private static func decode<T: Decodable>(_ type: T.Type, _ s: inout JSONScanner, at: String, path: String) throws -> T {
        let range = try s.value()
        guard range.count <= maxEntryBytes else { throw CaptureError(.badManifest, path: path, "\(at): longer than \(maxEntryBytes) bytes") }
        do {
            return try JSONDecoder().decode(T.self, from: Data(s.bytes[range]))
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw CaptureError(.badManifest, path: path, "missing key '\(key.stringValue)' at \(at)\(describe(ctx.codingPath, root: ""))")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw CaptureError(.badManifest, path: path, "wrong type at \(at)\(describe(ctx.codingPath, root: "")): \(ctx.debugDescription)")
        } catch let DecodingError.valueNotFound(_, ctx) {
            throw CaptureError(.badManifest, path: path, "null value at \(at)\(describe(ctx.codingPath, root: ""))")
        } catch let DecodingError.dataCorrupted(ctx) {
            let detail = (ctx.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            throw CaptureError(.badManifest, path: path, "not valid JSON at \(at): \(detail ?? ctx.debugDescription)")
        } catch {
            throw CaptureError(.badManifest, path: path, "cannot decode \(at): \(error)")
        }
    }

    private static func describe(_ path: [any CodingKey], root: String = "top level") -> String {
        if path.isEmpty { return root }
        return path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
    }
}
