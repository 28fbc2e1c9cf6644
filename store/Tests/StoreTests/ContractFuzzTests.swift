import Foundation
import PlateKeeperTesting
import Testing

/// The contract's OpenAPI document (docs/upload-api.yaml) against the real store: schemathesis
/// generates requests from it, valid and invalid, and checks every answer against it (a listed
/// status, the content type and body it describes, no server error, invalid data refused).
///
/// schemathesis comes from PyPI (`.ci/install-deps` pins it in a venv; `$SCHEMATHESIS` points
/// elsewhere). A bounded number of examples per operation, with a fixed seed, keeps this in the
/// test run; longer runs are the same command with a larger `-n`.
@Suite("Contract fuzzing", .serialized)
struct ContractFuzzTests {
    static let document = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/upload-api.yaml").path
    static let tool = ProcessInfo.processInfo.environment["SCHEMATHESIS"]
        ?? "/var/cache/platekeeper-ci/schemathesis-4.32.5/bin/schemathesis"
    static let checks = [
        "not_a_server_error", "status_code_conformance", "content_type_conformance",
        "response_headers_conformance", "response_schema_conformance", "negative_data_rejection",
    ]

    /// Runs schemathesis on the operations given, with one token; its output when it fails.
    static func run(url: String, token: String, operations: [String], examples: Int) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["run", document, "--url", url, "-H", "Authorization: Bearer \(token)",
                             "--checks", checks.joined(separator: ","), "--max-examples", "\(examples)", "--seed", "20261208",
                             "--workers", "1", "--no-color", "--generation-database", "none", "--request-timeout", "20",
                             "--warnings", "off", "--phases", "examples,coverage,fuzzing"]
            + operations.flatMap { ["--include-operation-id", $0] }
        var environment = ProcessInfo.processInfo.environment
        environment["SCHEMATHESIS_TELEMETRY"] = "false"
        process.environment = environment
        // It keeps a cache folder in its working directory: a scratch one, not the source tree.
        let scratch = try TemporaryDirectory()
        process.currentDirectoryURL = URL(fileURLWithPath: scratch.path)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    @Test("schemathesis: uploads with a unit's token, queries and crops with a reader's; every answer as documented")
    func schemathesis() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.tool),
                     "schemathesis is not at \(Self.tool): run .ci/install-deps (or set SCHEMATHESIS)")
        let s = try await StoreTests.setUp()
        defer { Task { await s.store.stop() } }
        let upload = try Self.run(url: s.store.url, token: s.unitToken, operations: ["uploadBatch"], examples: 150)
        #expect(upload.status == 0, "\(upload.output)")
        let read = try Self.run(url: s.store.url, token: s.readerToken, operations: ["queryReads", "readCrop"], examples: 150)
        #expect(read.status == 0, "\(read.output)")
        // It ran requests, not nothing: its summary counts the test cases generated.
        for run in [upload, read] {
            let generated = run.output.firstMatch(of: /([0-9]+) generated/).flatMap { Int($0.1) } ?? 0
            #expect(generated >= 150, "\(run.output)")
        }
        await s.store.stop()
    }
}
