import Config
import Foundation
import PlateKeeperCore
import PlateKeeperTesting
import Testing

@Suite("Configuration")
struct ConfigTests {
    static let minimal = """
        [[cameras]]
        id = "lane-1"
        device = "/dev/video0"
        """

    @Test("the documented example parses and every default matches the code's")
    func example() throws {
        let path = (TestPaths.repository as NSString).appendingPathComponent("docs/platekeeper.toml")
        let config = try ConfigLoader.load(path: path)
        var expected = PlateKeeperConfig()
        expected.cameras = [CameraSection(id: "lane-1", source: .device(path: "/dev/video0"))]
        #expect(config == expected)
    }

    @Test("an upload section is read whole")
    func upload() throws {
        let config = try ConfigLoader.parse("[unit]\nid = \"pole-7\"\n" + Self.minimal + """

            [upload]
            enabled = true
            url = "https://store.example.net/v1/reads"
            token_credential = "upload-token"
            ca_file = "/etc/platekeeper/fleet-ca.pem"
            client_certificate = "/etc/platekeeper/unit.pem"
            client_key = "/etc/platekeeper/unit.key"
            batch_size = 250
            batch_bytes = "1MiB"
            batch_age = "2s"
            timeout = "10s"
            backoff_max = "2m"
            """)
        let u = config.upload
        #expect(u.enabled && u.url == "https://store.example.net/v1/reads" && u.tokenCredential == "upload-token" && u.tokenFile.isEmpty)
        #expect(u.caFile == "/etc/platekeeper/fleet-ca.pem" && u.clientCertificate == "/etc/platekeeper/unit.pem" && u.clientKey == "/etc/platekeeper/unit.key")
        #expect(u.batchSize == 250 && u.batchBytes == 1 << 20 && u.batchAgeSeconds == 2 && u.timeoutSeconds == 10 && u.backoffMaxSeconds == 120)
        #expect(!u.allowInsecureHTTP)
    }

    @Test("a minimal file gets the defaults")
    func minimalDefaults() throws {
        let config = try ConfigLoader.parse(Self.minimal)
        #expect(config.journal.path == "/var/lib/platekeeper/journal.sqlite")
        #expect(config.journal.quotaBytes == 512 << 20)
        #expect(config.journal.retentionSeconds == Double(30 * 86_400))
        #expect(config.status.socket == "/run/platekeeper/status.sock")
        #expect(config.cameras[0].source == .device(path: "/dev/video0"))
    }

    @Test("every kind of value is read")
    func values() throws {
        let config = try ConfigLoader.parse("""
            [unit]
            id = "pole-7"
            [[cameras]]
            id = "north"
            replay = "/srv/rec/north"
            loop = true
            speed = 0
            region = "eu"
            roi = [10, 20, 300, 200]
            skip_cut_plates = false
            formats = ["yuyv", "MJPEG"]
            [cameras.controls]
            gain = 3
            auto_exposure = true
            [[cameras]]
            id = "south"
            device = "/dev/v4l/by-id/usb-cam-video-index0"
            [recognition]
            glyph_gate = 0
            glyph_weight = 2.5
            [grouping]
            window = "1500ms"
            first_sight = true
            [journal]
            quota = "2MiB"
            retention = "12h"
            when_full = "stop-accepting"
            [position]
            latitude = 52.09
            longitude = 5.12
            """)
        #expect(config.unit.id == "pole-7")
        #expect(config.cameras.count == 2)
        #expect(config.cameras[0].source == .replay(path: "/srv/rec/north", loop: true, speed: 0))
        #expect(config.cameras[0].region == "eu")
        #expect(config.cameras[0].regionOfInterest == PixelBox(x: 10, y: 20, width: 300, height: 200))
        #expect(!config.cameras[0].skipCutPlates)
        #expect(config.cameras[1].skipCutPlates)
        #expect(config.cameras[0].pixelFormats == [.yuyv, .mjpeg])
        #expect(config.cameras[0].controls == ["gain": 3, "auto_exposure": 1])
        #expect(config.cameras[1].source == .device(path: "/dev/v4l/by-id/usb-cam-video-index0"))
        #expect(config.recognition.glyphGate == 0)
        #expect(config.recognition.glyphWeight == 2.5)
        #expect(config.grouping.windowSeconds == 1.5)
        #expect(config.grouping.firstSight)
        #expect(config.journal.quotaBytes == 2 << 20)
        #expect(config.journal.retentionSeconds == Double(12 * 3600))
        #expect(config.journal.whenFull == .stopAccepting)
        #expect(config.position.source == .fixed)
        #expect(config.position.latitude == 52.09)
    }

    @Test("position sources: gpsd's address (IPv4, IPv6, a name), a serial device and baud rate, limits as durations")
    func positionSources() throws {
        let gpsd = try ConfigLoader.parse(Self.minimal + "\n[position]\nsource = \"gpsd\"\ngpsd = \"[::1]:2948\"\nmax_extrapolation = \"500ms\"\nclock_offset_warning = \"2s\"\n")
        #expect(gpsd.position.source == .gpsd && gpsd.position.gpsdHost == "::1" && gpsd.position.gpsdPort == 2948)
        #expect(gpsd.position.maxExtrapolationSeconds == 0.5 && gpsd.position.clockOffsetWarningSeconds == 2)
        let nmea = try ConfigLoader.parse(Self.minimal + "\n[position]\nsource = \"nmea\"\ndevice = \"/dev/ttyACM0\"\nbaud = 115200\n")
        #expect(nmea.position.source == .nmea && nmea.position.device == "/dev/ttyACM0" && nmea.position.baud == 115200)
        #expect(ConfigLoader.hostPort("gps.local:2947")! == ("gps.local", 2947))
        #expect(ConfigLoader.hostPort("127.0.0.1:0") == nil && ConfigLoader.hostPort("127.0.0.1:65536") == nil)
        #expect(ConfigLoader.hostPort("a b:1") == nil && ConfigLoader.hostPort(":2947") == nil)
    }

    /// Each bad file, the line and key the error must point at, and words the message must contain.
    static let badFiles: [(name: String, text: String, line: Int?, key: String, words: String)] = [
        ("syntax error", minimal + "\n[journal]\nquota = \n", 5, "", "TOML syntax"),
        ("no cameras", "[journal]\nquota = \"2MiB\"\n", nil, "cameras", "at least one"),
        ("unknown top-level key", "colour = \"red\"\n" + minimal, 1, "colour", "unknown key"),
        ("unknown key with a hint", minimal + "\n[journal]\nqouta = \"2MiB\"\n", 5, "journal.qouta", "did you mean \"quota\""),
        ("unknown camera key", minimal + "\nexposure = 3\n", 4, "cameras[0].exposure", "unknown key"),
        ("cut plates not a boolean", minimal + "\nskip_cut_plates = 1\n", 4, "cameras[0].skip_cut_plates", "true or false"),
        ("wrong type", minimal + "\n[recognition]\nworkers = \"two\"\n", 5, "recognition.workers", "must be an integer"),
        ("out of range", minimal + "\n[recognition]\nworkers = 0\n", 5, "recognition.workers", "between 1 and 16"),
        ("gate out of range", minimal + "\n[recognition]\nglyph_gate = 120\n", 5, "recognition.glyph_gate", "between 0"),
        ("weight out of range", minimal + "\n[recognition]\nglyph_weight = 50\n", 5, "recognition.glyph_weight", "between 0 and 20"),
        ("quota too small", minimal + "\n[journal]\nquota = \"100KiB\"\n", 5, "journal.quota", "between 1048576"),
        ("bad size", minimal + "\n[journal]\nquota = \"lots\"\n", 5, "journal.quota", "must be a size"),
        ("bad duration", minimal + "\n[journal]\nretention = \"a while\"\n", 5, "journal.retention", "must be a duration"),
        ("bad policy", minimal + "\n[journal]\nwhen_full = \"panic\"\n", 5, "journal.when_full", "\"drop-oldest\", \"stop-accepting\""),
        ("relative journal path", minimal + "\n[journal]\npath = \"journal.sqlite\"\n", 5, "journal.path", "absolute path"),
        ("camera without id", "[[cameras]]\ndevice = \"/dev/video0\"\n", 1, "cameras[0].id", "is required"),
        ("camera without source", "[[cameras]]\nid = \"a\"\n", 1, "cameras[0]", "needs a source"),
        ("camera with two sources", "[[cameras]]\nid = \"a\"\ndevice = \"/dev/video0\"\nreplay = \"/srv/r\"\n", 4, "cameras[0].replay", "not both"),
        ("device outside /dev", "[[cameras]]\nid = \"a\"\ndevice = \"video0\"\n", 3, "cameras[0].device", "under /dev"),
        ("duplicate camera id", minimal + "\n[[cameras]]\nid = \"lane-1\"\ndevice = \"/dev/video1\"\n", 5, "cameras[1].id", "duplicate"),
        ("bad region", minimal + "\nregion = \"mars\"\n", 4, "cameras[0].region", "\"us\", \"eu\" or \"br\""),
        ("bad roi", minimal + "\nroi = [1, 2, 3]\n", 4, "cameras[0].roi", "[x, y, width, height]"),
        ("roi outside the frame", minimal + "\nroi = [1000, 0, 800, 100]\n", 4, "cameras[0].roi", "outside"),
        ("bad pixel format", minimal + "\nformats = [\"RGB3\"]\n", 4, "cameras[0].formats", "GREY"),
        ("loop on a device", minimal + "\nloop = true\n", 4, "cameras[0].loop", "only applies to a replay"),
        ("recorded times on a looping replay", "[[cameras]]\nid = \"a\"\nreplay = \"/r\"\nloop = true\nrecorded_times = true\n", 5, "cameras[0].recorded_times", "cannot be combined with loop"),
        ("recording source without its log", minimal + "\n[position]\nsource = \"recording\"\n", 4, "position", "needs recording"),
        ("bad control", minimal + "\n[cameras.controls]\ngain = \"high\"\n", 5, "cameras[0].controls.gain", "integer or a boolean"),
        ("fixed position without longitude", minimal + "\n[position]\nsource = \"fixed\"\nlatitude = 1.0\n", 4, "position", "both latitude and longitude"),
        ("latitude out of range", minimal + "\n[position]\nlatitude = 91\nlongitude = 0\n", 5, "position.latitude", "between -90 and 90"),
        ("unknown position source", minimal + "\n[position]\nsource = \"glonass\"\n", 5, "position.source", "\"gpsd\", \"nmea\""),
        ("gpsd address without port", minimal + "\n[position]\nsource = \"gpsd\"\ngpsd = \"localhost\"\n", 6, "position.gpsd", "host:port"),
        ("odd baud rate", minimal + "\n[position]\nsource = \"nmea\"\nbaud = 9601\n", 6, "position.baud", "4800, 9600"),
        ("serial device with gpsd", minimal + "\n[position]\nsource = \"gpsd\"\ndevice = \"/dev/ttyUSB0\"\n", 6, "position.device", "only used with source = \"nmea\""),
        ("extrapolation too long", minimal + "\n[position]\nsource = \"gpsd\"\nmax_extrapolation = \"1m\"\n", 6, "position.max_extrapolation", "between 0 s and 30 s"),
        ("upload enabled without url", minimal + "\n[upload]\nenabled = true\n", 4, "upload.url", "http"),
        ("a token in the config", minimal + "\n[upload]\ntoken = \"s3cret\"\n", 5, "upload.token", "never written in the config"),
        ("plain http upload", minimal + "\n[upload]\nenabled = true\nurl = \"http://store/v1/reads\"\ntoken_file = \"/t\"\n", 6, "upload.url", "allow_insecure_http"),
        ("no token source", minimal + "\n[upload]\nenabled = true\nurl = \"https://store/v1/reads\"\n", 4, "upload", "exactly one of token_file and token_credential"),
        ("two token sources", minimal + "\n[upload]\nenabled = true\nurl = \"https://s/v1/reads\"\ntoken_file = \"/t\"\ntoken_credential = \"t\"\n", 4, "upload", "exactly one"),
        ("credential given as a path", minimal + "\n[upload]\nenabled = true\nurl = \"https://s/v1/reads\"\ntoken_credential = \"/etc/t\"\n", 7, "upload.token_credential", "not a path"),
        ("relative token file", minimal + "\n[upload]\ntoken_file = \"token\"\n", 5, "upload.token_file", "absolute path"),
        ("client certificate without key", minimal + "\n[upload]\nenabled = true\nurl = \"https://s/v1/reads\"\ntoken_file = \"/t\"\nclient_certificate = \"/c.pem\"\n", 4, "upload", "go together"),
        ("batch size out of range", minimal + "\n[upload]\nbatch_size = 100000\n", 5, "upload.batch_size", "between 1 and 5000"),
        ("unit id the store cannot take", "[unit]\nid = \"unit 7\"\n" + minimal + "\n[upload]\nenabled = true\nurl = \"https://s/v1/reads\"\ntoken_file = \"/t\"\n", 2, "unit.id", "letters, digits"),
        ("metrics file node_exporter would skip", minimal + "\n[metrics]\ntextfile = \"/var/lib/prometheus/node-exporter/platekeeper.txt\"\n", 5, "metrics.textfile", "ending in .prom"),
        ("relative metrics file", minimal + "\n[metrics]\ntextfile = \"platekeeper.prom\"\n", 5, "metrics.textfile", "absolute path"),
        ("metrics interval too short", minimal + "\n[metrics]\ninterval = \"100ms\"\n", 5, "metrics.interval", "between"),
        ("metrics over the journal", minimal + "\n[journal]\npath = \"/x/j.prom\"\n[metrics]\ntextfile = \"/x/j.prom\"\n", 7, "metrics.textfile", "journal's files"),
        ("section not a table", "journal = 3\n" + minimal, 1, "journal", "must be a table"),
        ("cameras not tables", "cameras = [1, 2]\n", 1, "cameras[0]", "must be a table"),
    ]

    @Test("bad files name the line and key", arguments: badFiles.indices)
    func badFile(_ index: Int) {
        let bad = Self.badFiles[index]
        do {
            _ = try ConfigLoader.parse(bad.text, file: "test.toml")
            Issue.record("\(bad.name): accepted")
        } catch {
            let issue = error.issues.first { $0.key == bad.key } ?? error.issues[0]
            #expect(issue.key == bad.key, "\(bad.name): \(error)")
            #expect(issue.line == bad.line, "\(bad.name): \(error)")
            #expect(issue.description.contains(bad.words), "\(bad.name): \(error)")
            #expect(issue.description.hasPrefix("test.toml:"), "\(bad.name)")
        }
    }

    @Test("all problems are reported, not only the first")
    func allProblems() {
        do {
            _ = try ConfigLoader.parse(Self.minimal + "\nregion = \"mars\"\n[journal]\nquota = 5\nfoo = 1\n")
            Issue.record("accepted")
        } catch {
            #expect(Set(error.issues.map(\.key)) == ["cameras[0].region", "journal.quota", "journal.foo"])
        }
    }

    @Test("a camera with two sources or a bad id still has its other keys checked")
    func cameraProblemsAllShown() {
        do {
            _ = try ConfigLoader.parse("[[cameras]]\nid = \"a b\"\ndevice = \"/dev/video0\"\nreplay = \"/r\"\nregion = \"mars\"\nfps = 0\n")
            Issue.record("accepted")
        } catch {
            #expect(Set(error.issues.map(\.key)) == ["cameras[0].id", "cameras[0].replay", "cameras[0].region", "cameras[0].fps"], "\(error)")
        }
    }

    @Test("unreadable and non-UTF-8 files are clear errors")
    func unreadable() throws {
        let dir = try TemporaryDirectory()
        #expect(throws: ConfigError.self) { try ConfigLoader.load(path: dir.file("missing.toml")) }
        let binary = try dir.write("binary.toml", [0xFF, 0xFE, 0x00, 0x41])
        do {
            _ = try ConfigLoader.load(path: binary)
            Issue.record("accepted")
        } catch {
            #expect(error.description.contains("UTF-8"))
        }
    }

    @Test("units")
    func units() {
        #expect(Units.seconds("500ms") == 0.5)
        #expect(Units.seconds("15m") == 900)
        #expect(Units.seconds("2h") == 7200)
        #expect(Units.seconds("30d") == Double(30 * 86_400))
        #expect(Units.seconds("1.5s") == 1.5)
        #expect(Units.seconds("soon") == nil)
        #expect(Units.bytes("512MiB") == 512 << 20)
        #expect(Units.bytes("2GB") == 2_000_000_000)
        #expect(Units.bytes("1048576") == 1_048_576)
        #expect(Units.bytes("-1MiB") == nil)
    }
}
