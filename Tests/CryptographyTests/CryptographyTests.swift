import Cryptography
import PlateKeeperCore
import Testing

/// The OpenSSL wrappers against published test vectors, and AES-GCM's refusals.
@Suite("Cryptography")
struct CryptographyTests {
    // The GCM specification's test case 16 (AES-256, 60-byte text, 20 bytes of authenticated data).
    static let key = bytes(fromHex: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")!
    static let plain = bytes(fromHex: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39")!
    static let aad = bytes(fromHex: "feedfacedeadbeeffeedfacedeadbeefabaddad2")!
    static let box = bytes(fromHex: "cafebabefacedbaddecaf888"
        + "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
        + "76fc6ece0f4e1768cddf8853bb2d551b")!

    @Test("SHA-256 and HMAC-SHA-256 give the published digests (FIPS 180-2, RFC 4231 case 2)")
    func digests() {
        #expect(hexString(Digest.sha256(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hexString(Digest.sha256([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let mac = Digest.hmacSHA256(Array("what do ya want for nothing?".utf8), key: SecretKey(bytes: Array("Jefe".utf8)))
        #expect(hexString(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test("AES-256-GCM opens the specification's test case (nonce ‖ ciphertext ‖ tag) and round-trips its own boxes")
    func gcm() throws {
        let key = SecretKey(bytes: Self.key)
        #expect(try AES256GCM.open(Self.box, key: key, aad: Self.aad) == Self.plain)
        let sealed = try AES256GCM.seal(Self.plain, key: key, aad: Self.aad)
        #expect(sealed.count == Self.plain.count + 28)
        #expect(sealed != Self.box, "a fresh random nonce each time")
        #expect(try AES256GCM.open(sealed, key: key, aad: Self.aad) == Self.plain)
        let empty = try AES256GCM.seal([], key: key, aad: [])
        #expect(empty.count == 28)
        #expect(try AES256GCM.open(empty, key: key, aad: []) == [])
    }

    @Test("a box does not open with another key, another context, a flipped bit anywhere, or cut short")
    func refusals() throws {
        let key = SecretKey(bytes: Self.key)
        #expect(throws: AES256GCM.OpenFailure.authentication) { try AES256GCM.open(Self.box, key: try SecretKey.random(), aad: Self.aad) }
        #expect(throws: AES256GCM.OpenFailure.authentication) { try AES256GCM.open(Self.box, key: key, aad: Array("read-1/plate".utf8)) }
        for i in stride(from: 0, to: Self.box.count, by: 7) {
            var altered = Self.box
            altered[i] ^= 0x01
            #expect(throws: AES256GCM.OpenFailure.authentication) { try AES256GCM.open(altered, key: key, aad: Self.aad) }
        }
        #expect(throws: AES256GCM.OpenFailure.truncated(bytes: 27)) { try AES256GCM.open(Array(Self.box.prefix(27)), key: key, aad: Self.aad) }
        #expect(throws: AES256GCM.OpenFailure.authentication) { try AES256GCM.open(Array(Self.box.dropLast()), key: key, aad: Self.aad) }
    }

    @Test("random keys differ; keys compare by their bytes; hex spells and reads back")
    func keysAndHex() throws {
        let a = try SecretKey.random(), b = try SecretKey.random()
        #expect(a.count == 32 && !a.sameBytes(as: b))
        #expect(SecretKey(bytes: Self.key).sameBytes(as: SecretKey(bytes: Self.key)))
        #expect(!SecretKey(bytes: [1, 2]).sameBytes(as: SecretKey(bytes: [1, 2, 3])))
        #expect(hexString([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
        #expect(bytes(fromHex: "000FA0ff") == [0x00, 0x0f, 0xa0, 0xff])
        #expect(bytes(fromHex: "abc") == nil && bytes(fromHex: "zz") == nil)
        #expect(bytes(fromHex: "") == [])
    }
}
