import Foundation
import PlateKeeperCore
import Testing
@testable import WireFormat

/// The wire format is a contract with stores already deployed: these golden files fail when a
/// change alters a key, a type or an encoding by accident. Change a golden file only together with
/// docs/upload-api.md (and a new contract version when the change is not an addition).
@Suite struct WireFormatTests {
    static let event = ReadEvent(
        id: UUID(uuidString: "6f1c2b7e-3a44-4d0e-9c1b-1f2a3b4c5d6e")!, kind: .vehicle, camera: "north-lane", plate: "7ABC123",
        confidence: 91.5,
        candidates: [
            PlateCandidate(text: "7ABC123", confidence: 91.5, matchesFormat: true),
            PlateCandidate(text: "7A8C123", confidence: 40.25, matchesFormat: true),
        ],
        region: "us", box: PixelBox(x: 412, y: 300, width: 160, height: 48),
        firstSeen: CaptureTime(unixNanoseconds: 1_795_000_000_125_000_000, quality: .synchronized),
        lastSeen: CaptureTime(unixNanoseconds: 1_795_000_001_500_000_000, quality: .synchronized),
        bestSeen: CaptureTime(unixNanoseconds: 1_795_000_000_800_000_000, quality: .synchronized),
        frameCount: 7, bestFrame: "north-lane#1042",
        position: GeoPosition(
            latitude: 47.6062, longitude: -122.3321, altitudeMeters: 56.5, horizontalErrorMeters: 3.2, speedMetersPerSecond: 12.5,
            courseDegrees: 271, fix: .threeD, source: .gpsd,
            fixTime: CaptureTime(unixNanoseconds: 1_795_000_000_000_000_000, quality: .synchronized)),
        crop: [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0xFF, 0xD9])

    static func golden(_ name: String) throws -> Data {
        let url = try #require(Bundle.module.url(forResource: "Golden/\(name)", withExtension: "json"))
        return try Data(contentsOf: url)
    }

    static func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }

    @Test func readEventMatchesGolden() throws {
        let encoded = try WireCoding.encode(WireReadEvent(Self.event))
        #expect(Self.text(encoded) == Self.text(try Self.golden("read-event-v1")))
        // And back: the golden file decodes to the same event.
        let decoded = try WireCoding.decode(WireReadEvent.self, from: try Self.golden("read-event-v1"))
        #expect(try decoded.readEvent() == Self.event)
    }

    @Test func eventWithoutPositionOrCrop() throws {
        var event = Self.event
        event.position = nil
        event.crop = nil
        let encoded = Self.text(try WireCoding.encode(WireReadEvent(event)))
        #expect(encoded == Self.text(try Self.golden("read-event-minimal-v1")))
        #expect(!encoded.contains("position") && !encoded.contains("crop_jpeg"))
        #expect(try WireCoding.decode(WireReadEvent.self, from: Data(encoded.utf8)).readEvent() == event)
    }

    @Test("an event from a unit before best_seen reads it as first_seen; one outside first … last is refused")
    func bestSeenIsOptionalAndBounded() throws {
        var wire = WireReadEvent(Self.event)
        wire.bestSeen = nil
        let old = try WireCoding.decode(WireReadEvent.self, from: try WireCoding.encode(wire))
        #expect(try old.readEvent().bestSeen == Self.event.firstSeen)
        wire.bestSeen = "2026-11-18T11:06:42.000Z"
        #expect(throws: WireError.invalid(field: "best_seen", reason: "outside first_seen … last_seen")) { try wire.validate() }
        wire.bestSeen = "yesterday"
        #expect(throws: WireError.invalid(field: "best_seen", reason: "not an ISO 8601 time")) { try wire.validate() }
    }

    @Test("position_status and clock: spelled as documented, round-trip, a state that disagrees with the position is refused, numbers are bounded")
    func positionStatusAndClock() throws {
        var event = Self.event
        event.positionStatus = PositionStatus(state: .interpolated, fixAgeSeconds: 0.25, satellites: 9)
        event.clock = ClockState(synchronized: false, estimatedErrorSeconds: 16, maximumErrorSeconds: 16, gpsOffsetSeconds: -0.081)
        let text = Self.text(try WireCoding.encode(WireReadEvent(event)))
        #expect(text.contains(#""position_status":{"fix_age_s":0.25,"satellites":9,"state":"interpolated"}"#), "\(text)")
        #expect(text.contains(#""clock":{"est_error_s":16,"gps_offset_s":-0.081,"max_error_s":16,"synchronized":false}"#), "\(text)")
        let back = try WireCoding.decode(WireReadEvent.self, from: Data(text.utf8))
        #expect(try back.readEvent() == event)
        // A fix dated from the unit's synchronised clock (the receiver's date was wrong) says so.
        var redated = event
        redated.positionStatus?.dateFromSystemClock = true
        let redatedText = Self.text(try WireCoding.encode(WireReadEvent(redated)))
        #expect(redatedText.contains(#""position_status":{"date_from_system_clock":true,"fix_age_s":0.25,"satellites":9,"state":"interpolated"}"#), "\(redatedText)")
        #expect(try WireCoding.decode(WireReadEvent.self, from: Data(redatedText.utf8)).readEvent() == redated)

        var wire = WireReadEvent(event)
        wire.positionStatus?.state = "stale"
        #expect(throws: WireError.invalid(field: "position_status.state", reason: "stale with a position")) { try wire.validate() }
        wire.position = nil
        try wire.validate()
        wire.positionStatus?.state = "fix"
        #expect(throws: WireError.invalid(field: "position_status.state", reason: "fix without a position")) { try wire.validate() }
        wire.positionStatus?.state = "teleported"
        #expect(throws: WireError.invalid(field: "position_status.state", reason: "unknown value teleported")) { try wire.validate() }
        wire = WireReadEvent(event)
        wire.positionStatus?.satellites = 5000
        #expect(throws: WireError.invalid(field: "position_status.satellites", reason: "must be 0 to 999")) { try wire.validate() }
        wire = WireReadEvent(event)
        wire.clock?.maxErrorS = -1
        #expect(throws: WireError.invalid(field: "clock.max_error_s", reason: "must be 0 to 1e7")) { try wire.validate() }
        wire.clock?.maxErrorS = .infinity
        #expect(throws: WireError.invalid(field: "clock.max_error_s", reason: "must be 0 to 1e7")) { try wire.validate() }
    }

    @Test func batchAndReplyMatchGolden() throws {
        var event = Self.event
        event.crop = nil
        let batch = UploadBatch(
            unit: "unit-017", batch: UUID(uuidString: "0b9c5a8e-1d2f-4e3a-8b7c-6d5e4f3a2b1c")!, sent: "2026-11-18T07:06:45.000Z",
            events: [WireReadEvent(event)])
        #expect(Self.text(try WireCoding.encode(batch)) == Self.text(try Self.golden("batch-v1")))
        #expect(try WireCoding.decode(UploadBatch.self, from: try Self.golden("batch-v1")) == batch)
        let reply = UploadReply(
            batch: batch.batch, accepted: [event.id],
            rejected: [.init(id: UUID(uuidString: "00000000-0000-4000-8000-000000000001")!, reason: "plate: only A-Z and 0-9")])
        #expect(Self.text(try WireCoding.encode(reply)) == Self.text(try Self.golden("reply-v1")))
        #expect(try WireCoding.decode(UploadReply.self, from: try Self.golden("reply-v1")) == reply)
    }

    @Test func newerDocumentsWithUnknownKeysDecode() throws {
        var json = Self.text(try Self.golden("read-event-v1"))
        json.removeLast()
        json += ",\"hotlist\":{\"list\":\"stolen\"},\"zz_future\":[1,2,3]}"
        #expect(try WireCoding.decode(WireReadEvent.self, from: Data(json.utf8)).readEvent() == Self.event)
    }

    @Test(arguments: [
        ("{}", "missing id"),
        ("[1,2]", "wrong type"),
        ("{\"id\":", "not JSON"),
        ("", "not JSON"),
    ])
    func malformedDocumentsNameTheProblem(json: String, expected: String) throws {
        #expect {
            _ = try WireCoding.decode(WireReadEvent.self, from: Data(json.utf8))
        } throws: { error in
            (error as? WireError)?.description.contains(expected) == true
        }
    }

    @Test("a number that does not fit its integer field is named as such, not as JSON that is not JSON", arguments: [
        ("1.5", "does not fit"), ("1e400", "does not fit"), ("-0.5", "does not fit"),
        ("01", "not JSON"), ("1.", "not JSON"), ("1e", "not JSON"), ("7,}", "not JSON"),
    ])
    func numberThatDoesNotFit(frames: String, expected: String) throws {
        let json = Self.text(try Self.golden("read-event-minimal-v1")).replacingOccurrences(of: "\"frames\":7", with: "\"frames\":\(frames)")
        #expect {
            _ = try WireCoding.decode(WireReadEvent.self, from: Data(json.utf8))
        } throws: { error in
            (error as? WireError)?.description.contains(expected) == true
        }
    }

    @Test("JSONScanner.validate follows RFC 8259's grammar", arguments: [
        (#"{"a":[1,-0.5e+3,"x\u00e9\n",true,null,{}]}"#, true), ("[]", true), (" 0 ", true),
        (#"{"a":1,}"#, false), ("[1 2]", false), (#"{"a" 1}"#, false), (#"{1:2}"#, false), (#""\x""#, false),
        (#""\u12g4""#, false), ("[tru]", false), ("[-]", false), ("[.5]", false), ("[1]]", false), ("\"a\u{01}\"", false),
    ])
    func strictValidation(json: String, valid: Bool) {
        #expect(((try? JSONScanner.validate(Array(json.utf8))) != nil) == valid)
    }

    @Test("an upload body: encodings, bounds and the kind of each refusal, as the store answers them")
    func uploadRequest() throws {
        let golden = try Self.golden("batch-v1")
        let batch = try UploadRequest.decode(golden, contentEncoding: nil)
        #expect(try UploadRequest.decode(golden, contentEncoding: "identity") == batch)
        #expect(try UploadRequest.decode(try Gzip.compress(golden), contentEncoding: "GZIP") == batch)
        #expect(throws: UploadRequest.Refusal.self) { _ = try UploadRequest.decode(golden, contentEncoding: "gzip") }
        do {
            _ = try UploadRequest.decode(golden, contentEncoding: "br\u{1B}[2J")
            Issue.record("an unknown encoding was accepted")
        } catch {
            guard case .unsupportedEncoding(let reason) = error else { Issue.record("\(error)"); return }
            #expect(!reason.contains("\u{1B}"))
        }
        let fraction = Data(String(decoding: golden, as: UTF8.self).replacingOccurrences(of: "\"frames\":7", with: "\"frames\":7.5").utf8)
        #expect(throws: UploadRequest.Refusal.malformed("malformed document: a number does not fit its field (a fraction, or out of range, where an integer belongs)")) {
            _ = try UploadRequest.decode(fraction, contentEncoding: nil)
        }
        var many = batch
        many.events = (0...WireLimits.maxEventsPerBatch).map { _ in var e = batch.events[0]; e.id = UUID(); return e }
        #expect(throws: UploadRequest.Refusal.tooLarge("more than \(WireLimits.maxEventsPerBatch) events")) {
            _ = try UploadRequest.decode(try WireCoding.encode(many), contentEncoding: nil)
        }
        var wrong = batch
        wrong.version = 99
        #expect(throws: UploadRequest.Refusal.malformed("version: must be 1 (this contract)")) {
            _ = try UploadRequest.decode(try WireCoding.encode(wrong), contentEncoding: nil)
        }
    }

    @Test func wrongTypeNamesTheField() throws {
        var json = Self.text(try Self.golden("read-event-minimal-v1"))
        json = json.replacingOccurrences(of: "\"frames\":7", with: "\"frames\":\"seven\"")
        #expect(throws: WireError.self) { _ = try WireCoding.decode(WireReadEvent.self, from: Data(json.utf8)) }
        do {
            _ = try WireCoding.decode(WireReadEvent.self, from: Data(json.utf8))
        } catch {
            #expect(error.description.contains("frames"))
        }
    }

    @Test func validationRefusesOutOfBoundValues() throws {
        let good = WireReadEvent(Self.event)
        try good.validate()
        let cases: [(String, (inout WireReadEvent) -> Void)] = [
            ("plate", { $0.plate = "" }),
            ("plate", { $0.plate = "abc" }),
            ("plate", { $0.plate = String(repeating: "A", count: 17) }),
            ("confidence", { $0.confidence = .nan }),
            ("confidence", { $0.confidence = 101 }),
            ("camera", { $0.camera = "" }),
            ("camera", { $0.camera = String(repeating: "c", count: 200) }),
            ("camera", { $0.camera = "a\u{0}b" }),
            ("kind", { $0.kind = "car" }),
            ("box.width", { $0.box.width = -1 }),
            ("box.x", { $0.box.x = Int.max }),
            ("first_seen", { $0.firstSeen = "yesterday" }),
            ("last_seen", { $0.lastSeen = "2020-01-01T00:00:00Z" }),
            ("clock_quality", { $0.clockQuality = "great" }),
            ("frames", { $0.frames = 0 }),
            ("frames", { $0.frames = Int.max }),
            ("position.lat", { $0.position?.lat = 91 }),
            ("position.lon", { $0.position?.lon = .infinity }),
            ("position.fix", { $0.position?.fix = "4d" }),
            ("position.speed_mps", { $0.position?.speedMPS = 1e300 }),
            ("crop_jpeg", { $0.cropJPEG = Data([1, 2, 3]) }),
            ("crop_jpeg", { $0.cropJPEG = Data([0xFF, 0xD8] + [UInt8](repeating: 0, count: WireLimits.maxCropBytes)) }),
            ("candidates", { $0.candidates = Array(repeating: $0.candidates[0], count: 33) }),
            ("candidates[0].plate", { $0.candidates[0].plate = "a-1" }),
            ("hit.list", { $0.hit = .init(HotlistHit(list: "", plate: "ABC", reason: "", distance: 0)) }),
            ("hit.plate", { $0.hit = .init(HotlistHit(list: "l", plate: "ab c", reason: "", distance: 0)) }),
            ("hit.reason", { $0.hit = .init(HotlistHit(list: "l", plate: "ABC", reason: "a\nb", distance: 0)) }),
            ("hit.distance", { $0.hit = .init(HotlistHit(list: "l", plate: "ABC", reason: "", distance: 3)) }),
        ]
        for (field, mutate) in cases {
            var bad = good
            mutate(&bad)
            #expect(throws: WireError.self, "\(field)") { try bad.validate() }
            do { try bad.validate() } catch {
                if case .invalid(let f, _) = error { #expect(f == field) }
            }
        }
    }

    @Test("a hotlist hit travels with its read and back; an event without one has no hit key")
    func hitRoundTrip() throws {
        var event = Self.event
        event.hit = HotlistHit(list: "stolen", plate: "ABC1234", reason: "case 12, \"urgent\"", distance: 1)
        let wire = WireReadEvent(event)
        try wire.validate()
        let text = Self.text(try WireCoding.encode(wire))
        #expect(text.contains(#""hit":{"distance":1,"list":"stolen","plate":"ABC1234","reason":"case 12, \"urgent\""}"#))
        #expect(try WireCoding.decode(WireReadEvent.self, from: Data(text.utf8)).readEvent().hit == event.hit)
        #expect(!Self.text(try WireCoding.encode(WireReadEvent(Self.event))).contains("\"hit\""))
    }

    @Test func envelopeValidation() throws {
        let e = WireReadEvent(Self.event)
        try UploadBatch(unit: "unit-1", sent: "2026-11-18T07:06:45Z", events: [e]).validateEnvelope()
        #expect(throws: WireError.self) { try UploadBatch(unit: "unit-1", sent: "now", events: [e]).validateEnvelope() }
        #expect(throws: WireError.self) { try UploadBatch(unit: "", sent: "2026-11-18T07:06:45Z", events: [e]).validateEnvelope() }
        #expect(throws: WireError.self) { try UploadBatch(unit: "a/b", sent: "2026-11-18T07:06:45Z", events: [e]).validateEnvelope() }
        #expect(throws: WireError.self) { try UploadBatch(unit: "u", sent: "2026-11-18T07:06:45Z", events: [e, e]).validateEnvelope() }
        let many = Array(repeating: e, count: WireLimits.maxEventsPerBatch + 1)
        #expect(throws: WireError.self) { try UploadBatch(unit: "u", sent: "2026-11-18T07:06:45Z", events: many).validateEnvelope() }
    }

    @Test func gzipRoundTripAndBounds() throws {
        let body = try WireCoding.encode(UploadBatch(unit: "u", sent: "2026-11-18T07:06:45Z", events: Array(
            (0..<200).map { i in var e = WireReadEvent(Self.event); e.id = UUID(); e.frames = i + 1; return e })))
        let packed = try Gzip.compress(body)
        #expect(packed.count < body.count / 3)
        #expect(try Gzip.decompress(packed, limit: body.count) == body)
        #expect(throws: Gzip.Failure.tooLarge(limit: body.count - 1)) { _ = try Gzip.decompress(packed, limit: body.count - 1) }
        #expect(throws: Gzip.Failure.self) { _ = try Gzip.decompress(packed.prefix(packed.count / 2), limit: 1 << 26) }
        #expect(throws: Gzip.Failure.self) { _ = try Gzip.decompress(Data("not gzip at all".utf8), limit: 1 << 26) }
        #expect(throws: Gzip.Failure.self) { _ = try Gzip.decompress(Data(), limit: 1 << 26) }
        // A bomb: 1 GiB of zeros would inflate from about 1 MiB; refused at the limit without inflating it all.
        let zeros = try Gzip.compress(Data(count: 32 * 1024 * 1024), level: 9)
        #expect(throws: Gzip.Failure.tooLarge(limit: 1 << 20)) { _ = try Gzip.decompress(zeros, limit: 1 << 20) }
    }

    /// The OpenAPI document is the contract's other spelling: every key the wire format writes
    /// must be described there.
    @Test func openAPIDocumentNamesEveryKey() throws {
        let yamlPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/upload-api.yaml").path
        let yaml = try String(contentsOfFile: yamlPath, encoding: .utf8)
        func keys(_ value: Any) -> Set<String> {
            if let object = value as? [String: Any] {
                return object.reduce(into: Set(object.keys)) { $0.formUnion(keys($1.value)) }
            }
            if let array = value as? [Any] { return array.reduce(into: Set<String>()) { $0.formUnion(keys($1)) } }
            return []
        }
        var all = Set<String>()
        for name in ["read-event-v1", "batch-v1", "reply-v1"] {
            all.formUnion(keys(try JSONSerialization.jsonObject(with: try Self.golden(name))))
        }
        #expect(all.count > 30)
        for key in all.sorted() {
            #expect(yaml.contains(" \(key): ") || yaml.contains(" \(key):\n"), "docs/upload-api.yaml does not describe \(key)")
        }
    }

    @Test func randomBytesNeverCrashTheDecoders() throws {
        var rng = SeededRandom(seed: 13)
        let seed = Array(try Self.golden("batch-v1"))
        for _ in 0..<2_000 {
            var bytes = seed
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if let batch = try? WireCoding.decode(UploadBatch.self, from: Data(bytes)) {
                try? batch.validateEnvelope()
                for e in batch.events { _ = try? e.readEvent() }
            }
            _ = try? Gzip.decompress(Data(bytes), limit: 1 << 20)
        }
    }
}
