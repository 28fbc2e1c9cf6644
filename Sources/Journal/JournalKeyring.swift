import Cryptography
import Foundation
import PlateKeeperCore

#if canImport(Glibc)
import Glibc
#endif

/// The keys that seal the journal's personal data at rest: plate text, candidates, position,
/// crop and hotlist hit, with AES-256-GCM (OpenSSL, through Cryptography), each sealed box bound to its read's id
/// and column (authenticated data), so a box moved to another row or column does not open.
///
/// A key file holds one key per line, `ID HEX` (an id of 1 to 16 letters, digits or `-`, and 64
/// hex digits: 32 bytes); `#` comments and blank lines are skipped. The last key seals new rows;
/// every key in the file opens the rows sealed under it, so a key is rotated by adding a line
/// (`platekeeper journal new-key ID` prints one) and an old one retired only once no row needs
/// it. The file must be a regular file of at most 64 KiB that no group or other user may read.
public struct JournalKeyring: Sendable, Equatable {
    public let ids: [String]
    private let keys: [String: SecretKey]

    public static let maxFileBytes = 64 << 10

    /// What is wrong with a key file: the file, the line and why.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var path: String
        public var line: Int?
        public var reason: String
        public var description: String { path.isEmpty ? reason : "key file \(path)\(line.map { ":\($0)" } ?? ""): \(reason)" }
    }

    public var current: String { ids.last ?? "" }

    /// Reads and checks the key file at `path`.
    public static func load(path: String) throws(Failure) -> JournalKeyring {
        if let problem = SecretFile.problem(at: path) { throw Failure(path: "", reason: "key file \(problem)") }
        let bytes: [UInt8]
        do {
            bytes = try BoundedFile.read(path, limit: maxFileBytes)
        } catch {
            throw Failure(path: path, reason: "\(error)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw Failure(path: path, reason: "not UTF-8 text") }
        return try parse(text, path: path)
    }

    /// Parses key-file text (see the type's documentation).
    public static func parse(_ text: String, path: String = "<keys>") throws(Failure) -> JournalKeyring {
        var ids: [String] = []
        var keys: [String: SecretKey] = [:]
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces.union(CharacterSet(charactersIn: "\r")))
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 2 else { throw Failure(path: path, line: i + 1, reason: "a line is `ID HEX` (an id and 64 hex digits)") }
            let id = String(parts[0])
            guard (1...16).contains(id.count), id.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-") })
            else { throw Failure(path: path, line: i + 1, reason: "key id must be 1 to 16 letters, digits or '-'") }
            guard keys[id] == nil else { throw Failure(path: path, line: i + 1, reason: "key id \(id) appears twice") }
            guard let bytes = bytes(fromHex: parts[1]), bytes.count == 32 else {
                throw Failure(path: path, line: i + 1, reason: "key \(id) must be 64 hex digits (32 bytes)")
            }
            ids.append(id)
            keys[id] = SecretKey(bytes: bytes)
        }
        guard !ids.isEmpty else { throw Failure(path: path, reason: "holds no key") }
        return JournalKeyring(ids: ids, keys: keys)
    }

    private init(ids: [String], keys: [String: SecretKey]) {
        self.ids = ids
        self.keys = keys
    }

    /// A new key line, `ID HEX`, from the system's random generator.
    public static func newKeyLine(id: String) throws(Failure) -> String {
        do {
            return id + " " + hexString(try SecureRandom.bytes(32))
        } catch {
            throw Failure(path: "", reason: "no random key: \(error)")
        }
    }

    /// Seals `plain` under the current key, bound to `context` (the read's id and the column).
    func seal(_ plain: [UInt8], context: String) throws -> [UInt8] {
        guard let key = keys[current] else { throw Failure(path: "", reason: "no current key") }
        return try AES256GCM.seal(plain, key: key, aad: Array(context.utf8))
    }

    /// Opens a box sealed under key `id` for `context`.
    func open(_ sealed: [UInt8], id: String, context: String) throws -> [UInt8] {
        guard let key = keys[id] else {
            throw Failure(path: "", reason: "this read is sealed with key \(id), which the key file does not hold (keys: \(ids.joined(separator: ", ")))")
        }
        return try AES256GCM.open(sealed, key: key, aad: Array(context.utf8))
    }

    public static func == (a: JournalKeyring, b: JournalKeyring) -> Bool {
        a.ids == b.ids && a.ids.allSatisfy { id in
            a.keys[id]!.sameBytes(as: b.keys[id]!)
        }
    }
}
