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

    @Test("a newline or ESC in a frame's file name cannot forge a line on replay's stderr or drive the terminal")
    func forgedFileNames() throws {
        let dir = try TemporaryDirectory()
        let name = "x\nplatekeeper: all frames read, 0 failed\u{1B}[2J.jpg"
        _ = try dir.write(name, [0xFF, 0xD8, 0xFF, 0xE0, 0, 0])
        let result = try runCommand(TestPaths.executable, ["replay", "--format", "table", dir.path])
        let lines = result.stderr.split(separator: "\n")
        #expect(!lines.contains { $0.hasPrefix("platekeeper: all frames read") }, "\(result.stderr)")
        #expect(!result.stderr.contains("\u{1B}") && !result.stdout.contains("\u{1B}"), "\(result.stderr.debugDescription)")
        #expect(result.stderr.contains("x\\nplatekeeper: all frames read"), "\(result.stderr)")
    }

    /// Peak resident memory of `platekeeper ARGS`, in MiB, measured by the kernel for that
    /// process alone (a Python parent's RUSAGE_CHILDREN), and its exit status.
    static func peakMemory(_ arguments: [String]) throws -> (mib: Double, status: Int32, stderr: String) {
        let script = """
            import resource, subprocess, sys
            r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            sys.stderr.write(r.stderr.decode(errors="replace"))
            print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)
            """
        let result = try runCommand("/usr/bin/python3", ["-c", script, TestPaths.executable] + arguments)
        let parts = result.stdout.split(separator: " ").map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) }
        return ((Double(parts.first ?? "") ?? .infinity) / 1024, Int32(parts.last ?? "") ?? -1, result.stderr)
    }

    @Test("a 32 MiB manifest holding one large array, and a 64 MiB position.log of junk lines, are read in bounded memory (they took 0.9 and 1.2 GB)")
    func largeRecordingFiles() throws {
        let dir = try TemporaryDirectory()
        let rec = dir.file("rec")
        try FileManager.default.createDirectory(atPath: rec, withIntermediateDirectories: true)
        let still = try BoundedFile.read((frames("stills") as NSString).appendingPathComponent("day-clear.jpg"), limit: 1 << 24)
        _ = try dir.write("rec/a.jpg", still)
        var manifest = Array(#"{"version": 1, "frames": [{"file": "a.jpg", "captureTime": "2026-11-27T13:05:01.250Z"}], "junk": ["#.utf8)
        let filler = Array("0,".utf8)
        while manifest.count < (32 << 20) - 64 { manifest += filler }
        manifest += Array("0]}".utf8)
        _ = try dir.write("rec/manifest.json", manifest)
        var log = [UInt8]()
        log.reserveCapacity(64 << 20)
        let junk = Array("x\n".utf8)
        while log.count < 64 << 20 { log += junk }
        _ = try dir.write("rec/position.log", log)
        let (mib, status, stderr) = try Self.peakMemory(["replay", rec])
        print("replay of a 32 MiB manifest and a 64 MiB junk position log: peak RSS \(String(format: "%.0f", mib)) MiB, exit \(status)")
        #expect(status == 0, "\(stderr)")
        #expect(mib < 300, "peak RSS \(mib) MiB")
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
        ["journal", "export", "--purpose", "test run", "--category", "maintenance", "--journal", "/nonexistent.sqlite", "--since", "200000000d"],
        ["journal", "export", "--purpose", "test run", "--category", "maintenance", "--journal", "/nonexistent.sqlite", "--since", "1e300d"],
        ["journal", "export", "--purpose", "test run", "--category", "maintenance", "--journal", "/nonexistent.sqlite", "--since", "2026-02-31T00:00:00Z"],
        ["record", "--camera", "/dev/null", "--frames", "1", "--width", "99999999999", "/tmp/nowhere"],
        ["record", "--camera", "/dev/null", "--seconds", "1e300", "/tmp/nowhere"],
        ["bench", "vehicles", "--simulate", "9223372036854775807"],
        ["bench", "journal", "--commits=-1"],
        ["bench", "journal", "--commits", "5"],
        ["bench", "stages", "--repeats", "9223372036854775807", "TestFrames"],
    ])
    func overflowingArguments(_ arguments: [String]) throws {
        let result = try runCommand(TestPaths.executable, arguments)
        #expect(result.status == 64, "\(arguments): status \(result.status), \(result.stderr)")
        #expect(result.stderr.contains("must be"), "\(result.stderr)")
    }

    @Test("a one-character relative journal path (Foundation's path code trapped on it) is an ordinary missing journal", arguments: ["stats", "report"])
    func oneCharacterJournalPath(_ command: String) throws {
        let dir = try TemporaryDirectory()
        let result = try runCommand("/bin/sh", ["-c", "cd \"$1\" && exec \"$2\" journal \(command) --journal=a", "sh", dir.path, TestPaths.executable])
        #expect(result.status == 1, "status \(result.status): \(result.stderr)")
        #expect(result.stderr.contains("no journal file"), "\(result.stderr)")
        #expect(Paths.folder(of: "a") == "" && Paths.folder(of: "/a") == "/" && Paths.folder(of: "x/y/") == "x" && Paths.folder(of: "/v//j.sqlite") == "/v")
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
