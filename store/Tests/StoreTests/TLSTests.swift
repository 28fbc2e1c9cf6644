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

    init(upstream: Int, pki: String, serverCert: String = "server", dir: TemporaryDirectory) throws {
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
}
