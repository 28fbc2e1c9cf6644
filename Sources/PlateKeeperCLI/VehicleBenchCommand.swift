import ArgumentParser
import Capture
import Evaluation
import Foundation
import Grouping
import PlateKeeperCore
import Recognition

/// `platekeeper bench vehicles`: accuracy per vehicle pass, beside accuracy per frame. A pass is
/// either a recording folder with `expected.txt` (TestFrames' pass-day, pass-night, pass-yuyv), or,
/// with `--simulate N`, each labelled photo of a folder turned into N frames of an approaching
/// vehicle (growing scale, drifting position, varying blur and sensor noise; seeded, so the same
/// frames every run). The reads of a pass are grouped exactly as the daemon groups them.
struct VehicleBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vehicles", abstract: "Per-vehicle accuracy (reads grouped by voting) against per-frame accuracy.")

    @Argument(help: "Recording folders or folders holding them (default: TestFrames, from the current folder or the install's share folder); with --simulate, a folder of labelled photos.")
    var paths: [String] = []

    @Option(help: "Make N frames of simulated motion from each labelled photo instead of reading recordings.")
    var simulate: Int?

    @Option(help: "Grouping window, seconds.") var window = 2.0
    @Flag(help: "One line per pass.") var verbose = false
    @OptionGroup var recognition: RecognitionOptions

    /// One vehicle pass; its frames are made when the pass is read, so one pass's frames are in
    /// memory at a time (540 simulated 720p frames would be half a gigabyte). A photo that cannot
    /// be decoded is a pass without frames: a missed vehicle.
    struct Pass {
        var name: String
        var expected: String
        var frames: () -> [Frame]
    }

    func validate() throws {
        if let simulate { try require(simulate, in: 1...10_000, "--simulate") }
        try require(window, in: 0.05...3600, "--window")
    }

    func run() throws {
        if simulate != nil, paths.isEmpty { throw ValidationError("--simulate needs a folder of labelled photos") }
        let paths = try self.paths.isEmpty ? [TestFramesFolder.find()] : self.paths
        let passes = try simulate.map { try simulated(count: $0, paths: paths) } ?? recorded(paths)
        guard !passes.isEmpty else { throw ValidationError("no vehicle passes found in \(paths.joined(separator: ", "))") }
        let reader = try recognition.makeReader()
        var settings = GroupingSettings()
        settings.windowSeconds = window
        var frames = 0, framesRight = 0, vehiclesRight = 0, extraEvents = 0, missed = 0
        for pass in passes {
            let passFrames = pass.frames()
            var grouper = ReadGrouper(settings: settings)
            var events: [ReadEvent] = []
            var right = 0
            for frame in passFrames {
                let reads = reader.read(frame.image)
                if reads.first?.text == pass.expected { right += 1 }
                events += grouper.advance(camera: frame.camera, to: frame.captureTime)
                for read in reads {
                    events += grouper.add(Observation(camera: frame.camera, frameName: frame.name, time: frame.captureTime, read: read, crop: nil))
                }
            }
            events += grouper.closeAll()
            frames += passFrames.count
            framesRight += right
            let hit = events.contains { $0.plate == pass.expected }
            if hit { vehiclesRight += 1 }
            if events.isEmpty { missed += 1 }
            extraEvents += events.filter { $0.plate != pass.expected }.count
            if verbose {
                let voted = events.max { $0.frameCount < $1.frameCount }
                print("\(pass.name): \(pass.expected), frames right \(right)/\(passFrames.count), events \(events.map { "\($0.plate)×\($0.frameCount)" }.joined(separator: " ")) → \(hit ? "right" : voted == nil ? "missed" : "WRONG")")
            }
        }
        func pct(_ a: Int, _ b: Int) -> String { b == 0 ? "-" : JSONLine.number(100 * Double(a) / Double(b), decimals: 1) + " %" }
        print("passes: \(passes.count), frames: \(frames)\(simulate.map { " (\($0) simulated per photo)" } ?? "")")
        print("per frame, top-1 read is the plate: \(framesRight)/\(frames) = \(pct(framesRight, frames))")
        print("per vehicle, an event with the plate: \(vehiclesRight)/\(passes.count) = \(pct(vehiclesRight, passes.count)); passes with no event: \(missed); other events: \(extraEvents) (\(JSONLine.number(Double(extraEvents) / Double(passes.count), decimals: 2)) per pass)")
    }

    /// Recording folders (manifest.json) that have an expected.txt.
    private func recorded(_ paths: [String]) throws -> [Pass] {
        let plan = ReplaySource.plan(paths)
        let source = try ReplaySource()
        var byFolder: [String: [ReplayItem]] = [:]
        for item in plan.items { byFolder[(item.path as NSString).deletingLastPathComponent, default: []].append(item) }
        var passes: [Pass] = []
        for folder in byFolder.keys.sorted() {
            let expectedPath = (folder as NSString).appendingPathComponent("expected.txt")
            guard FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent(RecordingManifest.fileName)),
                  let text = try? String(contentsOfFile: expectedPath, encoding: .utf8),
                  let plate = text.split(whereSeparator: { $0 == "\t" || $0.isNewline }).first else { continue }
            let items = byFolder[folder]!
            passes.append(Pass(name: (folder as NSString).lastPathComponent, expected: String(plate),
                               frames: { items.compactMap { try? source.frame(for: $0) } }))
        }
        return passes
    }

    /// N frames per labelled photo: the plate approaching (scale 0.7 → 1.0), drifting, blurred and noisy by turns.
    private func simulated(count: Int, paths: [String]) throws -> [Pass] {
        guard count >= 2 else { throw ValidationError("--simulate needs at least 2 frames") }
        var passes: [Pass] = []
        let source = try ReplaySource()
        for folder in paths {
            let truth = GroundTruth.load(folder: folder)
            for image in truth.images where image.plates.count == 1 {
                let seed = UInt64(passes.count) &* 7919 &+ 1
                let name = (image.imagePath as NSString).lastPathComponent
                passes.append(Pass(name: name, expected: GroundTruth.normalise(image.plates[0].text)) {
                    guard let photo = try? source.frame(for: ReplayItem(path: image.imagePath, camera: "sim", sequence: 0, kind: .still,
                                                                        clockQuality: .unknown)) else { return [] }
                    var rng = SeededRandom(seed: seed)
                    var frames: [Frame] = []
                    for k in 0..<count {
                        let scale = 0.7 + 0.3 * Double(k) / Double(count - 1)
                        let dx = Int(rng.next() % 21) - 10, dy = Int(rng.next() % 21) - 10
                        var img = Motion.transform(photo.image, scale: scale, dx: dx, dy: dy)
                        if rng.next() % 3 == 0 { img = Motion.blur(img) }
                        img = Motion.noise(img, amplitude: Int(rng.next() % 9), rng: &rng)
                        frames.append(Frame(camera: "sim", sequence: UInt64(k), captureTime: CaptureTime(unixNanoseconds: Int64(k) * 100_000_000, quality: .unknown),
                                            name: "\(name)#\(k)", image: img))
                    }
                    return frames
                })
            }
        }
        return passes
    }
}

/// Simple camera effects for simulated passes.
enum Motion {
    /// The frame as seen from further away: scaled about its centre (bilinear), shifted, same size, grey outside.
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
