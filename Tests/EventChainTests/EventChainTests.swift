import EventChain
import Foundation
import Grouping
import Logging
import PlateKeeperCore
import Testing

/// A clock the test moves by hand.
final class ManualClock: MonotonicClock, @unchecked Sendable {
    private let lock = NSLock()
    private var seconds = 1000.0
    func now() -> Double { lock.withLock { seconds } }
    func advance(_ by: Double) { lock.withLock { seconds += by } }
}

/// A sink that keeps what it is given, and fails while told to.
final class RecordingSink: ReadEventSink, @unchecked Sendable {
    struct Down: Error {}
    private let lock = NSLock()
    private var events: [ReadEvent] = []
    private var failing = false
    private(set) var attempts = 0

    var committed: [ReadEvent] { lock.withLock { events } }
    func fail(_ on: Bool) { lock.withLock { failing = on } }

    func commit(_ event: ReadEvent) async throws {
        try lock.withLock {
            attempts += 1
            if failing { throw Down() }
            events.append(event)
        }
    }
}

/// Stamps how often it ran on each event (in `bestFrame`), so a second enrichment would show.
struct CountingEnricher: ReadEventEnricher {
    func enrich(_ event: inout ReadEvent) async {
        event.bestFrame += "+enriched"
    }
}

@Suite("The read-event chain: grouping, enrichers, sink")
struct EventChainTests {
    static func observation(_ text: String, at ms: Int64, camera: CameraID = "a", confidence: Double = 90) -> Observation {
        let read = PlateRead(
            text: text, confidence: confidence, candidates: [PlateCandidate(text: text, confidence: confidence, matchesFormat: true)],
            box: PixelBox(x: 10, y: 10, width: 100, height: 30), region: "us")
        return Observation(camera: camera, frameName: "\(camera)#\(ms)", time: CaptureTime(unixNanoseconds: ms * 1_000_000, quality: .synchronized),
                           read: read, crop: nil)
    }

    static func frame(_ camera: CameraID, at ms: Int64, _ reads: [Observation] = []) -> ChainInput {
        .frame(camera: camera, time: CaptureTime(unixNanoseconds: ms * 1_000_000, quality: .synchronized), observations: reads)
    }

    func chain(_ sink: RecordingSink, _ clock: ManualClock, enrichers: [any ReadEventEnricher] = [CountingEnricher()], maxHeld: Int = 10_000) -> EventChain {
        var settings = ChainSettings(grouping: GroupingSettings())
        settings.grouping.windowSeconds = 2
        settings.maxHeld = maxHeld
        return EventChain(settings: settings, enrichers: enrichers, sink: sink, clock: clock, logger: Logger(label: "test"))
    }

    @Test("a pass closes when its camera's capture time moves past the window; enrichers run once; the best frame's time is kept")
    func closesByCaptureTime() async {
        let sink = RecordingSink(), clock = ManualClock()
        var chain = chain(sink, clock)
        await chain.handle(Self.frame("a", at: 0, [Self.observation("ABC123", at: 0, confidence: 70)]))
        await chain.handle(Self.frame("a", at: 100, [Self.observation("ABC123", at: 100, confidence: 95)]))
        await chain.handle(Self.frame("a", at: 200, [Self.observation("ABC128", at: 200, confidence: 60)]))
        await chain.handle(Self.frame("a", at: 1500))
        #expect(sink.committed.isEmpty, "still inside the window")
        await chain.handle(Self.frame("a", at: 2300))
        #expect(sink.committed.count == 1)
        let event = sink.committed[0]
        #expect(event.plate == "ABC123" && event.frameCount == 3)
        #expect(event.bestFrame == "a#100+enriched")
        #expect(event.bestSeen.unixNanoseconds == 100_000_000)
        #expect(event.firstSeen.unixNanoseconds == 0 && event.lastSeen.unixNanoseconds == 200_000_000)
        #expect(chain.openPasses == 0)
    }

    @Test("a drained camera's passes close once the window has passed on the clock; a frame after the drain cancels it; an undrained camera waits")
    func drainClosesIdleCameras() async {
        let sink = RecordingSink(), clock = ManualClock()
        var chain = chain(sink, clock)
        await chain.handle(Self.frame("a", at: 0, [Self.observation("AAA111", at: 0, camera: "a")]))
        await chain.handle(Self.frame("b", at: 0, [Self.observation("BBB222", at: 0, camera: "b")]))
        // Camera b still has frames queued or being read: no drain message for it.
        await chain.handle(.drained(camera: "a"))
        clock.advance(1)
        await chain.handle(.tick)
        #expect(sink.committed.isEmpty, "the window has not passed yet")
        clock.advance(1.5)
        await chain.handle(.tick)
        #expect(sink.committed.map(\.plate) == ["AAA111"])
        clock.advance(60)
        await chain.handle(.tick)
        #expect(sink.committed.map(\.plate) == ["AAA111"], "camera b was never drained: its pass stays open")
        // A frame of b after its drain message cancels it: the new frame's reads may join the pass.
        await chain.handle(.drained(camera: "b"))
        await chain.handle(Self.frame("b", at: 500, [Self.observation("BBB222", at: 500, camera: "b")]))
        clock.advance(10)
        await chain.handle(.tick)
        #expect(sink.committed.count == 1)
        await chain.handle(.drained(camera: "b"))
        clock.advance(2.5)
        await chain.handle(.tick)
        #expect(sink.committed.map(\.plate) == ["AAA111", "BBB222"])
        #expect(sink.committed[1].frameCount == 2)
    }

    @Test("events that fail to commit are held in order, retried on ticks only, new ones queue behind; each is enriched once")
    func retriesInOrder() async {
        let sink = RecordingSink(), clock = ManualClock()
        var chain = chain(sink, clock)
        sink.fail(true)
        for (i, plate) in ["AAA111", "BBB222", "CCC333"].enumerated() {
            let t = Int64(i) * 5000
            await chain.handle(Self.frame("a", at: t, [Self.observation(plate, at: t)]))
        }
        await chain.handle(Self.frame("a", at: 20_000))
        #expect(sink.committed.isEmpty)
        #expect(chain.waiting == 3)
        let tried = sink.attempts
        // Frames do not retry a failing sink; only ticks do, once per retry interval.
        await chain.handle(Self.frame("a", at: 20_100))
        #expect(sink.attempts == tried)
        sink.fail(false)
        await chain.handle(.tick)
        #expect(sink.committed.isEmpty, "the retry interval has not passed")
        clock.advance(1.1)
        await chain.handle(.tick)
        #expect(sink.committed.map(\.plate) == ["AAA111", "BBB222", "CCC333"])
        #expect(sink.committed.allSatisfy { $0.bestFrame.hasSuffix("#\($0.bestSeen.unixNanoseconds / 1_000_000)+enriched") })
        #expect(chain.waiting == 0)
    }

    @Test("memory stays bounded when the sink never recovers: the oldest held events go first")
    func heldIsBounded() async {
        let sink = RecordingSink(), clock = ManualClock()
        var chain = chain(sink, clock, maxHeld: 3)
        sink.fail(true)
        for i in 0..<6 {
            let t = Int64(i) * 5000
            await chain.handle(Self.frame("a", at: t, [Self.observation("PLATE\(i)", at: t)]))
        }
        await chain.handle(Self.frame("a", at: 60_000))
        #expect(chain.waiting == 3)
        sink.fail(false)
        clock.advance(2)
        await chain.handle(.tick)
        #expect(sink.committed.map(\.plate) == ["PLATE3", "PLATE4", "PLATE5"])
    }

    @Test("finish closes every open pass and commits it; what still cannot be committed is returned")
    func finishCommitsOpenPasses() async {
        let sink = RecordingSink(), clock = ManualClock()
        var chain = chain(sink, clock)
        await chain.handle(Self.frame("a", at: 0, [Self.observation("AAA111", at: 0, camera: "a")]))
        await chain.handle(Self.frame("b", at: 0, [Self.observation("BBB222", at: 0, camera: "b")]))
        #expect(await chain.finish().isEmpty)
        #expect(Set(sink.committed.map(\.plate)) == ["AAA111", "BBB222"])

        let failing = RecordingSink()
        failing.fail(true)
        var other = self.chain(failing, clock)
        await other.handle(Self.frame("a", at: 0, [Self.observation("CCC333", at: 0)]))
        #expect(await other.finish().map(\.plate) == ["CCC333"])

        // Events held after a failure just now get one more try at shutdown, retry interval or not.
        let flaky = RecordingSink()
        flaky.fail(true)
        var third = self.chain(flaky, clock)
        await third.handle(Self.frame("a", at: 0, [Self.observation("DDD444", at: 0)]))
        await third.handle(Self.frame("a", at: 5000, [Self.observation("EEE555", at: 5000)]))
        #expect(third.waiting == 1)
        flaky.fail(false)
        #expect(await third.finish().isEmpty)
        #expect(flaky.committed.map(\.plate) == ["DDD444", "EEE555"])
    }
}
