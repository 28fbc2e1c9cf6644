import ArgumentParser
import Foundation
import Logging
import PostgresNIO
import StoreCore

/// `platekeeper-store`: the central store for PlateKeeper units (docs/upload-api.md).
@main
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "platekeeper-store",
        abstract: "The central store of PlateKeeper read events, on PostgreSQL.",
        subcommands: [Serve.self, AddUnit.self, AddReader.self, Migrate.self])

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
        @Option(help: "Days reads are kept; older partitions are dropped hourly.")
        var retentionDays = 90

        func validate() throws {
            guard (0...65_535).contains(port) else { throw ValidationError("--port must be 0 to 65535") }
            guard (1...36_500).contains(retentionDays) else { throw ValidationError("--retention-days must be 1 to 36500") }
        }

        func run() async throws {
            var settings = StoreSettings()
            settings.host = host
            settings.port = port
            settings.retentionDays = retentionDays
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
}
