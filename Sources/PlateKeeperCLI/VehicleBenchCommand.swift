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
        var report = VehicleReport(grouping: settings)
        for pass in passes {
            let score = report.add(name: pass.name, expected: pass.expected, frames: pass.frames()) { reader.read($0) }
            if verbose {
                let voted = score.events.max { $0.frameCount < $1.frameCount }
                print("\(score.name): \(score.expected), frames right \(score.framesRight)/\(score.frames), events \(score.events.map { "\($0.plate)×\($0.frameCount)" }.joined(separator: " ")) → \(score.right ? "right" : voted == nil ? "missed" : "WRONG")")
            }
        }
        func pct(_ a: Int, _ b: Int) -> String { b == 0 ? "-" : JSONLine.number(100 * Double(a) / Double(b), decimals: 1) + " %" }
        print("passes: \(report.passes.count), frames: \(report.frames)\(simulate.map { " (\($0) simulated per photo)" } ?? "")")
        print("per frame, top-1 read is the plate: \(report.framesRight)/\(report.frames) = \(pct(report.framesRight, report.frames))")
        print("per vehicle, an event with the plate: \(report.vehiclesRight)/\(report.passes.count) = \(pct(report.vehiclesRight, report.passes.count)); passes with no event: \(report.missed); other events: \(report.wrongEvents) (\(JSONLine.number(report.wrongEventsPerPass, decimals: 2)) per pass)")
    }

    /// Recording folders (manifest.json) that have an expected.txt.
    private func recorded(_ paths: [String]) throws -> [Pass] {
        let plan = ReplaySource.plan(paths)
        let source = try ReplaySource()
        var byFolder: [String: [ReplayItem]] = [:]
        for item in plan.items { byFolder[Paths.folder(of: item.path), default: []].append(item) }
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
                    return PassSimulator.frames(from: photo.image, count: count, seed: seed, name: name)
                })
            }
        }
        return passes
    }
}
