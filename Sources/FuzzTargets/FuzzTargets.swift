import Foundation
import Capture
import Config
import Imaging
import Journal
import PlateKeeperCore
import Position
import WireFormat

/// The entry points that libFuzzer drives (`Fuzz/`), one per kind of input from outside, and that
/// `FuzzTargetsTests` runs over the seed corpora and over every input a fuzzer ever found to fail.
///
/// Each takes arbitrary bytes and must return: errors are expected and ignored, while a crash, a
/// trap, a hang or an allocation beyond the input's limits is a finding. Where an input can leave
/// state behind (a decoder handle), the target also checks that good input still works after it.
public enum FuzzTargets {
    /// The targets by name, as `Fuzz/run` and the regression tests call them.
    public static let all: [String: @Sendable ([UInt8]) -> Void] = [
        "frame": frame, "manifest": manifest, "config": config, "journal": journal, "position": position,
        "upload": upload,
    ]

    /// One decoder for every input, as a camera stream reuses one; not shared between threads.
    nonisolated(unsafe) private static let decoder = try! ImageFileDecoder()
    private static let goodJPEG = try! JPEGEncoder().encode(LumaImage(width: 16, height: 8, pixels: (0..<128).map { UInt8($0 * 2) }))

    /// Frame decoding. The first byte picks the path (still image by magic number, MJPEG frame,
    /// GREY, YUYV), the next four a claimed width and height; the rest is the frame. Afterwards the
    /// same decoder must still decode a good JPEG: no input may poison it.
    public static func frame(_ data: [UInt8]) {
        guard data.count >= 5 else { return }
        let width = Int(data[1]) << 8 | Int(data[2]), height = Int(data[3]) << 8 | Int(data[4])
        let body = Array(data[5...])
        switch data[0] % 4 {
        case 0: _ = try? decoder.decode(body)
        case 1: _ = try? decoder.decodeFrame(body, format: .mjpeg, width: width, height: height)
        case 2: _ = try? decoder.decodeFrame(body, format: .grey, width: width, height: height)
        default: _ = try? decoder.decodeFrame(body, format: .yuyv, width: width, height: height)
        }
        guard let after = try? decoder.decode(goodJPEG), after.width == 16 else {
            fatalError("the decoder no longer decodes a good JPEG after this input")
        }
    }

    /// A scratch folder for the targets that need files; one per process.
    private static let scratch: String = {
        let path = NSTemporaryDirectory() + "platekeeper-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    /// A recording's manifest.json: parsed, then planned and played as a recording folder whose
    /// frame files are missing.
    public static func manifest(_ data: [UInt8]) {
        _ = try? RecordingManifest.parse(Data(data), path: "manifest.json")
        let folder = scratch + "/recording"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: folder + "/manifest.json", contents: Data(data)) else { return }
        let plan = ReplaySource.plan([folder])
        guard let source = try? ReplaySource() else { return }
        for item in plan.items.prefix(8) { _ = try? source.frame(for: item) }
    }

    /// An upload POST's body as the store decodes it (`UploadRequest`): the first byte picks the
    /// Content-Encoding (none, gzip, identity, another), the rest is the body. Every event of a
    /// batch that passes is validated, and the batch must encode and decode back to itself.
    public static func upload(_ data: [UInt8]) {
        guard let first = data.first else { return }
        let encoding = [nil, "gzip", "identity", "br"][Int(first % 4)]
        guard let batch = try? UploadRequest.decode(Data(data.dropFirst()), contentEncoding: encoding) else { return }
        for event in batch.events { _ = try? event.validate() }
        guard let encoded = try? WireCoding.encode(batch), let back = try? WireCoding.decode(UploadBatch.self, from: encoded),
              back == batch
        else { fatalError("a batch the store accepts does not survive encoding and decoding") }
    }

    /// platekeeper.toml.
    public static func config(_ data: [UInt8]) {
        _ = try? ConfigLoader.parse(String(decoding: data, as: UTF8.self))
    }

    /// A journal file on disk: inspected (stats, export with crops) as `journal stats` and
    /// `journal export` would, then opened as the daemon would and written to.
    public static func journal(_ data: [UInt8]) {
        let path = scratch + "/journal.sqlite"
        func clean() {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? []
            for name in names where name.hasPrefix("journal.sqlite") { unlink(scratch + "/" + name) }
        }
        clean()
        defer { clean() }
        guard FileManager.default.createFile(atPath: path, contents: Data(data)) else { return }
        var settings = JournalSettings(path: path)
        settings.synchronous = .normal
        settings.quotaBytes = 4 << 20
        if let inspected = try? Journal(settings: settings, mode: .inspect) {
            _ = try? inspected.stats()
            _ = try? inspected.events(includeCrops: true)
            _ = try? inspected.pending(limit: 10)
        }
        guard let owned = try? Journal(settings: settings, mode: .owner) else { return }
        let now = CaptureTime(unixNanoseconds: 1_764_000_000_000_000_000, quality: .synchronized)
        _ = try? owned.appendNow(ReadEvent(
            kind: .vehicle, camera: "fuzz", plate: "FUZZ1", confidence: 50, candidates: [], region: "us",
            box: PixelBox(x: 0, y: 0, width: 1, height: 1), firstSeen: now, lastSeen: now, frameCount: 1, bestFrame: "f", crop: [1, 2, 3]))
        _ = try? owned.stats()
        _ = try? owned.events()
    }

    /// What a GNSS receiver or gpsd sends, and a recording's position.log: each line as NMEA (a
    /// receiver feeding a track, whose positions are then asked for around every fix) or as gpsd
    /// JSON, and the whole input as a position log.
    public static func position(_ data: [UInt8]) {
        var receiver = NMEAReceiver()
        var track = PositionTrack(source: .nmea, capacity: 64)
        for line in data.split(separator: 0x0A, maxSplits: 2000) {
            if line.first == UInt8(ascii: "{") {
                if case let .tpv(fix)? = try? GpsdReport(line: line) { track.add(fix) }
            } else if let sentence = try? NMEASentence(String(decoding: line, as: UTF8.self)[...]),
                      let fix = try? receiver.take(sentence) {
                track.add(fix)
            }
        }
        if let latest = track.latest {
            for offset in stride(from: Int64(-3_000_000_000), through: 3_000_000_000, by: 250_000_000) {
                let (t, overflow) = latest.time.addingReportingOverflow(offset)
                if !overflow { _ = track.position(at: t) }
            }
        }
        let path = scratch + "/position.log"
        guard FileManager.default.createFile(atPath: path, contents: Data(data)) else { return }
        defer { unlink(path) }
        // Both ways a feed judges a fix's time: against the track alone, and against a synchronised clock.
        for synchronized in [false, true] {
            let feed = PositionFeed(source: .nmea, clockSynchronized: { synchronized })
            _ = try? PositionRecording.load(path: path, into: feed)
            _ = feed.snapshot()
            if let t = feed.newestReportTime { _ = feed.lookup(at: t, clockSynchronized: synchronized) }
        }
    }
}
