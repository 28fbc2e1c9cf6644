import CLibCrypto

// The unit's cryptography, through the system's OpenSSL libcrypto rather than swift-crypto: the
// unit already links OpenSSL (libcurl's TLS), Debian's security updates reach it without a
// rebuild of PlateKeeper, and swift-crypto would compile and link a second copy of the same
// algorithms (BoringSSL): about 3 minutes per build and a larger binary, on every unit.
// Only what the unit needs is wrapped: AES-256-GCM, SHA-256, HMAC-SHA-256 and random bytes.

/// A failed libcrypto call: which call, and OpenSSL's reason.
public struct CryptoFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var call: String
    public var reason: String
    public var description: String { "\(call): \(reason)" }

    /// The failure of `call`, with the reason OpenSSL queued for it (and the queue emptied).
    static func last(_ call: String) -> CryptoFailure {
        var reason = ""
        var code = ERR_get_error()
        while code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            reason += reason.isEmpty ? text : "; " + text
            code = ERR_get_error()
        }
        return CryptoFailure(call: call, reason: reason.isEmpty ? "failed" : reason)
    }
}

/// A secret key: its bytes live in memory of its own that is wiped (OPENSSL_cleanse) when the
/// key is freed, so a key does not linger in freed heap after rotation or shutdown.
public final class SecretKey: @unchecked Sendable {
    // Written once in init, only read after, wiped in deinit: safe to share between threads.
    private let storage: UnsafeMutableRawBufferPointer
    /// The key's length in bytes (the storage holds at least one byte).
    public let count: Int

    public init(bytes: [UInt8]) {
        storage = .allocate(byteCount: max(bytes.count, 1), alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        storage.copyBytes(from: bytes)
        count = bytes.count
    }

    /// A new key of `count` bytes from the system's random generator.
    public static func random(count: Int = 32) throws(CryptoFailure) -> SecretKey {
        SecretKey(bytes: try SecureRandom.bytes(count))
    }

    /// Calls `body` with the key's bytes (do not keep them).
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(storage)[0..<count]))
    }

    /// Constant-time comparison of two keys' bytes.
    public func sameBytes(as other: SecretKey) -> Bool {
        count == other.count && CRYPTO_memcmp(storage.baseAddress, other.storage.baseAddress, count) == 0
    }

    deinit {
        OPENSSL_cleanse(storage.baseAddress, storage.count)
        storage.deallocate()
    }
}

/// Bytes from the system's random generator (RAND_bytes).
public enum SecureRandom {
    public static func bytes(_ count: Int) throws(CryptoFailure) -> [UInt8] {
        precondition((0...(1 << 20)).contains(count), "SecureRandom.bytes: \(count) bytes asked")
        var out = [UInt8](repeating: 0, count: count)
        guard count == 0 || RAND_bytes(&out, Int32(count)) == 1 else { throw .last("RAND_bytes") }
        return out
    }
}

/// SHA-256 digests (EVP_Digest).
public enum Digest {
    public static func sha256(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let ok = data.withUnsafeBytes { d in EVP_Digest(d.baseAddress, d.count, &out, &length, EVP_sha256(), nil) }
        // SHA-256 of bytes in memory has no failure but allocation failure inside OpenSSL.
        precondition(ok == 1 && length == 32, "EVP_Digest(SHA-256) failed: \(CryptoFailure.last("EVP_Digest"))")
        return out
    }

    /// HMAC-SHA-256 of `data` under `key`.
    public static func hmacSHA256(_ data: [UInt8], key: SecretKey) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let result = key.withUnsafeBytes { k in
            data.withUnsafeBytes { d in
                HMAC(EVP_sha256(), k.baseAddress, Int32(k.count), d.baseAddress?.assumingMemoryBound(to: UInt8.self), d.count, &out, &length)
            }
        }
        precondition(result != nil && length == 32, "HMAC(SHA-256) failed: \(CryptoFailure.last("HMAC"))")
        return out
    }
}

/// AES-256-GCM with a random 96-bit nonce. A sealed box is `nonce (12) ‖ ciphertext ‖ tag (16)`,
/// the layout swift-crypto's `AES.GCM.SealedBox.combined` uses, so boxes sealed by earlier builds
/// still open. Random nonces bound the number of boxes per key to about 2³² (NIST SP 800-38D):
/// far more reads than a key seals before it is rotated.
public enum AES256GCM {
    public static let nonceBytes = 12
    public static let tagBytes = 16

    /// Why a box did not open.
    public enum OpenFailure: Error, Sendable, Equatable, CustomStringConvertible {
        /// Shorter than a nonce and a tag.
        case truncated(bytes: Int)
        /// The tag does not match: the wrong key, the wrong context, or the box was altered.
        case authentication
        case call(CryptoFailure)

        public var description: String {
            switch self {
            case .truncated(let n): "sealed box of \(n) bytes is shorter than a nonce and a tag"
            case .authentication: "sealed box does not authenticate (wrong key or context, or altered)"
            case .call(let f): f.description
            }
        }
    }

    /// Seals `plain` under `key` (32 bytes), binding `aad` (authenticated, not encrypted).
    public static func seal(_ plain: [UInt8], key: SecretKey, aad: [UInt8]) throws(CryptoFailure) -> [UInt8] {
        precondition(key.count == 32, "AES-256-GCM needs a 32-byte key")
        let nonce = try SecureRandom.bytes(nonceBytes)
        let context = try Context()
        let ctx = context.handle
        guard EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nil, nil, nil) == 1 else { throw .last("EVP_EncryptInit_ex") }
        guard EVP_CIPHER_CTX_ctrl(ctx, clibcrypto_gcm_set_ivlen, Int32(nonceBytes), nil) == 1 else {
            throw .last("EVP_CIPHER_CTX_ctrl(SET_IVLEN)")
        }
        let keyed = key.withUnsafeBytes { k in
            EVP_EncryptInit_ex(ctx, nil, nil, k.baseAddress?.assumingMemoryBound(to: UInt8.self), nonce)
        }
        guard keyed == 1 else { throw .last("EVP_EncryptInit_ex(key)") }
        var length: Int32 = 0
        if !aad.isEmpty {
            guard EVP_EncryptUpdate(ctx, nil, &length, aad, Int32(aad.count)) == 1 else { throw .last("EVP_EncryptUpdate(aad)") }
        }
        var out = nonce + [UInt8](repeating: 0, count: plain.count + tagBytes)
        var written = 0
        let ok = out.withUnsafeMutableBufferPointer { o -> Bool in
            let body = o.baseAddress! + nonceBytes
            if !plain.isEmpty {
                guard EVP_EncryptUpdate(ctx, body, &length, plain, Int32(plain.count)) == 1 else { return false }
                written = Int(length)
            }
            guard EVP_EncryptFinal_ex(ctx, body + written, &length) == 1 else { return false }
            written += Int(length)
            return EVP_CIPHER_CTX_ctrl(ctx, clibcrypto_gcm_get_tag, Int32(tagBytes), body + written) == 1
        }
        guard ok, written == plain.count else { throw .last("EVP_EncryptUpdate/Final") }
        return out
    }

    /// Opens a box sealed by `seal` with the same key and `aad`.
    public static func open(_ box: [UInt8], key: SecretKey, aad: [UInt8]) throws(OpenFailure) -> [UInt8] {
        precondition(key.count == 32, "AES-256-GCM needs a 32-byte key")
        guard box.count >= nonceBytes + tagBytes else { throw .truncated(bytes: box.count) }
        let cipherCount = box.count - nonceBytes - tagBytes
        let context: Context
        do { context = try Context() } catch { throw .call(error) }
        let ctx = context.handle
        guard EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nil, nil, nil) == 1 else { throw .call(.last("EVP_DecryptInit_ex")) }
        guard EVP_CIPHER_CTX_ctrl(ctx, clibcrypto_gcm_set_ivlen, Int32(nonceBytes), nil) == 1 else {
            throw .call(.last("EVP_CIPHER_CTX_ctrl(SET_IVLEN)"))
        }
        var plain = [UInt8](repeating: 0, count: cipherCount)
        var length: Int32 = 0
        enum Step { case done, failed(String), unauthentic }
        let step: Step = box.withUnsafeBufferPointer { b in
            let nonce = b.baseAddress!, cipher = nonce + nonceBytes, tag = cipher + cipherCount
            let keyed = key.withUnsafeBytes { k in
                EVP_DecryptInit_ex(ctx, nil, nil, k.baseAddress?.assumingMemoryBound(to: UInt8.self), nonce)
            }
            guard keyed == 1 else { return .failed("EVP_DecryptInit_ex(key)") }
            if !aad.isEmpty {
                guard EVP_DecryptUpdate(ctx, nil, &length, aad, Int32(aad.count)) == 1 else { return .failed("EVP_DecryptUpdate(aad)") }
            }
            var written = 0
            let ok = plain.withUnsafeMutableBufferPointer { p -> Bool in
                if cipherCount > 0 {
                    guard EVP_DecryptUpdate(ctx, p.baseAddress, &length, cipher, Int32(cipherCount)) == 1 else { return false }
                    written = Int(length)
                }
                return true
            }
            guard ok else { return .failed("EVP_DecryptUpdate") }
            guard EVP_CIPHER_CTX_ctrl(ctx, clibcrypto_gcm_set_tag, Int32(tagBytes), UnsafeMutableRawPointer(mutating: tag)) == 1 else {
                return .failed("EVP_CIPHER_CTX_ctrl(SET_TAG)")
            }
            var tail = [UInt8](repeating: 0, count: 16)
            guard EVP_DecryptFinal_ex(ctx, &tail, &length) == 1 else { return .unauthentic }
            return written == cipherCount ? .done : .failed("EVP_DecryptUpdate: \(written) of \(cipherCount) bytes")
        }
        switch step {
        case .done: return plain
        case .unauthentic:
            ERR_clear_error()
            throw .authentication
        case .failed(let call): throw .call(.last(call))
        }
    }

    /// One EVP cipher context, freed (and wiped by OpenSSL) with its owner.
    private final class Context {
        let handle: OpaquePointer
        init() throws(CryptoFailure) {
            guard let h = EVP_CIPHER_CTX_new() else { throw .last("EVP_CIPHER_CTX_new") }
            handle = h
        }
        deinit { EVP_CIPHER_CTX_free(handle) }
    }
}
