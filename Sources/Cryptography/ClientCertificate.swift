import CLibCrypto

/// A TLS client certificate and its key as PEM files, checked with the system's OpenSSL before
/// the daemon relies on them: `config check` and `run` find a key that is not the certificate's
/// at start, not at the first upload.
public enum ClientCertificate {
    /// Why the private key at `key` is not that of the certificate at `certificate` (or either
    /// cannot be used), or nil when it is. Both files are opened read-only; an encrypted key is
    /// refused, never prompted for.
    public static func problem(certificate: String, key: String) -> String? {
        defer { ERR_clear_error() }
        guard let certificateFile = BIO_new_file(certificate, "r") else { return "\(certificate) cannot be opened" }
        defer { BIO_free(certificateFile) }
        guard let x509 = PEM_read_bio_X509(certificateFile, nil, nil, nil) else { return "\(certificate) is not a PEM certificate" }
        defer { X509_free(x509) }
        guard let keyFile = BIO_new_file(key, "r") else { return "\(key) cannot be opened" }
        defer { BIO_free(keyFile) }
        // No passphrase callback that could read a terminal: a key that needs one is refused.
        let noPassphrase: @convention(c) (UnsafeMutablePointer<CChar>?, Int32, Int32, UnsafeMutableRawPointer?) -> Int32 = { _, _, _, _ in 0 }
        guard let privateKey = PEM_read_bio_PrivateKey(keyFile, nil, noPassphrase, nil) else {
            return "\(key) is not an unencrypted PEM private key"
        }
        defer { EVP_PKEY_free(privateKey) }
        guard X509_check_private_key(x509, privateKey) == 1 else { return "\(key) is not the private key of the certificate \(certificate)" }
        return nil
    }
}
