import Foundation
import PlateKeeperCore
import PlateKeeperTesting
import Testing

/// The shipped binary fed what an attacker or an unlucky operator would give it.
@Suite("Hostile command lines", .serialized)
struct HostileCommandTests {
    @Test("replay BAD.jpg good.jpg good.jpg reads both good frames")
    func poisonedDecoder() throws {
        let dir = try TemporaryDirectory()
        let good = try BoundedFile.read((frames("stills") as NSString).appendingPathComponent("day-clear.jpg"), limit: 1 << 24)
        // A header without SOS: libjpeg-turbo's handle was left broken by it.
        let header: [UInt8] = [0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x01, 0xE0, 0x02, 0x80, 0x01, 0x01, 0x11, 0x00]
        let bad = try dir.write("0-bad.jpg", header)
        let one = try dir.write("1-good.jpg", good), two = try dir.write("2-good.jpg", good)
        let result = try runCommand(TestPaths.executable, ["replay", bad, one, two])
        #expect(result.stderr.contains("replay: 3 frames, 2 reads, 1 failed"), "\(result.stderr)")
        #expect(try parseReads(result.stdout).map(\.plate) == ["5ENX018", "5ENX018"])
    }

    @Test("no decoder prints to stderr: every line there is the program's own")
    func labelledStderr() throws {
        let dir = try TemporaryDirectory()
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 1, 2, 3]
        let files = [
            try dir.write("torn.png", png), try dir.write("bad.tif", [0x49, 0x49, 0x2A, 0] + [UInt8](repeating: 0xEE, count: 200)),
            try dir.write("bad.bmp", [0x42, 0x4D] + [UInt8](repeating: 0x11, count: 200)), try dir.write("bomb.pgm", "P5\n40000 40000\n255\n"),
        ]
        let result = try runCommand(TestPaths.executable, ["replay"] + files)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == files.count + 1)
        for line in lines {
            #expect(line.hasPrefix("platekeeper: ") || line.hasPrefix("replay: "), "unlabelled stderr line: \(line)")
        }
    }

    @Test("overflowing ages and numbers on the command line are usage errors, not traps", arguments: [
        ["journal", "export", "--purpose", "test run", "--journal", "/nonexistent.sqlite", "--since", "200000000d"],
        ["journal", "export", "--purpose", "test run", "--journal", "/nonexistent.sqlite", "--since", "1e300d"],
        ["journal", "export", "--purpose", "test run", "--journal", "/nonexistent.sqlite", "--since", "2026-02-31T00:00:00Z"],
        ["record", "--camera", "/dev/null", "--frames", "1", "--width", "99999999999", "/tmp/nowhere"],
        ["record", "--camera", "/dev/null", "--seconds", "1e300", "/tmp/nowhere"],
        ["bench", "vehicles", "--simulate", "9223372036854775807"],
        ["bench", "journal", "--commits=-1"],
    ])
    func overflowingArguments(_ arguments: [String]) throws {
        let result = try runCommand(TestPaths.executable, arguments)
        #expect(result.status == 64, "\(arguments): status \(result.status), \(result.stderr)")
        #expect(result.stderr.contains("must be"), "\(result.stderr)")
    }
}

@Suite struct VersionTests {
    @Test("one version: --version, the status document's and the man pages' headers all say PlateKeeperVersion.current")
    func oneVersion() throws {
        let result = try runCommand(TestPaths.executable, ["--version"])
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == PlateKeeperVersion.current)
        for page in ["docs/man/man8/platekeeper.8", "docs/man/man5/platekeeper.toml.5"] {
            let text = try String(contentsOfFile: (TestPaths.repository as NSString).appendingPathComponent(page), encoding: .utf8)
            let header = text.split(separator: "\n").first { $0.hasPrefix(".TH ") } ?? ""
            #expect(header.contains("\"PlateKeeper \(PlateKeeperVersion.current)\""), "\(page): \(header)")
        }
    }
}
