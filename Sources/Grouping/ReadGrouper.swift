import Foundation
public import PlateKeeperCore

/// How reads are merged into read events.
public struct GroupingSettings: Sendable, Equatable {
    /// A pass ends when its camera has gone this long (capture time) without a matching read.
    public var windowSeconds: Double = 2.0
    /// Reads whose text is within this edit distance of a pass's current plate join that pass.
    public var maxEditDistance: Int = 2
    /// Emit a `first-sight` event at the first read of a pass whose confidence reaches `firstSightMinConfidence`.
    public var firstSight = false
    public var firstSightMinConfidence = 75.0
    /// A pass longer than this is closed anyway (a parked car must not hold its event back for ever).
    public var maxPassSeconds: Double = 60
    /// Alternatives kept per event.
    public var topN = 10
    public init() {}
}

/// One plate read in one frame, as the grouper receives it.
public struct Observation: Sendable {
    public var camera: CameraID
    public var frameName: String
    public var time: CaptureTime
    public var read: PlateRead
    /// JPEG of the plate region of this frame, if crops are kept.
    public var crop: [UInt8]?

    public init(camera: CameraID, frameName: String, time: CaptureTime, read: PlateRead, crop: [UInt8]?) {
        self.camera = camera
        self.frameName = frameName
        self.time = time
        self.read = read
        self.crop = crop
    }
}

/// Turns the reads of a vehicle passing one camera into one `ReadEvent`.
///
/// Owns the open passes of every camera. Time is capture time, never the clock on the wall, so a
/// replay groups exactly as the live run did. Reads of the same camera whose text is within
/// `maxEditDistance` of an open pass (and within `windowSeconds` of its last read) join it; a pass
/// closes when its camera's time moves past the window, and its plate is decided by a vote per
/// character, each read weighted by its confidence. The crop of the most confident read is kept.
public struct ReadGrouper: Sendable {
    public let settings: GroupingSettings
    private var passes: [Pass] = []

    public init(settings: GroupingSettings = GroupingSettings()) {
        self.settings = settings
    }

    /// Open passes, over all cameras.
    public var openPasses: Int { passes.count }

    /// Adds one read. Returns the events it completes: passes of this camera that fell out of the
    /// window, and a first-sight event if enabled.
    public mutating func add(_ observation: Observation) -> [ReadEvent] {
        var events = advance(camera: observation.camera, to: observation.time)
        let text = observation.read.text
        var bestIndex: Int?
        var bestDistance = Int.max
        for (i, pass) in passes.enumerated() where pass.camera == observation.camera {
            let d = editDistance(pass.plate, text)
            if d <= settings.maxEditDistance, d < bestDistance {
                bestDistance = d
                bestIndex = i
            }
        }
        if let i = bestIndex {
            passes[i].add(observation)
            passes[i].recount()
        } else {
            var pass = Pass(first: observation)
            if settings.firstSight, observation.read.confidence >= settings.firstSightMinConfidence {
                pass.sentFirstSight = true
                events.append(pass.event(kind: .firstSight, topN: settings.topN))
            }
            passes.append(pass)
            return events
        }
        if settings.firstSight, !passes[bestIndex!].sentFirstSight,
           observation.read.confidence >= settings.firstSightMinConfidence {
            passes[bestIndex!].sentFirstSight = true
            events.append(passes[bestIndex!].event(kind: .firstSight, topN: settings.topN))
        }
        return events
    }

    /// Tells the grouper that `camera` has delivered a frame at `time` (with or without reads);
    /// returns the passes of that camera that this closes.
    /// One frame of a camera and the plates read in it: the camera's time moves to the frame's
    /// (closing the passes that fell out of the window), then each read joins or opens a pass.
    /// The one way frames are grouped, by the daemon's event chain and by the benchmarks.
    public mutating func addFrame(camera: CameraID, time: CaptureTime, observations: [Observation]) -> [ReadEvent] {
        var events = advance(camera: camera, to: time)
        for observation in observations { events += add(observation) }
        return events
    }

    public mutating func advance(camera: CameraID, to time: CaptureTime) -> [ReadEvent] {
        let now = time.unixNanoseconds
        let window = Int64(settings.windowSeconds * 1e9)
        let longest = Int64(settings.maxPassSeconds * 1e9)
        return close { pass in
            pass.camera == camera
                && (now - pass.lastSeen.unixNanoseconds > window || now - pass.firstSeen.unixNanoseconds > longest
                    || now < pass.lastSeen.unixNanoseconds - window)  // the clock went back: do not hold the pass
        }
    }

    /// Closes every open pass (of one camera, or of all): at shutdown, when a source ends or stalls.
    public mutating func closeAll(camera: CameraID? = nil) -> [ReadEvent] {
        close { camera == nil || $0.camera == camera }
    }

    private mutating func close(where shouldClose: (Pass) -> Bool) -> [ReadEvent] {
        var events: [ReadEvent] = []
        var kept: [Pass] = []
        for pass in passes {
            if shouldClose(pass) {
                events.append(pass.event(kind: .vehicle, topN: settings.topN))
            } else {
                kept.append(pass)
            }
        }
        passes = kept
        events.sort { ($0.firstSeen.unixNanoseconds, $0.plate) < ($1.firstSeen.unixNanoseconds, $1.plate) }
        return events
    }
}

/// The reads of one vehicle so far.
private struct Pass: Sendable {
    let id = UUID()
    let camera: CameraID
    var reads: [Observation]
    var best: Observation
    var firstSeen: CaptureTime
    var lastSeen: CaptureTime
    var plate: String
    var confidence: Double
    var sentFirstSight = false

    init(first: Observation) {
        camera = first.camera
        reads = [first]
        best = first
        firstSeen = first.time
        lastSeen = first.time
        plate = first.read.text
        confidence = first.read.confidence
    }

    mutating func add(_ o: Observation) {
        reads.append(o)
        if o.read.confidence > best.read.confidence { best = o }
        if o.time.unixNanoseconds < firstSeen.unixNanoseconds { firstSeen = o.time }
        if o.time.unixNanoseconds > lastSeen.unixNanoseconds { lastSeen = o.time }
    }

    /// Re-decides the plate: the length most reads (by confidence) agree on, then per position the
    /// character with the most confidence behind it among reads of that length.
    mutating func recount() {
        let vote = CharacterVote(reads.map { ($0.read.text, max($0.read.confidence, 1)) })
        plate = vote.text
        confidence = vote.confidence
    }

    func event(kind: ReadEvent.Kind, topN: Int) -> ReadEvent {
        // Alternatives: the voted plate first, then every text any read offered, scored by the
        // confidence behind it averaged over the pass's reads.
        var scores: [String: (score: Double, format: Bool)] = [:]
        for o in reads {
            for c in o.read.candidates {
                let s = c.confidence / Double(reads.count)
                scores[c.text, default: (0, c.matchesFormat)].score += s
            }
        }
        var candidates = [PlateCandidate(
            text: plate, confidence: confidence,
            matchesFormat: best.read.candidates.first { $0.text == plate }?.matchesFormat
                ?? scores[plate]?.format ?? best.read.candidates.first?.matchesFormat ?? false
        )]
        let others = scores.filter { $0.key != plate }
            .sorted { ($0.value.score, $1.key) > ($1.value.score, $0.key) }
        for (text, value) in others.prefix(max(0, topN - 1)) {
            candidates.append(PlateCandidate(text: text, confidence: min(value.score, confidence), matchesFormat: value.format))
        }
        let eventID: UUID = kind == .vehicle ? id : UUID()
        return ReadEvent(
            id: eventID, kind: kind, camera: camera, plate: plate, confidence: confidence, candidates: candidates,
            region: best.read.region, box: best.read.box, firstSeen: firstSeen, lastSeen: lastSeen, bestSeen: best.time,
            frameCount: reads.count, bestFrame: best.frameName, position: nil, crop: best.crop
        )
    }
}

/// A confidence-weighted vote per character position.
struct CharacterVote {
    let text: String
    /// 0...100.
    let confidence: Double

    init(_ reads: [(text: String, weight: Double)]) {
        var byLength: [Int: Double] = [:]
        for r in reads { byLength[r.text.count, default: 0] += r.weight }
        guard let length = byLength.max(by: { ($0.value, -$0.key) < ($1.value, -$1.key) })?.key else {
            text = ""
            confidence = 0
            return
        }
        let agreeing = reads.filter { $0.text.count == length }.map { (Array($0.text), $0.weight) }
        var chars: [Character] = []
        var shareSum = 0.0
        for i in 0..<length {
            var tally: [Character: Double] = [:]
            for (t, w) in agreeing { tally[t[i], default: 0] += w }
            let total = tally.values.reduce(0, +)
            let win = tally.max { ($0.value, $1.key) < ($1.value, $0.key) }!
            chars.append(win.key)
            shareSum += total > 0 ? win.value / total : 0
        }
        text = String(chars)
        let meanConfidence = agreeing.map(\.1).reduce(0, +) / Double(max(agreeing.count, 1))
        let lengthShare = byLength[length]! / byLength.values.reduce(0, +)
        confidence = length == 0 ? 0 : min(100, meanConfidence * (shareSum / Double(length)) * lengthShare)
    }
}
