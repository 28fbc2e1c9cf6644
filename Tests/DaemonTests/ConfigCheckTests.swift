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

    @Test("secrets are checked as run checks them: a token file, a client key or a journal key readable by others, a key that is not the certificate's, a credential without $CREDENTIALS_DIRECTORY; run refuses the same (exit 78)")
    func secrets() throws {
        let dir = try TemporaryDirectory("pkcheck")
        func pair(_ name: String) throws {
            let r = try runCommand("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                                         "-keyout", dir.file("\(name).key"), "-out", dir.file("\(name).pem"), "-subj", "/CN=\(name)", "-days", "2"])
            #expect(r.status == 0, "\(r.stderr)")
            chmod(dir.file("\(name).key"), 0o600)
        }
        try pair("unit")
        try pair("other")
        let token = try dir.write("token", "secret-token\n")
        chmod(token, 0o600)
        let keys = try dir.write("journal.keys", "k1 " + String(repeating: "ab", count: 32) + "\n")
        chmod(keys, 0o600)
        func config(token tokenLine: String, key: String, journalKey: String = keys) -> String {
            """
            [[cameras]]
            id = "lane-1"
            replay = "\((TestPaths.testFrames as NSString).appendingPathComponent("pass-day"))"
            [journal]
            path = "\(dir.file("state/journal.sqlite"))"
            encryption_key_file = "\(journalKey)"
            [status]
            socket = "\(dir.file("run/status.sock"))"
            [upload]
            enabled = true
            url = "https://127.0.0.1:9/v1/reads"
            \(tokenLine)
            client_certificate = "\(dir.file("unit.pem"))"
            client_key = "\(key)"
            """
        }
        let good = try Self.check(config(token: "token_file = \"\(token)\"", key: dir.file("unit.key")), in: dir)
        #expect(good.status == 0, "\(good.stderr)")
        let loose = try dir.write("loose-token", "secret-token\n")
        chmod(loose, 0o644)
        let looseKey = dir.file("loose.key")
        try FileManager.default.copyItem(atPath: dir.file("unit.key"), toPath: looseKey)
        chmod(looseKey, 0o644)
        let looseJournalKey = try dir.write("loose.keys", "k1 " + String(repeating: "cd", count: 32) + "\n")
        chmod(looseJournalKey, 0o644)
        let cases: [(String, String, String)] = [
            ("a token file of mode 0644", config(token: "token_file = \"\(loose)\"", key: dir.file("unit.key")), "upload.token_file: \(loose) has mode 644"),
            ("a client key of mode 0644", config(token: "token_file = \"\(token)\"", key: looseKey), "upload.client_key: \(looseKey) has mode 644"),
            ("another certificate's key", config(token: "token_file = \"\(token)\"", key: dir.file("other.key")), "is not the private key of the certificate"),
            ("a credential without $CREDENTIALS_DIRECTORY", config(token: "token_credential = \"upload-token\"", key: dir.file("unit.key")), "$CREDENTIALS_DIRECTORY is not set"),
            ("a journal key of mode 0644", config(token: "token_file = \"\(token)\"", key: dir.file("unit.key"), journalKey: looseJournalKey), "has mode 644"),
        ]
        for (name, text, words) in cases {
            let result = try Self.check(text, in: dir)
            #expect(result.status == 1 && result.stderr.contains(words), "\(name): \(result.stderr)")
            // `run` refuses the same, as a configuration problem (no restart loop).
            let path = try dir.write("run.toml", text)
            let run = try runCommand("/usr/bin/timeout", ["60", TestPaths.executable, "run", "--config", path])
            #expect(run.status == 78 && run.stderr.contains(words), "\(name): run exited \(run.status): \(run.stderr.suffix(600))")
        }
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
