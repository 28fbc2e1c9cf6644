public import Foundation
import PlateKeeperCore

/// A bad value in a wire document: which field, and why.
public enum WireError: Error, Equatable, CustomStringConvertible {
    case invalid(field: String, reason: String)
    case malformed(String)

    public var description: String {
        switch self {
        case .invalid(let field, let reason): "\(field): \(reason)"
        case .malformed(let reason): "malformed document: \(reason)"
        }
    }
}

/// The bounds of contract version 1. The store refuses what exceeds them (413 or 422) and the
/// uploader never builds a batch that would.
public enum WireLimits {
    /// Read events in one batch.
    public static let maxEventsPerBatch = 5_000
    /// Body bytes as sent (gzip) and after inflating.
    public static let maxCompressedBody = 16 * 1024 * 1024
    public static let maxBody = 64 * 1024 * 1024
    public static let maxCropBytes = 512 * 1024
    public static let maxCandidates = 32
    public static let maxPlateCharacters = 16
    public static let maxNameBytes = 128
    public static let maxFrames = 1_000_000
    public static let maxBoxCoordinate = 65_536
}

/// One POST of the upload contract: read events from one unit, under a batch id that names the
/// attempt (a retry of the same reads may carry a new batch id; the events' ids are what count).
public struct UploadBatch: Sendable, Codable, Equatable {
    /// The contract version this document follows.
    public var version: Int
    public var unit: String
    public var batch: UUID
    /// When the unit sent it, ISO 8601 UTC.
    public var sent: String
    public var events: [WireReadEvent]

    public static let currentVersion = 1

    enum CodingKeys: String, CodingKey { case version, unit, batch, sent, events }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(version, forKey: .version)
        try c.encode(unit, forKey: .unit)
        try c.encode(batch.wire, forKey: .batch)
        try c.encode(sent, forKey: .sent)
        try c.encode(events, forKey: .events)
    }

    public init(unit: String, batch: UUID = UUID(), sent: String, events: [WireReadEvent]) {
        self.version = Self.currentVersion
        self.unit = unit
        self.batch = batch
        self.sent = sent
        self.events = events
    }
}

/// The store's answer to a batch: which event ids it holds now (stored by this request or before),
/// and which it refused and why. Ids in neither list were not looked at and stay pending.
public struct UploadReply: Sendable, Codable, Equatable {
    public var version: Int
    public var batch: UUID?
    public var accepted: [UUID]
    public var rejected: [Rejection]

    public struct Rejection: Sendable, Codable, Equatable {
        public var id: UUID?
        public var reason: String
        enum CodingKeys: String, CodingKey { case id, reason }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encodeIfPresent(id?.wire, forKey: .id)
            try c.encode(reason, forKey: .reason)
        }

        public init(id: UUID?, reason: String) {
            self.id = id
            self.reason = reason
        }
    }

    enum CodingKeys: String, CodingKey { case version, batch, accepted, rejected }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(version, forKey: .version)
        try c.encodeIfPresent(batch?.wire, forKey: .batch)
        try c.encode(accepted.map(\.wire), forKey: .accepted)
        try c.encode(rejected, forKey: .rejected)
    }

    public init(batch: UUID?, accepted: [UUID], rejected: [Rejection] = []) {
        version = UploadBatch.currentVersion
        self.batch = batch
        self.accepted = accepted
        self.rejected = rejected
    }
}

/// The body of every 4xx and 5xx answer of the store.
public struct WireProblem: Sendable, Codable, Equatable {
    public var error: String
    /// For 422: the events refused, when the store could tell which.
    public var rejected: [UploadReply.Rejection]?

    public init(error: String, rejected: [UploadReply.Rejection]? = nil) {
        self.error = error
        self.rejected = rejected
    }
}

/// The single JSON encoder and decoder configuration of the contract.
public enum WireCoding {
    /// Sorted keys: the same event always encodes to the same bytes (golden files, dedup by hash).
    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dataEncodingStrategy = .base64
        return e
    }

    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.dataDecodingStrategy = .base64
        return d
    }

    public static func encode<T: Encodable>(_ value: T) throws(WireError) -> Data {
        do { return try encoder().encode(value) } catch { throw .malformed("cannot encode: \(error)") }
    }

    /// Decodes a document from outside, with the error naming where it went wrong.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws(WireError) -> T {
        do {
            return try decoder().decode(type, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw .malformed("missing \(path(context.codingPath + [key]))")
        } catch let DecodingError.typeMismatch(_, context) {
            throw .malformed("wrong type at \(path(context.codingPath)): \(context.debugDescription)")
        } catch let DecodingError.valueNotFound(_, context) {
            throw .malformed("null at \(path(context.codingPath))")
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            throw .malformed("bad value at \(path(context.codingPath)): \(context.debugDescription)")
        } catch DecodingError.dataCorrupted {
            // Foundation reports a number that does not fit its field (1.5 or 1e400 where an
            // integer belongs) as "not valid JSON", without a path: tell the two apart.
            do {
                try JSONScanner.validate([UInt8](data))
            } catch {
                throw .malformed("not JSON: \(error)")
            }
            throw .malformed("a number does not fit its field (a fraction, or out of range, where an integer belongs)")
        } catch {
            throw .malformed("\(error)")
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop { $0 == "." }.description
    }
}

extension WireReadEvent {
    /// Checks every field against the contract's bounds; the store refuses an event that fails.
    public func validate() throws(WireError) {
        func check(_ ok: Bool, _ field: String, _ reason: @autoclosure () -> String) throws(WireError) {
            if !ok { throw .invalid(field: field, reason: reason()) }
        }
        func name(_ value: String, _ field: String, allowEmpty: Bool = false) throws(WireError) {
            try check(allowEmpty || !value.isEmpty, field, "empty")
            try check(value.utf8.count <= WireLimits.maxNameBytes, field, "longer than \(WireLimits.maxNameBytes) bytes")
            try check(!value.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, field, "control characters")
        }
        func plateText(_ value: String, _ field: String) throws(WireError) {
            try check(!value.isEmpty && value.count <= WireLimits.maxPlateCharacters, field, "must be 1 to \(WireLimits.maxPlateCharacters) characters")
            try check(value.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) }, field, "only A-Z and 0-9")
        }
        func score(_ value: Double, _ field: String) throws(WireError) {
            try check(value.isFinite && (0...100).contains(value), field, "must be 0 to 100")
        }
        try check(["vehicle", "first-sight"].contains(kind), "kind", "must be vehicle or first-sight")
        try name(camera, "camera")
        try plateText(plate, "plate")
        try score(confidence, "confidence")
        try name(region, "region")
        try check(candidates.count <= WireLimits.maxCandidates, "candidates", "more than \(WireLimits.maxCandidates)")
        for (i, c) in candidates.enumerated() {
            try plateText(c.plate, "candidates[\(i)].plate")
            try score(c.confidence, "candidates[\(i)].confidence")
        }
        let limit = WireLimits.maxBoxCoordinate
        for (v, f) in [(box.x, "box.x"), (box.y, "box.y"), (box.width, "box.width"), (box.height, "box.height")] {
            try check((0...limit).contains(v), f, "must be 0 to \(limit)")
        }
        guard let first = ISO8601.parse(firstSeen) else { throw .invalid(field: "first_seen", reason: "not an ISO 8601 time") }
        guard let last = ISO8601.parse(lastSeen) else { throw .invalid(field: "last_seen", reason: "not an ISO 8601 time") }
        try check(first <= last, "last_seen", "before first_seen")
        if let bestSeen {
            guard let best = ISO8601.parse(bestSeen) else { throw .invalid(field: "best_seen", reason: "not an ISO 8601 time") }
            try check(first <= best && best <= last, "best_seen", "outside first_seen … last_seen")
        }
        try check(ClockQuality(rawValue: clockQuality) != nil, "clock_quality", "unknown value \(clockQuality.prefix(32))")
        try check((1...WireLimits.maxFrames).contains(frames), "frames", "must be 1 to \(WireLimits.maxFrames)")
        try name(bestFrame, "best_frame", allowEmpty: true)
        if let p = position {
            try check(p.lat.isFinite && (-90...90).contains(p.lat), "position.lat", "must be -90 to 90")
            try check(p.lon.isFinite && (-180...180).contains(p.lon), "position.lon", "must be -180 to 180")
            try check(GeoPosition.FixMode(rawValue: p.fix) != nil, "position.fix", "unknown value")
            try check(GeoPosition.Source(rawValue: p.source) != nil, "position.source", "unknown value")
            for (v, f) in [(p.altitudeM, "altitude_m"), (p.errorM, "error_m"), (p.speedMPS, "speed_mps"), (p.courseDeg, "course_deg")] {
                if let v { try check(v.isFinite && abs(v) < 1e7, "position.\(f)", "out of range") }
            }
            if let t = p.fixTime { try check(ISO8601.parse(t) != nil, "position.fix_time", "not an ISO 8601 time") }
        }
        if let s = positionStatus {
            guard let state = PlateKeeperCore.PositionStatus.State(rawValue: s.state) else {
                throw .invalid(field: "position_status.state", reason: "unknown value \(s.state.prefix(32))")
            }
            // A position and a state that says there is one go together: no silent old position.
            try check(state.hasPosition == (position != nil), "position_status.state",
                      position == nil ? "\(s.state) without a position" : "\(s.state) with a position")
            if let age = s.fixAgeS { try check(age.isFinite && (0...1e7).contains(age), "position_status.fix_age_s", "must be 0 to 1e7") }
            if let n = s.satellites { try check((0...999).contains(n), "position_status.satellites", "must be 0 to 999") }
        }
        if let c = clock {
            for (v, f) in [(c.estErrorS, "est_error_s"), (c.maxErrorS, "max_error_s")] {
                if let v { try check(v.isFinite && (0...1e7).contains(v), "clock.\(f)", "must be 0 to 1e7") }
            }
            if let v = c.gpsOffsetS { try check(v.isFinite && abs(v) < 1e10, "clock.gps_offset_s", "out of range") }
        }
        if let h = hit {
            try name(h.list, "hit.list")
            try plateText(h.plate, "hit.plate")
            try check(h.reason.count <= 200 && !h.reason.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, "hit.reason",
                      "longer than 200 characters or control characters")
            try check((0...2).contains(h.distance), "hit.distance", "must be 0 to 2")
        }
        if let crop = cropJPEG {
            try check(crop.count <= WireLimits.maxCropBytes, "crop_jpeg", "larger than \(WireLimits.maxCropBytes) bytes")
            try check(crop.starts(with: [0xFF, 0xD8]), "crop_jpeg", "not a JPEG")
        }
    }
}

extension UploadBatch {
    /// Checks the envelope: version, unit, event count, ids unique within the batch. Events are
    /// checked one by one with `WireReadEvent.validate()`, so that one bad read can be named.
    public func validateEnvelope() throws(WireError) {
        guard version == Self.currentVersion else { throw .invalid(field: "version", reason: "must be \(Self.currentVersion) (this contract)") }
        guard !unit.isEmpty, unit.utf8.count <= WireLimits.maxNameBytes,
              unit.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0) })
        else { throw .invalid(field: "unit", reason: "must be 1 to \(WireLimits.maxNameBytes) letters, digits, '-', '_' or '.'") }
        guard ISO8601.parse(sent) != nil else { throw .invalid(field: "sent", reason: "not an ISO 8601 time") }
        guard events.count <= WireLimits.maxEventsPerBatch else {
            throw .invalid(field: "events", reason: "\(events.count) events, more than \(WireLimits.maxEventsPerBatch)")
        }
        var seen = Set<UUID>()
        for (i, e) in events.enumerated() where !seen.insert(e.id).inserted {
            throw .invalid(field: "events[\(i)].id", reason: "repeated within the batch")
        }
    }
}

extension UUID {
    /// UUIDs travel in lowercase (RFC 9562's preferred form, and the journal's); any case is read.
    public var wire: String { uuidString.lowercased() }
}
