import Foundation
import PlateKeeperTesting
import Testing

/// `platekeeper config check`: the file, then whether the daemon could start with it here.
@Suite("config check")
struct ConfigCheckTests {
    static func check(_ text: String, in dir: TemporaryDirectory) throws -> CommandResult {
        let config = try dir.write("platekeeper.toml", text)
        return try runCommand(TestPaths.executable, ["config", "check", config])
    }

    @Test("models, folders and token files are checked, every problem at once; nothing is created")
    func everyProblem() throws {
        let dir = try TemporaryDirectory("pkcheck")
        let notAFolder = try dir.write("plain-file", "x")
        let result = try Self.check("""
            [[cameras]]
            id = "lane-1"
            replay = "\((TestPaths.testFrames as NSString).appendingPathComponent("pass-day"))"
            [recognition]
            glyph_model = "/nonexistent/glyphs.bin"
            [journal]
            path = "\(notAFolder)/journal.sqlite"
            [status]
            socket = "\(notAFolder)/run/status.sock"
            [upload]
            enabled = true
            url = "https://store.example/v1/reads"
            token_file = "\(dir.file("missing-token"))"
            """, in: dir)
        #expect(result.status == 1)
        #expect(result.stderr.contains("recognition: recognition cannot start"), "\(result.stderr)")
        #expect(result.stderr.contains("/nonexistent/glyphs.bin"))
        #expect(result.stderr.contains("journal.path: \(notAFolder) is not a folder"))
        #expect(result.stderr.contains("status.socket: \(notAFolder) is not a folder"))
        #expect(result.stderr.contains("upload.token_file: \(dir.file("missing-token")) cannot be read"))
        #expect(result.stderr.contains("4 problem(s), 0 warning(s)"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["plain-file", "platekeeper.toml"])
    }

    @Test("absent devices and recordings are warnings: the daemon waits for them; folders it would make are not made")
    func warningsOnly() throws {
        let dir = try TemporaryDirectory("pkcheck")
        let result = try Self.check("""
            [[cameras]]
            id = "lane-1"
            device = "/dev/video-platekeeper-absent"
            [[cameras]]
            id = "lane-2"
            replay = "/nonexistent/recording"
            [journal]
            path = "\(dir.file("state/deeper/journal.sqlite"))"
            [status]
            socket = "\(dir.file("run/status.sock"))"
            [metrics]
            textfile = "\(dir.file("node-exporter/platekeeper.prom"))"
            [position]
            source = "nmea"
            device = "/dev/ttyUSB-platekeeper-absent"
            """, in: dir)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("OK: 2 camera(s)") && result.stdout.contains("4 warning(s)"), "\(result.stdout)")
        #expect(result.stderr.contains("warning: \(dir.file("platekeeper.toml")): cameras[0].device: /dev/video-platekeeper-absent is not present (yet)"))
        #expect(result.stderr.contains("cameras[1].replay: /nonexistent/recording does not exist (yet)"))
        #expect(result.stderr.contains("metrics.textfile: the folder \(dir.file("node-exporter")) does not exist"))
        #expect(result.stderr.contains("position.device: /dev/ttyUSB-platekeeper-absent is not present"))
        #expect(!FileManager.default.fileExists(atPath: dir.file("state")) && !FileManager.default.fileExists(atPath: dir.file("run")))
    }

    @Test("a device path that is not a device is an error")
    func notADevice() throws {
        let dir = try TemporaryDirectory("pkcheck")
        let result = try Self.check("""
            [[cameras]]
            id = "lane-1"
            device = "/dev/null/x"
            [journal]
            path = "\(dir.file("journal.sqlite"))"
            [[cameras]]
            id = "lane-2"
            device = "/dev/shm"
            """, in: dir)
        #expect(result.status == 1)
        #expect(result.stderr.contains("cameras[1].device: /dev/shm is not a device"), "\(result.stderr)")
    }

    @Test("hotlist files are loaded as the daemon loads them: an unreadable one is an error, a malformed line a warning with its number")
    func hotlists() throws {
        let dir = try TemporaryDirectory("pkcheck")
        let good = try dir.write("good.csv", "ABC123,stolen\nNOT OK!,stolen\n")
        let result = try Self.check("""
            [[cameras]]
            id = "lane-1"
            replay = "\(TestPaths.testFrames)/pass-day"
            [journal]
            path = "\(dir.file("journal.sqlite"))"
            [status]
            socket = "\(dir.file("status.sock"))"
            [hotlist]
            files = ["\(good)", "\(dir.file("missing.csv"))"]
            """, in: dir)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("hotlist.files[0]: 1 malformed line(s) will be skipped, first: \(good):2: plate"), "\(result.stderr)")
        #expect(result.stderr.contains("hotlist.files[1]: \(dir.file("missing.csv")):-: cannot read"), "\(result.stderr)")
        let only = try Self.check("""
            [[cameras]]
            id = "lane-1"
            replay = "\(TestPaths.testFrames)/pass-day"
            [hotlist]
            only = true
            """, in: dir)
        #expect(only.status == 1 && only.stderr.contains("hotlist.only: is true but no hotlist files are named"), "\(only.stderr)")
    }
}
