import Config
import Cryptography
import Foundation
import Journal
import Logging
import PlateKeeperCore
import ServiceLifecycle
import Upload

/// Runs the uploader for the life of the pipeline. On shutdown it stops at once: a request in
/// flight is abandoned (its reads stay pending and are sent again after the restart; the store
/// keeps one copy of each).
struct UploadService: Service, CustomStringConvertible {
    let uploader: Uploader
    let transport: CurlTransport

    var description: String { "upload (\(uploader.settings.url))" }

    func run() async {
        await withGracefulShutdownHandler {
            await cancelWhenGracefulShutdown { await uploader.run() }
        } onGracefulShutdown: {
            transport.cancel()
        }
    }

    /// Where the token is read: the token file, or the credential under $CREDENTIALS_DIRECTORY
    /// (systemd's LoadCredential=); "" when the credential has no folder to be in.
    static func tokenPath(_ u: UploadSection) -> String {
        if !u.tokenFile.isEmpty { return u.tokenFile }
        let folder = ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"] ?? ""
        return folder.isEmpty ? "" : (folder as NSString).appendingPathComponent(u.tokenCredential)
    }

    /// What is wrong with the upload's secrets for a start now, by config key: the token (file or
    /// credential) and the client key must be files no other user can read, and the key must be
    /// the certificate's. `run` refuses to start on any of them; `config check` reports the same.
    public static func secretProblems(_ u: UploadSection) -> [(key: String, message: String)] {
        guard u.enabled else { return [] }
        var problems: [(String, String)] = []
        let token = tokenPath(u)
        if token.isEmpty {
            problems.append(("upload.token_credential", "\(UploadToken.TokenError.noCredentials(u.tokenCredential))"))
        } else if let problem = SecretFile.problem(at: token) {
            problems.append((u.tokenFile.isEmpty ? "upload.token_credential" : "upload.token_file", problem))
        }
        if !u.clientCertificate.isEmpty {
            let key = u.clientKey.isEmpty ? u.clientCertificate : u.clientKey
            if let problem = SecretFile.problem(at: key) {
                problems.append((u.clientKey.isEmpty ? "upload.client_certificate" : "upload.client_key", problem))
            } else if let problem = ClientCertificate.problem(certificate: u.clientCertificate, key: key) {
                problems.append(("upload.client_key", problem))
            }
        }
        return problems
    }

    /// The uploader for `config`, or nil when upload is off.
    static func make(config: PlateKeeperConfig, journal: Journal, logger: Logger) throws -> UploadService? {
        let u = config.upload
        guard u.enabled else { return nil }
        if let first = secretProblems(u).first {
            throw Daemon.StartupFailure(stage: "upload", reason: "\(first.key): \(first.message)")
        }
        let tokenPath = tokenPath(u)
        var settings = UploadSettings(url: u.url, unit: config.unit.effectiveID, tokenPath: tokenPath)
        settings.tls = CurlTransport.TLS(
            caFile: u.caFile.isEmpty ? nil : u.caFile,
            clientCertificate: u.clientCertificate.isEmpty ? nil : u.clientCertificate,
            clientKey: u.clientKey.isEmpty ? nil : u.clientKey)
        settings.batchMaxCount = u.batchSize
        settings.batchMaxBytes = Int(u.batchBytes)
        settings.batchMaxAgeSeconds = u.batchAgeSeconds
        settings.timeoutSeconds = u.timeoutSeconds
        settings.backoffMaxSeconds = u.backoffMaxSeconds
        let transport = try CurlTransport(tls: settings.tls)
        let credential = u.tokenCredential
        var uploadLogger = logger
        uploadLogger[metadataKey: "upload.url"] = "\(u.url)"
        let uploader = Uploader(settings: settings, journal: journal, transport: transport, logger: uploadLogger) {
            guard !tokenPath.isEmpty else {
                throw UploadToken.TokenError.noCredentials(credential)
            }
            return try UploadToken.read(path: tokenPath)
        }
        return UploadService(uploader: uploader, transport: transport)
    }
}
