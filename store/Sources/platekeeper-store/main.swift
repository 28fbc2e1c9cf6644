import ArgumentParser
import Audit
import Foundation
import Logging
import PlateKeeperCore
import PostgresNIO
import PublicRelease
import StoreCore

/// `platekeeper-store`: the central store for PlateKeeper units (docs/upload-api.md).
@main
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "platekeeper-store",
        abstract: "The central store of PlateKeeper read events, on PostgreSQL.",
        subcommands: [Serve.self, AddUnit.self, AddReader.self, Migrate.self, AuditCommand.self, Deletions.self, Release.self, Report.self])

    /// Where PostgreSQL is. The password, when one is needed, comes from a file or $PGPASSWORD, never an argument.
    struct Database: ParsableArguments {
        @Option(help: "PostgreSQL's Unix socket folder (e.g. /run/postgresql); wins over --db-host.")
        var dbSocket: String?
        @Option(help: "PostgreSQL host, when not on a Unix socket.")
        var dbHost = "127.0.0.1"
        @Option(help: "PostgreSQL port.")
        var dbPort = 5432
        @Option(help: "Database name.")
        var dbName = "platekeeper"
        @Option(help: "Database role.")
        var dbUser = "platekeeper"
        @Option(help: "A file holding the role's password (else $PGPASSWORD, else none).")
        var dbPasswordFile: String?

        func validate() throws {
            guard (1...65_535).contains(dbPort) else { throw ValidationError("--db-port must be 1 to 65535") }
        }

        func configuration() throws -> PostgresClient.Configuration {
            var password = ProcessInfo.processInfo.environment["PGPASSWORD"]
            if let file = dbPasswordFile {
                password = try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            if let socket = dbSocket {
                let path = socket.hasSuffix(".s.PGSQL.\(dbPort)") ? socket : (socket as NSString).appendingPathComponent(".s.PGSQL.\(dbPort)")
                return .init(unixSocketPath: path, username: dbUser, password: password, database: dbName)
            }
            return .init(host: dbHost, port: dbPort, username: dbUser, password: password, database: dbName, tls: .disable)
        }
    }

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve the upload contract, the reader's queries, /health and /metrics.")
        @OptionGroup var database: Database
        @Option(help: "Address to listen on. Put TLS in front (a load balancer, nginx, stunnel) for units on other hosts.")
        var host = "127.0.0.1"
        @Option(help: "Port to listen on.")
        var port = 8080
        @Option(help: "Days reads that matched no hotlist are kept.")
        var retentionDays = 90
        @Option(help: "Days hotlist hits are kept (default: --retention-days).")
        var retentionHitDays: Int?
        @Option(help: "Seconds between retention runs (every run is in the deletion log when it deletes).")
        var retentionInterval = 600.0
        @Option(help: ArgumentHelp(
            "A directory (mode 0700, the store's own, shared by all instances, not backed up) for per-day keys: plate data is sealed under them and a day's key is destroyed when its retention ends.",
            valueName: "dir"))
        var keyDir: String?

        func validate() throws {
            guard (0...65_535).contains(port) else { throw ValidationError("--port must be 0 to 65535") }
            guard (1...Retention.maxDays).contains(retentionDays) else { throw ValidationError("--retention-days must be 1 to \(Retention.maxDays)") }
            if let retentionHitDays, !(1...Retention.maxDays).contains(retentionHitDays) {
                throw ValidationError("--retention-hit-days must be 1 to \(Retention.maxDays)")
            }
            guard (1...86_400).contains(retentionInterval) else { throw ValidationError("--retention-interval must be 1 to 86400 seconds") }
        }

        func run() async throws {
            var settings = StoreSettings()
            settings.host = host
            settings.port = port
            settings.retention = Retention(days: retentionDays, hitDays: retentionHitDays ?? retentionDays)
            settings.retentionIntervalSeconds = retentionInterval
            settings.keyDirectory = keyDir
            let logger = Logger(label: "platekeeper-store")
            try await StoreServer.run(settings: settings, postgres: try database.configuration(), logger: logger) { port in
                logger.notice("platekeeper-store listening on \(host):\(port)")
            }
        }
    }

    struct AddUnit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a unit (or give it a new token) and print its token once; only its hash is kept.")
        @OptionGroup var database: Database
        @Argument(help: "The unit's id ([unit] id in its platekeeper.toml).")
        var unit: String

        func validate() throws {
            guard !unit.isEmpty, unit.utf8.count <= 128,
                  unit.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0) })
            else { throw ValidationError("a unit id is 1 to 128 letters, digits, '-', '_' or '.'") }
        }

        func run() async throws {
            let unit = self.unit
            print(try await StoreServer.withClient(try database.configuration(), logger: Logger(label: "platekeeper-store")) { try await $0.addUnit(unit) })
        }
    }

    struct AddReader: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a reader (queries only) and print its token once.")
        @OptionGroup var database: Database
        @Argument var name: String

        func validate() throws {
            guard !name.isEmpty, name.utf8.count <= 128 else { throw ValidationError("a reader's name is 1 to 128 bytes") }
        }

        func run() async throws {
            let name = self.name
            print(try await StoreServer.withClient(try database.configuration(), logger: Logger(label: "platekeeper-store")) { try await $0.addReader(name) })
        }
    }

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create or migrate the store's tables, then exit.")
        @OptionGroup var database: Database

        func run() async throws {
            try await StoreServer.withClient(try database.configuration(), logger: Logger(label: "platekeeper-store")) { _ in () }
            print("store schema at version \(StoreSchema.currentVersion)")
        }
    }

    struct AuditCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "audit", abstract: "The audit trail of read-outs.", subcommands: [Verify.self])

        struct Verify: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Check the audit trail's hash chain; exit 1 naming the first broken entry.")
            @OptionGroup var database: Database

            func run() async throws {
                do {
                    let (entries, head) = try await StoreServer.withClient(try database.configuration(), logger: Logger(label: "platekeeper-store")) {
                        try await $0.verifyAudit()
                    }
                    print("audit trail holds: \(entries) entries, head \(head)")
                } catch let error as AuditError {
                    FileHandle.standardError.write(Data("platekeeper-store: \(error)\n".utf8))
                    throw ExitCode.failure
                }
            }
        }
    }

    struct Deletions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the retention deletion log as JSON lines (when, which rule, how many reads, the time range; never plates).")
        @OptionGroup var database: Database

        func run() async throws {
            let log = try await StoreServer.withClient(try database.configuration(), logger: Logger(label: "platekeeper-store")) {
                try await $0.deletions()
            }
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            for deletion in log { print(String(decoding: try encoder.encode(deletion), as: UTF8.self)) }
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a pseudonymised public release of the store's reads (audited), as `platekeeper journal release` does for a unit.",
            discussion: "Each plate becomes a token that is the same within this release and unlinkable to any other (a keyed hash under a random key never stored). Times are rounded down, positions moved to the centre of a grid cell, crops and candidates dropped, and a place-and-time cell with fewer than K distinct vehicles is left out whole. Cameras are named unit/camera. The release is recorded in the store's audit trail first.")
        @OptionGroup var database: Database
        @Option(help: "Reads first seen at or after this ISO 8601 time.")
        var from: String
        @Option(help: "Reads first seen before this ISO 8601 time.")
        var to: String
        @Option(help: "Round times down to this many minutes (1 to 43200).")
        var timeMinutes = 60
        @Option(help: "Grid cell size for positions, degrees (0.001 to 10; 0.01 is about 1 km).")
        var grid = 0.01
        @Option(help: "Leave out cells with fewer than this many distinct vehicles (2 to 1000).")
        var k = 5
        @Option(help: "Why the release is made (required); written to the audit trail.")
        var purpose: String
        @Option(help: "The store's key directory, to open sealed reads.")
        var keyDir: String?

        func validate() throws {
            do { try AuditLog.checkPurpose(purpose) } catch { throw ValidationError("--purpose: \(error)") }
            guard let a = ISO8601.parse(from), let b = ISO8601.parse(to), a < b else { throw ValidationError("--from and --to must be ISO 8601 times, --from first") }
            guard (1...43_200).contains(timeMinutes) else { throw ValidationError("--time-minutes must be 1 to 43200") }
            guard grid.isFinite, ReleaseSettings.gridRange.contains(grid) else { throw ValidationError("--grid must be between 0.001 and 10 degrees") }
            guard ReleaseSettings.kRange.contains(k) else { throw ValidationError("--k must be between 2 and 1000") }
        }

        func run() async throws {
            var coarse = ReleaseSettings()
            coarse.timeSeconds = Double(timeMinutes) * 60
            coarse.gridDegrees = grid
            coarse.k = k
            let settings = coarse
            let keys = try keyDir.map { directory throws(DayKeys.Failure) in try DayKeys(directory: directory) }
            let from = Date(timeIntervalSince1970: Double(ISO8601.parse(self.from) ?? 0) / 1e9)
            let to = Date(timeIntervalSince1970: Double(ISO8601.parse(self.to) ?? 0) / 1e9)
            let query = "from=\(self.from) to=\(self.to) time=\(timeMinutes)m grid=\(grid) k=\(k)"
            let purpose = self.purpose
            let (result, unopened) = try await StoreServer.withClient(try database.configuration(), logger: Logger(label: "platekeeper-store"), keys: keys) { store in
                let (inputs, unopened) = try await store.releaseInputs(from: from, to: to)
                let result = Pseudonymiser.release(inputs, settings: settings)
                try await store.appendAudit(who: "admin:" + AuditLog.currentUser(), action: "release", query: query, purpose: purpose, records: result.reads.count)
                return (result, unopened)
            }
            var summary = "platekeeper-store: released \(result.reads.count) reads in \(result.cells - result.suppressedCells) cells; "
            summary += "left out \(result.suppressedReads) reads in \(result.suppressedCells) cells with fewer than \(result.settings.k) vehicles"
            if unopened > 0 { summary += "; \(unopened) sealed reads had no key (give --key-dir)" }
            FileHandle.standardError.write(Data((summary + "\n").utf8))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            for r in result.reads { print(String(decoding: try encoder.encode(r), as: UTF8.self)) }
        }
    }

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the store's transparency report: reads per day and unit/camera, hits per list, retention deletions, read-outs per category and role (numbers only; never a purpose's words or a reader's name).")
        @OptionGroup var database: Database
        @Option(help: "json or html.")
        var format = "json"
        @Option(help: "The retention the store serves with (--retention-days of serve), stated in the report.")
        var retentionDays = 90
        @Option(help: "The hits' retention the store serves with (default: --retention-days).")
        var retentionHitDays: Int?

        func validate() throws {
            guard ["json", "html"].contains(format) else { throw ValidationError("--format must be json or html") }
            guard (1...Retention.maxDays).contains(retentionDays), (1...Retention.maxDays).contains(retentionHitDays ?? retentionDays) else {
                throw ValidationError("retention days must be 1 to \(Retention.maxDays)")
            }
        }

        func run() async throws {
            let retention = Retention(days: retentionDays, hitDays: retentionHitDays ?? retentionDays)
            let report = try await StoreServer.withClient(try database.configuration(), logger: Logger(label: "platekeeper-store"), retention: retention) {
                try await $0.transparencyReport()
            }
            print(try report.rendered(html: format == "html"), terminator: "")
        }
    }
}
