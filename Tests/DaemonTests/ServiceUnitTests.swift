import Foundation
import PlateKeeperTesting
import Testing

/// The systemd unit and the install script, checked with systemd's own tools.
@Suite("systemd unit and install")
struct ServiceUnitTests {
    static var unitPath: String { (TestPaths.repository as NSString).appendingPathComponent("systemd/platekeeper.service") }

    @Test("systemd-analyze verify passes (with the built binary and the repository's man pages)")
    func verify() throws {
        let dir = try TemporaryDirectory()
        let unit = try String(contentsOfFile: Self.unitPath, encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/bin/platekeeper", with: TestPaths.executable)
        let path = try dir.write("platekeeper.service", unit)
        let result = try runCommand(
            "/usr/bin/systemd-analyze", ["verify", path],
            environment: ["MANPATH": (TestPaths.repository as NSString).appendingPathComponent("docs/man")])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    }

    @Test("the exposure score of systemd-analyze security is below 2.0")
    func exposure() throws {
        let result = try runCommand("/usr/bin/systemd-analyze", ["security", "--offline=true", Self.unitPath])
        let line = try #require(result.stdout.split(separator: "\n").first { $0.contains("Overall exposure level") })
        let score = try #require(line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) })
        #expect(score < 2.0, "\(line)")
    }

    @Test("the unit is Type=notify with a watchdog, a dedicated user and the state, runtime and config directories")
    func essentials() throws {
        let unit = try String(contentsOfFile: Self.unitPath, encoding: .utf8)
        for line in [
            "Type=notify", "WatchdogSec=30", "Restart=on-failure", "RestartPreventExitStatus=78", "User=platekeeper",
            "StateDirectory=platekeeper", "RuntimeDirectory=platekeeper", "ConfigurationDirectory=platekeeper",
            "DeviceAllow=char-video4linux rw", "ProtectSystem=strict", "NoNewPrivileges=yes", "CapabilityBoundingSet=",
            "ExecReload=/bin/kill -HUP $MAINPID",
        ] {
            #expect(unit.split(separator: "\n").contains { $0 == line }, "missing \(line)")
        }
    }

    @Test("install puts binary, glyph model, unit, example config and man pages in place and never overwrites a config")
    func install() throws {
        let root = try TemporaryDirectory()
        let script = (TestPaths.repository as NSString).appendingPathComponent("systemd/install")
        let first = try runCommand(script, [TestPaths.executable], environment: ["DESTDIR": root.path])
        #expect(first.status == 0, "\(first.stderr)")
        for file in [
            "usr/local/bin/platekeeper", "etc/systemd/system/platekeeper.service", "etc/platekeeper/platekeeper.toml",
            "usr/local/share/man/man5/platekeeper.toml.5", "usr/local/share/man/man8/platekeeper.8",
            "usr/local/share/platekeeper/glyphs.model", "usr/local/share/platekeeper/plates.onnx",
            "usr/local/share/platekeeper/plates.traineddata",
        ] {
            #expect(FileManager.default.fileExists(atPath: root.file(file)), "\(file)")
        }
        try "# mine\n".write(toFile: root.file("etc/platekeeper/platekeeper.toml"), atomically: true, encoding: .utf8)
        let second = try runCommand(script, [TestPaths.executable], environment: ["DESTDIR": root.path])
        #expect(second.status == 0)
        #expect(try String(contentsOfFile: root.file("etc/platekeeper/platekeeper.toml"), encoding: .utf8) == "# mine\n")
        let check = try runCommand(root.file("usr/local/bin/platekeeper"), ["config", "check", root.file("usr/local/share/doc/platekeeper/platekeeper.toml")])
        #expect(check.status == 0)
        // The installed binary finds its glyph model beside it (PREFIX/share/platekeeper) and reads.
        let still = (TestPaths.testFrames as NSString).appendingPathComponent("stills/day-clear.jpg")
        let replay = try runCommand(root.file("usr/local/bin/platekeeper"), ["replay", still])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stdout.contains("\"plate\""), "\(replay.stdout)")
    }
}
