import Cryptography
import Foundation
import PlateKeeperCore
import WireFormat

/// How the store seals a read's personal data when it has a key directory (`DayKeys`): plate,
/// candidates, position and hit go into one AES-256-GCM box (`sealed`), the crop into another, both
/// bound to the read's id, under a key derived from the day key of the read's class and day. A
/// plate query finds sealed reads by a keyed hash of the plate (`plate_index`, HMAC under another
/// key derived from the same day key), so the index dies with the day key too.
struct Sealer: Sendable {
    let keys: DayKeys

    /// The parts of a read that say who and where, sealed together.
    struct Personal: Codable {
        var plate: String
        var candidates: [WireReadEvent.Candidate]
        var position: WireReadEvent.Position?
        var hit: WireReadEvent.Hit?
    }

    /// What is written for a read in place of its clear personal columns.
    struct Sealed {
        var box: [UInt8]
        var crop: [UInt8]?
        var plateIndex: String
    }

    /// What stays in the clear `hit` column of a sealed hit: that it is one (retention keeps hits
    /// longer) and its list's name (the transparency report counts hits per list); never the
    /// plate or the reason.
    static func hitMarker(list: String) throws -> String {
        struct Marker: Encodable { var sealed = true, list: String }
        return String(decoding: try WireCoding.encode(Marker(list: list)), as: UTF8.self)
    }

    static func sealKey(_ day: SecretKey) -> SecretKey {
        SecretKey(bytes: Digest.hmacSHA256(Array("platekeeper-store seal v1".utf8), key: day))
    }

    static func indexKey(_ day: SecretKey) -> SecretKey {
        SecretKey(bytes: Digest.hmacSHA256(Array("platekeeper-store plate index v1".utf8), key: day))
    }

    static func plateIndex(_ plate: String, day: SecretKey) -> String {
        hexString(Digest.hmacSHA256(Array(plate.utf8), key: indexKey(day)).prefix(16))
    }

    /// Seals `event` under its class's key of its day, making the key if it is the day's first read.
    func seal(_ event: WireReadEvent, firstSeen: Date) throws -> Sealed {
        guard let day = try keys.key(hit: event.hit != nil, time: firstSeen, create: true) else {
            throw DayKeys.Failure(path: keys.directory, reason: "no key for \(event.firstSeen)")
        }
        let key = Self.sealKey(day)
        let personal = Personal(plate: event.plate, candidates: event.candidates, position: event.position, hit: event.hit)
        let box = try AES256GCM.seal(Array(try WireCoding.encode(personal)), key: key, aad: Array("\(event.id.uuidString.lowercased())/read".utf8))
        let crop = try event.cropJPEG.map { try AES256GCM.seal(Array($0), key: key, aad: Array("\(event.id.uuidString.lowercased())/crop".utf8)) }
        return Sealed(box: box, crop: crop, plateIndex: Self.plateIndex(event.plate, day: day))
    }

    /// Opens the personal box of read `id`; nil when its day key is gone (destroyed by retention).
    func open(_ box: [UInt8], id: UUID, hit: Bool, firstSeen: Date) throws -> Personal? {
        guard let day = try keys.key(hit: hit, time: firstSeen, create: false) else { return nil }
        let plain = try AES256GCM.open(box, key: Self.sealKey(day), aad: Array("\(id.uuidString.lowercased())/read".utf8))
        return try WireCoding.decode(Personal.self, from: Data(plain))
    }

    /// Opens the sealed crop of read `id`; nil when its day key is gone.
    func openCrop(_ box: [UInt8], id: UUID, hit: Bool, firstSeen: Date) throws -> [UInt8]? {
        guard let day = try keys.key(hit: hit, time: firstSeen, create: false) else { return nil }
        return try AES256GCM.open(box, key: Self.sealKey(day), aad: Array("\(id.uuidString.lowercased())/crop".utf8))
    }

    /// The plate's index under every day key that exists between `from` and `to`, both classes.
    func plateIndexes(_ plate: String, from: Date, to: Date) throws -> [String] {
        var out: [String] = []
        for hit in [false, true] {
            for day in keys.days(hit: hit) where day >= Calendar.utc.startOfDay(for: from) && day <= to {
                if let key = try keys.key(hit: hit, time: day, create: false) { out.append(Self.plateIndex(plate, day: key)) }
            }
        }
        return out
    }

    /// How the audit trail names a plate that was asked for: `~` and its keyed hash under the
    /// hit key of the day of the query. The trail is kept for good, so a plate in it would outlive
    /// every retention; this token says the same plate was asked for again (on that day), lets an
    /// auditor who holds the plate check it while the day key lives, and is unreadable once the
    /// key is destroyed with the hits of that day.
    func auditToken(_ plate: String, now: Date) throws -> String {
        guard let day = try keys.key(hit: true, time: now, create: true) else {
            throw DayKeys.Failure(path: keys.directory, reason: "no key for today")
        }
        return "~" + Self.plateIndex(plate, day: day)
    }
}
