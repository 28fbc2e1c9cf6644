public import Config
import Foundation
import Hotlist
import Journal
import PlateKeeperCore
import Recognition

#if canImport(Glibc)
import Glibc
#endif

/// What `platekeeper config check` finds beyond the file itself: whether the daemon could start
/// with it on this machine. Models and tessdata are loaded the way a recognition worker loads
/// them; folders the daemon creates must be creatable; files it reads must be readable. Devices
/// and recordings that are absent are warnings (a camera may be plugged in later; the daemon
/// retries it). Read-only: it creates, opens for writing and changes nothing.
public enum Preflight {
    public struct Finding: Sendable, CustomStringConvertible {
        public enum Severity: Sendable { case error, warning }
        public var severity: Severity
        public var key: String
        public var message: String
        public var description: String { "\(key): \(message)" }
    }

    public static func check(_ config: PlateKeeperConfig) -> [Finding] {
        var findings: [Finding] = []
        func error(_ key: String, _ message: String) { findings.append(Finding(severity: .error, key: key, message: message)) }
        func warning(_ key: String, _ message: String) { findings.append(Finding(severity: .warning, key: key, message: message)) }

        // Recognition: each distinct reader setting, built exactly as a worker builds it.
        do throws(RecognitionError) {
            let state = try WorkerState(recognition: config.recognition, journal: config.journal)
            for camera in config.cameras { _ = try state.reader(for: camera) }
        } catch let failure {
            let key = config.recognition.glyphModel.isEmpty && !config.recognition.tessdata.isEmpty ? "recognition.tessdata" : "recognition"
            error(key, "recognition cannot start: \(failure)")
        }

        // Folders the daemon makes: the journal's and the status socket's.
        if let problem = creatableProblem(folder: Paths.folder(of: config.journal.path)) {
            error("journal.path", problem)
        } else if FileManager.default.fileExists(atPath: config.journal.path), access(config.journal.path, R_OK | W_OK) != 0 {
            error("journal.path", "\(config.journal.path) exists but cannot be read and written: \(String(cString: strerror(errno)))")
        }
        if let problem = creatableProblem(folder: Paths.folder(of: config.status.socket)) {
            error("status.socket", problem)
        }
        // The metrics folder belongs to node_exporter: the daemon does not make it.
        if !config.metrics.textfile.isEmpty {
            let folder = Paths.folder(of: config.metrics.textfile)
            if !isFolder(folder) {
                warning("metrics.textfile", "the folder \(folder) does not exist (is prometheus-node-exporter installed?); metrics will not be written")
            } else if access(folder, W_OK | X_OK) != 0 {
                warning("metrics.textfile", "the folder \(folder) is not writable (\(String(cString: strerror(errno)))); metrics will not be written")
            }
        }

        // Files the daemon reads; secrets as `run` checks them.
        let upload = config.upload
        for (key, path) in [("upload.ca_file", upload.caFile), ("upload.client_certificate", upload.clientCertificate)]
        where upload.enabled && !path.isEmpty {
            if access(path, R_OK) != 0 { error(key, "\(path) cannot be read: \(String(cString: strerror(errno)))") }
        }
        for (key, message) in UploadService.secretProblems(upload) { error(key, message) }
        // The journal's encryption key, loaded as `run` loads it (file or credential).
        if !config.journal.encryptionKeyFile.isEmpty || !config.journal.encryptionKeyCredential.isEmpty {
            do {
                _ = try JournalSettings.configured(config.journal)
            } catch let failure {
                error(config.journal.encryptionKeyFile.isEmpty ? "journal.encryption_key_credential" : "journal.encryption_key_file", "\(failure)")
            }
        }

        // Hotlists: each file loaded as the daemon loads it; a file that cannot be used is an error
        // (a hotlist unit without its list misses every hit), a skipped line a warning.
        for (i, path) in config.hotlist.files.enumerated() {
            let (entries, problems) = HotlistFile.load(path: path)
            if let whole = problems.first(where: { $0.line == nil }) {
                error("hotlist.files[\(i)]", whole.description)
            } else if !problems.isEmpty {
                warning("hotlist.files[\(i)]", "\(problems.count) malformed line(s) will be skipped, first: \(problems[0])")
            } else if entries.isEmpty {
                warning("hotlist.files[\(i)]", "\(path) holds no entries")
            }
        }

        // Devices and recordings may come later: warnings.
        for (i, camera) in config.cameras.enumerated() {
            switch camera.source {
            case let .device(path):
                var info = stat()
                if stat(path, &info) != 0 {
                    warning("cameras[\(i)].device", "\(path) is not present (yet); camera \(camera.id) will be retried until it appears")
                } else if info.st_mode & S_IFMT != S_IFCHR {
                    error("cameras[\(i)].device", "\(path) is not a device")
                } else if access(path, R_OK | W_OK) != 0 {
                    warning("cameras[\(i)].device", "\(path) cannot be opened for reading and writing by this user (\(String(cString: strerror(errno)))); the daemon's user needs the video group")
                }
            case let .replay(path, _, _):
                if !FileManager.default.fileExists(atPath: path) {
                    warning("cameras[\(i)].replay", "\(path) does not exist (yet); camera \(camera.id) will be retried until it does")
                } else if access(path, R_OK) != 0 {
                    warning("cameras[\(i)].replay", "\(path) cannot be read: \(String(cString: strerror(errno)))")
                }
            }
        }
        switch config.position.source {
        case .nmea:
            if !FileManager.default.fileExists(atPath: config.position.device) {
                warning("position.device", "\(config.position.device) is not present (yet); it will be opened when it appears")
            }
        case .recording:
            if access(config.position.recording, R_OK) != 0 {
                error("position.recording", "\(config.position.recording) cannot be read: \(String(cString: strerror(errno)))")
            }
        case .none, .fixed, .gpsd:
            break
        }
        return findings
    }

    static func isFolder(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// Why the daemon could not have `folder` (nil when it can): an existing folder must be
    /// writable; a missing one needs its nearest existing parent to be a writable folder.
    static func creatableProblem(folder: String) -> String? {
        var path = folder.isEmpty ? "/" : folder
        var missing: [String] = []
        while !FileManager.default.fileExists(atPath: path) {
            missing.append(path)
            let parent = Paths.folder(of: path)
            if parent == path || parent.isEmpty { break }
            path = parent
        }
        guard isFolder(path) else { return "\(path) is not a folder" }
        if access(path, W_OK | X_OK) != 0 {
            let why = String(cString: strerror(errno))
            return missing.isEmpty ? "the folder \(path) is not writable: \(why)" : "\(folder) cannot be created: \(path) is not writable (\(why))"
        }
        return nil
    }
}
