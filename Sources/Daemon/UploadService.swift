import Config
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

    /// The uploader for `config`, or nil when upload is off.
    static func make(config: PlateKeeperConfig, journal: Journal, logger: Logger) throws -> UploadService? {
        let u = config.upload
        guard u.enabled else { return nil }
        let tokenPath: String
        if !u.tokenFile.isEmpty {
            tokenPath = u.tokenFile
        } else {
            // systemd's LoadCredential= puts credentials under $CREDENTIALS_DIRECTORY.
            let folder = ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"] ?? ""
            tokenPath = folder.isEmpty ? "" : (folder as NSString).appendingPathComponent(u.tokenCredential)
        }
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
