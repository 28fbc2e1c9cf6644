import ArgumentParser
import Config
import Daemon
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `platekeeper run`: the daemon (normally started by systemd/platekeeper.service).
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the daemon: capture, read, group and journal plates; serve status.",
        discussion: """
            SIGTERM or SIGINT: stop, after committing every read in flight. SIGHUP: reload the \
            configuration (an invalid one is logged and the running one kept). Exit status 78 means \
            the configuration is invalid, or names a model or tessdata that cannot be loaded: \
            restarting will not help. READY=1 reaches systemd once recognition has its models.
            """
    )

    @Option(name: .shortAndLong, help: "The configuration file.")
    var config: String = PlateKeeperConfig.defaultPath

    @Flag(help: "Log plain stderr lines with a timestamp (default when stderr is a terminal), not journald records or lines with a syslog priority.")
    var logTimestamps = false

    func run() async throws {
        let settings: PlateKeeperConfig
        do {
            settings = try ConfigLoader.load(path: config)
        } catch {
            Terminal.error(error.description)
            throw ExitCode(78)
        }
        let timestamps = logTimestamps || isatty(2) != 0
        let level = Logger.Level(rawValue: settings.logging.level.rawValue) ?? .info
        let output = JournaldLogHandler.output(timestamps: timestamps)
        LoggingSystem.bootstrap { label in JournaldLogHandler(label: label, level: level, output: output) }
        let logger = Logger(label: "platekeeper")
        // Journal files, sockets and crops are for this user only (the unit file sets UMask too).
        umask(0o077)
        do {
            try await Daemon(configPath: config, logger: logger).run(config: settings)
        } catch let failure as Daemon.StartupFailure {
            // A restart cannot fix it: the same status as a bad configuration, which systemd's
            // RestartPreventExitStatus=78 does not restart.
            logger.critical("daemon cannot start", metadata: ["error": "\(failure)"])
            throw ExitCode(78)
        } catch {
            logger.critical("daemon failed", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
    }
}

/// `platekeeper config check`.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Work with platekeeper.toml.", subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a configuration file, and whether the daemon could start with it here.",
            discussion: """
                Prints every problem of the file with its line and key. Then, for a valid file, \
                checks this machine as the current user: the glyph model and tessdata load, the \
                journal's and status socket's folders can be made, token and certificate files \
                can be read. Camera devices, recordings and a serial receiver that are absent are \
                warnings, since the daemon waits for them. Changes nothing. Exit status 0 when \
                the daemon could start (warnings or not), 1 otherwise.
                """)

        @Argument(help: "The file to check.")
        var file: String = PlateKeeperConfig.defaultPath

        func run() throws {
            let config: PlateKeeperConfig
            do {
                config = try ConfigLoader.load(path: file)
            } catch {
                for issue in error.issues { Terminal.error(issue.description) }
                Terminal.error("\(file): \(error.issues.count) problem(s)")
                throw ExitCode.failure
            }
            let findings = Preflight.check(config)
            let errors = findings.filter { $0.severity == .error }, warnings = findings.filter { $0.severity == .warning }
            for finding in errors { Terminal.error("\(file): \(finding)") }
            for finding in warnings { Terminal.error("warning: \(file): \(finding)") }
            let user = getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid \(geteuid())"
            if !errors.isEmpty {
                Terminal.error("\(file): \(errors.count) problem(s), \(warnings.count) warning(s) (checked as user \(user))")
                throw ExitCode.failure
            }
            print("\(file): OK: \(config.cameras.count) camera(s), journal \(config.journal.path), status \(config.status.socket)"
                + (warnings.isEmpty ? "" : "; \(warnings.count) warning(s)") + " (checked as user \(user))")
        }
    }
}
