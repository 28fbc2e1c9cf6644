import Foundation
import PlateKeeperCore
import PlateKeeperTesting
public import PostgresNIO

#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL server of the tests' (and benchmarks') own: initdb into a temporary folder, listening only on a Unix
/// socket in that folder, stopped (immediate mode) when the test ends. Debian's postgresql package
/// provides the binaries; as root the server runs as the `postgres` user, which initdb requires.
public final class PrivatePostgres: @unchecked Sendable {
    public let folder: String
    public let bin: String
    public let user = "platekeeper"
    public let database = "platekeeper"
    private let asPostgres: [String]

    static var binFolder: String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        return versions.last.map { "\(root)/\($0)/bin" }
    }

    /// The folders of the servers this process started and has not stopped yet.
    private static let running = Locked(Set<String>())

    /// Once per process: servers left by an earlier run whose process is gone are stopped (and
    /// named on stderr), and every server this process starts is stopped when it exits, even one
    /// still referenced then (a `deinit` never runs for it).
    private static let housekeeping: Void = {
        sweep()
        atexit {
            for folder in PrivatePostgres.running.withLock({ $0 }) { PrivatePostgres.stopServer(in: folder) }
        }
    }()

    /// Stops and removes the servers under /tmp/pkpg-* whose owning test process is no longer
    /// running; returns their folders. Only folders this harness made (they hold `owner.pid`).
    @discardableResult
    public static func sweep() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
        var stopped: [String] = []
        for name in names where name.hasPrefix("pkpg-") {
            let folder = "/tmp/\(name)"
            guard let text = try? String(contentsOfFile: "\(folder)/owner.pid", encoding: .utf8),
                  let owner = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { continue }
            if owner == getpid() || kill(owner, 0) == 0 { continue }
            stopServer(in: folder)
            stopped.append(folder)
            FileHandle.standardError.write(Data("PrivatePostgres: stopped a server left by an earlier run (process \(owner)): \(folder)\n".utf8))
        }
        return stopped
    }

    /// `pg_ctl stop -m immediate` of the server in `folder` (if one runs), then the folder removed.
    static func stopServer(in folder: String) {
        if let bin = binFolder, FileManager.default.fileExists(atPath: "\(folder)/data/postmaster.pid") {
            let runner = getuid() == 0 ? ["/sbin/runuser", "-u", "postgres", "--"] : []
            _ = spawnAndWait(runner + ["\(bin)/pg_ctl", "-D", "\(folder)/data", "-m", "immediate", "-w", "stop"])
        }
        try? FileManager.default.removeItem(atPath: folder)
        running.withLock { _ = $0.remove(folder) }
    }

    /// Runs `command` with /dev/null for its output and waits for it (usable at exit, and for
    /// pg_ctl start, which leaves the server holding whatever output it was given).
    static func spawnAndWait(_ command: [String]) -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd in [Int32(0), 1, 2] { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0) }
        var argv = command.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, command[0], &actions, nil, &argv, environ) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status
    }

    public init() throws {
        guard let bin = Self.binFolder else { throw Failure("PostgreSQL is not installed (.ci/install-deps installs it)") }
        self.bin = bin
        Self.housekeeping
        let folder = "/tmp/pkpg-\(UUID().uuidString.prefix(8))"
        self.folder = folder
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        try "\(getpid())\n".write(toFile: "\(folder)/owner.pid", atomically: false, encoding: .utf8)
        Self.running.withLock { _ = $0.insert(folder) }
        if getuid() == 0 {
            // initdb refuses to run as root.
            _ = try runCommand("/bin/chown", ["postgres:postgres", folder])
            asPostgres = ["/sbin/runuser", "-u", "postgres", "--"]
        } else {
            asPostgres = []
        }
        try run("initdb", ["-D", "\(folder)/data", "-A", "trust", "-U", user, "--no-sync", "-E", "UTF8"])
        try start()
        try run("createdb", ["-h", folder, "-U", user, database])
    }

    deinit {
        Self.stopServer(in: folder)
    }

    public var socketPath: String { "\(folder)/.s.PGSQL.5432" }

    public var configuration: PostgresClient.Configuration {
        .init(unixSocketPath: socketPath, username: user, password: nil, database: database)
    }

    /// pg_ctl start leaves the server holding whatever output it was given, and Foundation's
    /// Process then never sees the end: spawn it with /dev/null for all three and wait for it.
    public func start() throws {
        let command = asPostgres + ["\(bin)/pg_ctl", "-D", "\(folder)/data", "-l", "\(folder)/server.log", "-w",
            "-o", "-k \(folder) -c listen_addresses='' -c fsync=off -c max_connections=300 -c shared_buffers=64MB", "start"]
        let status = Self.spawnAndWait(command)
        guard status != -1 else { throw Failure("cannot spawn pg_ctl") }
        guard status == 0 else {
            throw Failure("pg_ctl start failed: \((try? String(contentsOfFile: "\(folder)/server.log", encoding: .utf8)) ?? "")")
        }
    }

    /// Stops the server abruptly (as a crash would), or cleanly.
    public func stop(immediate: Bool = true) throws {
        try run("pg_ctl", ["-D", "\(folder)/data", "-m", immediate ? "immediate" : "fast", "-w", "stop"])
    }

    /// Runs SQL through psql and returns its unaligned output.
    public func psql(_ sql: String) throws -> String {
        let result = try runCommand("\(bin)/psql", ["-h", folder, "-U", user, "-d", database, "-AtX", "-v", "ON_ERROR_STOP=1", "-c", sql])
        guard result.status == 0 else { throw Failure("psql: \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @discardableResult
    private func run(_ tool: String, _ arguments: [String]) throws -> CommandResult {
        let command = asPostgres + ["\(bin)/\(tool)"] + arguments
        let result = try runCommand(command[0], Array(command.dropFirst()))
        guard result.status == 0 else { throw Failure("\(tool) failed: \(result.stderr) \(result.stdout)") }
        return result
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(_ d: String) { description = d }
    }
}
