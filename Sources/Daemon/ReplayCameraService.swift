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
/// or unreadable is retried with backoff; a bad frame is logged and skipped.
struct ReplayCameraService: Service, CustomStringConvertible {
    let id: CameraID
    let path: String
    let loop: Bool
    let speed: Double
    let board: CameraBoard
    let queue: FrameQueue
    let logger: Logger

    var description: String { "camera \(id) (replay \(path))" }

    func run() async {
        await runOnThreadUntilShutdown(name: "camera-\(id)") { self.play($0) }
        if board.currentState != "finished" { board.set(state: "stopped") }
    }

    private func play(_ stop: StopFlag) {
        var logger = self.logger
        logger[metadataKey: "camera.id"] = "\(id)"
        var backoff = 1.0
        var sequence: UInt64 = 0
        var lastStamp: Int64 = 0
        while !stop.isSet {
            let plan = ReplaySource.plan([path], defaultCamera: id)
            let source: ReplaySource
            do {
                source = try ReplaySource()
            } catch {
                board.set(state: "retrying", error: error.description)
                logger.error("cannot start replay", metadata: ["error": "\(error)"])
                if !stop.sleep(backoff) { return }
                backoff = min(backoff * 2, 60)
                continue
            }
            guard !plan.items.isEmpty else {
                let reason = plan.errors.first?.description ?? "no frames in \(path)"
                board.set(state: "retrying", error: reason)
                logger.error("replay source unusable, retrying", metadata: ["error": "\(reason)", "retry.seconds": "\(backoff)"])
                if !stop.sleep(backoff) { return }
                backoff = min(backoff * 2, 60)
                continue
            }
            backoff = 1
            board.set(state: "streaming")
            let start = SystemClock.monotonic()
            let startStamp = max(SystemClock.now().unixNanoseconds, lastStamp + 1_000_000)
            var firstRecorded: Int64?
            for (index, item) in plan.items.enumerated() {
                if stop.isSet { return }
                var frame: Frame
                do {
                    frame = try source.frame(for: item)
                } catch {
                    logger.warning("bad frame skipped", metadata: ["error": "\(error)"])
                    continue
                }
                let offset: Double
                if case let .recorded(_, _, _, nanos) = item.kind {
                    let first = firstRecorded ?? nanos
                    firstRecorded = first
                    offset = Double(nanos - first) / 1e9
                } else {
                    offset = Double(index) * 0.2
                }
                let scaled = offset / (speed > 0 ? speed : 1)
                if speed > 0 {
                    let wait = start + scaled - SystemClock.monotonic()
                    if wait > 0, !stop.sleep(wait) { return }
                }
                frame.camera = id
                frame.sequence = sequence
                sequence += 1
                // Stamped as a live camera would have: now, plus the recorded spacing of the frames
                // (scaled by speed), so grouping sees the pass as recorded whatever the replay rate.
                lastStamp = max(startStamp + Int64(scaled * 1e9), lastStamp + 1_000)
                frame.captureTime = CaptureTime(unixNanoseconds: lastStamp, quality: SystemClock.quality())
                if speed > 0 {
                    board.received(dropped: queue.push(frame))
                } else {
                    guard queue.pushWhenRoom(frame, unless: stop) else { return }
                    board.received(dropped: false)
                }
            }
            if !loop {
                board.set(state: "finished")
                logger.info("replay finished", metadata: ["frames": "\(sequence)"])
                return
            }
        }
    }
}
