import Foundation
import StoreTesting
import PlateKeeperTesting
import Testing
import Upload
import WireFormat

#if canImport(Glibc)
import Glibc
#endif

/// stunnel terminating TLS (and checking client certificates) in front of a store, as a fleet's
/// load balancer would: the unit's TLS settings against a PKI the test makes.
final class TLSFront: @unchecked Sendable {
    let process = Process()
    let port: UInt16

    init(upstream: Int, pki: String, serverCert: String = "server", extra: String = "", dir: TemporaryDirectory) throws {
        port = try Self.freePort()
        let config = try dir.write("stunnel-\(port).conf", """
            foreground = yes
            pid =
            debug = 3
            output = \(dir.file("stunnel-\(port).log"))
            [store]
            accept = 127.0.0.1:\(port)
            connect = 127.0.0.1:\(upstream)
            cert = \(pki)/\(serverCert).pem
            key = \(pki)/\(serverCert).key
            CAfile = \(pki)/fleet-ca.pem
            verifyChain = yes
            requireCert = yes
            \(extra)
            """)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/stunnel4")
        process.arguments = [config]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Ready when it accepts connections.
        let started = waitUntil(timeout: 10) { Self.canConnect(self.port) }
        if !started { throw PrivatePostgres.Failure("stunnel did not start: \((try? String(contentsOfFile: dir.file("stunnel-\(port).log"), encoding: .utf8)) ?? "")") }
    }

    deinit {
        // stunnel ignores SIGTERM while it has connections to close; it holds nothing worth keeping.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    static func freePort() throws -> UInt16 {
        let server = try TestHTTPServer { _ in .close }
        let port = server.port
        server.stop()
        return port
    }

    static func canConnect(_ port: UInt16) -> Bool { Loopback.accepts(port: port) }
}

@Suite("Store over TLS", .serialized)
struct TLSTests {
    static var stunnelInstalled: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/stunnel4") }

    static func pki(_ dir: TemporaryDirectory) throws -> String {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Resources/make-test-pki.py").path
        let folder = dir.file("pki")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let result = try runCommand("/usr/bin/python3", [script, folder])
        guard result.status == 0 else { throw PrivatePostgres.Failure("make-test-pki.py: \(result.stderr)") }
        return folder
    }

    @Test("mTLS with the fleet's CA and a unit certificate works; a wrong CA, expired certificates, a missing or foreign client certificate are refused",
          .enabled(if: stunnelInstalled, "stunnel4 is not installed (.ci/install-deps installs it)"))
    func mutualTLS() async throws {
        let s = try await StoreTests.setUp()
        defer { Task { await s.store.stop() } }
        let dir = try TemporaryDirectory()
        let pki = try Self.pki(dir)
        let front = try TLSFront(upstream: s.store.port, pki: pki, dir: dir)
        let expiredFront = try TLSFront(upstream: s.store.port, pki: pki, serverCert: "server-expired", dir: dir)

        func post(_ port: UInt16, _ tls: CurlTransport.TLS, plate: String) async throws(TransportError) -> HTTPReply {
            let body = (try? Gzip.compress(try Fixture.batch(unit: "unit-1", [WireReadEvent(Fixture.event(plate))]))) ?? Data()
            return try await CurlTransport(tls: tls).post(HTTPRequest(
                url: "https://127.0.0.1:\(port)/v1/reads",
                headers: [("Authorization", "Bearer \(s.unitToken)"), ("Content-Type", "application/json"), ("Content-Encoding", "gzip")],
                body: body, timeoutSeconds: 10))
        }
        let good = CurlTransport.TLS(caFile: "\(pki)/fleet-ca.pem", clientCertificate: "\(pki)/unit.pem", clientKey: "\(pki)/unit.key")
        #expect(try await post(front.port, good, plate: "TLS1").status == 200)
        #expect(try s.postgres.count() == 1)

        let refused: [(String, UInt16, CurlTransport.TLS)] = [
            ("system trust only (the fleet CA is not in it)", front.port, CurlTransport.TLS(clientCertificate: good.clientCertificate, clientKey: good.clientKey)),
            ("trusting another CA", front.port, CurlTransport.TLS(caFile: "\(pki)/other-ca.pem", clientCertificate: good.clientCertificate, clientKey: good.clientKey)),
            ("an expired server certificate", expiredFront.port, good),
            ("no client certificate", front.port, CurlTransport.TLS(caFile: good.caFile)),
            ("an expired client certificate", front.port, CurlTransport.TLS(caFile: good.caFile, clientCertificate: "\(pki)/unit-expired.pem", clientKey: "\(pki)/unit-expired.key")),
            ("a client certificate of another CA", front.port, CurlTransport.TLS(caFile: good.caFile, clientCertificate: "\(pki)/unit-other-ca.pem", clientKey: "\(pki)/unit-other-ca.key")),
        ]
        for (name, port, tls) in refused {
            do {
                let reply = try await post(port, tls, plate: "TLSBAD")
                Issue.record("\(name): got HTTP \(reply.status)")
            } catch {
                #expect([.tls, .protocolError, .other, .connect].contains(error.kind), "\(name): \(error)")
            }
        }
        #expect(try s.postgres.count() == 1, "nothing stored through a refused connection")
    }

    /// A daemon uploading through `front` with the fleet's CA and its client certificate, launched
    /// through `launcher`, with `environment`; returns its status document's text once an upload
    /// has failed (nil if none did within a minute), and the daemon.
    static func daemonUploading(to port: UInt16, pki: String, dir: TemporaryDirectory, launcher: [String] = [],
                                environment: [String: String] = [:], token: String) throws -> (String?, DaemonProcess) {
        for key in ["unit.key"] { chmod("\(pki)/\(key)", 0o600) }
        let tokenFile = try dir.write("upload.token", token + "\n")
        chmod(tokenFile, 0o600)
        let frames = (TestPaths.testFrames as NSString).appendingPathComponent("pass-day")
        let socket = dir.file("status.sock")
        let config = try dir.write("platekeeper.toml", """
            [unit]
            id = "unit-1"
            [[cameras]]
            id = "day"
            replay = "\(frames)"
            speed = 0
            [grouping]
            window = "1s"
            first_sight = true
            [journal]
            path = "\(dir.file("journal.sqlite"))"
            quota = "16MiB"
            [status]
            socket = "\(socket)"
            [upload]
            enabled = true
            url = "https://127.0.0.1:\(port)/v1/reads"
            token_file = "\(tokenFile)"
            ca_file = "\(pki)/fleet-ca.pem"
            client_certificate = "\(pki)/unit.pem"
            client_key = "\(pki)/unit.key"
            batch_age = "0s"
            backoff_max = "1s"
            """)
        let daemon = try DaemonProcess(config: config, logPath: dir.file("daemon.log"), environment: environment, launcher: launcher)
        var seen: String?
        _ = waitUntil(timeout: 60) {
            let status = try? runCommand(TestPaths.executable, ["status", "--json", "--socket", socket])
            // The uploader has tried and failed once it names its last error.
            guard let text = status?.stdout, text.contains(#""last_error":""#) else { return false }
            seen = text
            return true
        }
        return (seen, daemon)
    }

    @Test("[upload] ca_file replaces the system's trust: a server certificate from a CA in the system's CA path is refused, and status says so at once",
          .enabled(if: stunnelInstalled && DaemonToStoreTests.daemonBuilt, "stunnel4 or the platekeeper binary is missing"))
    func caFileReplacesSystemTrust() async throws {
        let s = try await StoreTests.setUp()
        defer { Task { await s.store.stop() } }
        let dir = try TemporaryDirectory()
        let pki = try Self.pki(dir)
        // The other CA in a CA path of its own, mounted over /etc/ssl/certs for the daemon alone
        // (a private mount namespace): any CA on a unit is trusted by a client that uses the path.
        let rogue = dir.file("rogue-certs")
        try FileManager.default.createDirectory(atPath: rogue, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(pki)/other-ca.pem", toPath: "\(rogue)/other-ca.pem")
        let rehash = try runCommand("/usr/bin/openssl", ["rehash", rogue])
        #expect(rehash.status == 0, "\(rehash.stderr)")
        let front = try TLSFront(upstream: s.store.port, pki: pki, serverCert: "server-other-ca", dir: dir)
        let launcher = ["/usr/bin/unshare", "-m", "/bin/sh", "-c", #"mount --bind "$0" /etc/ssl/certs && exec "$@""#, rogue]
        let (status, daemon) = try Self.daemonUploading(to: front.port, pki: pki, dir: dir, launcher: launcher, token: s.unitToken)
        defer { daemon.signal(SIGTERM); _ = daemon.wait(timeout: 30) }
        let text = try #require(status, "the uploader tried: \(daemon.log)")
        #expect(text.contains(#""state":"refused""#) && text.contains("TLS"), "\(text)")
        #expect(text.contains("upload refused by the store"), "a problem at once: \(text)")
        #expect(try s.postgres.count() == 0, "nothing reached a server the fleet CA never signed")
    }

    @Test("TLS 1.1 is refused even where the system's OpenSSL policy allows it",
          .enabled(if: stunnelInstalled && DaemonToStoreTests.daemonBuilt, "stunnel4 or the platekeeper binary is missing"))
    func tls12AtLeast() async throws {
        let s = try await StoreTests.setUp()
        defer { Task { await s.store.stop() } }
        let dir = try TemporaryDirectory()
        let pki = try Self.pki(dir)
        let front = try TLSFront(upstream: s.store.port, pki: pki, extra: "sslVersionMax = TLSv1.1\nsecurityLevel = 0\nciphers = DEFAULT@SECLEVEL=0", dir: dir)
        // A lax system policy: TLS 1.0 and up, any cipher.
        let lax = try dir.write("openssl-lax.cnf", """
            openssl_conf = init
            [init]
            ssl_conf = ssl
            [ssl]
            system_default = lax
            [lax]
            MinProtocol = TLSv1
            CipherString = DEFAULT@SECLEVEL=0
            """)
        let (status, daemon) = try Self.daemonUploading(to: front.port, pki: pki, dir: dir, environment: ["OPENSSL_CONF": lax], token: s.unitToken)
        defer { daemon.signal(SIGTERM); _ = daemon.wait(timeout: 30) }
        let text = try #require(status, "the uploader tried: \(daemon.log)")
        #expect(text.contains(#""state":"refused""#) && text.contains("TLS"), "\(text)")
        #expect(try s.postgres.count() == 0, "nothing sent over TLS 1.1")
    }
}
