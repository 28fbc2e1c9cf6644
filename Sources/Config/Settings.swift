public import PlateKeeperCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Everything `platekeeper run` is told by platekeeper.toml, typed and validated.
///
/// Plain values with the documented defaults; the daemon maps them onto each stage's own settings.
/// Sections for later stages (GPS in `position`, `privacy`) are parsed and validated now,
/// so a config written today keeps working when they arrive.
public struct PlateKeeperConfig: Sendable, Equatable {
    public var unit = UnitSection()
    public var cameras: [CameraSection] = []
    public var recognition = RecognitionSection()
    public var grouping = GroupingSection()
    public var journal = JournalSection()
    public var upload = UploadSection()
    public var position = PositionSection()
    public var status = StatusSection()
    public var metrics = MetricsSection()
    public var logging = LoggingSection()
    public var hotlist = HotlistSection()
    public var audit = AuditSection()

    public static let defaultPath = "/etc/platekeeper/platekeeper.toml"
    public init() {}
}

public struct UnitSection: Sendable, Equatable {
    /// This unit's name in uploads and logs; empty means the host name.
    public var id = ""
    public init() {}

    /// What the store accepts as a unit id (the wire format's rule).
    public static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 128
            && id.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0) }
    }

    /// The id this unit goes by: the configured one, or the host name.
    public var effectiveID: String {
        if !id.isEmpty { return id }
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, 255)
        return String(nulTerminated: name)
    }
}

/// Where a camera's frames come from.
public enum CameraSource: Sendable, Equatable {
    /// A V4L2 capture device: `/dev/video0` or a stable `/dev/v4l/by-id/…` name.
    case device(path: String)
    /// A recording folder (frames plus manifest.json), played at `speed` times its recorded pace
    /// (0: as fast as recognition takes them), from the start again when `loop` is set.
    case replay(path: String, loop: Bool, speed: Double)
}

public struct CameraSection: Sendable, Equatable {
    public var id: CameraID
    public var source: CameraSource
    /// Plate-format rules: `us` or `eu`.
    public var region = "us"
    /// Only this part of the frame is searched; nil is the whole frame.
    public var regionOfInterest: PixelBox?
    /// Smallest character height, in pixels, that is searched for (plates further away are ignored).
    public var minCharacterHeight = 10
    /// Plates that run off the frame's edge are not read (`PlateReader.Settings.skipsPlatesCutByFrame`):
    /// they are partly out of view and read whole in other frames, and text that hugs the edge
    /// is mostly the camera's own date and time overlay. Off for a camera whose plates are cut.
    public var skipCutPlates = true
    /// V4L2 negotiation (capture stage): pixel formats in order of preference, size, rate.
    public var pixelFormats: [PixelFormat] = [.grey, .yuyv, .mjpeg]
    public var width = 1280
    public var height = 720
    public var framesPerSecond = 15.0
    /// mmap buffers queued to the driver.
    public var buffers = 4
    /// V4L2 controls by name (`exposure_time_absolute = 100`), applied at start.
    public var controls: [String: Int] = [:]
    /// Seconds without a frame before the camera counts as stalled.
    public var stallSeconds = 5.0
    /// A replay camera keeps the capture times in the recording's manifest instead of stamping
    /// frames as live (with `[position] source = "recording"`, a car unit's recording then gets
    /// the positions the unit had). Not with `loop`: times would go back at each pass.
    public var recordedTimes = false

    public init(id: CameraID, source: CameraSource) {
        self.id = id
        self.source = source
    }
}

public struct RecognitionSection: Sendable, Equatable {
    /// OCR worker threads, each with its own Tesseract handle.
    public var workers = 1
    /// Frames waiting per camera; when full, the newest frame replaces the oldest (counted as dropped).
    public var queueDepth = 2
    public var topN = 10
    /// Reads below this confidence (0...100, the calibrated chance that a read is right) are
    /// not reported (`PlateReader.Settings.minConfidence`).
    public var minConfidence = 25.0
    /// Folder with eng.traineddata; empty means `TESSDATA_PREFIX`, else Debian's folder.
    public var tessdata = ""
    /// The glyph classifier's model file; empty means the shipped one (share/platekeeper/glyphs.model).
    public var glyphModel = ""
    /// Rows whose shapes the glyph classifier is on average less sure of (0...100) are not read
    /// by Tesseract; 0 reads every row (`PlateReader.Settings.glyphGate`).
    public var glyphGate = 70.0
    /// Weight of the glyph classifier in the vote against each Tesseract rendering (0...20, as
    /// `--glyph-weight`); 0 turns it off (`PlateReader.Settings.glyphVoteWeight`).
    public var glyphWeight = 8.0
    /// How plates are located (`PlateReader.Locator`): the learned detector, the whole-frame row
    /// finder, or both.
    public enum Locator: String, Sendable, Equatable, CaseIterable { case detector, finder, both }
    public var locator = Locator.detector
    /// The plate detector's model file; empty means the shipped one (share/platekeeper/plates.onnx).
    public var detectorModel = ""
    /// The plate OCR model (a Tesseract traineddata); empty means the shipped one
    /// (share/platekeeper/plates.traineddata).
    public var plateOCRModel = ""
    /// Weight in the vote of the plate OCR model's reading, against 1 for each of the stock
    /// model's renderings (0...20); 0 turns the plate model off (`PlateReader.Settings.plateOCRWeight`).
    public var plateOCRWeight = 1.0
    public init() {}
}

public struct GroupingSection: Sendable, Equatable {
    public var windowSeconds = 2.0
    public var maxEditDistance = 2
    public var firstSight = false
    public var firstSightMinConfidence = 75.0
    public var maxPassSeconds = 60.0
    public init() {}
}

public struct JournalSection: Sendable, Equatable {
    public enum WhenFull: String, Sendable, Equatable, CaseIterable {
        case dropOldest = "drop-oldest", stopAccepting = "stop-accepting"
    }
    public var path = "/var/lib/platekeeper/journal.sqlite"
    /// The journal's file and the files SQLite and its lock keep beside it: no other file of the
    /// configuration may be one of them.
    public var files: [String] { [path, path + "-wal", path + "-shm", path + ".lock"] }
    public var quotaBytes: Int64 = 512 * 1024 * 1024
    /// Reads that matched no hotlist are deleted this long after they were journaled; nil keeps
    /// rows until the quota needs the room.
    public var retentionSeconds: Double? = 30 * 86_400
    /// The same for hits (reads that matched a hotlist); the same as `retentionSeconds` unless set.
    public var hitRetentionSeconds: Double? = 30 * 86_400
    public var whenFull = WhenFull.dropOldest
    public var keepCrops = true
    /// JPEG quality of the stored crops, 1...100.
    public var cropQuality = 85
    /// Encryption at rest: the key file (`ID HEX` lines), or the name of a systemd credential
    /// holding it (`LoadCredentialEncrypted=NAME:…`, read from `$CREDENTIALS_DIRECTORY/NAME`).
    /// Neither: plate data is stored in the clear.
    public var encryptionKeyFile = ""
    public var encryptionKeyCredential = ""
    /// The key file's path: the file, or the credential under `credentials` ($CREDENTIALS_DIRECTORY).
    public func encryptionKeyPath(credentials: String?) -> String? {
        if !encryptionKeyFile.isEmpty { return encryptionKeyFile }
        guard !encryptionKeyCredential.isEmpty else { return nil }
        return ((credentials ?? "") as NSString).appendingPathComponent(encryptionKeyCredential)
    }
    public init() {}
}

/// Upload to the central store (docs/upload-api.md): where, with which credentials, in which batches.
public struct UploadSection: Sendable, Equatable {
    public var enabled = false
    /// The store's batch endpoint, `https://…/v1/reads`.
    public var url = ""
    /// The bearer token's file, or the name of a systemd credential (`LoadCredential=NAME:…`, read
    /// from `$CREDENTIALS_DIRECTORY/NAME`). The token itself never appears in the config.
    public var tokenFile = ""
    public var tokenCredential = ""
    /// PEM CA bundle to trust instead of the system's; client certificate and key for mTLS.
    public var caFile = ""
    public var clientCertificate = ""
    public var clientKey = ""
    public var batchSize = 100
    public var batchBytes: Int64 = 4 << 20
    public var batchAgeSeconds = 5.0
    public var timeoutSeconds = 30.0
    public var backoffMaxSeconds = 300.0
    /// Plain http:// is refused unless this is set (a lab, or TLS terminated on the same host).
    public var allowInsecureHTTP = false
    public init() {}
}

public struct PositionSection: Sendable, Equatable {
    /// `none`; `fixed` with `latitude`/`longitude` (pole units); `gpsd` (its JSON protocol over
    /// TCP, at `gpsd`); `nmea` (a serial receiver opened directly, `device` at `baud`);
    /// `recording` (a recording's `position.log`, for replaying a car unit's recordings).
    public enum Source: String, Sendable, Equatable, CaseIterable { case none, fixed, gpsd, nmea, recording }
    public var source = Source.none
    public var latitude = 0.0
    public var longitude = 0.0
    public var altitudeMeters: Double?
    /// gpsd's host and port.
    public var gpsdHost = "127.0.0.1"
    public var gpsdPort: UInt16 = 2947
    /// The serial receiver's device and baud rate.
    public var device = "/dev/ttyUSB0"
    public var baud = 9600
    /// The position log of `source = "recording"`.
    public var recording = ""
    /// Fixes further apart than this are not interpolated between.
    public var maxGapSeconds = 3.0
    /// A position is carried forward from the last fix for at most this long; after it, a read's
    /// position is stale (at 40 m/s, one second is 40 m).
    public var maxExtrapolationSeconds = 1.0
    /// A source that reports nothing for this long is silent (status and a log line).
    public var silentAfterSeconds = 3.0
    /// Warn (log and status) when GNSS time and the system clock differ by more than this.
    public var clockOffsetWarningSeconds = 0.5
    public init() {}
}

public struct StatusSection: Sendable, Equatable {
    /// `sun_path` holds 108 bytes with the terminating NUL.
    public static let maxSocketPathBytes = 107
    public var socket = "/run/platekeeper/status.sock"
    public init() {}
}

/// Prometheus metrics, written as a node_exporter textfile (no port of its own to open or guard).
public struct MetricsSection: Sendable, Equatable {
    /// The file to write, ending in `.prom`, in node_exporter's textfile folder; empty: off.
    public var textfile = ""
    /// How often it is rewritten.
    public var intervalSeconds = 15.0
    public init() {}
}

/// Hotlists: which files, how tolerant the match, and whether reads that match nothing are kept.
public struct HotlistSection: Sendable, Equatable {
    /// CSV files (plate, list, reason, expires), reloaded when they change and on SIGHUP.
    public var files: [String] = []
    /// Edits allowed between a read and an entry after look-alikes are folded (0…2).
    public var maxEditDistance = 1
    /// Hotlist-only mode: reads that match no entry are never written to disk (only counted).
    public var only = false
    /// The longest list of files accepted.
    public static let maxFiles = 32
    public init() {}
}

/// The audit trail of read-outs of plate data (`journal export`).
public struct AuditSection: Sendable, Equatable {
    public var log = "/var/lib/platekeeper/audit.log"
    /// The categories a read-out's purpose must name one of: what the public transparency report
    /// counts (never the purpose's own words, which are for auditors).
    public var categories = [
        "investigation", "stolen-vehicle", "missing-person", "amber-alert", "hotlist-review", "court-order",
        "records-request", "internal-audit", "maintenance",
    ]
    /// A category: 2 to 40 lower-case letters, digits and hyphens.
    public static func isCategory(_ name: String) -> Bool {
        (2...40).contains(name.count) && name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }
    public init() {}
}

public struct LoggingSection: Sendable, Equatable {
    public enum Level: String, Sendable, Equatable, CaseIterable { case trace, debug, info, notice, warning, error, critical }
    public var level = Level.info
    public init() {}
}
