import Capture
import Config
import Foundation
import Logging
import PlateKeeperCore
import ServiceLifecycle

/// A camera that plays a recording folder as if it were live: frames at their recorded pace
/// (scaled by `speed`; 0 means as fast as recognition takes them, nothing dropped), stamped with
/// the wall clock at the start of the pass plus their recorded spacing, optionally looping. For testing units in place and for the end-to-end tests.
///
/// Runs on a thread of its own (file reads and JPEG decoding block). A recording that is missing
/// or unreadable is retried with backoff; a bad frame is logged (ten at once, then at most one a second) and
/// skipped. A pass in which no frame at all could be read is treated like a missing recording:
/// status says `retrying` with the reason, and the next pass waits with the same backoff, so a
/// folder of empty or torn files cannot spin the camera at full speed.
struct ReplayCameraService: Service, CustomStringConvertible {
    let id: CameraID
    let path: String
    let loop: Bool
    let speed: Double
    /// Keep a recording's manifest capture times instead of stamping frames as live.
    var recordedTimes = false
    /// With `loop`, the empty road between two passes of the recording, in capture time: longer
    /// than the grouping window, so each pass is a vehicle pass of its own (one read event per
    /// plate per pass), as it would be at a real roadside. With `speed` above 0 the camera also
    /// waits this long, so its capture times stay on the wall clock.
    var passGapSeconds = 0.0
    let board: CameraBoard
    let queue: FrameQueue
    let logger: Logger

    var description: String { "camera \(id) (replay \(path))" }

    /// The largest recorded offset of a frame from the first of its pass that is honoured (about
    /// three years); larger gaps in a manifest are clamped, so no arithmetic on them can overflow.
    static let maxOffsetSeconds = 1e8

    func run() async {
        await runOnThreadUntilShutdown(name: "camera-\(id)") { self.play($0) }
        if board.currentState != "finished" {
            board.set(state: "stopped")
            return
        }
        // A replay that played to its end waits for its turn to stop. The service group treats
        // any service that returns while it is stopping the others as a failure and cancels the
        // rest, which cut the journal's last commits short when a replay happened to end during
        // a SIGTERM (2 of 30 cycles of the start/stop test once the release build made it fast).
        try? await gracefulShutdown()
    }

    private func play(_ stop: StopFlag) {
        var logger = self.logger
        logger[metadataKey: "camera.id"] = "\(id)"
        var backoff = 1.0
        var sequence: UInt64 = 0
        var lastStamp: Int64 = 0
        var badFrameLog = LogThrottle()
        func retry(_ reason: String, _ message: Logger.Message) -> Bool {
            board.set(state: "retrying", error: reason)
            logger.error(message, metadata: ["error": "\(reason)", "retry.seconds": "\(backoff)"])
            guard stop.sleep(backoff) else { return false }
            backoff = min(backoff * 2, 60)
            return true
        }
        while !stop.isSet {
            let plan = ReplaySource.plan([path], defaultCamera: id)
            let source: ReplaySource
            do {
                source = try ReplaySource()
            } catch {
                if !retry(error.description, "cannot start replay") { return }
                continue
            }
            guard !plan.items.isEmpty else {
                if !retry(plan.errors.first?.description ?? "no frames in \(path)", "replay source unusable, retrying") { return }
                continue
            }
            if sequence > 0, passGapSeconds > 0, speed > 0, !stop.sleep(passGapSeconds) { return }
            let start = SystemClock.monotonic()
            let gap = sequence > 0 ? Int64(passGapSeconds * 1e9) : 0
            let startStamp = max(SystemClock.now().unixNanoseconds, lastStamp + max(gap, 1_000_000))
            var firstRecorded: Int64?
            var delivered = 0
            var lastError: CaptureError?
            for (index, item) in plan.items.enumerated() {
                if stop.isSet { return }
                var frame: Frame
                do {
                    frame = try source.frame(for: item)
                } catch {
                    lastError = error
                    board.badFrame(error.description)
                    let (log, held) = badFrameLog.allow(now: SystemClock.monotonic())
                    if log { logger.warning("bad frame skipped", metadata: ["error": "\(error)", "held.back": "\(held)"]) }
                    continue
                }
                delivered += 1
                // Streaming from the first frame that could be read: a pass whose frames all fail
                // stays `retrying` throughout, however long it takes.
                if delivered == 1, board.currentState != "streaming" { board.set(state: "streaming") }
                let offset: Double
                if case let .recorded(_, _, _, nanos) = item.kind {
                    let first = firstRecorded ?? nanos
                    firstRecorded = first
                    // In doubles: two valid 64-bit times can be further apart than 64 bits hold.
                    offset = (Double(nanos) - Double(first)) / 1e9
                } else {
                    offset = Double(index) * 0.2
                }
                let scaled = min(max(offset, 0) / (speed > 0 ? speed : 1), Self.maxOffsetSeconds)
                if speed > 0 {
                    let wait = start + scaled - SystemClock.monotonic()
                    if wait > 0, !stop.sleep(wait) { return }
                }
                frame.camera = id
                frame.sequence = sequence
                sequence += 1
                // Stamped as a live camera would have: now, plus the recorded spacing of the frames
                // (scaled by speed), so grouping sees the pass as recorded whatever the replay rate.
                // With `recordedTimes`, a recording's frames keep the times (and quality) they were captured with.
                if !(recordedTimes && firstRecorded != nil) {
                    lastStamp = max(startStamp + Int64(scaled * 1e9), lastStamp + 1_000)
                    frame.captureTime = CaptureTime(unixNanoseconds: lastStamp, quality: SystemClock.quality())
                }
                if speed > 0 {
                    board.received(dropped: queue.push(frame))
                } else {
                    guard queue.pushWhenRoom(frame, unless: stop) else { return }
                    board.received(dropped: false)
                }
            }
            guard delivered > 0 else {
                let reason = "none of the \(plan.items.count) frames could be read; last: \(lastError?.description ?? "?")"
                if !retry(reason, "no frame of the recording could be read; retrying") { return }
                continue
            }
            backoff = 1
            if !loop {
                board.set(state: "finished")
                logger.info("replay finished", metadata: ["frames": "\(sequence)"])
                return
            }
        }
    }
}
