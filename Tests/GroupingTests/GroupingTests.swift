import Grouping
import PlateKeeperCore
import Testing

@Suite("Grouping reads into read events")
struct GroupingTests {
    static func observation(_ text: String, _ confidence: Double, at ms: Int64, camera: CameraID = "a", alternatives: [String] = []) -> Observation {
        let candidates = ([text] + alternatives).enumerated().map {
            PlateCandidate(text: $0.element, confidence: confidence - Double($0.offset) * 10, matchesFormat: true)
        }
        let read = PlateRead(text: text, confidence: confidence, candidates: candidates,
                             box: PixelBox(x: Int(ms), y: 0, width: 100, height: 30), region: "us")
        return Observation(camera: camera, frameName: "\(camera)#\(ms)", time: CaptureTime(unixNanoseconds: ms * 1_000_000, quality: .synchronized),
                           read: read, crop: [UInt8(truncatingIfNeeded: ms)])
    }

    static func settings(window: Double = 1, distance: Int = 2, firstSight: Bool = false) -> GroupingSettings {
        var s = GroupingSettings()
        s.windowSeconds = window
        s.maxEditDistance = distance
        s.firstSight = firstSight
        return s
    }

    @Test("a pass of noisy reads becomes one event, voted per character by confidence")
    func vote() {
        var grouper = ReadGrouper(settings: Self.settings())
        var events: [ReadEvent] = []
        let reads: [(String, Double)] = [("ABC1234", 90), ("A8C1234", 60), ("ABC1Z34", 70), ("ABC1234", 85), ("ABG1234", 50)]
        for (i, r) in reads.enumerated() { events += grouper.add(Self.observation(r.0, r.1, at: Int64(i) * 100)) }
        #expect(events.isEmpty)
        events += grouper.advance(camera: "a", to: CaptureTime(unixNanoseconds: 2_000_000_000, quality: .synchronized))
        #expect(events.count == 1)
        let e = events[0]
        #expect(e.plate == "ABC1234")
        #expect(e.frameCount == 5)
        #expect(e.firstSeen.unixNanoseconds == 0)
        #expect(e.lastSeen.unixNanoseconds == 400_000_000)
        #expect(e.crop == [0])  // the most confident read's crop
        #expect(e.box.x == 0)
        #expect(e.candidates.first?.text == "ABC1234")
        #expect(e.confidence > 50 && e.confidence < 90)
        #expect(e.kind == .vehicle)
    }

    @Test("the voted plate can be one no single read had")
    func voteCombines() {
        var grouper = ReadGrouper(settings: Self.settings())
        _ = grouper.add(Self.observation("ABC1Z34", 80, at: 0))
        _ = grouper.add(Self.observation("A8C1234", 80, at: 100))
        _ = grouper.add(Self.observation("ABC1234", 70, at: 200))
        let e = grouper.closeAll()
        #expect(e.map(\.plate) == ["ABC1234"])
    }

    @Test("different plates and different cameras are separate events")
    func separate() {
        var grouper = ReadGrouper(settings: Self.settings())
        _ = grouper.add(Self.observation("ABC1234", 90, at: 0))
        _ = grouper.add(Self.observation("XYZ9876", 90, at: 50))
        _ = grouper.add(Self.observation("ABC1234", 90, at: 60, camera: "b"))
        #expect(grouper.openPasses == 3)
        let events = grouper.closeAll()
        #expect(events.count == 3)
        #expect(Set(events.map(\.id)).count == 3)
    }

    @Test("a gap longer than the window starts a new pass of the same plate")
    func window() {
        var grouper = ReadGrouper(settings: Self.settings(window: 1))
        var events = grouper.add(Self.observation("ABC1234", 90, at: 0))
        events += grouper.add(Self.observation("ABC1234", 90, at: 900))
        #expect(events.isEmpty)
        events += grouper.add(Self.observation("ABC1234", 90, at: 2_500))
        #expect(events.count == 1)
        #expect(events[0].frameCount == 2)
        #expect(grouper.openPasses == 1)
    }

    @Test("edit distance decides membership")
    func distance() {
        var grouper = ReadGrouper(settings: Self.settings(distance: 1))
        _ = grouper.add(Self.observation("ABC1234", 90, at: 0))
        _ = grouper.add(Self.observation("ABC1235", 90, at: 10))  // 1 edit: joins
        _ = grouper.add(Self.observation("ABD1299", 90, at: 20))  // 3 edits: new pass
        #expect(grouper.openPasses == 2)
        #expect(editDistance("ABC1234", "ABC123") == 1)
        #expect(editDistance("", "AB") == 2)
        #expect(editDistance("KITTEN", "SITTING") == 3)
    }

    @Test("first-sight events come at once and the pass still closes as a vehicle event")
    func firstSight() {
        var grouper = ReadGrouper(settings: Self.settings(firstSight: true))
        let early = grouper.add(Self.observation("ABC1234", 60, at: 0))
        #expect(early.isEmpty)  // below the first-sight confidence
        let sight = grouper.add(Self.observation("ABC1234", 90, at: 100))
        #expect(sight.map(\.kind) == [.firstSight])
        #expect(grouper.add(Self.observation("ABC1234", 95, at: 200)).isEmpty)  // only once per pass
        let closed = grouper.closeAll()
        #expect(closed.map(\.kind) == [.vehicle])
        #expect(closed[0].id != sight[0].id)
        #expect(closed[0].frameCount == 3)
    }

    @Test("a parked car does not hold its event for ever, and a clock jump back closes passes")
    func longAndBackwards() {
        var s = Self.settings()
        s.maxPassSeconds = 5
        var grouper = ReadGrouper(settings: s)
        var events: [ReadEvent] = []
        for i in 0..<70 { events += grouper.add(Self.observation("ABC1234", 90, at: Int64(i) * 100)) }
        #expect(events.count == 1)
        events = grouper.add(Self.observation("XYZ9876", 90, at: 10_000))
        events += grouper.advance(camera: "a", to: CaptureTime(unixNanoseconds: 0, quality: .synchronized))
        #expect(events.map(\.plate).sorted() == ["ABC1234", "XYZ9876"])
    }
}
