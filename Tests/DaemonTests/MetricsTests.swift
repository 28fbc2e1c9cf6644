@testable import Daemon
import Foundation
import Journal
import PlateKeeperCore
import PlateKeeperTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Prometheus metrics as a node_exporter textfile, from the real daemon.
@Suite("Metrics", .serialized)
struct MetricsTests {
    /// The samples of a Prometheus text exposition: `name{labels}` → value. Fails on a line that
    /// is neither a comment nor a sample.
    static func samples(_ text: String) throws -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            try #require(parts.count == 2, "not a sample: \(line)")
            let value = try #require(Double(parts[1]), "not a value: \(line)")
            samples[String(parts[0])] = value
        }
        return samples
    }

    @Test("the textfile counts frames, plates, events and recognition time per camera, and journal, clock and health; rewritten atomically, 0644")
    func textfile() throws {
        let unit = try DaemonTests.unit(
            cameras: DaemonTests.replayCamera("day", "pass-day"),
            extra: "\n[metrics]\ntextfile = \"PATH\"\ninterval = \"1s\"\n")
        let path = unit.dir.file("textfile/platekeeper.prom")
        try FileManager.default.createDirectory(atPath: unit.dir.file("textfile"), withIntermediateDirectories: true)
        let config = try String(contentsOfFile: unit.config, encoding: .utf8).replacingOccurrences(of: "PATH", with: path)
        try config.write(toFile: unit.config, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"))
        let frames = 12
        var samples: [String: Double] = [:]
        let counted = waitUntil(timeout: 120) {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8), let parsed = try? Self.samples(text) else { return false }
            samples = parsed
            return parsed["platekeeper_frames_read_total{camera=\"day\"}"] == Double(frames)
                && parsed["platekeeper_read_events_total{camera=\"day\"}"].map { $0 >= 1 } == true
        }
        #expect(counted, "\(samples)\n\(daemon.log)")
        #expect(samples["platekeeper_frames_received_total{camera=\"day\"}"] == Double(frames))
        #expect(samples["platekeeper_frames_dropped_total{camera=\"day\"}"] == 0)
        #expect((samples["platekeeper_plate_reads_total{camera=\"day\"}"] ?? 0) >= Double(frames) / 2)
        #expect(samples["platekeeper_recognition_seconds_count{camera=\"day\"}"] == Double(frames))
        #expect((samples["platekeeper_recognition_seconds_sum{camera=\"day\"}"] ?? 0) > 0)
        #expect(samples["platekeeper_recognition_seconds_bucket{camera=\"day\",le=\"+Inf\"}"] == Double(frames))
        #expect(samples["platekeeper_camera_up{camera=\"day\"}"] == 1)
        #expect(samples["platekeeper_clock_synchronized"] != nil)
        #expect(samples["platekeeper_health_state"] != nil)
        #expect((samples["platekeeper_journal_bytes"] ?? 0) > 0)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o644)
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0)
        let final = try Self.samples(String(contentsOfFile: path, encoding: .utf8))
        let journal = try Journal(settings: JournalSettings(path: unit.journalPath), mode: .inspect)
        let events = try journal.events().count
        #expect(final["platekeeper_read_events_total{camera=\"day\"}"] == Double(events), "the last write, at the stop, holds every event")
        #expect(try FileManager.default.contentsOfDirectory(atPath: unit.dir.file("textfile")) == ["platekeeper.prom"], "no temporary file left")
    }

    @Test("a plate detector that fails on every frame: the frames are read by the row finder, the status warns, the metric counts each, the log says it once")
    func failingDetector() throws {
        // An ONNX graph of one Relu (opset 11): OpenCV loads it, and it answers one channel
        // where the detector needs five (at the frame's full size, more than its buffer holds), so
        // every frame's detection fails.
        let model = try #require(Data(base64Encoded: "CAYSEXBsYXRla2VlcGVyLXRlc3RzOl8KFQoFaW5wdXQSBm91dHB1dCIEUmVsdRILd3Jvbmctc2hhcGVaGwoFaW5wdXQSEgoQCAESDAoCCAEKAggBCgAKAGIcCgZvdXRwdXQSEgoQCAESDAoCCAEKAggBCgAKAEIECgAQCw=="))
        let unit = try DaemonTests.unit(
            cameras: DaemonTests.replayCamera("day", "pass-day"),
            extra: "\n[recognition]\ndetector_model = \"MODEL\"\n\n[metrics]\ntextfile = \"PATH\"\ninterval = \"1s\"\n")
        let modelPath = unit.dir.file("wrong-shape.onnx")
        try model.write(to: URL(fileURLWithPath: modelPath))
        let path = unit.dir.file("platekeeper.prom")
        let config = try String(contentsOfFile: unit.config, encoding: .utf8)
            .replacingOccurrences(of: "MODEL", with: modelPath).replacingOccurrences(of: "PATH", with: path)
        try config.write(toFile: unit.config, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"))
        let frames = 12
        var samples: [String: Double] = [:]
        #expect(waitUntil(timeout: 120) {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8), let parsed = try? Self.samples(text) else { return false }
            samples = parsed
            return parsed["platekeeper_frames_read_total{camera=\"day\"}"] == Double(frames)
        }, "\(samples)\n\(daemon.log)")
        #expect(samples["platekeeper_detector_failures_total{camera=\"day\"}"] == Double(frames))
        var status: StatusDocument?
        #expect(waitUntil(timeout: 30) {
            status = DaemonTests.status(unit)
            return status?.warnings.contains { $0.contains("plate detector failed on \(frames) frames") } == true
        }, "\(String(describing: status?.warnings))")
        #expect(status?.warnings.contains { $0.contains("cv::dnn::Net::forward: the network's output is larger than the buffer") } == true)
        #expect(status?.state == "degraded" || status?.state == "unhealthy")
        #expect(daemon.log.components(separatedBy: "plate detector failed").count - 1 == 1, "\(daemon.log)")
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0)
        // The row finder still read the plate.
        let events = try Journal(settings: JournalSettings(path: unit.journalPath), mode: .inspect).events().map(\.event)
        #expect(events.contains { $0.plate == "8DMW013" }, "\(events.map(\.plate))")
    }

    @Test("a textfile folder that does not exist is logged and the daemon keeps reading")
    func missingFolder() throws {
        let unit = try DaemonTests.unit(
            cameras: DaemonTests.replayCamera("day", "pass-day"),
            extra: "\n[metrics]\ntextfile = \"/nonexistent-platekeeper/platekeeper.prom\"\ninterval = \"1s\"\n")
        let daemon = try DaemonProcess(config: unit.config, logPath: unit.dir.file("daemon.log"))
        #expect(waitUntil(timeout: 120) { DaemonTests.status(unit)?.cameras.first?.state == "finished" })
        #expect(daemon.log.contains("metrics not written"))
        #expect(daemon.log.contains("No such file or directory"))
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0)
        #expect(try Journal(settings: JournalSettings(path: unit.journalPath), mode: .inspect).events().count >= 1)
    }
}
