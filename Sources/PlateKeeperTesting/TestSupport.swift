import Foundation
import PlateKeeperCore

/// A folder under the system temporary directory, removed when the value is released.
///
/// Tests write real files (frames, manifests, ground truth) into one of these.
public final class TemporaryDirectory: Sendable {
    public let path: String

    public init(_ label: String = "platekeeper") throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// `name` inside the folder.
    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Writes `bytes` to `name` (creating subfolders) and returns the path.
    @discardableResult
    public func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let p = file(name)
        try FileManager.default.createDirectory(atPath: Paths.folder(of: p), withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }

    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String {
        try write(name, Array(text.utf8))
    }

    /// Writes a secret (a token, a key) as the daemon requires one: mode 0600.
    @discardableResult
    public func writeSecret(_ name: String, _ text: String) throws -> String {
        let p = try write(name, text)
        chmod(p, 0o600)
        return p
    }
}

/// Where the repository's own test material and the shared development data are.
public enum TestPaths {
    /// The package root, found from this file's location.
    public static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    public static var testFrames: String { (repository as NSString).appendingPathComponent("TestFrames") }

    /// `../shared/datasets/openalpr-benchmarks` beside the checkout, or nil when absent.
    public static var openALPRBenchmarks: String? {
        let candidates = [
            ProcessInfo.processInfo.environment["PLATEKEEPER_DATASETS"],
            (Paths.folder(of: repository) as NSString).appendingPathComponent("shared/datasets/openalpr-benchmarks"),
        ].compactMap { $0 }
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }

    /// The `platekeeper` executable: `PLATEKEEPER_BINARY` when set, else the one built beside the
    /// running test bundle, else the newer of the package's release and debug builds (the store's
    /// tests, a package of their own, run the unit's binary that way).
    public static var executable: String {
        if let given = ProcessInfo.processInfo.environment["PLATEKEEPER_BINARY"], !given.isEmpty { return given }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if dir.lastPathComponent == "MacOS" || dir.path.hasSuffix(".xctest/Contents") { dir = dir.deletingLastPathComponent() }
        let candidate = dir.appendingPathComponent("platekeeper").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        let built = ["release", "debug"].map { (repository as NSString).appendingPathComponent(".build/\($0)/platekeeper") }
        func modified(_ path: String) -> Date {
            (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? .distantPast
        }
        return built.max { modified($0) < modified($1) } ?? built[1]
    }
}

/// The outcome of running a command to completion.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs `executable` with `arguments` and waits for it, collecting its output.
public func runCommand(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil, workingDirectory: String? = nil
) throws -> CommandResult {
    let process = Process()
    if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Read both pipes to the end before waiting, so a chatty child cannot block on a full pipe.
    let group = DispatchGroup()
    nonisolated(unsafe) var errData = Data()
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
}

/// A `platekeeper run` started in the background for a test, its stderr going to a file.
public final class DaemonProcess: @unchecked Sendable {
    let process = Process()
    public let logPath: String

    /// Starts `platekeeper run --config CONFIG`, with extra environment (NOTIFY_SOCKET…), through
    /// `launcher` if given (a command and its arguments that runs the rest: `setpriv …`, `prlimit …`).
    public init(config: String, logPath: String, environment: [String: String] = [:], launcher: [String] = []) throws {
        self.logPath = logPath
        // Emptied in place, not replaced: a test may have named its inode in JOURNAL_STREAM.
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try log.truncate(atOffset: 0)
        let command = launcher + [TestPaths.executable, "run", "--config", config]
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try log.close()
    }

    public var pid: Int32 { process.processIdentifier }
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    public func signal(_ signal: Int32) { kill(pid, signal) }

    /// Waits for the process to end (up to `timeout` seconds); returns its exit status, or nil if it is still running.
    @discardableResult
    public func wait(timeout: Double = 30) -> Int32? {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { return nil }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Polls `condition` every 50 ms until it holds or `timeout` seconds pass; returns whether it held.
public func waitUntil(timeout: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date(timeIntervalSinceNow: timeout)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.05)
    }
    return try condition()
}
