import CoreMetrics
import Foundation
import Logging
import PlateKeeperCore
import Prometheus
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's metrics: swift-metrics instruments backed by one swift-prometheus registry, or
/// by nothing when `[metrics]` is off. The pipeline counts through `CameraMetrics` as things
/// happen; `MetricsService` adds the figures status already knows (journal, upload, clock) and
/// writes the registry out.
struct DaemonMetrics: Sendable {
    let factory: any MetricsFactory
    /// Nil when metrics are off.
    let registry: PrometheusCollectorRegistry?

    static let recognitionLabel = "platekeeper_recognition_seconds"

    static var off: DaemonMetrics { DaemonMetrics(factory: NOOPMetricsHandler.instance, registry: nil) }

    static func prometheus() -> DaemonMetrics {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // One frame's recognition takes tens to hundreds of milliseconds on these boards.
        factory.durationHistogramBuckets[recognitionLabel] = [
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(200),
            .milliseconds(400), .milliseconds(800), .milliseconds(1600), .milliseconds(3200),
        ]
        return DaemonMetrics(factory: factory, registry: registry)
    }
}

/// One camera's instruments: frames in, read, dropped and bad; plates read in frames; read
/// events journaled; the time recognition took per frame.
struct CameraMetrics: Sendable {
    let received: CoreMetrics.Counter
    let processed: CoreMetrics.Counter
    let dropped: CoreMetrics.Counter
    let bad: CoreMetrics.Counter
    let plates: CoreMetrics.Counter
    let events: CoreMetrics.Counter
    let recognition: CoreMetrics.Timer
    /// Frames on which the plate detector failed (read by the row finder alone instead).
    let detectorFailures: CoreMetrics.Counter

    init(camera: CameraID, metrics: DaemonMetrics) {
        let labels = [("camera", camera.rawValue)]
        let factory = metrics.factory
        received = CoreMetrics.Counter(label: "platekeeper_frames_received_total", dimensions: labels, factory: factory)
        processed = CoreMetrics.Counter(label: "platekeeper_frames_read_total", dimensions: labels, factory: factory)
        dropped = CoreMetrics.Counter(label: "platekeeper_frames_dropped_total", dimensions: labels, factory: factory)
        bad = CoreMetrics.Counter(label: "platekeeper_frames_bad_total", dimensions: labels, factory: factory)
        plates = CoreMetrics.Counter(label: "platekeeper_plate_reads_total", dimensions: labels, factory: factory)
        events = CoreMetrics.Counter(label: "platekeeper_read_events_total", dimensions: labels, factory: factory)
        recognition = CoreMetrics.Timer(label: DaemonMetrics.recognitionLabel, dimensions: labels, factory: factory)
        detectorFailures = CoreMetrics.Counter(label: "platekeeper_detector_failures_total", dimensions: labels, factory: factory)
    }
}

/// Writes the metrics as a node_exporter textfile every `interval` and once more at shutdown:
/// to a temporary file beside it, then renamed over it, so node_exporter never reads half a
/// file. The file is mode 0644: counts and states, no plates. Gauges from the status document
/// (journal, upload, clock, health) are set just before each write.
struct MetricsService: Service, CustomStringConvertible {
    let path: String
    let interval: Double
    let metrics: DaemonMetrics
    let board: StatusBoard
    let logger: Logger

    var description: String { "metrics" }

    func run() async {
        guard let registry = metrics.registry else { return }
        var uploaded = 0
        var failures = LogThrottle()
        while true {
            sample(board.document(), uploaded: &uploaded)
            do {
                try Self.write(registry.emitToBuffer(), to: path)
            } catch {
                let (log, held) = failures.allow(now: Clocks.monotonicSeconds())
                if log { logger.error("metrics not written", metadata: ["path": "\(path)", "error": "\(error)", "held.back": "\(held)"]) }
            }
            if Task.isShuttingDownGracefully || Task.isCancelled { return }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(Int(interval * 1000))) }
        }
    }

    /// Status figures as gauges (and the uploads since start as a counter, by its increase).
    func sample(_ doc: StatusDocument, uploaded: inout Int) {
        let f = metrics.factory
        func gauge(_ name: String, _ value: Double?, _ labels: [(String, String)] = []) {
            guard let value else { return }
            CoreMetrics.Gauge(label: name, dimensions: labels, factory: f).record(value)
        }
        gauge("platekeeper_health_state", doc.state == "healthy" ? 0 : doc.state == "degraded" ? 1 : 2)
        for camera in doc.cameras {
            gauge("platekeeper_camera_up", camera.healthy ? 1 : 0, [("camera", camera.id)])
        }
        let j = doc.journal
        gauge("platekeeper_journal_bytes", Double(j.bytes))
        gauge("platekeeper_journal_quota_bytes", Double(j.quotaBytes))
        gauge("platekeeper_journal_reads", Double(j.rows))
        gauge("platekeeper_journal_reads_dropped_full", Double(j.droppedFull))
        gauge("platekeeper_journal_reads_expired", Double(j.expired))
        gauge("platekeeper_journal_reads_refused_since_start", Double(j.rejectedSinceStart))
        gauge("platekeeper_journal_dead_letters", Double(j.deadLetters))
        if let u = doc.upload {
            gauge("platekeeper_upload_backlog_reads", Double(u.backlog))
            gauge("platekeeper_upload_oldest_waiting_seconds", u.oldestWaitingSeconds ?? 0)
            gauge("platekeeper_upload_failures_in_a_row", Double(u.failuresInARow))
            if u.uploadedSinceStart > uploaded {
                CoreMetrics.Counter(label: "platekeeper_uploaded_reads_total", factory: f).increment(by: Int64(u.uploadedSinceStart - uploaded))
                uploaded = u.uploadedSinceStart
            }
        }
        gauge("platekeeper_clock_synchronized", doc.clockSynchronized ? 1 : 0)
        gauge("platekeeper_clock_maximum_error_seconds", doc.clock?.maximumErrorSeconds)
        gauge("platekeeper_clock_gnss_offset_seconds", doc.clock?.gpsOffsetSeconds)
        gauge("platekeeper_position_fix_age_seconds", doc.position.lastFixAgeSeconds)
        gauge("platekeeper_frames_queued", Double(doc.framesQueued))
        gauge("platekeeper_metrics_written_timestamp_seconds", Double(Clocks.wallNanoseconds()) / 1e9)
    }

    struct WriteError: Error, CustomStringConvertible {
        var description: String
        init(_ call: String, _ code: Int32) { description = "\(call): \(String(cString: strerror(code)))" }
        init(_ call: String, _ error: any Error) { description = "\(call): \(error.localizedDescription)" }
    }

    /// Writes `bytes` to `path` by way of a temporary file of ours in the same folder (its name
    /// starts with `.` and does not end in `.prom`, so node_exporter skips it), then `rename`.
    static func write(_ bytes: [UInt8], to path: String) throws(WriteError) {
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).platekeeper-tmp").path
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw WriteError("open(\(temporary))", errno) }
        let file = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        _ = fchmod(fd, 0o644)  // the daemon's umask is 077; node_exporter runs as another user
        do {
            try file.write(contentsOf: bytes)
            try file.close()
        } catch {
            throw WriteError("write(\(temporary))", error)
        }
        guard rename(temporary, path) == 0 else { throw WriteError("rename(\(temporary), \(path))", errno) }
    }
}
