import Foundation
import PlateKeeperCore

/// One problem in a config file, located by line and key.
public struct ConfigIssue: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// 1-based; nil when the key is missing altogether (then the line of its table, if any, is given).
    public var line: Int?
    /// Dotted key path, with array-of-tables indices: `cameras[1].region`.
    public var key: String
    public var message: String

    public var description: String {
        "\(file):\(line.map(String.init) ?? "-"): \(key.isEmpty ? "" : "\(key): ")\(message)"
    }
}

/// A config that failed to load: every problem found, not just the first.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var issues: [ConfigIssue]
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

/// Reads platekeeper.toml into `PlateKeeperConfig`.
///
/// `TOMLParser` parses (it returns errors for any input, never aborts, and keeps each key's
/// line); this type checks types, ranges and unknown keys. Every number that later reaches
/// arithmetic or an allocation (sizes, durations, rates, the region of interest) is bounded here.
public enum ConfigLoader {
    /// Every section and its keys, in the file's order: the one list the loader accepts and the
    /// documentation (platekeeper.toml(5), docs/platekeeper.toml) is checked against.
    public static let knownKeys: [(section: String, keys: [String])] = [
        ("unit", ["id"]),
        ("cameras", [
            "id", "device", "replay", "loop", "speed", "recorded_times", "region", "roi", "min_char_height", "skip_cut_plates", "formats",
            "width", "height", "fps", "buffers", "stall_timeout", "controls",
        ]),
        ("recognition", ["workers", "queue_depth", "top_n", "min_confidence", "tessdata", "glyph_model", "glyph_gate", "glyph_weight", "locator", "detector_model", "plate_ocr_model", "plate_ocr_weight"]),
        ("grouping", ["window", "max_edit_distance", "first_sight", "first_sight_min_confidence", "max_pass"]),
        ("journal", ["path", "quota", "retention", "retention_hits", "when_full", "keep_crops", "crop_quality", "encryption_key_file", "encryption_key_credential"]),
        ("upload", [
            "enabled", "url", "token_file", "token_credential", "ca_file", "client_certificate", "client_key",
            "batch_size", "batch_bytes", "batch_age", "timeout", "backoff_max", "allow_insecure_http",
        ]),
        ("position", [
            "source", "latitude", "longitude", "altitude", "recording", "gpsd", "device", "baud", "max_gap", "max_extrapolation",
            "silent_after", "clock_offset_warning",
        ]),
        ("status", ["socket"]),
        ("metrics", ["textfile", "interval"]),
        ("logging", ["level"]),
        ("hotlist", ["files", "max_edit_distance", "only"]),
        ("audit", ["log", "categories"]),
    ]

    static func keys(_ section: String) -> [String] { knownKeys.first { $0.section == section }?.keys ?? [] }

    /// Config files larger than this are refused unread: a real one is a few KiB.
    public static let maxFileBytes = 1 << 20

    /// `host:port` or `[v6]:port`, with a port 1…65535.
    public static func hostPort(_ text: String) -> (String, UInt16)? {
        guard text.utf8.count <= 255, let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), port > 0
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || ".-:".contains($0) }) else { return nil }
        return (host, port)
    }

    /// The status socket a file names, read leniently: from a file that parses as TOML but does
    /// not validate too (a daemon may be running on the previous configuration after a refused
    /// SIGHUP, and `status` must still find it). Nil when the file cannot be read or parsed, or
    /// names none.
    public static func statusSocket(path: String) -> String? {
        guard let bytes = try? BoundedFile.read(path, limit: maxFileBytes), let text = String(validating: bytes, as: UTF8.self),
              let root = try? TOMLParser.parse(text), case let .table(status)? = root["status"]?.value,
              case let .string(socket)? = status["socket"]?.value else { return nil }
        return socket
    }

    public static func load(path: String) throws(ConfigError) -> PlateKeeperConfig {
        let bytes: [UInt8]
        do {
            bytes = try BoundedFile.read(path, limit: maxFileBytes)
        } catch {
            let message: String
            switch error.reason {
            case .tooLarge: message = "larger than \(maxFileBytes >> 10) KiB; not a config file"
            case .notRegularFile: message = "not a regular file"
            case let .system(_, code): message = "cannot read: \(String(cString: strerror(code))) (errno \(code))"
            }
            throw ConfigError(issues: [ConfigIssue(file: path, line: nil, key: "", message: message)])
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigError(issues: [ConfigIssue(file: path, line: nil, key: "", message: "not UTF-8 text")])
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String = "<config>") throws(ConfigError) -> PlateKeeperConfig {
        let root: TOMLTable
        do {
            root = try TOMLParser.parse(text)
        } catch {
            throw ConfigError(issues: [ConfigIssue(file: file, line: error.line, key: "", message: "TOML syntax: \(error.message)")])
        }
        let v = Validator(file: file, map: SourceMap(root))
        let config = v.config(root)
        if !v.issues.isEmpty { throw ConfigError(issues: v.issues) }
        return config
    }
}

/// Walks the parsed tree section by section, collecting issues.
private final class Validator {
    let file: String
    let map: SourceMap
    var issues: [ConfigIssue] = []

    init(file: String, map: SourceMap) {
        self.file = file
        self.map = map
    }

    /// The largest frame side a region of interest may name (the decoders' limit is 24 MP).
    static let maxFrameSide = 32_768


    func issue(_ key: String, _ message: String) {
        issues.append(ConfigIssue(file: file, line: map.line(of: key), key: key, message: message))
    }

    func config(_ root: TOMLTable) -> PlateKeeperConfig {
        var c = PlateKeeperConfig()
        unknownKeys(root, path: "", allowed: ConfigLoader.knownKeys.map(\.section))
        if let t = table(root, "unit", "unit") {
            unknownKeys(t, path: "unit", allowed: ConfigLoader.keys("unit"))
            c.unit.id = string(t, "unit", "id") ?? c.unit.id
        }
        c.cameras = cameras(root)
        if let t = table(root, "recognition", "recognition") {
            let p = "recognition"
            unknownKeys(t, path: p, allowed: ConfigLoader.keys(p))
            c.recognition.workers = int(t, p, "workers", 1...16) ?? c.recognition.workers
            c.recognition.queueDepth = int(t, p, "queue_depth", 1...64) ?? c.recognition.queueDepth
            c.recognition.topN = int(t, p, "top_n", 1...50) ?? c.recognition.topN
            c.recognition.minConfidence = double(t, p, "min_confidence", 0...100) ?? c.recognition.minConfidence
            c.recognition.tessdata = string(t, p, "tessdata") ?? c.recognition.tessdata
            c.recognition.glyphModel = string(t, p, "glyph_model") ?? c.recognition.glyphModel
            c.recognition.glyphGate = double(t, p, "glyph_gate", 0...100) ?? c.recognition.glyphGate
            c.recognition.glyphWeight = double(t, p, "glyph_weight", 0...20) ?? c.recognition.glyphWeight
            c.recognition.locator = choice(t, p, "locator", RecognitionSection.Locator.self) ?? c.recognition.locator
            c.recognition.detectorModel = string(t, p, "detector_model") ?? c.recognition.detectorModel
            c.recognition.plateOCRModel = string(t, p, "plate_ocr_model") ?? c.recognition.plateOCRModel
            c.recognition.plateOCRWeight = double(t, p, "plate_ocr_weight", 0...20) ?? c.recognition.plateOCRWeight
        }
        if let t = table(root, "grouping", "grouping") {
            let p = "grouping"
            unknownKeys(t, path: p, allowed: ConfigLoader.keys(p))
            c.grouping.windowSeconds = duration(t, p, "window", 0.05...3600) ?? c.grouping.windowSeconds
            c.grouping.maxEditDistance = int(t, p, "max_edit_distance", 0...8) ?? c.grouping.maxEditDistance
            c.grouping.firstSight = bool(t, p, "first_sight") ?? c.grouping.firstSight
            c.grouping.firstSightMinConfidence = double(t, p, "first_sight_min_confidence", 0...100) ?? c.grouping.firstSightMinConfidence
            c.grouping.maxPassSeconds = duration(t, p, "max_pass", 1...86_400) ?? c.grouping.maxPassSeconds
        }
        if let t = table(root, "journal", "journal") {
            let p = "journal"
            unknownKeys(t, path: p, allowed: ConfigLoader.keys(p))
            c.journal.path = absolutePath(t, p, "path") ?? c.journal.path
            c.journal.quotaBytes = size(t, p, "quota", (1 << 20)...(1 << 42)) ?? c.journal.quotaBytes
            if let text = t["retention"]?.string, text == "forever" {
                c.journal.retentionSeconds = nil
            } else if let r = duration(t, p, "retention", 60...(100 * 365 * 86_400)) {
                c.journal.retentionSeconds = r
            }
            c.journal.hitRetentionSeconds = c.journal.retentionSeconds
            if let text = t["retention_hits"]?.string, text == "forever" {
                c.journal.hitRetentionSeconds = nil
            } else if let r = duration(t, p, "retention_hits", 60...(100 * 365 * 86_400)) {
                c.journal.hitRetentionSeconds = r
            }
            c.journal.whenFull = choice(t, p, "when_full", JournalSection.WhenFull.self) ?? c.journal.whenFull
            c.journal.keepCrops = bool(t, p, "keep_crops") ?? c.journal.keepCrops
            c.journal.cropQuality = int(t, p, "crop_quality", 1...100) ?? c.journal.cropQuality
            c.journal.encryptionKeyFile = optionalPath(t, p, "encryption_key_file") ?? c.journal.encryptionKeyFile
            c.journal.encryptionKeyCredential = string(t, p, "encryption_key_credential") ?? c.journal.encryptionKeyCredential
            if !c.journal.encryptionKeyFile.isEmpty, !c.journal.encryptionKeyCredential.isEmpty {
                issue("journal", "give at most one of encryption_key_file and encryption_key_credential")
            }
            let credential = c.journal.encryptionKeyCredential
            if !credential.isEmpty, credential.contains("/") || credential.hasPrefix(".") || credential.utf8.count > 255 {
                issue("journal.encryption_key_credential", "is a credential name (LoadCredentialEncrypted=NAME:…), not a path")
            }
        }
        if let t = table(root, "upload", "upload") {
            let p = "upload"
            if t["token"] != nil {
                issue("upload.token", "the token is never written in the config: put it in a file (token_file) or a systemd credential (token_credential)")
            }
            unknownKeys(t, path: p, allowed: ConfigLoader.keys(p) + ["token"])
            var u = UploadSection()
            u.enabled = bool(t, p, "enabled") ?? u.enabled
            u.url = string(t, p, "url") ?? u.url
            u.tokenFile = optionalPath(t, p, "token_file") ?? u.tokenFile
            u.tokenCredential = string(t, p, "token_credential") ?? u.tokenCredential
            u.caFile = optionalPath(t, p, "ca_file") ?? u.caFile
            u.clientCertificate = optionalPath(t, p, "client_certificate") ?? u.clientCertificate
            u.clientKey = optionalPath(t, p, "client_key") ?? u.clientKey
            u.batchSize = int(t, p, "batch_size", 1...5_000) ?? u.batchSize
            u.batchBytes = size(t, p, "batch_bytes", (64 << 10)...(16 << 20)) ?? u.batchBytes
            u.batchAgeSeconds = duration(t, p, "batch_age", 0...3600) ?? u.batchAgeSeconds
            u.timeoutSeconds = duration(t, p, "timeout", 1...600) ?? u.timeoutSeconds
            u.backoffMaxSeconds = duration(t, p, "backoff_max", 1...86_400) ?? u.backoffMaxSeconds
            u.allowInsecureHTTP = bool(t, p, "allow_insecure_http") ?? u.allowInsecureHTTP
            if u.enabled {
                if u.url.hasPrefix("https://") {
                } else if u.url.hasPrefix("http://") {
                    if !u.allowInsecureHTTP {
                        issue("upload.url", "is plain http://: reads would travel unencrypted; use https://, or set allow_insecure_http = true for a lab")
                    }
                } else {
                    issue("upload.url", "must be an https:// URL when upload is enabled")
                }
                if u.url.utf8.count > 2048 || u.url.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) {
                    issue("upload.url", "must be at most 2048 bytes without spaces or control characters")
                }
                if u.tokenFile.isEmpty == u.tokenCredential.isEmpty {
                    issue("upload", "needs exactly one of token_file and token_credential")
                }
                if !u.tokenCredential.isEmpty, u.tokenCredential.contains("/") || u.tokenCredential.hasPrefix(".") {
                    issue("upload.token_credential", "is a credential name (LoadCredential=NAME:…), not a path")
                }
                if u.clientKey.isEmpty != u.clientCertificate.isEmpty {
                    issue("upload", "client_certificate and client_key go together")
                }
            }
            c.upload = u
        }
        if c.upload.enabled, !UnitSection.isValidID(c.unit.effectiveID) {
            issue("unit.id", c.unit.id.isEmpty
                ? "is not set and the host name \"\(c.unit.effectiveID.prefix(64))\" cannot be a unit id; set one (1 to 128 letters, digits, '-', '_' or '.')"
                : "must be 1 to 128 letters, digits, '-', '_' or '.': the store knows units by it")
        }
        if let t = table(root, "position", "position") {
            let p = "position"
            unknownKeys(t, path: p, allowed: ConfigLoader.keys(p))
            c.position.source = choice(t, p, "source", PositionSection.Source.self) ?? (t["latitude"] != nil ? .fixed : .none)
            c.position.latitude = double(t, p, "latitude", -90...90) ?? c.position.latitude
            c.position.longitude = double(t, p, "longitude", -180...180) ?? c.position.longitude
            c.position.altitudeMeters = double(t, p, "altitude", -1000...20_000)
            if c.position.source == .fixed, t["latitude"] == nil || t["longitude"] == nil {
                issue("position", "source \"fixed\" needs both latitude and longitude")
            }
            if let address = string(t, p, "gpsd") {
                if let (host, port) = ConfigLoader.hostPort(address) {
                    (c.position.gpsdHost, c.position.gpsdPort) = (host, port)
                } else {
                    issue("position.gpsd", "must be host:port, such as \"127.0.0.1:2947\" or \"[::1]:2947\", got \"\(address.prefix(80))\"")
                }
            }
            c.position.device = absolutePath(t, p, "device") ?? c.position.device
            c.position.recording = absolutePath(t, p, "recording") ?? c.position.recording
            if c.position.source == .recording, c.position.recording.isEmpty {
                issue("position", "source \"recording\" needs recording, the path of a position.log")
            }
            if let baud = int(t, p, "baud", 1...1_000_000) {
                if [4800, 9600, 19200, 38400, 57600, 115200, 230400].contains(baud) {
                    c.position.baud = baud
                } else {
                    issue("position.baud", "must be one of 4800, 9600, 19200, 38400, 57600, 115200, 230400, got \(baud)")
                }
            }
            c.position.maxGapSeconds = duration(t, p, "max_gap", 0.1...60) ?? c.position.maxGapSeconds
            c.position.maxExtrapolationSeconds = duration(t, p, "max_extrapolation", 0...30) ?? c.position.maxExtrapolationSeconds
            c.position.silentAfterSeconds = duration(t, p, "silent_after", 0.5...600) ?? c.position.silentAfterSeconds
            c.position.clockOffsetWarningSeconds = duration(t, p, "clock_offset_warning", 0.01...86_400) ?? c.position.clockOffsetWarningSeconds
            let unused: [(PositionSection.Source, [String])] = [
                (.gpsd, ["gpsd"]), (.nmea, ["device", "baud"]), (.fixed, ["latitude", "longitude", "altitude"]), (.recording, ["recording"]),
            ]
            for (source, keys) in unused where source != c.position.source {
                for key in keys where t[key] != nil {
                    issue("position.\(key)", "is only used with source = \"\(source.rawValue)\" (source is \"\(c.position.source.rawValue)\")")
                }
            }
        }
        if let t = table(root, "status", "status") {
            unknownKeys(t, path: "status", allowed: ConfigLoader.keys("status"))
            c.status.socket = absolutePath(t, "status", "socket") ?? c.status.socket
        }
        // A Unix socket path holds at most 107 bytes; and the socket must never take the place of
        // the journal's files.
        if c.status.socket.utf8.count > StatusSection.maxSocketPathBytes {
            issue("status.socket", "is \(c.status.socket.utf8.count) bytes long; a Unix socket path can have at most \(StatusSection.maxSocketPathBytes)")
        }
        if c.journal.files.contains(c.status.socket) {
            issue("status.socket", "is one of the journal's files (\(c.journal.path)); give the socket a path of its own")
        }
        if let t = table(root, "metrics", "metrics") {
            unknownKeys(t, path: "metrics", allowed: ConfigLoader.keys("metrics"))
            if t["textfile"]?.string == "" {
                c.metrics.textfile = ""
            } else if let path = absolutePath(t, "metrics", "textfile") {
                if path.hasSuffix(".prom"), !path.hasSuffix("/.prom") {
                    c.metrics.textfile = path
                } else {
                    issue("metrics.textfile", "must name a file ending in .prom (node_exporter reads only those), got \"\(path)\"")
                }
            }
            c.metrics.intervalSeconds = duration(t, "metrics", "interval", 1...3600) ?? c.metrics.intervalSeconds
            if !c.metrics.textfile.isEmpty, (c.journal.files + [c.status.socket]).contains(c.metrics.textfile) {
                issue("metrics.textfile", "is one of the journal's files or the status socket; give the metrics a file of their own")
            }
        }
        if let t = table(root, "hotlist", "hotlist") {
            let p = "hotlist"
            unknownKeys(t, path: p, allowed: ConfigLoader.keys(p))
            if let value = t["files"] {
                let items = value.array ?? []
                let paths = items.compactMap(\.string)
                if value.array == nil || paths.count != items.count {
                    issue("hotlist.files", "must be an array of absolute paths")
                } else if paths.count > HotlistSection.maxFiles {
                    issue("hotlist.files", "names \(paths.count) files; at most \(HotlistSection.maxFiles)")
                } else if let bad = paths.first(where: { !$0.hasPrefix("/") || $0.utf8.count > 4096 }) {
                    issue("hotlist.files", "must be absolute paths, got \"\(bad.prefix(80))\"")
                } else {
                    c.hotlist.files = paths
                }
            }
            c.hotlist.maxEditDistance = int(t, p, "max_edit_distance", 0...2) ?? c.hotlist.maxEditDistance
            c.hotlist.only = bool(t, p, "only") ?? c.hotlist.only
            if c.hotlist.only, c.hotlist.files.isEmpty {
                issue("hotlist.only", "is true but no hotlist files are named: every read would be dropped; name the files, or set only = false")
            }
        }
        if let t = table(root, "audit", "audit") {
            unknownKeys(t, path: "audit", allowed: ConfigLoader.keys("audit"))
            c.audit.log = absolutePath(t, "audit", "log") ?? c.audit.log
            if let value = t["categories"] {
                let names = value.array?.compactMap(\.string) ?? []
                if names.isEmpty || names.count != value.array?.count || names.count > 64 || !names.allSatisfy(AuditSection.isCategory)
                    || Set(names).count != names.count {
                    issue("audit.categories", "must be a list of 1 to 64 distinct names of 2 to 40 lower-case letters, digits and hyphens")
                } else {
                    c.audit.categories = names
                }
            }
        }
        if c.journal.files.contains(c.audit.log) || c.audit.log == c.status.socket {
            issue("audit.log", "is one of the journal's files or the status socket; give the audit log a file of its own")
        }
        if let t = table(root, "logging", "logging") {
            unknownKeys(t, path: "logging", allowed: ConfigLoader.keys("logging"))
            c.logging.level = choice(t, "logging", "level", LoggingSection.Level.self) ?? c.logging.level
        }
        return c
    }

    func cameras(_ root: TOMLTable) -> [CameraSection] {
        guard let value = root["cameras"] else {
            issue("cameras", "at least one [[cameras]] table is needed")
            return []
        }
        guard let array = value.array else {
            issue("cameras", "must be an array of tables ([[cameras]])")
            return []
        }
        var result: [CameraSection] = []
        var seen: Set<String> = []
        for (i, element) in array.enumerated() {
            let p = "cameras[\(i)]"
            guard let t = element.table else {
                issue(p, "must be a table")
                continue
            }
            unknownKeys(t, path: p, allowed: ConfigLoader.keys("cameras"))
            // A camera with a problem in its id or source is still checked to the end, so that
            // every problem of the file shows at once; it is left out of the result.
            let id = string(t, p, "id", required: true)
            if let id {
                if id.isEmpty || id.count > 64 || !id.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) {
                    issue("\(p).id", "must be 1 to 64 letters, digits, '-', '_' or '.', got \"\(id)\"")
                }
                if !seen.insert(id).inserted { issue("\(p).id", "duplicate camera id \"\(id)\"") }
            }
            let device = string(t, p, "device"), replay = string(t, p, "replay")
            var source: CameraSource?
            switch (device, replay) {
            case let (d?, nil):
                if d.hasPrefix("/dev/") {
                    source = .device(path: d)
                } else {
                    issue("\(p).device", "must be a device path under /dev (e.g. /dev/video0 or /dev/v4l/by-id/…), got \"\(d)\"")
                }
                for key in ["loop", "speed", "recorded_times"] where t[key] != nil { issue("\(p).\(key)", "only applies to a replay camera") }
            case (nil, let r):
                if r == nil, t["device"] == nil, t["replay"] == nil {
                    issue(p, "needs a source: device = \"/dev/video0\" or replay = \"/path/to/recording\"")
                }
                if let r, !r.hasPrefix("/") { issue("\(p).replay", "must be an absolute path to a recording folder, got \"\(r)\"") }
                var speed = double(t, p, "speed", 0...1000) ?? 1
                if speed > 0, speed < 0.01 {
                    issue("\(p).speed", "must be 0 (as fast as recognition goes) or between 0.01 and 1000, got \(speed)")
                    speed = 1
                }
                let loop = bool(t, p, "loop") ?? false
                if let r, r.hasPrefix("/") { source = .replay(path: r, loop: loop, speed: speed) }
            case (_?, _?):
                issue("\(p).replay", "give either device or replay, not both")
            }
            var cam = CameraSection(id: CameraID(id ?? ""), source: source ?? .device(path: "/dev/null"))
            if let region = string(t, p, "region") {
                // The names of Recognition's `PlateFormat.all` (Config does not depend on Recognition).
                if ["us", "eu", "br"].contains(region) { cam.region = region } else { issue("\(p).region", "must be \"us\", \"eu\" or \"br\", got \"\(region)\"") }
            }
            if let roi = t["roi"] {
                // Bounded by the largest frame we decode, so no sum of them can overflow.
                let numbers = roi.array?.compactMap(\.int) ?? []
                let side = 0...Self.maxFrameSide
                if numbers.count == 4, side.contains(numbers[0]), side.contains(numbers[1]), (1...Self.maxFrameSide).contains(numbers[2]),
                   (1...Self.maxFrameSide).contains(numbers[3]) {
                    cam.regionOfInterest = PixelBox(x: numbers[0], y: numbers[1], width: numbers[2], height: numbers[3])
                } else {
                    issue("\(p).roi", "must be [x, y, width, height] in pixels, each 0 to \(Self.maxFrameSide), with width and height above 0")
                }
            }
            cam.minCharacterHeight = int(t, p, "min_char_height", 6...200) ?? cam.minCharacterHeight
            cam.skipCutPlates = bool(t, p, "skip_cut_plates") ?? cam.skipCutPlates
            if let formats = t["formats"] {
                let names = formats.array?.compactMap(\.string) ?? []
                let parsed = names.compactMap { PixelFormat(rawValue: $0.uppercased() == "MJPEG" ? "MJPG" : $0.uppercased()) }
                if names.isEmpty || parsed.count != names.count || names.count != formats.array?.count {
                    issue("\(p).formats", "must be a list of pixel formats from \"GREY\", \"YUYV\", \"MJPG\"")
                } else {
                    cam.pixelFormats = parsed
                }
            }
            cam.width = int(t, p, "width", 16...8192) ?? cam.width
            cam.height = int(t, p, "height", 16...8192) ?? cam.height
            cam.framesPerSecond = double(t, p, "fps", 0.1...240) ?? cam.framesPerSecond
            cam.buffers = int(t, p, "buffers", 2...32) ?? cam.buffers
            cam.stallSeconds = duration(t, p, "stall_timeout", 0.5...3600) ?? cam.stallSeconds
            if case let .replay(_, loop, _)? = source, let keep = bool(t, p, "recorded_times") {
                if keep, loop { issue("\(p).recorded_times", "cannot be combined with loop: capture times would go back at each pass") }
                cam.recordedTimes = keep
            }
            if let controls = t["controls"] {
                if let ct = controls.table {
                    for key in ct.keys {
                        if let n = ct[key]?.int { cam.controls[key] = n } else if let b = ct[key]?.bool { cam.controls[key] = b ? 1 : 0 } else {
                            issue("\(p).controls.\(key)", "must be an integer or a boolean")
                        }
                    }
                } else {
                    issue("\(p).controls", "must be a table of control names to integers")
                }
            }
            if let roi = cam.regionOfInterest, case .device? = source, roi.x + roi.width > cam.width || roi.y + roi.height > cam.height {
                issue("\(p).roi", "reaches outside the \(cam.width)x\(cam.height) frame")
            }
            if id != nil, source != nil { result.append(cam) }
        }
        if array.isEmpty { issue("cameras", "at least one [[cameras]] table is needed") }
        return result
    }

    // MARK: Typed getters; each records an issue and returns nil when the value is unusable.

    func table(_ t: TOMLTable, _ key: String, _ path: String) -> TOMLTable? {
        guard let v = t[key] else { return nil }
        guard let table = v.table else {
            issue(path, "must be a table ([\(path)])")
            return nil
        }
        return table
    }

    func unknownKeys(_ t: TOMLTable, path: String, allowed: [String]) {
        for key in t.keys where !allowed.contains(key) {
            let full = path.isEmpty ? key : "\(path).\(key)"
            let near = allowed.min { editDistance($0, key) < editDistance($1, key) }
            let hint = near.map { editDistance($0, key) <= 2 ? " (did you mean \"\($0)\"?)" : "" } ?? ""
            issue(full, "unknown key\(hint); known keys here: \(allowed.joined(separator: ", "))")
        }
    }

    func string(_ t: TOMLTable, _ path: String, _ key: String, required: Bool = false) -> String? {
        guard let v = t[key] else {
            if required { issue("\(path).\(key)", "is required") }
            return nil
        }
        guard let s = v.string else {
            issue("\(path).\(key)", "must be a string, got \(v.type)")
            return nil
        }
        return s
    }

    func absolutePath(_ t: TOMLTable, _ path: String, _ key: String) -> String? {
        guard let s = string(t, path, key) else { return nil }
        guard s.hasPrefix("/") else {
            issue("\(path).\(key)", "must be an absolute path, got \"\(s)\"")
            return nil
        }
        return s
    }

    /// An absolute path, or "" for none.
    func optionalPath(_ t: TOMLTable, _ path: String, _ key: String) -> String? {
        if t[key]?.string == "" { return "" }
        return absolutePath(t, path, key)
    }

    func int(_ t: TOMLTable, _ path: String, _ key: String, _ range: ClosedRange<Int>) -> Int? {
        guard let v = t[key] else { return nil }
        guard let n = v.int else {
            issue("\(path).\(key)", "must be an integer, got \(v.type)")
            return nil
        }
        guard range.contains(n) else {
            issue("\(path).\(key)", "must be between \(range.lowerBound) and \(range.upperBound), got \(n)")
            return nil
        }
        return n
    }

    func double(_ t: TOMLTable, _ path: String, _ key: String, _ range: ClosedRange<Double>) -> Double? {
        guard let v = t[key] else { return nil }
        guard let x = v.double ?? v.int.map(Double.init), x.isFinite else {
            issue("\(path).\(key)", "must be a number, got \(v.type)")
            return nil
        }
        guard range.contains(x) else {
            issue("\(path).\(key)", "must be between \(format(range.lowerBound)) and \(format(range.upperBound)), got \(format(x))")
            return nil
        }
        return x
    }

    func bool(_ t: TOMLTable, _ path: String, _ key: String) -> Bool? {
        guard let v = t[key] else { return nil }
        guard let b = v.bool else {
            issue("\(path).\(key)", "must be true or false, got \(v.type)")
            return nil
        }
        return b
    }

    func choice<E: RawRepresentable & CaseIterable>(_ t: TOMLTable, _ path: String, _ key: String, _ type: E.Type) -> E?
    where E.RawValue == String {
        guard let s = string(t, path, key) else { return nil }
        guard let e = E(rawValue: s) else {
            issue("\(path).\(key)", "must be one of \(E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")), got \"\(s)\"")
            return nil
        }
        return e
    }

    /// A duration: a number of seconds, or a string such as "500ms", "30s", "15m", "12h", "30d".
    func duration(_ t: TOMLTable, _ path: String, _ key: String, _ range: ClosedRange<Double>) -> Double? {
        guard let v = t[key] else { return nil }
        let seconds: Double?
        if let x = v.double ?? v.int.map(Double.init) {
            seconds = x
        } else if let s = v.string {
            seconds = Units.seconds(s)
        } else {
            seconds = nil
        }
        guard let seconds, seconds.isFinite else {
            issue("\(path).\(key)", "must be a duration such as 30, \"500ms\", \"30s\", \"15m\", \"12h\" or \"30d\"")
            return nil
        }
        guard range.contains(seconds) else {
            issue("\(path).\(key)", "must be between \(format(range.lowerBound)) s and \(format(range.upperBound)) s, got \(format(seconds)) s")
            return nil
        }
        return seconds
    }

    /// A size: a number of bytes, or a string such as "800KiB", "512MiB", "2GiB", "500MB".
    func size(_ t: TOMLTable, _ path: String, _ key: String, _ range: ClosedRange<Int64>) -> Int64? {
        guard let v = t[key] else { return nil }
        let bytes: Int64? = v.int.map(Int64.init) ?? v.string.flatMap(Units.bytes)
        guard let bytes else {
            issue("\(path).\(key)", "must be a size such as 1048576, \"800KiB\", \"512MiB\" or \"2GiB\"")
            return nil
        }
        guard range.contains(bytes) else {
            issue("\(path).\(key)", "must be between \(range.lowerBound) and \(range.upperBound) bytes, got \(bytes)")
            return nil
        }
        return bytes
    }

    private func format(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(x)
    }
}

/// Parsing of the unit suffixes used in the config.
public enum Units {
    public static func seconds(_ text: String) -> Double? {
        let s = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)]
        for (suffix, factor) in units where s.hasSuffix(suffix) {
            let number = s.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
            if suffix == "s", number.hasSuffix("m") { continue }
            if let x = Double(number), x >= 0 { return x * factor }
        }
        return nil
    }

    public static func bytes(_ text: String) -> Int64? {
        let s = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Int64)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
            ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("TB", 1_000_000_000_000), ("B", 1),
        ]
        for (suffix, factor) in units where s.hasSuffix(suffix) {
            let number = s.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
            if let x = Double(number), x >= 0, x * Double(factor) < 9e18 { return Int64(x * Double(factor)) }
            return nil
        }
        return Int64(s)
    }
}
