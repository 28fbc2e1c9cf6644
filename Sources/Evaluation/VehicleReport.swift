public import Grouping
public import PlateKeeperCore

/// The outcome for one vehicle pass.
public struct PassScore: Sendable {
    public var name: String
    public var expected: String
    public var frames: Int
    /// Frames whose best read is the plate.
    public var framesRight: Int
    /// The read events the pass made, as the daemon would have journaled them.
    public var events: [ReadEvent]

    /// An event with the plate's text came out of the pass.
    public var right: Bool { events.contains { $0.plate == expected } }
    /// Events with any other text: each is an accusation against a vehicle that was not there.
    public var wrongEvents: Int { events.filter { $0.plate != expected }.count }
}

/// Accuracy per vehicle pass, against accuracy per frame: what `platekeeper bench vehicles`
/// prints. The reads of each pass are grouped by `ReadGrouper.addFrame`, exactly as the daemon's
/// event chain groups them, each pass with a grouper of its own.
public struct VehicleReport: Sendable {
    public let grouping: GroupingSettings
    public private(set) var passes: [PassScore] = []

    public init(grouping: GroupingSettings) {
        self.grouping = grouping
    }

    /// Reads one pass's frames with `read` and scores it.
    @discardableResult
    public mutating func add(name: String, expected: String, frames: [Frame], read: (LumaImage) -> [PlateRead]) -> PassScore {
        var grouper = ReadGrouper(settings: grouping)
        var events: [ReadEvent] = []
        var right = 0
        for frame in frames {
            let reads = read(frame.image)
            if reads.first?.text == expected { right += 1 }
            let observations = reads.map {
                Observation(camera: frame.camera, frameName: frame.name, time: frame.captureTime, read: $0, crop: nil)
            }
            events += grouper.addFrame(camera: frame.camera, time: frame.captureTime, observations: observations)
        }
        events += grouper.closeAll()
        let score = PassScore(name: name, expected: expected, frames: frames.count, framesRight: right, events: events)
        passes.append(score)
        return score
    }

    public var frames: Int { passes.reduce(0) { $0 + $1.frames } }
    public var framesRight: Int { passes.reduce(0) { $0 + $1.framesRight } }
    public var vehiclesRight: Int { passes.filter(\.right).count }
    /// Passes that made no event at all.
    public var missed: Int { passes.filter(\.events.isEmpty).count }
    public var wrongEvents: Int { passes.reduce(0) { $0 + $1.wrongEvents } }
    public var wrongEventsPerPass: Double { passes.isEmpty ? 0 : Double(wrongEvents) / Double(passes.count) }
}

/// Turns one labelled photo into the frames of an approaching vehicle: the scene grows from 0.7
/// to 1.0 of its size about its centre, drifts by up to ±10 pixels, is blurred in about one frame
/// in three and carries sensor noise of up to ±4. Seeded: the same photo and seed give the same
/// frames on every run and machine. Frames are 100 ms apart, on camera `sim`.
public enum PassSimulator {
    public static func frames(from photo: LumaImage, count: Int, seed: UInt64, name: String) -> [Frame] {
        guard count >= 2 else { return [] }
        var rng = SeededRandom(seed: seed)
        var frames: [Frame] = []
        for k in 0..<count {
            let scale = 0.7 + 0.3 * Double(k) / Double(count - 1)
            let dx = Int(rng.next() % 21) - 10, dy = Int(rng.next() % 21) - 10
            var image = transform(photo, scale: scale, dx: dx, dy: dy)
            if rng.next() % 3 == 0 { image = blur(image) }
            image = noise(image, amplitude: Int(rng.next() % 9), rng: &rng)
            frames.append(Frame(
                camera: "sim", sequence: UInt64(k),
                captureTime: CaptureTime(unixNanoseconds: Int64(k) * 100_000_000, quality: .unknown), name: "\(name)#\(k)", image: image))
        }
        return frames
    }

    /// The frame as seen from further away: scaled about its centre (bilinear), shifted, same
    /// size, grey outside.
    static func transform(_ image: LumaImage, scale: Double, dx: Int, dy: Int) -> LumaImage {
        var out = LumaImage(width: image.width, height: image.height, fill: 110)
        let cx = Double(image.width) / 2, cy = Double(image.height) / 2
        for y in 0..<image.height {
            let sy = (Double(y - dy) - cy) / scale + cy
            guard sy >= 0, sy < Double(image.height - 1) else { continue }
            let y0 = Int(sy), fy = sy - Double(y0)
            for x in 0..<image.width {
                let sx = (Double(x - dx) - cx) / scale + cx
                guard sx >= 0, sx < Double(image.width - 1) else { continue }
                let x0 = Int(sx), fx = sx - Double(x0)
                let a = Double(image[x0, y0]), b = Double(image[x0 + 1, y0]), c = Double(image[x0, y0 + 1]), d = Double(image[x0 + 1, y0 + 1])
                out[x, y] = UInt8(((a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy).rounded())
            }
        }
        return out
    }

    /// A 3×3 box blur (motion and focus softness).
    static func blur(_ image: LumaImage) -> LumaImage {
        var out = image
        for y in 1..<max(1, image.height - 1) {
            for x in 1..<max(1, image.width - 1) {
                var sum = 0
                for j in -1...1 { for i in -1...1 { sum += Int(image[x + i, y + j]) } }
                out[x, y] = UInt8(sum / 9)
            }
        }
        return out
    }

    /// Uniform sensor noise of ± `amplitude`.
    static func noise(_ image: LumaImage, amplitude: Int, rng: inout SeededRandom) -> LumaImage {
        guard amplitude > 0 else { return image }
        var out = image
        for i in out.pixels.indices {
            let n = Int(rng.next() % UInt64(2 * amplitude + 1)) - amplitude
            out.pixels[i] = UInt8(clamping: Int(out.pixels[i]) + n)
        }
        return out
    }
}
