import ArgumentParser
import Audit
import Config
import Daemon
import Foundation
import Journal
import PlateKeeperCore
import PublicRelease
import WireFormat

#if canImport(Glibc)
import Glibc
#endif

/// `platekeeper journal stats|export`: look into the journal on the unit (read only).
struct JournalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal", abstract: "Inspect the read journal (read only).", subcommands: [Stats.self, Export.self, Release.self, Report.self, NewKey.self])

    struct Location: ParsableArguments {
        @Option(name: .shortAndLong, help: "The configuration file to take the journal path from.")
        var config: String = PlateKeeperConfig.defaultPath

        @Option(help: "The journal file (default: from the configuration file).")
        var journal: String?

        @Option(help: "The journal's encryption key file (default: from the configuration file); needed to read a sealed journal.")
        var keyFile: String?

        /// The audit log the configuration names (its default when there is no configuration).
        func auditLog() -> String {
            (try? ConfigLoader.load(path: config).audit.log) ?? AuditSection().log
        }

        /// The purpose categories the configuration allows (its defaults when there is none).
        func categories() -> [String] {
            (try? ConfigLoader.load(path: config).audit.categories) ?? AuditSection().categories
        }

        /// Checks `--category` against the configured list.
        func checkCategory(_ category: String?) throws {
            let allowed = categories()
            guard let category, allowed.contains(category) else {
                throw ValidationError("--category is required, one of: \(allowed.joined(separator: ", ")) ([audit] categories); "
                    + "the public report counts read-outs per category, never the purpose's words")
            }
        }

        /// Appends the read-out to the audit log (`path`, or the configuration's) before any plate
        /// data is written; when it cannot, nothing is written and the command fails.
        func audit(_ action: String, query: String, purpose: String, category: String?, records: Int, log path: String?) throws {
            let log = AuditLog(path: path ?? auditLog())
            do {
                let entry = try log.append(who: AuditLog.currentUser(), action: action, query: query, purpose: purpose, category: category,
                                           records: records)
                Terminal.stderrLine("platekeeper: audit: entry \(entry.seq) in \(log.path) (\(records) records, head \(entry.hash.prefix(16)))")
            } catch {
                Terminal.error("cannot write the audit log, so nothing is written out: \(error)")
                throw ExitCode.failure
            }
        }

        /// Opens the journal read-only, with the configured quota and retention when the
        /// configuration names this journal (so stats show the quota the daemon applies).
        /// Opens the journal read-only. `needsKey` false (counts only): no key file is read, so one
        /// the caller may not read, or a missing one, is no obstacle.
        func open(needsKey: Bool = true) throws -> Journal {
            var section: JournalSection?
            if journal == nil || FileManager.default.fileExists(atPath: config) {
                do {
                    section = try ConfigLoader.load(path: config).journal
                } catch {
                    guard journal != nil else {
                        Terminal.error("cannot take the journal path from \(config) (give --journal):\n\(error)")
                        throw ExitCode.failure
                    }
                }
            }
            let path = journal ?? section?.path ?? ""
            let settings: JournalSettings
            do {
                if let section, section.path == path {
                    var unsealed = section
                    if !needsKey { (unsealed.encryptionKeyFile, unsealed.encryptionKeyCredential) = ("", "") }
                    settings = try JournalSettings.configured(unsealed, keyFile: needsKey ? keyFile : nil)
                } else {
                    var plain = JournalSettings(path: path)
                    plain.keyring = needsKey ? try keyFile.map(JournalKeyring.load(path:)) : nil
                    settings = plain
                }
            } catch {
                Terminal.error(error.description)
                throw ExitCode.failure
            }
            do {
                return try Journal(settings: settings, mode: .inspect)
            } catch {
                Terminal.error(error.description)
                throw ExitCode.failure
            }
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rows, sizes, upload backlog and drop counters.")
        @OptionGroup var location: Location
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let stats: JournalStats
            do {
                stats = try location.open().stats()
            } catch let error as JournalError {
                Terminal.error(error.description)
                throw ExitCode.failure
            }
            if json {
                let encoder = JSONEncoder()
                encoder.keyEncodingStrategy = .convertToSnakeCase
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(stats), as: UTF8.self))
                return
            }
            func time(_ ns: Int64?) -> String { ns.map { ISO8601.format(unixNanoseconds: $0) } ?? "-" }
            print("""
                journal: \(stats.path) (schema \(stats.schemaVersion))
                reads: \(stats.rows), waiting for upload: \(stats.pending)
                size on disk: \(StatusCommand.bytes(stats.bytesOnDisk)) of a quota of \(StatusCommand.bytes(stats.quotaBytes))
                oldest: \(time(stats.oldest)), newest: \(time(stats.newest)), oldest waiting for upload: \(time(stats.oldestPending))
                dropped because full: \(stats.droppedFull), uploaded rows evicted: \(stats.evictedUploaded), expired: \(stats.expired)
                """)
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write read events as JSON Lines or CSV on stdout.")
        @OptionGroup var location: Location

        @Option(help: "Only events last seen at or after this time: a date (2026-11-27, UTC), an ISO 8601 time (2026-11-27T08:00:00Z) or an age (30m, 12h, 7d, 2w).")
        var since: String?

        @Option(help: "Only events first seen before this time: a date, an ISO 8601 time or an age, as for --since.")
        var until: String?

        @Option(help: "Only this camera's events (repeat for several).")
        var camera: [String] = []

        @Option(help: "Only events of this plate (exact, as read).")
        var plate: String?

        @Option(help: "jsonl or csv.")
        var format: String = "jsonl"

        @Flag(help: "Include each plate crop, base64 JPEG, as crop_jpeg (jsonl; for CSV use --crops-dir).")
        var crops = false

        @Option(help: "Write each plate crop as a JPEG file, ID.jpg, into this folder (made, mode 0700, if missing; existing files are never overwritten), named in the crop_file column (CSV) or key (jsonl).")
        var cropsDir: String?

        @Option(help: "Why the reads are exported (required): a case number, a request. It is written to the audit log with who you are, the filters and the number of reads.")
        var purpose: String?

        @Option(help: "The purpose's category (required), one of [audit] categories: what the public report counts.")
        var category: String?

        @Option(help: "The audit log to append to (default: [audit] log of the configuration, /var/lib/platekeeper/audit.log).")
        var auditLog: String?

        func validate() throws {
            guard let purpose else {
                throw ValidationError("--purpose is required: every export of plate data is recorded in the audit log with its purpose")
            }
            do {
                try AuditLog.checkPurpose(purpose)
            } catch {
                throw ValidationError("--purpose: \(error)")
            }
            try location.checkCategory(category)
            guard ["jsonl", "csv"].contains(format) else { throw ValidationError("--format must be jsonl or csv") }
            for (name, value) in [("--since", since), ("--until", until)] {
                if let value, Self.timeNanoseconds(value) == nil {
                    throw ValidationError("\(name) must be a date such as 2026-11-27, an ISO 8601 time such as 2026-11-27T08:00:00Z, "
                        + "or an age up to 200 years such as 30m, 12h, 7d, 2w")
                }
            }
            if crops, format == "csv" {
                throw ValidationError("CSV holds crops as files: use --crops-dir DIR instead of --crops (each crop is written as DIR/ID.jpg and named in the crop_file column)")
            }
        }

        /// A date (midnight UTC), an ISO 8601 time, or an age before now.
        static func timeNanoseconds(_ text: String) -> Int64? {
            if let ns = ISO8601.parse(text) { return ns }
            if text.utf8.count == 10, let ns = ISO8601.parse(text + "T00:00:00Z") { return ns }
            // An age, bounded to 200 years so that no arithmetic on it can overflow.
            var seconds = Units.seconds(text)
            if seconds == nil, text.hasSuffix("w"), let weeks = Double(text.dropLast()), weeks >= 0 { seconds = weeks * 7 * 86_400 }
            guard let seconds, seconds <= 200 * 365.25 * 86_400 else { return nil }
            return ISO8601.nanoseconds(seconds: Date().timeIntervalSince1970 - seconds)
        }

        func run() throws {
            let events: [StoredEvent]
            do {
                let untilNs = until.flatMap(Self.timeNanoseconds)
                events = try location.open().events(since: since.flatMap(Self.timeNanoseconds), includeCrops: crops || cropsDir != nil).filter { stored in
                    let e = stored.event
                    return (camera.isEmpty || camera.contains(e.camera.rawValue)) && (plate.map { $0 == e.plate } ?? true)
                        && (untilNs.map { e.firstSeen.unixNanoseconds < $0 } ?? true)
                }
            } catch let error as JournalError {
                Terminal.error(error.description)
                throw ExitCode.failure
            }
            // Recorded before a single read is written out: no audit entry, no export.
            try location.audit("journal export", query: query(), purpose: purpose ?? "", category: category, records: events.count, log: auditLog)
            if format == "csv" {
                print("id,kind,camera,plate,confidence,region,first_seen,last_seen,clock_quality,frames,latitude,longitude,box_x,box_y,box_w,box_h,upload_state,journaled,best_seen,position_status,fix_age_s,clock_synchronized,gps_offset_s,crop_file,hotlist")
            }
            if let cropsDir { try Self.makeCropsFolder(cropsDir) }
            for stored in events {
                let e = stored.event
                let cropFile = try cropsDir.flatMap { try Self.writeCrop(stored, into: $0) }
                if format == "csv" {
                    let fields: [String] = [
                        e.id.uuidString.lowercased(), e.kind.rawValue, e.camera.rawValue, e.plate, JSONLine.number(e.confidence, decimals: 1),
                        e.region, e.firstSeen.iso8601, e.lastSeen.iso8601, e.firstSeen.quality.rawValue, String(e.frameCount),
                        e.position.map { String($0.latitude) } ?? "", e.position.map { String($0.longitude) } ?? "",
                        String(e.box.x), String(e.box.y), String(e.box.width), String(e.box.height), stored.uploadState,
                        ISO8601.format(unixNanoseconds: stored.journaledAt),
                        // Added after the columns above, so their positions stay as they were.
                        e.bestSeen.iso8601, e.positionStatus?.state.rawValue ?? "",
                        e.positionStatus?.fixAgeSeconds.map { String($0) } ?? "", e.clock?.synchronized.map { String($0) } ?? "",
                        e.clock?.gpsOffsetSeconds.map { String($0) } ?? "", cropFile ?? "", e.hit?.list ?? "",
                    ]
                    print(fields.map(Self.csv).joined(separator: ","))
                } else {
                    // The upload contract's spelling of a read (WireFormat), plus where it stands in this journal.
                    let line = ExportedEvent(stored: stored, includeCrop: crops, cropFile: cropFile)
                    guard let data = try? WireCoding.encode(line) else {
                        Terminal.error("cannot encode read \(e.id.uuidString.lowercased())")
                        throw ExitCode.failure
                    }
                    print(String(decoding: data, as: UTF8.self))
                }
            }
        }

        /// The export's filters as the audit log records them.
        func query() -> String {
            var parts = ["journal=\((try? location.open().settings.path) ?? location.journal ?? "?")", "format=\(format)"]
            if let since { parts.append("since=\(since)") }
            if let until { parts.append("until=\(until)") }
            if !camera.isEmpty { parts.append("camera=\(camera.joined(separator: "|"))") }
            if let plate { parts.append("plate=\(plate)") }
            if crops || cropsDir != nil { parts.append("crops=yes") }
            return String(parts.joined(separator: " ").prefix(AuditLog.maxQueryLength))
        }

        /// Makes the crops' folder (0700: crops show who drove where) unless it exists.
        static func makeCropsFolder(_ path: String) throws {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
                guard isDirectory.boolValue else {
                    Terminal.error("--crops-dir \(path) is not a folder")
                    throw ExitCode.failure
                }
                return
            }
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                Terminal.error("cannot make --crops-dir \(path): \(error.localizedDescription)")
                throw ExitCode.failure
            }
        }

        /// Writes one event's crop as `ID.jpg` (never over an existing file); its name, or nil
        /// when the event has no crop.
        static func writeCrop(_ stored: StoredEvent, into folder: String) throws -> String? {
            guard let crop = stored.event.crop, !crop.isEmpty else { return nil }
            let name = stored.event.id.uuidString.lowercased() + ".jpg"
            let path = (folder as NSString).appendingPathComponent(name)
            let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                Terminal.error("cannot write crop \(path): \(String(cString: strerror(errno)))" + (errno == EEXIST ? " (existing files are never overwritten)" : ""))
                throw ExitCode.failure
            }
            let file = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
            do {
                try file.write(contentsOf: crop)
                try file.close()
            } catch {
                Terminal.error("cannot write crop \(path): \(error.localizedDescription)")
                throw ExitCode.failure
            }
            return name
        }

        static func csv(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
    }
}

extension JournalCommand {
    /// `journal release`: a pseudonymised public release of the journal's reads (audited).
    struct Release: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a pseudonymised public release: tokens instead of plates, coarse time and place, rare cells left out.",
            discussion: "Each plate becomes a token that is the same within this release and unlinkable to any other release (a keyed hash under a random key that is never stored). Times are rounded down, positions moved to the centre of a grid cell, crops and candidates dropped, and a place-and-time cell with fewer than K distinct vehicles is left out whole. Only whole-pass read events are released. Appends to the audit log first, as export does.")
        @OptionGroup var location: Location

        @Option(help: "Only events last seen at or after this time (as for export).")
        var since: String?

        @Option(help: "Only events first seen before this time (as for export).")
        var until: String?

        @Option(help: "Round times down to this (a duration, 1m to 30d).")
        var timePrecision: String = "1h"

        @Option(help: "Grid cell size for positions, degrees (0.001 to 10; 0.01 is about 1 km).")
        var grid: Double = 0.01

        @Option(help: "Leave out cells with fewer than this many distinct vehicles (2 to 1000).")
        var k: Int = 5

        @Option(help: "jsonl or csv.")
        var format: String = "jsonl"

        @Option(help: "Why the release is made (required); written to the audit log.")
        var purpose: String?

        @Option(help: "The purpose's category (required), one of [audit] categories.")
        var category: String?

        @Option(help: "The audit log to append to (default: [audit] log of the configuration).")
        var auditLog: String?

        func validate() throws {
            guard let purpose else { throw ValidationError("--purpose is required: every release is recorded in the audit log with its purpose") }
            do { try AuditLog.checkPurpose(purpose) } catch { throw ValidationError("--purpose: \(error)") }
            try location.checkCategory(category)
            guard ["jsonl", "csv"].contains(format) else { throw ValidationError("--format must be jsonl or csv") }
            guard let t = Units.seconds(timePrecision), ReleaseSettings.timeRange.contains(t) else {
                throw ValidationError("--time-precision must be a duration from 1m to 30d, such as 15m, 1h or 1d")
            }
            guard grid.isFinite, ReleaseSettings.gridRange.contains(grid) else { throw ValidationError("--grid must be between 0.001 and 10 degrees") }
            guard ReleaseSettings.kRange.contains(k) else { throw ValidationError("--k must be between 2 and 1000") }
            for (name, value) in [("--since", since), ("--until", until)] {
                if let value, Export.timeNanoseconds(value) == nil { throw ValidationError("\(name) must be a date, an ISO 8601 time or an age, as for export") }
            }
        }

        func run() throws {
            var settings = ReleaseSettings()
            settings.timeSeconds = Units.seconds(timePrecision) ?? 3600
            settings.gridDegrees = grid
            settings.k = k
            let events: [ReadEvent]
            do {
                let untilNs = until.flatMap(Export.timeNanoseconds)
                events = try location.open().events(since: since.flatMap(Export.timeNanoseconds)).map(\.event).filter { e in
                    untilNs.map { e.firstSeen.unixNanoseconds < $0 } ?? true
                }
            } catch let error as JournalError {
                Terminal.error(error.description)
                throw ExitCode.failure
            }
            let result = Pseudonymiser.release(events, settings: settings)
            var query = "format=\(format) time=\(timePrecision) grid=\(grid) k=\(k)"
            if let since { query += " since=\(since)" }
            if let until { query += " until=\(until)" }
            try location.audit("journal release", query: query, purpose: purpose ?? "", category: category, records: result.reads.count, log: auditLog)
            Terminal.stderrLine("platekeeper: released \(result.reads.count) reads in \(result.cells - result.suppressedCells) cells; "
                + "left out \(result.suppressedReads) reads in \(result.suppressedCells) cells with fewer than \(result.settings.k) vehicles")
            if format == "csv" { print("token,camera,region,time,lat,lon") }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            for r in result.reads {
                if format == "csv" {
                    print([r.token, r.camera, r.region, r.time, r.lat.map { String($0) } ?? "", r.lon.map { String($0) } ?? ""]
                        .map(Export.csv).joined(separator: ","))
                } else {
                    print(String(decoding: try encoder.encode(r), as: UTF8.self))
                }
            }
        }
    }

    /// `journal report`: the transparency report (numbers only; not audited: it holds no plate data).
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the transparency report: scans per day and camera, hits per list, retention deletions, read-outs per category and role (no key needed).")
        @OptionGroup var location: Location

        @Option(help: "json or html (a page with bar charts).")
        var format: String = "json"

        @Option(help: "The audit log to count (default: [audit] log of the configuration).")
        var auditLog: String?

        func validate() throws {
            guard ["json", "html"].contains(format) else { throw ValidationError("--format must be json or html") }
        }

        func run() throws {
            let report: TransparencyReport
            do {
                // Counts only: an encrypted journal's key is read only when --key-file names it (to name sealed hits' lists).
                let journal = try location.open(needsKey: location.keyFile != nil)
                let path = auditLog ?? location.auditLog()
                let audit: Result<[AuditEntry], AuditError>? = FileManager.default.fileExists(atPath: path)
                    ? Result { () throws(AuditError) in try AuditLog(path: path).verify() } : nil
                let unit = (try? ConfigLoader.load(path: location.config).unit.effectiveID) ?? UnitSection().effectiveID
                report = TransparencyReport(
                    unit: unit, settings: journal.settings, daily: try journal.dailyCounts(), hitsHeldPerList: try journal.hitsHeldPerList(),
                    deletions: try journal.deletionLog(), audit: audit)
            } catch let error as JournalError {
                Terminal.error(error.description)
                throw ExitCode.failure
            }
            print(try report.rendered(html: format == "html"), terminator: "")
        }
    }
}

extension JournalCommand {
    /// `journal new-key ID`: a key line for the journal's key file.
    struct NewKey: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "new-key",
            abstract: "Print a new encryption key line (ID and 64 hex digits) to append to the journal's key file.",
            discussion: "The last line of the key file seals new reads; every line opens the reads sealed under it. Rotate by appending a new line and restarting the daemon (systemctl restart platekeeper: the journal is reopened with the new key; SIGHUP does not reopen it); remove an old line only when no read sealed under it is left (retention).")

        @Argument(help: "The key's id: 1 to 16 letters, digits or '-'.")
        var id: String

        func validate() throws {
            guard (1...16).contains(id.count), id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
                throw ValidationError("the id must be 1 to 16 letters, digits or '-'")
            }
        }

        func run() throws {
            print(try JournalKeyring.newKeyLine(id: id))
        }
    }
}

/// One line of `journal export --format jsonl`: the read event exactly as the upload contract
/// spells it (WireFormat), followed by its journal state under keys the contract does not use.
struct ExportedEvent: Encodable {
    let stored: StoredEvent
    let includeCrop: Bool
    var cropFile: String?

    enum Keys: String, CodingKey {
        case uploadState = "upload_state", journaled, uploaded, uploadError = "upload_error", cropBytes = "crop_bytes", cropFile = "crop_file"
    }

    func encode(to encoder: any Encoder) throws {
        try WireReadEvent(stored.event, includeCrop: includeCrop).encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(stored.uploadState, forKey: .uploadState)
        try c.encode(ISO8601.format(unixNanoseconds: stored.journaledAt), forKey: .journaled)
        try c.encodeIfPresent(stored.uploadedAt.map { ISO8601.format(unixNanoseconds: $0) }, forKey: .uploaded)
        try c.encodeIfPresent(stored.uploadError, forKey: .uploadError)
        try c.encode(stored.cropBytes, forKey: .cropBytes)
        try c.encodeIfPresent(cropFile, forKey: .cropFile)
    }
}
